import type Koa from 'koa';

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
	const {res} = ctx;
	ctx.req.socket.setTimeout(0);
	ctx.req.socket.setNoDelay(true);
	ctx.status = 200;
	ctx.respond = false;
	res.writeHead(200, {'Content-Type': 'application/x-ndjson; charset=utf-8', 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no'});
	// The client (or a follower queen in between) learns at once that the stream is open.
	res.flushHeaders();
	let closed = false;
	const close = (how: 'end' | 'destroy'): void => {
		if (closed) {
			return;
		}

		closed = true;
		if (how === 'end') {
			res.end();
		} else {
			res.destroy();
		}

		onClose();
	};

	res.on('close', () => {
		close('destroy');
	});
	return {
		send(value) {
			this.sendRaw(`${JSON.stringify(value)}\n`);
		},
		sendRaw(lines) {
			if (closed) {
				return true;
			}

			const room = res.write(lines);
			if (res.writableLength > maxBufferedBytes) {
				close('destroy');
			}

			return room;
		},
		onDrain(listener) {
			res.once('drain', listener);
		},
		end() {
			close('end');
		},
		get closed() {
			return closed;
		},
	};
}
