import Router from '@koa/router';
import {queryFlag, refuse} from '../http/app.js';
import type Koa from 'koa';
import {contactKeyHeader, epochHeader, requireToken} from '../http/auth.js';
import {HiveError} from '../http/errors.js';
import {cancelBody, describeIssue, parseBody, taskBatchBody, taskBody, type TaskBody} from '../http/schemas.js';
import {StringDecoder} from 'node:string_decoder';
import {openLineStream} from '../http/ndjson.js';
import type {Executor, OutputChunk, Work} from './executor.js';
import type {Runtime} from '../model.js';
import type {QueenCallVerdict} from './registration.js';

export type DroneDeps = {
	readonly executor: Executor;
	readonly version: string;
	readonly slots: number;
	readonly allowExec: boolean;
	/** Whether its commands run contained (a pid namespace each): `/healthz` says so. */
	readonly contained: boolean;
	readonly labels: Readonly<Record<string, string>>;
	/** Made anew each time the drone starts: the queen tells a restarted drone, and one drone under two addresses, by it. */
	readonly bootId: string;
	readonly isReady: () => boolean;
	readonly name: () => string | undefined;
	/**
	What a call showed (a contact key, an epoch: undefined when none): whether it is stale (a deposed
	queen's), else whether the key is one this drone gave its queen (then it counts as the queen's contact).
	*/
	readonly queenCall: (contactKey: string | undefined, epoch: number | undefined, readOnly: boolean) => QueenCallVerdict;
	/** The highest epoch its queen has shown (undefined: none): `/healthz` says so. */
	readonly epoch: () => number | undefined;
	/** The join token `/do_task` needs: only the queen may command this drone. */
	readonly token: string | undefined;
	/** Ids of the command tasks it holds (running, or with a result not yet reported): `/healthz` lists them. */
	readonly holding: () => ReadonlySet<string>;
	/** Kills a command after this long (0: never): `/healthz` says so. */
	readonly taskTimeoutMs: number;
	/** The container runtimes it runs container tasks with (`--runtime runc`); empty: none. */
	readonly runtimes: readonly Runtime[];
	/** Runs a command or container task and reports its end to the queen. */
	readonly runTask: (id: string, work: Work) => void;
};

/** The queen's User-Agent: for logs and people; it proves nothing (the contact key does). */
export const queenUserAgentPrefix = 'hive-queen/';

/** The drone's endpoints: `/healthz` and `/do_task`; the queen's endpoints refuse with the seed's words. */
export function createDroneRouter(deps: DroneDeps): Router {
	const router = new Router();
	/**
	Whether the call shows this drone's contact key (undefined: it shows none). A call with an epoch older
	than its queen's is refused here, before anything is done.
	*/
	const fromQueen = (ctx: Koa.Context, readOnly: boolean): boolean | undefined => {
		const key = ctx.get(contactKeyHeader);
		const epoch = parseEpoch(ctx.get(epochHeader));
		const verdict = deps.queenCall(key === '' ? undefined : key, epoch, readOnly);
		if (verdict.stale) {
			throw new HiveError(409, `epoch ${epoch} is older than ${verdict.highest}: another queen leads now`, 'ERR_HIVE_STALE_EPOCH');
		}

		return verdict.proven;
	};

	router.get('/healthz', ctx => {
		const contactKeyMatches = fromQueen(ctx, true);
		ctx.body = {
			status: deps.isReady() ? 'Status.READY' : 'Status.NOT_READY',
			version: deps.version,
			mode: 'Mode.DRONE',
			name: deps.name() ?? null,
			slots: deps.slots,
			running: deps.executor.running,
			allowExec: deps.allowExec,
			contained: deps.contained,
			runtimes: deps.runtimes,
			labels: deps.labels,
			bootId: deps.bootId,
			tasks: [...deps.holding()],
			// The queen's deadline for a result: this plus a margin, then it fails the task itself.
			taskTimeoutMs: deps.taskTimeoutMs,
			epoch: deps.epoch() ?? null,
			// Said only to a caller that showed a key: the queen's registration callback reads it.
			...(contactKeyMatches === undefined ? {} : {contactKeyMatches}),
		};
	});

	/** Takes one task: prints a text, starts a command; throws a `HiveError` when it cannot. */
	const take = (task: TaskBody): {result: string; state?: string} => {
		if (task.kind === 'text') {
			deps.executor.print(task.text);
			return {result: 'OK'};
		}

		if (task.kind === 'command' && !deps.allowExec) {
			throw new HiveError(403, 'this drone does not run commands (start it with --allow-exec)', 'ERR_HIVE_NO_EXEC');
		}

		if (task.kind === 'container' && deps.runtimes.length === 0) {
			throw new HiveError(403, 'this drone runs no containers (start it with --runtime runc)', 'ERR_HIVE_NO_RUNTIME');
		}

		if (task.id === undefined) {
			throw new HiveError(400, 'id is required: command tasks come from the queen', 'ERR_HIVE_BAD_BODY');
		}

		if (deps.executor.wasCancelled(task.id)) {
			// Cancelled while it was on its way here: it never starts.
			throw new HiveError(409, `task ${task.id} was cancelled`, 'ERR_HIVE_CANCELLED');
		}

		// A task sent again (a queen that lost track, a retried call) is the one it holds: answered as the
		// first time, nothing started. One id never runs twice at once, and never takes a second slot.
		if (deps.holding().has(task.id)) {
			return {result: 'OK', state: 'running'};
		}

		if (!deps.isReady()) {
			throw new HiveError(503, 'this drone is stopping', 'ERR_HIVE_STOPPING');
		}

		if (deps.executor.running >= deps.slots) {
			throw new HiveError(429, `no free slot: ${deps.executor.running} of ${deps.slots} in use`, 'ERR_HIVE_FULL');
		}

		deps.runTask(task.id, task.kind === 'command' ? {command: task.command} : {container: task.container});
		return {result: 'OK', state: 'running'};
	};

	router.post('/do_task', requireToken(deps.token), ctx => {
		fromQueen(ctx, false);
		const task = parseBody(ctx, taskBody);
		ctx.body = take(task);
	});

	// Several tasks in one request: how the queen batches its calls to a drone under load. Each task
	// gets its own outcome, in order, as if it had come alone to `/do_task`.
	router.post('/do_tasks', requireToken(deps.token), ctx => {
		fromQueen(ctx, false);
		const {tasks} = parseBody(ctx, taskBatchBody);
		ctx.body = {
			results: tasks.map(raw => {
				const parsed = taskBody.safeParse(raw);
				if (!parsed.success) {
					const {status, message} = describeIssue(parsed.error);
					return {status, error: message.replace(/^body /, 'task '), code: status === 413 ? 'ERR_HIVE_TOO_LARGE' : 'ERR_HIVE_BAD_BODY'};
				}

				try {
					return {status: 200, ...take(parsed.data)};
				} catch (error: unknown) {
					if (error instanceof HiveError) {
						return {status: error.status, error: error.message, code: error.code};
					}

					throw error;
				}
			}),
		};
	});

	// The queen cancels a task: a command running here is killed (all its processes), and its output so far
	// comes back; a task not here yet never starts (unless `mayReturn`: a task moved off this drone as it is
	// drained, which may be placed here again). Nothing is reported of a cancelled task.
	router.post('/tasks/:id/cancel', requireToken(deps.token), async ctx => {
		fromQueen(ctx, false);
		const {mayReturn} = parseBody(ctx, cancelBody);
		const end = await deps.executor.cancel(ctx.params.id!, mayReturn);
		if (!end) {
			ctx.body = {result: 'OK', held: false};
			return;
		}

		const {cancelled: _cancelled, succeeded: _succeeded, error: _error, ...result} = end;
		ctx.body = {result: 'OK', held: true, output: result};
	});

	// A running command's output: what it printed so far, then (`?follow=true`) what it prints, as it
	// comes, one JSON line a chunk; the stream ends when the command does. 404 when it does not run here.
	router.get('/tasks/:id/logs', requireToken(deps.token), ctx => {
		fromQueen(ctx, true);
		const output = deps.executor.output(ctx.params.id!);
		if (!output) {
			throw new HiveError(404, `task ${ctx.params.id} does not run on this drone`, 'ERR_HIVE_NO_TASK');
		}

		const follow = queryFlag(ctx, 'follow') === true;
		let unfollow = (): void => undefined;
		const stream = openLineStream(ctx, () => {
			unfollow();
		});
		for (const name of ['stdout', 'stderr'] as const) {
			if (output[name] !== '') {
				stream.send({stream: name, data: output[name]});
			}
		}

		if (!follow) {
			stream.end();
			return;
		}

		const decoders = {stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8')};
		unfollow = output.follow((chunk: OutputChunk) => {
			const data = decoders[chunk.stream].write(chunk.data);
			if (data !== '') {
				stream.send({stream: chunk.stream, data});
			}
		});
		void output.done.then(() => {
			stream.end();
		});
	});

	refuse(router, '/submit_task', 'In drone mode, not scheduling tasks');
	refuse(router, '/register', 'In drone mode, not taking registration');
	refuse(router, '/deregister', 'In drone mode, not taking registration');
	return router;
}

/** `X-Hive-Epoch`: a whole number; undefined when the call has none. */
function parseEpoch(value: string): number | undefined {
	if (value === '') {
		return undefined;
	}

	if (!/^\d{1,15}$/.test(value)) {
		throw new HiveError(400, `${epochHeader} must be a whole number, got '${value.slice(0, 40)}'`, 'ERR_HIVE_BAD_HEADER');
	}

	return Number(value);
}
