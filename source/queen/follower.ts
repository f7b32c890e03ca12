import Koa from 'koa';
import Router from '@koa/router';
import {jsonErrors} from '../http/errors.js';
import type {Logger} from '../log.js';
import {routeMetrics, type MetricsEndpoint} from '../metrics/route.js';
import {createLeaderProxy} from './proxy.js';
import {queenHealthz, type QueenHealth} from './routes.js';

export type FollowerDeps = {
	readonly log: Logger;
	readonly version: string;
	readonly health: () => QueenHealth;
	readonly isReady: () => boolean;
	/** The leader's host:port; undefined while none leads (or while this queen loads its term). */
	readonly leader: () => string | undefined;
	/** This queen's own host:port: requests it forwards say they came through it. */
	readonly via: () => string;
	/** Time to the leader's response headers, in ms. */
	readonly timeoutMs: number;
	/** This queen's own metrics: a follower answers `/metrics` itself (its process, the leaders it saw), never the leader's. */
	readonly metrics: MetricsEndpoint;
};

export type Follower = {
	readonly app: Koa;
	/** The leader changed: streams still open to the old one are cut (their clients reconnect, to the new). */
	leaderChanged(previous: string | undefined): void;
	close(): void;
};

/**
The app of a queen that does not lead: `/healthz` is its own; every other request goes to the leader,
as it came (the event stream too), so that any queen of the hive answers the whole API. No body parser:
bodies are streamed through, and the leader checks them.
*/
export function createFollowerApp(deps: FollowerDeps): Follower {
	const proxy = createLeaderProxy({leader: deps.leader, via: deps.via, timeoutMs: deps.timeoutMs, log: deps.log});
	const app = new Koa();
	app.silent = true;
	const router = new Router();
	router.get('/healthz', ctx => {
		// Ready when it can answer: it knows a leader to forward to.
		ctx.body = queenHealthz(deps.isReady() && deps.leader() !== undefined, deps.version, deps.health());
	});
	routeMetrics(router, deps.metrics);
	app.use(jsonErrors(deps.log));
	app.use(router.routes());
	app.use(proxy.middleware);
	return {
		app,
		leaderChanged(previous) {
			if (previous !== undefined) {
				proxy.cut(previous);
			}
		},
		close() {
			proxy.close();
		},
	};
}
