import type Koa from 'koa';
import {openResponse} from './streaming.js';

/** What a client may leave unread of a line stream before it is cut (a follower that does not keep up). */
const maxBufferedBytes = 1024 * 1024;

export type LineStream = {
	/** One JSON object, one line. */
	send(value: unknown): void;
	/** Lines made elsewhere (another larve's stream), passed on as they are; false when the client's buffer is full (wait for `onDrain`). */
	sendRaw(lines: Buffer | string): boolean;
	/** Calls `listener` once the client has read what was buffered. */
	onDrain(listener: () => void): void;
	/** Ends the stream (what is written still reaches the client). */
	end(): void;
	readonly closed: boolean;
};

/**
Turns a request into a stream of JSON lines (`application/x-ndjson`): a task's output, as it comes.
Written straight to the response, as the event stream is. `onClose` runs once, when the client goes, the
server ends the stream, or the client falls more than 1 MiB behind (then the stream is cut: a writer that
cannot wait for `onDrain` does not hold the larve's memory hostage).
*/
export function openLineStream(ctx: Koa.Context, onClose: () => void): LineStream {
	const stream = openResponse(ctx, {'Content-Type': 'application/x-ndjson; charset=utf-8'}, onClose);
	const {res} = stream;
	return {
		send(value) {
			this.sendRaw(`${JSON.stringify(value)}\n`);
		},
		sendRaw(lines) {
			if (stream.closed) {
				return true;
			}

			const room = res.write(lines);
			if (res.writableLength > maxBufferedBytes) {
				stream.close('destroy');
			}

			return room;
		},
		onDrain(listener) {
			res.once('drain', listener);
		},
		end() {
			stream.close('end');
		},
		get closed() {
			return stream.closed;
		},
	};
}
