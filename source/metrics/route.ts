import type Router from '@koa/router';
import type Koa from 'koa';
import type {Registry} from 'prom-client';
import {requireToken} from '../http/auth.js';

export type MetricsEndpoint = {
	/** The larve's registry (its own metrics and the process's). */
	readonly registry: Registry;
	/** The token the rest of the larve's API needs; undefined: an open larve. */
	readonly token: string | undefined;
	/** `--metrics-open`: a Prometheus that scrapes without the token may read them. */
	readonly open: boolean;
};

const noCheck: Koa.Middleware = async (_ctx, next) => {
	await next();
};

/**
`GET /metrics` on a router, in the Prometheus text format: behind the token like the rest of the API,
unless the larve was started with `--metrics-open`. The same route on a leading queen, a following queen
(its own answer, never the leader's) and a drone.
*/
export function routeMetrics(router: Router, endpoint: MetricsEndpoint): void {
	router.get('/metrics', endpoint.open ? noCheck : requireToken(endpoint.token), async ctx => {
		const text = await endpoint.registry.metrics();
		// Set before the body, which would otherwise make it text/plain without the format's version.
		ctx.set('Content-Type', endpoint.registry.contentType);
		ctx.body = text;
	});
}
