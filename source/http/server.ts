import http from 'node:http';
import {once} from 'node:events';
import type net from 'node:net';
import type {Duplex} from 'node:stream';
import type {Logger} from '../log.js';
import type {LarveOptions} from '../options.js';

/*
A larve's HTTP server, the same for both modes: node:http under the mode's Koa app, with limits on
what a client may hold (time to send a request, idle keep-alive, open connections) and JSON answers
for what node:http refuses by itself.
*/

export async function listen(app: {callback(): (request: http.IncomingMessage, response: http.ServerResponse) => unknown}, options: LarveOptions, log: Logger): Promise<http.Server> {
	// Koa's handler settles its own errors (JSON answers); node:http only needs it called.
	const handle = app.callback();
	const refused = new WeakSet<net.Socket>();
	const server = http.createServer({
		keepAliveTimeout: options.idleTimeoutMs,
		headersTimeout: options.headersTimeoutMs,
		// The whole request, body included (a body is at most 1 MiB); answers may take longer (?wait=true).
		requestTimeout: Math.max(options.headersTimeoutMs, 30_000),
		// How often node:http looks for requests past those timeouts.
		connectionsCheckingInterval: Math.min(1000, options.headersTimeoutMs / 2),
	}, (request, response) => {
		// node:http parses what a refused connection sends all the same: none of it may reach the app.
		if (!refused.has(request.socket)) {
			void handle(request, response);
		}
	});
	answerClientErrors(server, log);
	limitConnections(server, options.maxConnections, options.headersTimeoutMs, refused);
	server.listen(options.port, options.host);
	await once(server, 'listening');
	return server;
}

/**
Keeps a server's connections under `max`, so that file descriptors remain for the larve's own calls, its
store and its logs, and `/healthz` and heartbeats are still answered under a flood of connections. A
connection past the cap makes room by closing the connection idle the longest (no request in flight:
a keep-alive connection between two requests, or one that has not sent its first request yet); when
every connection is busy, the new one is answered 503 and closed. A connection must send its first
request within `firstRequestMs` (node:http's `headersTimeout` only counts from a request's first byte).
Refused connections go in `refused`: node:http has its parser on them before this sees them, so a
request sent on one is still parsed and emitted; the caller must not handle it (the client was told 503
and may send it again: handled too, it would be done twice).
*/
function limitConnections(server: http.Server, max: number, firstRequestMs: number, refused: WeakSet<net.Socket>): void {
	/** Connections without a request in flight, the longest idle first. */
	const idle = new Set<net.Socket>();
	const inFlight = new WeakMap<net.Socket, number>();
	let open = 0;
	server.on('connection', (socket: net.Socket) => {
		open += 1;
		socket.once('close', () => {
			open -= 1;
			idle.delete(socket);
		});
		if (open > max) {
			const longestIdle = idle.values().next();
			if (longestIdle.done) {
				refused.add(socket);
				refuseConnection(socket, `${open - 1} connections are open (--max-connections ${max}) and all are busy; try again later`);
				return;
			}

			idle.delete(longestIdle.value);
			longestIdle.value.destroy();
		}

		idle.add(socket);
		inFlight.set(socket, 0);
		// Until its first request: node:http closes idle keep-alive connections itself, but not silent new ones.
		socket.setTimeout(firstRequestMs);
	});
	server.on('request', (request: http.IncomingMessage, response: http.ServerResponse) => {
		const {socket} = request;
		if (refused.has(socket)) {
			return;
		}

		const count = inFlight.get(socket) ?? 0;
		if (count === 0 && idle.delete(socket) && socket.timeout === firstRequestMs) {
			socket.setTimeout(0);
		}

		inFlight.set(socket, count + 1);
		response.once('close', () => {
			const left = (inFlight.get(socket) ?? 1) - 1;
			inFlight.set(socket, left);
			if (left === 0 && !socket.destroyed) {
				idle.add(socket);
			}
		});
	});
}

/** Answers 503 and closes the connection once the answer is out (or after a second, if the client does not take it). */
function refuseConnection(socket: net.Socket, message: string): void {
	const body = JSON.stringify({error: message, code: 'ERR_HIVE_BUSY'});
	socket.end(`HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n${body}`, () => {
		socket.destroy();
	});
	socket.setTimeout(1000, () => socket.destroy());
}

/** Stops accepting, lets in-flight requests finish for at most `graceMs`, then cuts what is left (and says so). */
export async function closeServer(server: http.Server, graceMs: number, log?: Logger): Promise<void> {
	const closed = new Promise<void>(resolve => {
		server.close(() => {
			resolve();
		});
	});
	server.closeIdleConnections();
	const timer = setTimeout(() => {
		server.getConnections((_error, count) => {
			log?.warn({connections: count, graceMs}, `cut ${count} connections still open after the ${graceMs / 1000} s grace`);
		});
		server.closeAllConnections();
	}, graceMs);
	await closed;
	clearTimeout(timer);
}

/**
Requests node:http refuses before any handler sees them (a NUL in a header, a Content-Length that is not
a number, headers too large or too slow) get a JSON error as every other refusal does, not an empty 400.
*/
function answerClientErrors(server: http.Server, log: Logger): void {
	server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
		log.debug({err: error.message, code: error.code}, 'malformed request');
		// An answer already under way on this connection cannot be followed by another (node:http checks the same).
		const answering = (socket as Duplex & {_httpMessage?: {headersSent?: boolean}})._httpMessage?.headersSent === true;
		if (!socket.writable || error.code === 'ECONNRESET' || answering) {
			socket.destroy();
			return;
		}

		const [status, message] = error.code === 'HPE_HEADER_OVERFLOW'
			? [431, 'Request Header Fields Too Large: headers are larger than 16 KiB']
			: (error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout: the request did not arrive in time'] : [400, `Bad Request: not a valid HTTP request (${error.code ?? error.message})`]);
		const body = JSON.stringify({error: message, code: 'ERR_HIVE_BAD_REQUEST'});
		socket.end(`HTTP/1.1 ${status} ${message.split(':')[0]!}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`, () => {
			socket.destroy();
		});
	});
}
