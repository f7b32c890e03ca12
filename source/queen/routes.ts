import {Readable} from 'node:stream';
import {setImmediate as nextTurn} from 'node:timers/promises';
import Router from '@koa/router';
import type Koa from 'koa';
import {CallError} from '../client/http.js';
import {queryFlag, refuse} from '../http/app.js';
import {requireToken} from '../http/auth.js';
import {HiveError} from '../http/errors.js';
import {defaultDrainDeadlineSeconds, deregisterBody, drainBody, droneHealth, parseBody, registerBody, resultBody, taskBody, type DroneHealth} from '../http/schemas.js';
import type {DroneClient} from '../client/drone-client.js';
import {admit} from './admission.js';
import type {Canceller} from './canceller.js';
import type {Dispatcher} from './dispatcher.js';
import {streamTaskLogs} from './task-logs.js';
import {nextEvent, requestSignal} from './waiting.js';
import {finalTaskStates, summarizeTask, taskStates, type Drone, type Task, type TaskState, type TaskSummary} from '../model.js';
import {RefusedError, type Hive, type HiveEvent, type KeptEvent} from './hive.js';
import type {Watchers} from './watchers.js';

/** What `/healthz` says of the queen itself, leader or follower: its role, who leads, its own address. */
export type QueenHealth = {
	readonly role: 'leader' | 'follower';
	/** The leader's host:port; null while none leads. */
	readonly leader: string | null;
	/** The leader's term (its election key's create revision); null for a queen alone (no etcd). */
	readonly epoch: number | null;
	/** This queen's host:port, as others call it. */
	readonly address: string;
	/** When this queen process started. */
	readonly startedAt: string;
};

/** What any queen says of itself on `/healthz`, leading or not: the seed's fields, its role, who leads. */
export function queenHealthz(ready: boolean, version: string, health: QueenHealth): Record<string, unknown> {
	return {status: ready ? 'Status.READY' : 'Status.NOT_READY', version, mode: 'Mode.QUEEN', name: 'queen', ...health};
}

export type QueenDeps = {
	readonly hive: Hive;
	/** The queen's own part of `/healthz`. */
	readonly health: () => QueenHealth;
	readonly dispatcher: Dispatcher;
	readonly version: string;
	readonly isReady: () => boolean;
	readonly heartbeatIntervalMs: number;
	readonly maxRetry: number;
	/** The join token every endpoint but `/healthz` needs; undefined: an open hive. */
	readonly token: string | undefined;
	/**
	Calls a registering address back (its `/healthz`, shown the contact key the registration offers) and
	resolves with the answer; throws a `CallError` when nothing answers, or not with a 2xx.
	*/
	readonly verifyDrone: (address: string, contactKey: string | undefined) => Promise<unknown>;
	/** The clients of `GET /events`. */
	readonly watchers: Watchers;
	readonly canceller: Canceller;
	/** Calls to drones (a running command's output). */
	readonly droneClient: DroneClient;
	/** Aborts when this term ends: requests that wait on its hive (a task's end, a drain's) stop waiting. */
	readonly ending: AbortSignal;
	readonly now?: () => number;
};

/** The queen's endpoints: the seed's four, plus the snapshot and event endpoints the dashboard reads. */
export function createQueenRouter(deps: QueenDeps): Router {
	const {hive, dispatcher} = deps;
	const router = new Router();
	const auth = requireToken(deps.token);

	router.get('/healthz', ctx => {
		ctx.body = {
			...queenHealthz(deps.isReady(), deps.version, deps.health()),
			drones: hive.droneMap(),
			// Beside the seed's map, not in it: its values stay names.
			cordoned: hive.cordonedDrones(),
			history: hive.history,
			pending: hive.pending,
			store: {kind: hive.store.kind, revision: hive.store.revision, ...hive.store.stats()},
		};
	});

	router.post('/register', auth, async ctx => {
		const body = parseBody(ctx, registerBody);
		const admission = admit(body, await callBack(ctx, deps, body.address, body.contactKey));
		if (!admission.admitted) {
			throw new HiveError(409, admission.error, 'ERR_HIVE_NOT_THAT_DRONE');
		}

		const {drone} = await refusals(async () => hive.register(admission.spec));
		ctx.body = {result: 'OK', name: drone.name, heartbeatIntervalMs: deps.heartbeatIntervalMs};
	});

	router.post('/deregister', auth, async ctx => {
		const {address} = parseBody(ctx, deregisterBody);
		const drone = await hive.deregister(address);
		ctx.body = {result: 'OK', name: drone?.name ?? null};
	});

	router.post('/submit_task', auth, async ctx => {
		const spec = parseBody(ctx, taskBody);
		const wait = queryFlag(ctx, 'wait') === true;
		const key = idempotencyKey(ctx.get('idempotency-key'));
		const {task: submitted, created, durable} = await refusals(async () => hive.submitNow(spec, key));
		const final = wait && !finalTaskStates.has(submitted.state) ? nextEvent(hive, finalStateOf(submitted.id), requestSignal(ctx, deps.ending)) : undefined;
		// Placed while its record goes to disk; answered once both are done. A retried submit (the same
		// key) gets the task as it is now: it is placed once, by its first submit.
		const [placed] = await Promise.all([created ? dispatcher.submit(submitted) : submitted, durable]);
		const task = (await final) ?? (created ? placed : hive.task(submitted.id) ?? submitted);
		if (task.state === 'failed' && task.attempts === 0) {
			// Nothing could ever take it: the seed's answer when no drone is registered.
			throw new HiveError(503, task.error ?? 'no drone can take the task', 'ERR_HIVE_NO_DRONE');
		}

		ctx.status = task.state === 'pending' ? 202 : 200;
		ctx.body = {result: 'OK', task: taskJson(task)};
	});

	router.get('/drones', auth, ctx => {
		const now = Date.now();
		ctx.body = {
			drones: [...hive.drones()].map(drone => droneJson(drone, now)),
			maxRetry: deps.maxRetry,
			heartbeatIntervalMs: deps.heartbeatIntervalMs,
		};
	});

	router.get('/tasks', auth, ctx => {
		const limit = wholeNumber(ctx.query.limit, 'limit', 100, 1, 10_000);
		const offset = wholeNumber(ctx.query.offset, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
		const state = ctx.query.state;
		if (state !== undefined && !taskStates.includes(state as TaskState)) {
			throw new HiveError(400, `state must be one of ${taskStates.join(', ')}`, 'ERR_HIVE_BAD_QUERY');
		}

		const page = hive.tasks({state: state as TaskState | undefined, limit, offset});
		ctx.type = 'application/json';
		ctx.body = Readable.from(taskListJson(page.tasks, page.total), {objectMode: false});
	});

	router.get('/drones/:name', auth, ctx => {
		const drone = hive.drone(ctx.params.name!);
		if (!drone) {
			throw new HiveError(404, `no drone named ${ctx.params.name} is in the hive`, 'ERR_HIVE_NO_SUCH_DRONE');
		}

		ctx.body = {drone: droneJson(drone, Date.now())};
	});

	router.post('/drones/:name/cordon', auth, async ctx => {
		const drone = await refusals(async () => hive.cordon(ctx.params.name!, actor(ctx)));
		ctx.body = {result: 'OK', drone: droneJson(drone, Date.now())};
	});

	router.post('/drones/:name/uncordon', auth, async ctx => {
		const drone = await refusals(async () => hive.uncordon(ctx.params.name!, actor(ctx)));
		ctx.body = {result: 'OK', drone: droneJson(drone, Date.now())};
	});

	router.post('/drones/:name/drain', auth, async ctx => {
		const {deadline = defaultDrainDeadlineSeconds} = parseBody(ctx, drainBody);
		const name = ctx.params.name!;
		// Listening before the drain is written: a drone with nothing on it is drained in the same write.
		const ended = queryFlag(ctx, 'wait') === true ? nextEvent(hive, drainEndOf(name), requestSignal(ctx, deps.ending)) : undefined;
		const drone = await refusals(async () => hive.drain(name, actor(ctx), (deps.now ?? Date.now)() + (deadline * 1000)));
		if (!ended) {
			ctx.status = 202;
			ctx.body = {result: 'OK', drone: droneJson(drone, Date.now())};
			return;
		}

		const end = await ended;
		if (end === undefined) {
			// The client went, or this queen's term ended: the drain goes on; the client asks again (a drain asked
			// again keeps its start), of the next leader.
			ctx.set('Retry-After', '1');
			throw new HiveError(503, `this queen stopped leading the hive while ${name} was being drained: the drain goes on; ask again`, 'ERR_HIVE_NO_LEADER');
		}

		if (end === 'uncordoned') {
			throw new HiveError(409, `the drain of ${name} was stopped: the drone was uncordoned`, 'ERR_HIVE_DRAIN_STOPPED');
		}

		const after = hive.drone(name);
		ctx.body = {result: 'OK', drone: after ? droneJson(after, Date.now()) : null, ...(end === 'drained' ? {} : {note: `${name} left the hive before its drain ended`})};
	});

	router.get('/tasks/:id', auth, ctx => {
		const task = resolve(hive, ctx.params.id!);
		ctx.body = {task: taskJson(task)};
	});

	router.delete('/tasks/:id', auth, async ctx => {
		const task = await refusals(async () => deps.canceller.cancel(ctx.params.id!, actor(ctx)));
		ctx.body = {result: 'OK', task: taskJson(task)};
	});

	router.get('/tasks/:id/logs', auth, async ctx => {
		const task = resolve(hive, ctx.params.id!);
		await streamTaskLogs(ctx, {hive, client: deps.droneClient, ending: deps.ending}, task, queryFlag(ctx, 'follow') === true);
	});

	router.post('/tasks/:id/result', auth, async ctx => {
		const report = parseBody(ctx, resultBody);
		const {drone, succeeded, error, ...result} = report;
		await refusals(async () => hive.finish(ctx.params.id!, drone, {succeeded, result, error: error ?? (succeeded ? undefined : describeExit(result))}));
		ctx.body = {result: 'OK'};
	});

	router.get('/events', auth, ctx => {
		const since = ctx.query.since ?? ctx.get('Last-Event-ID');
		const sinceId = since === '' || since === undefined ? undefined : Number(since);
		if (sinceId !== undefined && (!Number.isInteger(sinceId) || sinceId < 0)) {
			throw new HiveError(400, 'since must be an event id (a whole number)', 'ERR_HIVE_BAD_QUERY');
		}

		if (queryFlag(ctx, 'follow') === false) {
			// The backlog as one answer: `hive-larve events` without --follow.
			ctx.body = {events: hive.eventsSince(sinceId ?? 0).map(event => eventJson(event))};
			return;
		}

		deps.watchers.open(ctx, sinceId);
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
		slots: drone.slots,
		running: drone.running,
		allowExec: drone.allowExec,
		// An exec drone that cannot contain its commands: they can reach it, and what it holds (its token).
		contained: drone.contained ?? null,
		runtimes: drone.runtimes ?? [],
		labels: drone.labels,
		cordoned: drone.cordoned ?? false,
		drain: drone.drain ? {by: drone.drain.by, startedAt: new Date(drone.drain.startedAt).toISOString(), deadline: drone.drain.deadline === undefined ? null : new Date(drone.drain.deadline).toISOString()} : null,
	};
}

/** A task as one task's own answers carry it: the whole record, with its output. Given a summary, the summary. */
export function taskJson(task: Task | TaskSummary) {
	return {
		id: task.id,
		kind: task.kind,
		text: task.text ?? null,
		command: task.command ?? null,
		container: task.container ?? null,
		selector: task.selector,
		state: task.state,
		drone: task.drone ?? null,
		submittedAt: new Date(task.submittedAt).toISOString(),
		updatedAt: new Date(task.updatedAt).toISOString(),
		attempts: task.attempts,
		retries: task.retries,
		reason: task.reason ?? null,
		error: task.error ?? null,
		result: task.result ?? null,
		cancelled: task.cancelled ? {by: task.cancelled.by, at: new Date(task.cancelled.at).toISOString()} : null,
	};
}

/** A task as lists and events carry it: no output, long strings cut (`summarizeTask`). */
export function taskSummaryJson(task: Task | TaskSummary) {
	return taskJson(summarizeTask(task));
}

/** An event as clients see it: tasks in the same form as `GET /tasks` (summaries). */
export function eventJson(event: HiveEvent | KeptEvent) {
	const {at, ...rest} = event;
	const time = new Date(at).toISOString();
	return 'task' in rest ? {...rest, time, task: taskSummaryJson(rest.task)} : {...rest, time};
}

/**
`GET /tasks`'s answer, made a slice of tasks at a time with a turn of the event loop between slices, and
sent as it is made: a long list neither holds the queen (heartbeats, submits) nor becomes one huge string.
*/
async function * taskListJson(tasks: readonly Task[], total: number): AsyncGenerator<string> {
	const slice = 100;
	yield '{"tasks":[';
	for (let start = 0; start < tasks.length; start += slice) {
		if (start > 0) {
			// eslint-disable-next-line no-await-in-loop
			await nextTurn();
		}

		yield (start > 0 ? ',' : '') + tasks.slice(start, start + slice).map(task => JSON.stringify(taskSummaryJson(task))).join(',');
	}

	yield `],"total":${total}}`;
}

const refusalStatus: Record<RefusedError['code'], number> = {
	ERR_HIVE_QUEUE_FULL: 429,
	ERR_HIVE_NO_TASK: 404,
	ERR_HIVE_NOT_YOURS: 409,
	ERR_HIVE_KEY_REUSED: 422,
	ERR_HIVE_NO_DRONE: 503,
	ERR_HIVE_SAME_DRONE: 409,
	ERR_HIVE_AMBIGUOUS_ID: 400,
	ERR_HIVE_TASK_FINISHED: 409,
	ERR_HIVE_NO_SUCH_DRONE: 404,
};

/** The task a person means (an id, or a unique prefix of one), or the refusal as the client sees it. */
function resolve(hive: Hive, ref: string): Task {
	try {
		return hive.resolveTask(ref);
	} catch (error: unknown) {
		throw asHiveError(error);
	}
}

function asHiveError(error: unknown): unknown {
	if (error instanceof RefusedError) {
		return new HiveError(refusalStatus[error.code], error.message, error.code, error.matches === undefined ? undefined : {matches: error.matches});
	}

	return error;
}

/**
Who asked, for the record of a cancel or a cordon: `X-Hive-User` as the client gives it (the CLI sends
user@host; the token proves the caller is of the hive, not who it is), else the client's address.
*/
function actor(ctx: Koa.Context): string {
	const user = ctx.get('x-hive-user');
	if (user === '') {
		return ctx.ip || 'unknown';
	}

	if (!/^[\x20-\x7e]{1,128}$/.test(user)) {
		throw new HiveError(400, 'X-Hive-User must be 1 to 128 printable characters', 'ERR_HIVE_BAD_HEADER');
	}

	return user;
}

/** What ends a drain, in the events: drained, the drone gone, or the drain stopped (uncordoned). */
function drainEndOf(name: string): (event: HiveEvent) => 'drained' | 'gone' | 'uncordoned' | undefined {
	return event => {
		if (!('drone' in event) || event.drone !== name) {
			return undefined;
		}

		switch (event.type) {
			case 'drone.drained': {
				return 'drained';
			}

			case 'drone.left':
			case 'drone.evicted': {
				return 'gone';
			}

			case 'drone.uncordoned': {
				return 'uncordoned';
			}

			default: {
				return undefined;
			}
		}
	};
}

/** A task's final state, in the events. */
function finalStateOf(id: string): (event: HiveEvent) => Task | undefined {
	return event => ('task' in event && event.task.id === id && finalTaskStates.has(event.task.state) ? event.task : undefined);
}

/**
A registration's callback: what the drone at the address says of itself. Something that answers but is
no drone is a refusal (422); no answer yet (refused, timed out: a drone still starting, a machine under
load) is not, and says when to try again (503, 504, `Retry-After`).
*/
async function callBack(ctx: Koa.Context, deps: QueenDeps, address: string, contactKey: string | undefined): Promise<DroneHealth> {
	let answer: unknown;
	try {
		answer = await deps.verifyDrone(address, contactKey);
	} catch (error: unknown) {
		const reason = error instanceof Error ? error.message : String(error);
		if (error instanceof CallError && error.code === 'ERR_HIVE_UNREACHABLE') {
			ctx.set('Retry-After', '1');
			throw error.timedOut
				? new HiveError(504, `the drone at ${address} did not answer in time: ${reason}`, 'ERR_HIVE_DRONE_TIMEOUT')
				: new HiveError(503, `no drone answers at ${address} yet: ${reason}`, 'ERR_HIVE_DRONE_UNREACHABLE');
		}

		throw new HiveError(422, `no drone answers at ${address}: ${reason}`, 'ERR_HIVE_NOT_A_DRONE');
	}

	const mode = (answer as {mode?: unknown} | undefined)?.mode;
	if (mode !== 'Mode.DRONE') {
		throw new HiveError(422, `no drone answers at ${address}: it answers as ${String(mode)}, not as a drone`, 'ERR_HIVE_NOT_A_DRONE');
	}

	const health = droneHealth.safeParse(answer);
	if (!health.success) {
		const issue = health.error.issues[0]!;
		throw new HiveError(422, `the drone at ${address} answers its /healthz with a bad ${issue.path.join('.')}: ${issue.message}`, 'ERR_HIVE_NOT_A_DRONE');
	}

	return health.data;
}

/** A command the hive refused, as the client sees it: its status and message. */
async function refusals<T>(command: () => Promise<T>): Promise<T> {
	try {
		return await command();
	} catch (error: unknown) {
		throw asHiveError(error);
	}
}

/** `Idempotency-Key`: printable, at most 256 characters. */
function idempotencyKey(value: string): string | undefined {
	if (value === '') {
		return undefined;
	}

	if (!/^[\x21-\x7e]{1,256}$/.test(value)) {
		throw new HiveError(400, 'Idempotency-Key must be 1 to 256 printable characters without spaces', 'ERR_HIVE_BAD_HEADER');
	}

	return value;
}

function wholeNumber(value: unknown, name: string, fallback: number, minimum: number, maximum: number): number {
	if (value === undefined) {
		return fallback;
	}

	const number = Number(value);
	if (typeof value !== 'string' || !Number.isInteger(number) || number < minimum || number > maximum) {
		throw new HiveError(400, `${name} must be a whole number from ${minimum} to ${maximum}`, 'ERR_HIVE_BAD_QUERY');
	}

	return number;
}

function describeExit(result: {exitCode: number | null; signal: string | null; timedOut: boolean}): string {
	if (result.timedOut) {
		return 'timed out';
	}

	return result.signal ? `killed by ${result.signal}` : `exited with ${result.exitCode}`;
}
