import http from 'node:http';
import {PassThrough} from 'node:stream';
import {pipeline} from 'node:stream/promises';
import Koa from 'koa';
import got, {TimeoutError, type Method, type Request} from 'got';
import {HiveError, jsonErrors} from '../http/errors.js';
import type {Logger} from '../log.js';

/*
A follower's way to serve the whole API: whatever it cannot answer goes, as it came, to the queen that
leads, and the answer comes back as the leader gave it — status, headers, body, streamed both ways (the
event stream too). So a load balancer can send anything to any queen.
*/

/** The header a queen adds to what it forwards: its address. A request that carries it is never forwarded again. */
export const viaHeader = 'x-hive-via';

export type LeaderProxyOptions = {
	/** The leader's `host:port`, asked at every request; undefined while no queen leads. */
	readonly leader: () => string | undefined;
	/**
	This queen's own address (its `--advertise`, or where it listens), sent to the leader as `X-Hive-Via`;
	asked at every request, since with `--port 0` it is known only once the queen listens.
	*/
	readonly via: () => string;
	/**
	How long the leader may take to connect and then to send its answer's headers once it has the
	request. Not a limit on the whole exchange: `GET /events` streams for ever. A request that asks the
	leader to wait for its task (`?wait=true`) has no limit on its answer's headers.
	*/
	readonly timeoutMs: number;
	readonly log: Logger;
	/** Sent as `Retry-After` when no leader can answer. @default 1 */
	readonly retryAfterSeconds?: number;
	/**
	The leader's limit on a request body (`bodyLimit`, `http/app.ts`). Bodies stream through unbuffered and
	the leader enforces its limit; this only lets the proxy give the leader's answer (413) when that answer
	would be lost: a leader that refuses a body answers and closes the connection while the rest is still
	being sent, and the proxy's writes may fail (EPIPE) before it reads the answer. So a plain body whose
	`Content-Length` is over the limit is answered 413 here, unsent, and so is one whose connection broke
	after more than the limit had gone out.
	@default 1 MiB
	*/
	readonly maxBodyBytes?: number;
};

export type LeaderProxy = {
	/**
	Koa middleware that forwards every request to the leader and never calls `next`. It reads the
	request's body as a stream, so it must come before any body parser; it throws `HiveError`s (503 no
	leader or an unreachable one, 504 no answer in time), so `jsonErrors` must come before it.
	*/
	readonly middleware: Koa.Middleware;
	/** Exchanges with the leader under way (an event stream counts until it ends). */
	readonly inFlight: number;
	/**
	Ends the exchanges under way with `leader` (every one when omitted): a deposed leader's event streams
	are cut, and their clients reconnect, to the new leader. An answer cut short ends its client's connection.
	*/
	cut(leader?: string): void;
	/** Cuts every exchange and frees the keep-alive sockets; later requests are answered 503. */
	close(): void;
};

/** Hop-by-hop headers (RFC 9110 7.6.1): about one connection, never forwarded either way. */
const hopByHop = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer']);
/** Request headers the proxy sets itself: the leader's `Host`, its own `X-Forwarded-For` and `X-Hive-Via`; `Expect` was met here. */
const setHere = new Set(['host', 'expect', 'x-forwarded-for', viaHeader]);

/**
Makes the proxy a follower puts in front of its API (see `createProxyApp`, and `queen/follower.ts` for how
it is mounted). It has a keep-alive agent of its own, with no cap on sockets (each event stream holds one
for as long as it lasts; the follower's `--max-connections` bounds them), and no retries: a request may
have reached the leader before its connection failed, and only the client knows whether to send it again.
*/
export function createLeaderProxy(options: LeaderProxyOptions): LeaderProxy {
	if (!Number.isInteger(options.timeoutMs) || options.timeoutMs <= 0) {
		throw new TypeError(`Expected \`timeoutMs\` to be a whole number of milliseconds above 0, got \`${options.timeoutMs}\``);
	}

	const retryAfter = String(options.retryAfterSeconds ?? 1);
	if (!/^\d+$/.test(retryAfter)) {
		throw new TypeError(`Expected \`retryAfterSeconds\` to be a whole number of seconds, got \`${options.retryAfterSeconds}\``);
	}

	const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
	if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 0) {
		throw new TypeError(`Expected \`maxBodyBytes\` to be a whole number of bytes, got \`${options.maxBodyBytes}\``);
	}

	const {log} = options;
	const agent = new http.Agent({keepAlive: true, maxSockets: Number.POSITIVE_INFINITY, maxFreeSockets: 64, scheduling: 'lifo'});
	const client = got.extend({
		agent: {http: agent},
		// The answer goes on as the leader made it: compressed or not, redirect or not, error or not.
		decompress: false,
		followRedirect: false,
		throwHttpErrors: false,
		retry: {limit: 0},
		// Headers are chosen here, never copied from a stream piped in.
		copyPipedHeaders: false,
	});
	/** Each exchange under way, with the leader it went to. */
	const exchanges = new Map<Request, string>();
	let closed = false;

	const noLeader = (ctx: Koa.Context, why = ''): HiveError => {
		ctx.set('Retry-After', retryAfter);
		return new HiveError(503, `no queen leads this hive yet; try again in a moment${why}`, 'ERR_HIVE_NO_LEADER');
	};

	const middleware: Koa.Middleware = async ctx => {
		if (closed) {
			ctx.set('Connection', 'close');
			throw new HiveError(503, 'the queen is stopping', 'ERR_HIVE_STOPPING');
		}

		const cameThrough = ctx.get(viaHeader);
		if (cameThrough !== '') {
			// Two followers that each take the other for the leader must not pass a request back and forth.
			throw noLeader(ctx, ` (${options.via()} does not lead, and the request was forwarded to it by ${cameThrough})`);
		}

		const leader = options.leader();
		if (leader === undefined) {
			throw noLeader(ctx);
		}

		if (!ctx.url.startsWith('/')) {
			// `OPTIONS *` or an absolute URL: nothing to put after the leader's address.
			throw new HiveError(400, `cannot forward a request for ${ctx.url}`, 'ERR_HIVE_BAD_REQUEST');
		}

		const {req, res} = ctx;
		const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
		const encoded = (req.headers['content-encoding'] ?? 'identity') !== 'identity';
		// The leader limits a compressed body once inflated: only a plain one is known too large by its length.
		if (!encoded && Number(req.headers['content-length']) > maxBodyBytes) {
			throw tooLarge(maxBodyBytes);
		}

		const method = req.method ?? 'GET';
		const waits = ctx.query.wait === 'true' || ctx.query.wait === '1';
		// A POST without a body is still ended (an empty body); GET and HEAD send one only when they have one
		// (got waits for a body to be piped in to a GET that may have one, and ends one that may not). Through a
		// stream of its own: got destroys its body when it is done, and the client's request must outlive that
		// (destroyed unread, it would reset the client's connection before the leader's answer reached it).
		const body = method === 'HEAD' || (method === 'GET' && !hasBody) ? undefined : req.pipe(new PassThrough());
		const upstream = client.stream(`http://${leader}${ctx.url}`, {
			method: method as Method,
			headers: forwardedHeaders(req, options.via()),
			body,
			allowGetBody: method === 'GET' && hasBody,
			timeout: waits ? {connect: options.timeoutMs} : {connect: options.timeoutMs, response: options.timeoutMs},
		});
		exchanges.set(upstream, leader);
		// Errors are read where they matter (before the answer, in the pipeline); one in between must not go unheard.
		upstream.on('error', () => undefined);
		try {
			let answer: http.IncomingMessage | undefined;
			try {
				answer = await leaderAnswer(upstream, res);
			} catch (error: unknown) {
				// Part of the body went out, not all of it: the leader had the connection, and closed it.
				const sending = body !== undefined && !body.readableEnded && upstream.uploadProgress.transferred > 0;
				// More than the limit went out before the connection broke: the leader refused the body for its size.
				throw sending && upstream.uploadProgress.transferred > maxBodyBytes ? tooLarge(maxBodyBytes) : unreachable(ctx, error, {leader, sending, timeoutMs: options.timeoutMs, retryAfter});
			}

			// From here the answer is written here, not by Koa (which would add a Content-Type of its own).
			ctx.respond = false;
			if (answer === undefined) {
				// The client went away first: nobody is left to answer, and the leader need not go on.
				upstream.destroy();
				return;
			}

			try {
				// (A body the leader answered before it had read all of it: node:http ends the connection with the answer.)
				res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEndHeaders(answer.headers, new Set()));
				res.flushHeaders();
				// A client that goes destroys the request to the leader; a leader that goes mid-answer ends the client's connection.
				await pipeline(upstream, res);
			} catch (error: unknown) {
				upstream.destroy();
				res.destroy();
				log.debug({err: error instanceof Error ? error.message : String(error), leader, method, path: ctx.path}, 'a forwarded exchange ended early');
			}
		} finally {
			exchanges.delete(upstream);
		}
	};

	return {
		middleware,
		get inFlight() {
			return exchanges.size;
		},
		cut(leader?: string) {
			for (const [exchange, to] of exchanges) {
				if (leader === undefined || to === leader) {
					exchange.destroy(new Error(`the exchange with ${to} was cut`));
				}
			}
		},
		close() {
			closed = true;
			this.cut();
			agent.destroy();
		},
	};
}

/**
The Koa app of a queen that only forwards: JSON errors, then the proxy. No body parser: bodies go to the
leader as streams, and the leader enforces its own limits on them.
*/
export function createProxyApp(proxy: LeaderProxy, log: Logger): Koa {
	const app = new Koa();
	app.silent = true;
	app.on('error', (error: Error) => {
		log.debug({err: error}, 'request error');
	});
	app.use(jsonErrors(log));
	app.use(proxy.middleware);
	return app;
}

/** Resolves with the leader's answer (its headers), or undefined when the client goes away first. */
async function leaderAnswer(upstream: Request, res: http.ServerResponse): Promise<http.IncomingMessage | undefined> {
	return new Promise((resolve, reject) => {
		const settle = (): void => {
			upstream.off('response', onResponse);
			upstream.off('error', onError);
			res.off('close', onClientGone);
		};

		const onResponse = (answer: http.IncomingMessage): void => {
			settle();
			resolve(answer);
		};

		const onError = (error: Error): void => {
			settle();
			reject(error);
		};

		const onClientGone = (): void => {
			settle();
			resolve(undefined);
		};

		upstream.once('response', onResponse);
		upstream.once('error', onError);
		res.once('close', onClientGone);
	});
}

/**
What a client is told when the leader did not answer: 504 when it took too long, 503 when it could not be
reached, or closed the connection while the body was still being sent (a leader that answers a request
before reading its body, and closes the connection, may have its answer lost that way).
*/
function unreachable(ctx: Koa.Context, error: unknown, how: {readonly leader: string; readonly sending: boolean; readonly timeoutMs: number; readonly retryAfter: string}): HiveError {
	const {leader} = how;
	ctx.set('Retry-After', how.retryAfter);
	if (error instanceof TimeoutError && error.event === 'response') {
		return new HiveError(504, `the leader ${leader} did not answer within ${how.timeoutMs / 1000} s`, 'ERR_HIVE_LEADER_TIMEOUT');
	}

	const code = (error as {code?: unknown}).code;
	const reason = typeof code === 'string' && code !== '' ? code : (error instanceof Error ? error.message : String(error));
	return how.sending
		? new HiveError(503, `the leader ${leader} closed the connection before it had the whole request body (${reason}); try again in a moment`, 'ERR_HIVE_LEADER_UNREACHABLE')
		: new HiveError(503, `the leader ${leader} cannot be reached (${reason}); try again in a moment`, 'ERR_HIVE_LEADER_UNREACHABLE');
}

/** The leader's answer to a body larger than it takes (`jsonErrors`' for `entity.too.large`). */
function tooLarge(maxBodyBytes: number): HiveError {
	const limit = maxBodyBytes % (1024 * 1024) === 0 ? `${maxBodyBytes / (1024 * 1024)} MiB` : `${maxBodyBytes} bytes`;
	return new HiveError(413, `request body is larger than ${limit}`, 'ERR_HIVE_TOO_LARGE');
}

/** The request's end-to-end headers, with `X-Forwarded-For` and `X-Hive-Via` (the leader's `Host` comes from the URL). */
function forwardedHeaders(req: http.IncomingMessage, via: string): Record<string, string | string[]> {
	const headers = endToEndHeaders(req.headers, setHere);
	const prior = req.headers['x-forwarded-for'];
	const from = req.socket.remoteAddress ?? 'unknown';
	headers['x-forwarded-for'] = prior === undefined || prior === '' ? from : `${String(prior)}, ${from}`;
	headers[viaHeader] = via;
	if (req.headers['transfer-encoding'] !== undefined && req.headers['content-length'] === undefined) {
		// A body of unknown length: node:http frames it again as chunks (it would not, by itself, for a GET).
		headers['transfer-encoding'] = 'chunked';
	}

	return headers;
}

/** Headers without the hop-by-hop ones (and those the `Connection` header names), nor those in `drop`. */
function endToEndHeaders(headers: http.IncomingHttpHeaders, drop: ReadonlySet<string>): Record<string, string | string[]> {
	const named = new Set(String(headers.connection ?? '').split(',').map(name => name.trim().toLowerCase()).filter(Boolean));
	const kept: Record<string, string | string[]> = {};
	for (const [name, value] of Object.entries(headers)) {
		if (value === undefined || hopByHop.has(name) || name.startsWith('proxy-') || named.has(name) || drop.has(name)) {
			continue;
		}

		kept[name] = value;
	}

	return kept;
}
