import http from 'node:http';
import Koa from 'koa';
import {queryFlag} from '../http/app.js';
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
	How long the leader may take to connect (a wait for a free connection of the pool included) and then
	to send its answer's headers once it has the request. Not a limit on the whole exchange: `GET /events`
	streams for ever. A request that asks the leader to wait for its task (`?wait=true`) has no limit on
	its answer's headers.
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
	/**
	Connections to the leader kept for short exchanges (every request but `GET /events` and `?wait=true`),
	busy or idle: past them, a request waits for one to be free.
	@default 256
	*/
	readonly maxSockets?: number;
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

/** Sockets to the leader for short exchanges, in use or idle: past them, requests wait for one to be free. */
const pooledSockets = 256;

/**
Makes the proxy a follower puts in front of its API (see `createProxyApp`, and `queen/follower.ts` for how
it is mounted). It forwards on `node:http` with keep-alive agents of its own, not on got: a follower queen
spent 350–690 µs of CPU per request it forwarded through got, 105–175 this way (one socket write to the
leader and one to the client where got made three; no options merged per request, no hooks; measured side
by side, see the README's Speed section). Short exchanges share a pool of at most `maxSockets`
connections, so that a burst of clients is not a burst of connections to the leader; those that may hold
a connection for long (`GET /events`, `?wait=true`) each have one of their own, outside the pool, so that
they never hold up the rest (the follower's `--max-connections` bounds them). No retries: a request may
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

	const maxSockets = options.maxSockets ?? pooledSockets;
	if (!Number.isInteger(maxSockets) || maxSockets < 1) {
		throw new TypeError(`Expected \`maxSockets\` to be a whole number above 0, got \`${options.maxSockets}\``);
	}

	const {log, timeoutMs} = options;
	const pool = new http.Agent({keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo'});
	// A connection each, kept alive for the next long one (a client that submits with `?wait=true` again and again).
	const ownConnections = new http.Agent({keepAlive: true, maxFreeSockets: 16, scheduling: 'lifo'});
	/** Each exchange under way, with the leader it went to. */
	const exchanges = new Set<Exchange>();
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
		const waits = queryFlag(ctx, 'wait') === true;
		// A task's output followed streams as long as the command runs: a connection of its own, as the events.
		const follows = queryFlag(ctx, 'follow') === true;
		const exchange = new Exchange(leader, {
			host: hostOf(leader),
			port: portOf(leader),
			method,
			path: ctx.url,
			headers: forwardedHeaders(req, options.via()),
			agent: waits || follows || ctx.path === '/events' ? ownConnections : pool,
		}, timeoutMs, waits ? undefined : timeoutMs);
		exchanges.add(exchange);
		const {upstream} = exchange;
		// A HEAD's body, if it had one, is not the leader's; a request without a body is ended as it is
		// (a POST with `Content-Length: 0`, a GET with nothing).
		const sendsBody = hasBody && method !== 'HEAD';
		let sentBytes = 0;
		if (sendsBody) {
			req.on('data', (chunk: Buffer) => {
				sentBytes += chunk.length;
			});
			req.pipe(upstream);
		} else {
			upstream.end();
		}

		try {
			let answer: http.IncomingMessage | undefined;
			try {
				answer = await leaderAnswer(exchange, res);
			} catch (error: unknown) {
				// Part of the body went out, not all of it: the leader had the connection, and closed it.
				const sending = sendsBody && !req.readableEnded && sentBytes > 0;
				// More than the limit went out before the connection broke: the leader refused the body for its size.
				throw sending && sentBytes > maxBodyBytes ? tooLarge(maxBodyBytes) : unreachable(ctx, error, {leader, sending, timeoutMs, retryAfter});
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
				res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEndHeaders(answer.headers));
				if (answer.headers['content-length'] === undefined) {
					// A stream (the events): its client learns at once that it is open. A body of known length
					// goes out with the headers, in one write.
					res.flushHeaders();
				}

				// A client that goes destroys the answer (its connection to the leader); a leader that goes
				// mid-answer ends the client's connection.
				await relay(answer, res);
			} catch (error: unknown) {
				answer.destroy();
				res.destroy();
				log.debug({err: error instanceof Error ? error.message : String(error), leader, method, path: ctx.path}, 'a forwarded exchange ended early');
			}
		} finally {
			exchanges.delete(exchange);
			if (sendsBody && !req.readableEnded) {
				// Answered before the whole body went: the rest is not the leader's, and its connection cannot be
				// used again half sent.
				req.unpipe(upstream);
				upstream.destroy();
			}
		}
	};

	return {
		middleware,
		get inFlight() {
			return exchanges.size;
		},
		cut(leader?: string) {
			for (const exchange of exchanges) {
				if (leader === undefined || exchange.leader === leader) {
					exchange.cut(new Error(`the exchange with ${exchange.leader} was cut`));
				}
			}
		},
		close() {
			closed = true;
			this.cut();
			pool.destroy();
			ownConnections.destroy();
		},
	};
}

/** The leader took longer than the proxy's `timeoutMs`: to give a connection, or its answer's headers. */
class LeaderTimeout extends Error {
	readonly code = 'ETIMEDOUT';

	constructor(readonly phase: 'queued' | 'connect' | 'answer', ms: number) {
		super(`${phase === 'queued' ? 'no free connection of the pool' : (phase === 'connect' ? 'no connection' : 'no answer')} within ${ms / 1000} s`);
	}
}

/**
One request to the leader, with got's two timeouts: on the connection (a wait for a free one of the pool
included), then on the answer's headers once the whole request has gone (none for `answerMs` undefined).
*/
class Exchange {
	readonly upstream: http.ClientRequest;
	/**
	The answer's headers, or why there are none. Settled by the exchange itself on a timeout or a cut:
	node:http tells a request destroyed while it waits for a free connection of the pool only once it has one.
	*/
	readonly answer: Promise<http.IncomingMessage>;
	#answer: http.IncomingMessage | undefined;
	#fail: (error: Error) => void = () => undefined;
	#connectTimer: NodeJS.Timeout | undefined;
	#answerTimer: NodeJS.Timeout | undefined;

	constructor(readonly leader: string, request: http.RequestOptions, connectMs: number, answerMs: number | undefined) {
		const upstream = http.request(request);
		this.upstream = upstream;
		this.answer = new Promise((resolve, reject) => {
			this.#fail = reject;
			upstream.once('response', (answer: http.IncomingMessage) => {
				this.#answer = answer;
				// A leader that goes mid-answer is seen as the answer's early close (in `relay`).
				answer.on('error', () => undefined);
				this.#stopTimers();
				resolve(answer);
			});
		});
		// Read by `leaderAnswer`, unless the client went first.
		this.answer.catch(() => undefined);
		upstream.on('error', (error: Error) => {
			this.#fail(error);
		});
		this.#connectTimer = setTimeout(() => {
			this.cut(new LeaderTimeout(upstream.socket ? 'connect' : 'queued', connectMs));
		}, connectMs);
		const connected = (): void => {
			clearTimeout(this.#connectTimer);
		};

		upstream.once('socket', socket => {
			if (socket.connecting) {
				socket.once('connect', connected);
			} else {
				connected();
			}
		});
		upstream.once('finish', () => {
			if (answerMs !== undefined && this.#answer === undefined && !upstream.destroyed) {
				this.#answerTimer = setTimeout(() => {
					this.cut(new LeaderTimeout('answer', answerMs));
				}, answerMs);
			}
		});
		upstream.once('close', () => {
			this.#stopTimers();
		});
	}

	/** Ends the exchange: before the answer, `answer` rejects with `error`; after it, the answer is cut short. */
	cut(error: Error): void {
		this.#stopTimers();
		this.upstream.destroy(error);
		this.#answer?.destroy(error);
		this.#fail(error);
	}

	#stopTimers(): void {
		clearTimeout(this.#connectTimer);
		clearTimeout(this.#answerTimer);
	}
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
async function leaderAnswer(exchange: Exchange, res: http.ServerResponse): Promise<http.IncomingMessage | undefined> {
	return new Promise((resolve, reject) => {
		const onClientGone = (): void => {
			resolve(undefined);
		};

		res.once('close', onClientGone);
		exchange.answer.then(answer => {
			res.off('close', onClientGone);
			resolve(answer);
		}, (error: Error) => {
			res.off('close', onClientGone);
			reject(error);
		});
	});
}

/**
Pipes the leader's answer to the client; rejects when either ends before the whole answer went through.
(`stream.pipeline` would do as much, and make an AbortController and a DOMException, with its stack, for
every exchange: a twentieth of the proxy's CPU.)
*/
async function relay(answer: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
	return new Promise((resolve, reject) => {
		const onAnswerClosed = (): void => {
			if (!answer.complete) {
				res.off('close', onClientClosed);
				reject(new Error('the leader ended its answer before the end'));
			}
		};

		const onClientClosed = (): void => {
			answer.off('close', onAnswerClosed);
			if (res.writableFinished) {
				resolve();
			} else {
				reject(new Error('the client went away before the end of the answer'));
			}
		};

		answer.once('close', onAnswerClosed);
		res.once('close', onClientClosed);
		answer.pipe(res);
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
	if (error instanceof LeaderTimeout && error.phase === 'answer') {
		return new HiveError(504, `the leader ${leader} did not answer within ${how.timeoutMs / 1000} s`, 'ERR_HIVE_LEADER_TIMEOUT');
	}

	const code = (error as {code?: unknown}).code;
	const reason = error instanceof LeaderTimeout || typeof code !== 'string' || code === '' ? (error instanceof Error ? error.message : String(error)) : code;
	return how.sending
		? new HiveError(503, `the leader ${leader} closed the connection before it had the whole request body (${reason}); try again in a moment`, 'ERR_HIVE_LEADER_UNREACHABLE')
		: new HiveError(503, `the leader ${leader} cannot be reached (${reason}); try again in a moment`, 'ERR_HIVE_LEADER_UNREACHABLE');
}

/** The leader's answer to a body larger than it takes (`jsonErrors`' for `entity.too.large`). */
function tooLarge(maxBodyBytes: number): HiveError {
	const limit = maxBodyBytes % (1024 * 1024) === 0 ? `${maxBodyBytes / (1024 * 1024)} MiB` : `${maxBodyBytes} bytes`;
	return new HiveError(413, `request body is larger than ${limit}`, 'ERR_HIVE_TOO_LARGE');
}

/** `host` of `host:port` (an IPv6 address without its brackets). */
function hostOf(address: string): string {
	return address.slice(0, address.lastIndexOf(':')).replace(/^\[(.*)\]$/, '$1');
}

function portOf(address: string): number {
	return Number(address.slice(address.lastIndexOf(':') + 1));
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
function endToEndHeaders(headers: http.IncomingHttpHeaders, drop?: ReadonlySet<string>): Record<string, string | string[]> {
	const named = new Set(String(headers.connection ?? '').split(',').map(name => name.trim().toLowerCase()).filter(Boolean));
	const kept: Record<string, string | string[]> = {};
	for (const [name, value] of Object.entries(headers)) {
		if (value === undefined || hopByHop.has(name) || name.startsWith('proxy-') || named.has(name) || drop?.has(name)) {
			continue;
		}

		kept[name] = value;
	}

	return kept;
}
