import type {ServerResponse} from 'node:http';
import type Koa from 'koa';

/** A response written as it goes (events, a task's output): ended once, for whichever reason comes first. */
export type OpenResponse = {
	readonly res: ServerResponse;
	/** `end` for a client that reads (it gets what is buffered), `destroy` for one that does not. */
	close(how?: 'end' | 'destroy'): void;
	readonly closed: boolean;
};

/**
Takes a response out of Koa's hands to write it as it goes: no socket timeout, no Nagle delay, the
headers sent at once (a client, or a follower queen in between, learns that the stream is open).
`onClose` runs once, when the client goes or the server ends the stream.
*/
export function openResponse(ctx: Koa.Context, headers: Readonly<Record<string, string>>, onClose: () => void): OpenResponse {
	const {res} = ctx;
	ctx.req.socket.setTimeout(0);
	ctx.req.socket.setNoDelay(true);
	ctx.status = 200;
	// Koa leaves the response alone: the stream is written here.
	ctx.respond = false;
	res.writeHead(200, {'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no', ...headers});
	res.flushHeaders();
	let closed = false;
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
		res,
		close,
		get closed() {
			return closed;
		},
	};
}
