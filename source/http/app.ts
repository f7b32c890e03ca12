import type {Server} from 'node:http';
import type {Duplex} from 'node:stream';
import Koa from 'koa';
import bodyParser from 'koa-bodyparser';
import type Router from '@koa/router';
import type {Logger} from '../log.js';
import {HiveError, jsonErrors} from './errors.js';


export const bodyLimit = '1mb';

/**
The Koa app both modes share: JSON errors, a 1 MiB JSON body parser, the mode's router, 405 for a
known path with a wrong method. It does not listen; `larve.ts` does.
*/
export function createApp(router: Router, log: Logger): Koa {
	const app = new Koa();
	app.silent = true;
	app.on('error', (error: Error) => {
		log.debug({err: error}, 'request error');
	});
	app.use(jsonErrors(log));
	app.use(refuseBrowsers);
	app.use(bodyParser({
		enableTypes: ['json'],
		// `curl -d` sends form-urlencoded; a JSON body is still a JSON body.
		extendTypes: {json: ['application/json', 'application/*+json', 'application/x-www-form-urlencoded', 'text/plain']},
		jsonLimit: bodyLimit,
		strict: true,
	}));
	app.use(router.routes());
	// Sets 405 (or 501) and `Allow`; `jsonErrors` gives the answer its JSON body.
	app.use(router.allowedMethods());
	return app;
}

/**
A browser adds `Origin` to a cross-site request, and may send a "simple" POST (text/plain, forms)
without asking first; since a JSON body is read whatever its type (for `curl -d`), a web page could
otherwise command a larve on the machine it runs on. No client of a larve is a browser page.
*/
const refuseBrowsers: Koa.Middleware = async (ctx, next) => {
	if (ctx.get('origin') !== '' || ctx.get('sec-fetch-site') === 'cross-site') {
		throw new HiveError(403, 'requests from web pages are not accepted', 'ERR_HIVE_BROWSER');
	}

	await next();
};

/** Registers a route that answers 400 with the seed's message: an endpoint of the other mode. */
export function refuse(router: Router, path: string, message: string): void {
	router.post(path, () => {
		throw new HiveError(400, message, 'ERR_HIVE_WRONG_MODE');
	});
}

/**
Requests node:http refuses before any handler sees them (a NUL in a header, a Content-Length that is not
a number, headers too large or too slow) get a JSON error as every other refusal does, not an empty 400.
*/
export function answerClientErrors(server: Server, log: Logger): void {
	server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
		log.debug({err: error.message, code: error.code}, 'malformed request');
		if (!socket.writable || (error.code === 'ECONNRESET')) {
			socket.destroy();
			return;
		}

		const [status, message] = error.code === 'HPE_HEADER_OVERFLOW'
			? [431, 'Request Header Fields Too Large: headers are larger than 16 KiB']
			: (error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout: the request did not arrive in time'] : [400, `Bad Request: not a valid HTTP request (${error.code ?? error.message})`]);
		const body = JSON.stringify({error: message});
		socket.end(`HTTP/1.1 ${status} ${message.split(':')[0]!}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
	});
}
