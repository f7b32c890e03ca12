import type Koa from 'koa';
import {openResponse} from './streaming.js';

const maxBufferedBytes = 4 * 1024 * 1024;

export type EventStream = {
	/** One frame, made once for every client by `eventFrame`. */
	sendFrame(frame: Buffer | string): void;
	readonly closed: boolean;
	close(): void;
};

/** One Server-Sent Event; without an id (a fact the store does not keep), a client's last event id stays as it was. */
export function eventFrame(id: number | undefined, data: unknown): string {
	return id === undefined ? `data: ${JSON.stringify(data)}\n\n` : `id: ${id}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** A comment line: keeps proxies from closing an idle stream. */
export const keepAliveFrame = ': keep-alive\n\n';

/**
Turns a request into a Server-Sent Events stream, written straight to the response (no stream in
between: with hundreds of clients, every copy counts). `onClose` runs once, when the client goes or
the server ends the stream.
*/
export function openEventStream(ctx: Koa.Context, onClose: () => void): EventStream {
	const stream = openResponse(ctx, {'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive'}, onClose);
	const {res} = stream;
	res.write(': hive events\n\n');
	return {
		sendFrame(frame) {
			if (stream.closed) {
				return;
			}

			// A client that does not read is cut off rather than buffered without end; it reconnects with ?since=.
			// Its connection goes too: ended, it would keep what is buffered, and its connection, for as long as it does not read.
			if (res.writableLength > maxBufferedBytes) {
				stream.close('destroy');
				return;
			}

			res.write(frame);
		},
		get closed() {
			return stream.closed;
		},
		close() {
			stream.close();
		},
	};
}
