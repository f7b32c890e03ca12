import Router from '@koa/router';
import {refuse} from '../http/app.js';
import {HiveError} from '../http/errors.js';
import {deregisterBody, parseBody, registerBody, taskBody} from '../http/schemas.js';
import {openEventStream, type EventStream} from '../http/sse.js';
import type {Dispatcher} from './dispatcher.js';
import type {Drone, Hive, HiveEvent, Task} from './hive.js';

export type QueenDeps = {
	readonly hive: Hive;
	readonly dispatcher: Dispatcher;
	readonly version: string;
	readonly isReady: () => boolean;
	readonly heartbeatIntervalMs: number;
	readonly maxRetry: number;
	/** Open event streams, so that a stopping queen can end them. */
	readonly streams: Set<EventStream>;
};

/** The queen's endpoints: the seed's four, plus the snapshot and event endpoints the dashboard reads. */
export function createQueenRouter(deps: QueenDeps): Router {
	const {hive, dispatcher} = deps;
	const router = new Router();

	router.get('/healthz', ctx => {
		ctx.body = {
			status: deps.isReady() ? 'Status.READY' : 'Status.NOT_READY',
			version: deps.version,
			mode: 'Mode.QUEEN',
			name: 'queen',
			drones: hive.droneMap(),
		};
	});

	router.post('/register', ctx => {
		const {address, name} = parseBody(ctx, registerBody);
		const {drone} = hive.registerDrone(address, name);
		ctx.body = {result: 'OK', name: drone.name, heartbeatIntervalMs: deps.heartbeatIntervalMs};
	});

	router.post('/deregister', ctx => {
		const {address} = parseBody(ctx, deregisterBody);
		const drone = hive.deregisterDrone(address);
		ctx.body = {result: 'OK', name: drone?.name ?? null};
	});

	router.post('/submit_task', async ctx => {
		const {text} = parseBody(ctx, taskBody);
		const task = await dispatcher.dispatch(hive.submitTask(text));
		ctx.body = {result: 'OK', task: taskJson(task)};
	});

	router.get('/drones', ctx => {
		const now = Date.now();
		ctx.body = {
			drones: hive.drones().map(drone => droneJson(drone, now)),
			maxRetry: deps.maxRetry,
			heartbeatIntervalMs: deps.heartbeatIntervalMs,
		};
	});

	router.get('/tasks', ctx => {
		const limit = Number(ctx.query.limit ?? 100);
		if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
			throw new HiveError(400, 'limit must be a whole number from 1 to 10000', 'ERR_HIVE_BAD_QUERY');
		}

		ctx.body = {tasks: hive.tasks(limit).map(task => taskJson(task))};
	});

	router.get('/tasks/:id', ctx => {
		const task = hive.task(ctx.params.id!);
		if (!task) {
			throw new HiveError(404, `no task with id ${ctx.params.id}`, 'ERR_HIVE_NO_TASK');
		}

		ctx.body = {task: taskJson(task)};
	});

	router.get('/events', ctx => {
		const since = ctx.query.since ?? ctx.get('Last-Event-ID');
		const sinceId = since === '' || since === undefined ? undefined : Number(since);
		if (sinceId !== undefined && (!Number.isInteger(sinceId) || sinceId < 0)) {
			throw new HiveError(400, 'since must be an event id (a whole number)', 'ERR_HIVE_BAD_QUERY');
		}

		const stream = openEventStream(ctx, () => {
			unsubscribe();
			deps.streams.delete(stream);
		});
		const unsubscribe = hive.subscribe(event => {
			stream.send(event.id, eventJson(event));
		});
		deps.streams.add(stream);
		if (sinceId !== undefined) {
			for (const event of hive.eventsSince(sinceId)) {
				stream.send(event.id, eventJson(event));
			}
		}
	});

	refuse(router, '/do_task', 'In queen mode, not taking tasks');
	return router;
}

export function droneJson(drone: Drone, now: number) {
	return {
		name: drone.name,
		address: drone.address,
		state: drone.state,
		registeredAt: new Date(drone.registeredAt).toISOString(),
		lastSeen: drone.lastSeen === undefined ? null : new Date(drone.lastSeen).toISOString(),
		lastSeenAgoMs: drone.lastSeen === undefined ? null : Math.max(0, now - drone.lastSeen),
		failedAttempts: drone.failedAttempts,
		tasksDone: drone.tasksDone,
		lastError: drone.lastError ?? null,
	};
}

export function taskJson(task: Task) {
	return {
		id: task.id,
		text: task.text,
		state: task.state,
		drone: task.drone ?? null,
		submittedAt: new Date(task.submittedAt).toISOString(),
		updatedAt: new Date(task.updatedAt).toISOString(),
		attempts: task.attempts,
		error: task.error ?? null,
	};
}

/** An event as clients see it: tasks in the same form as `GET /tasks`. */
export function eventJson(event: HiveEvent) {
	return 'task' in event ? {...event, task: taskJson(event.task)} : event;
}
