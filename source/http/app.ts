import Koa from 'koa';
import bodyParser from 'koa-bodyparser';
import type Router from '@koa/router';
import type {Logger} from '../log.js';
import {HiveError, jsonErrors} from './errors.js';


export const bodyLimit = '1mb';

/**
The Koa app both modes share: JSON errors, a 1 MiB JSON body parser, the mode's router, 405 for a
known path with a wrong method. It does not listen; `http/server.ts` does.
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

/** A yes/no query flag (`?wait=true`, `?follow=1`): true for `true` or `1`, false for `false` or `0`, undefined when absent or else. */
export function queryFlag(ctx: Koa.Context, name: string): boolean | undefined {
	const value = ctx.query[name];
	if (value === 'true' || value === '1') {
		return true;
	}

	return value === 'false' || value === '0' ? false : undefined;
}
