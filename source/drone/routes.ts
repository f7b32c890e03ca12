import Router from '@koa/router';
import {refuse} from '../http/app.js';
import {parseBody, taskBody} from '../http/schemas.js';
import type {Executor} from './executor.js';

export type DroneDeps = {
	readonly executor: Executor;
	readonly version: string;
	readonly isReady: () => boolean;
	readonly name: () => string | undefined;
	/** Called when the queen reaches this drone (its heartbeat or a task). */
	readonly onQueenContact: () => void;
};

export const queenUserAgentPrefix = 'hive-queen/';

/** The drone's endpoints: `/healthz` and `/do_task`; the queen's endpoints refuse with the seed's words. */
export function createDroneRouter(deps: DroneDeps): Router {
	const router = new Router();

	router.get('/healthz', ctx => {
		if (ctx.get('user-agent').startsWith(queenUserAgentPrefix)) {
			deps.onQueenContact();
		}

		ctx.body = {
			status: deps.isReady() ? 'Status.READY' : 'Status.NOT_READY',
			version: deps.version,
			mode: 'Mode.DRONE',
			name: deps.name() ?? null,
		};
	});

	router.post('/do_task', ctx => {
		const task = parseBody(ctx, taskBody);
		if (ctx.get('user-agent').startsWith(queenUserAgentPrefix)) {
			deps.onQueenContact();
		}

		deps.executor.run(task);
		ctx.body = {result: 'OK'};
	});

	refuse(router, '/submit_task', 'In drone mode, not scheduling tasks');
	refuse(router, '/register', 'In drone mode, not taking registration');
	refuse(router, '/deregister', 'In drone mode, not taking registration');
	return router;
}
