import {PassThrough} from 'node:stream';
import type Koa from 'koa';

const maxBufferedBytes = 4 * 1024 * 1024;

export type EventStream = {
	/** One event; without an id (a fact the store does not keep), a client's last event id stays as it was. */
	send(id: number | undefined, data: unknown): void;
	readonly closed: boolean;
	close(): void;
};

/**
Turns a request into a Server-Sent Events stream. `onClose` runs once, when the client goes or the
server ends the stream. A comment every 15 s keeps proxies from closing an idle stream.
*/
export function openEventStream(ctx: Koa.Context, onClose: () => void): EventStream {
	const stream = new PassThrough();
	ctx.req.socket.setTimeout(0);
	ctx.req.socket.setNoDelay(true);
	ctx.set({
		'Content-Type': 'text/event-stream; charset=utf-8',
		'Cache-Control': 'no-cache',
		Connection: 'keep-alive',
		'X-Accel-Buffering': 'no',
	});
	ctx.status = 200;
	ctx.body = stream;
	stream.write(': hive events\n\n');

	let closed = false;
	const keepAlive = setInterval(() => stream.write(': keep-alive\n\n'), 15_000);
	keepAlive.unref();
	const close = (): void => {
		if (closed) {
			return;
		}

		closed = true;
		clearInterval(keepAlive);
		stream.end();
		onClose();
	};

	ctx.res.on('close', close);
	return {
		send(id, data) {
			if (closed) {
				return;
			}

			// A client that does not read is cut off rather than buffered without end; it reconnects with ?since=.
			if (stream.writableLength > maxBufferedBytes) {
				close();
				return;
			}

			stream.write(id === undefined ? `data: ${JSON.stringify(data)}\n\n` : `id: ${id}\ndata: ${JSON.stringify(data)}\n\n`);
		},
		get closed() {
			return closed;
		},
		close,
	};
}
