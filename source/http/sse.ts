import type Koa from 'koa';

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
	const {res} = ctx;
	ctx.req.socket.setTimeout(0);
	ctx.req.socket.setNoDelay(true);
	ctx.status = 200;
	// Koa leaves the response alone: the stream is written here.
	ctx.respond = false;
	res.writeHead(200, {
		'Content-Type': 'text/event-stream; charset=utf-8',
		'Cache-Control': 'no-cache',
		Connection: 'keep-alive',
		'X-Accel-Buffering': 'no',
	});
	res.write(': hive events\n\n');

	let closed = false;
	/** Ends the stream: `end` for a client that reads (it gets what is buffered), `destroy` for one that does not. */
	const close = (how: 'end' | 'destroy' = 'end'): void => {
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
		close();
	});
	return {
		sendFrame(frame) {
			if (closed) {
				return;
			}

			// A client that does not read is cut off rather than buffered without end; it reconnects with ?since=.
			// Its connection goes too: ended, it would keep what is buffered, and its connection, for as long as it does not read.
			if (res.writableLength > maxBufferedBytes) {
				close('destroy');
				return;
			}

			res.write(frame);
		},
		get closed() {
			return closed;
		},
		close() {
			close();
		},
	};
}
