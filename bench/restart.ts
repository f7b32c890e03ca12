import type {BenchContext, ScenarioOutcome, Table} from './context.js';
import {chooseGenerator, measure, type DispatchRow, type LoadGenerator} from './dispatch.js';
import {closedLoop, type LoadResult} from './loadgen.js';
import {benchDataDir, freePort, requestJson, sleep, spawnDrone, waitFor, type Larve} from './procs.js';
import {median, round} from './stats.js';
import {spawnUntilReady} from './startup.js';
import {directorySize, findStoreLoadedLine, formatBytes, readStoreCounters, storeWrites, type DirectorySize, type StoreCounters, type StoreLoadedLine, type StoreWrites} from './store.js';
import {runWrk} from './wrk.js';

/**
Restart: a queen (`--task-history 100000`) and two drones are filled with at least 100,000 task records
through the real API (`POST /submit_task {"text":"bench"}`, 64 connections, in bursts of the dispatch
bench's load generator until `GET /tasks?limit=1` reports a total of 100,000 or more). Then the queen
is killed with SIGKILL and started again on the same `--data-dir` and port, three times: each time, the
time from spawn to a 200 `Status.READY` on `/healthz` (polled every 5 ms, as the startup scenario does),
the "loaded the store" line's `ms`, and `GET /tasks?limit=1`'s total, which must be the one before the
first kill (a mismatch fails the scenario). HIVE.md §7: serves again within 1 s for 100,000 task records.

Before the kills, the full queen is measured as the dispatch scenario measures one (a warm-up, then a
run at 64 connections, the same generator): what a queen that holds 100,000 tasks does per task, each
new one making the history forget its oldest, and its snapshots of the whole state under way.
*/

export const restartTaskTarget = 100_000;
export const restartTrials = 3;
const fillConnections = 64;
/** A fill that has not reached the target after this long is a failure (a healthy queen takes ~10 s). */
const fillLimitS = 300;

export type RestartTrial = {
	/** Spawn → 200 Status.READY on /healthz. */
	readonly readyMs: number;
	/** The "loaded the store" line (undefined when the queen did not log it). */
	readonly loaded: StoreLoadedLine | undefined;
	/** `GET /tasks?limit=1`'s total once ready. */
	readonly total: number;
	/** The newest task's id once ready. */
	readonly newestId: string | undefined;
};

export type RestartData = {
	readonly target: number;
	readonly taskHistory: number;
	/** A dispatch row measured on the full queen (64 connections), before the kills. */
	readonly held: DispatchRow;
	readonly fill: {
		readonly generator: LoadGenerator;
		readonly connections: number;
		readonly bursts: number;
		readonly seconds: number;
		readonly tasksAnswered: number;
		readonly tasksPerSecond: number;
		readonly errors: number;
		readonly non2xx: number;
		readonly store: StoreWrites;
	};
	/** The queen's tasks and store just before the first kill, once every task had finished. */
	readonly before: {readonly total: number; readonly newestId: string | undefined; readonly store: StoreCounters};
	/** The data directory after the first kill -9. */
	readonly dataDir: DirectorySize & {readonly path: string};
	readonly trials: readonly RestartTrial[];
	readonly readyMs: {readonly median: number | undefined; readonly max: number | undefined};
	readonly loadMs: {readonly median: number | undefined; readonly max: number | undefined};
	/** Every restart reported the total seen before the first kill. */
	readonly totalsMatch: boolean;
};

/** `GET /tasks?limit=1`: how many tasks the queen keeps, and the newest one's id. */
async function taskTotal(queenUrl: string, state?: string): Promise<{readonly total: number; readonly newestId: string | undefined}> {
	const answer = await requestJson('GET', `${queenUrl}/tasks?limit=1${state ? `&state=${state}` : ''}`, undefined, 10_000);
	if (answer.status !== 200 || typeof answer.body?.total !== 'number') {
		throw new Error(`GET /tasks?limit=1 answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 200)}`);
	}

	return {total: answer.body.total as number, newestId: answer.body.tasks?.[0]?.id as string | undefined};
}

/**
How long the next burst of load runs: the tasks still missing at the rate measured so far, with 10%
to spare, at least 1 s and at most 15 s; 3 s when no rate is known yet.
*/
export function nextBurstSeconds(remaining: number, tasksPerSecond: number | undefined): number {
	if (remaining <= 0) {
		return 0;
	}

	if (tasksPerSecond === undefined || !(tasksPerSecond > 0)) {
		return 3;
	}

	return Math.min(15, Math.max(1, Math.ceil((remaining * 1.1) / tasksPerSecond)));
}

/** Fills the queen with at least `target` tasks, in bursts of load, checking the total after each. */
async function fill(queenUrl: string, target: number, generator: LoadGenerator, context: BenchContext): Promise<RestartData['fill']> {
	const storeBefore = await readStoreCounters(queenUrl);
	let bursts = 0;
	let seconds = 0;
	let ok = 0;
	let errors = 0;
	let non2xx = 0;
	let {total} = await taskTotal(queenUrl);
	while (total < target) {
		if (seconds > fillLimitS) {
			throw new Error(`the queen holds ${total} tasks after ${Math.round(seconds)} s of load, short of ${target}`);
		}

		const durationS = nextBurstSeconds(target - total, seconds > 0 ? ok / seconds : undefined);
		context.progress(`restart: ${total} tasks so far; ${durationS} s more of ${generator} at ${fillConnections} connections`);
		// eslint-disable-next-line no-await-in-loop -- one burst after another, until the queen holds enough
		const result: LoadResult = await (generator === 'wrk'
			? runWrk({url: queenUrl, connections: fillConnections, durationS})
			: closedLoop({url: `${queenUrl}/submit_task`, body: JSON.stringify({text: 'bench'}), connections: fillConnections, durationS}));
		bursts += 1;
		seconds += result.durationS;
		ok += result.ok;
		errors += result.errors;
		non2xx += result.non2xx;
		// eslint-disable-next-line no-await-in-loop
		({total} = await taskTotal(queenUrl));
	}

	const store = storeWrites(storeBefore, await readStoreCounters(queenUrl), seconds, ok);
	return {generator, connections: fillConnections, bursts, seconds: round(seconds, 1)!, tasksAnswered: ok, tasksPerSecond: round(ok / seconds, 0)!, errors, non2xx, store};
}

/**
Waits until no task is pending, dispatched or running, the total holds still, and the store's counters
hold still (its last batch is written and synced): what the queen acknowledged is then on disk.
*/
async function settle(queenUrl: string): Promise<{readonly total: number; readonly newestId: string | undefined; readonly store: StoreCounters}> {
	let last: {total: number; revision: number; syncs: number} | undefined;
	let result: {total: number; newestId: string | undefined; store: StoreCounters} | undefined;
	await waitFor(async () => {
		for (const state of ['pending', 'dispatched', 'running']) {
			// eslint-disable-next-line no-await-in-loop
			if ((await taskTotal(queenUrl, state)).total > 0) {
				last = undefined;
				return false;
			}
		}

		const {total, newestId} = await taskTotal(queenUrl);
		const store = await readStoreCounters(queenUrl);
		const now = {total, revision: store.revision, syncs: store.syncs};
		const still = last !== undefined && last.total === now.total && last.revision === now.revision && last.syncs === now.syncs;
		last = now;
		result = {total, newestId, store};
		return still;
	}, 'every task finished and the store still', 30_000, {pollMs: 200});
	return result!;
}

export async function runRestart(context: BenchContext): Promise<ScenarioOutcome<RestartData>> {
	const {generator, note} = chooseGenerator();
	const port = await freePort();
	const dataDir = benchDataDir();
	const taskHistory = restartTaskTarget;
	const queenArgs = ['--queen', '--data-dir', dataDir, '--task-history', String(taskHistory)];
	context.progress(`restart: a queen on :${port}, --task-history ${taskHistory}, its store in ${dataDir}; load: ${generator} (${note})`);
	let {proc: queen} = await spawnUntilReady('queen (restart)', queenArgs, port);
	const queenUrl = `http://127.0.0.1:${port}`;
	const drones: Larve[] = [];
	try {
		drones.push(...await Promise.all([spawnDrone({address: `127.0.0.1:${port}`}, 'drone-a'), spawnDrone({address: `127.0.0.1:${port}`}, 'drone-b')]));
		await waitFor(async () => (await requestJson('GET', `${queenUrl}/drones`)).body?.drones?.length === 2, 'two drones registered');
		const filled = await fill(queenUrl, restartTaskTarget, generator, context);
		await settle(queenUrl);
		const held = await measure({system: 'hive', queenUrl, queen, drones}, fillConnections, generator, context);
		context.progress(`restart: at ${restartTaskTarget} tasks held, ${held.tasksPerSecond} tasks/s, p99 ${held.latencyMs.p99} ms, ${held.queenCpuUsPerTask ?? '?'} µs of queen CPU per task`);
		const before = await settle(queenUrl);
		context.progress(`restart: ${before.total} tasks kept (revision ${before.store.revision}), filled in ${filled.seconds} s at ${filled.tasksPerSecond} tasks/s; kill -9 and restart ×${restartTrials}`);
		let size: RestartData['dataDir'] | undefined;
		const trials: RestartTrial[] = [];
		for (let trial = 0; trial < restartTrials; trial++) {
			// eslint-disable-next-line no-await-in-loop
			await queen.kill();
			size ??= {path: dataDir, ...directorySize(dataDir)};
			// eslint-disable-next-line no-await-in-loop
			const restarted = await spawnUntilReady(`queen (restart ${trial + 1})`, queenArgs, port);
			queen = restarted.proc;
			// The line is logged before the queen listens; its pipe may still be on the way here.
			// eslint-disable-next-line no-await-in-loop
			const loaded = await waitFor(() => findStoreLoadedLine(queen.jsonLines), 'the "loaded the store" line', 5000).catch(() => undefined);
			// eslint-disable-next-line no-await-in-loop
			const after = await taskTotal(queenUrl);
			trials.push({readyMs: round(restarted.ms, 0)!, loaded, total: after.total, newestId: after.newestId});
			context.progress(`restart ${trial + 1}: ready in ${round(restarted.ms, 0)} ms, store loaded in ${loaded?.ms ?? '?'} ms, ${after.total} tasks (before the kill: ${before.total})`);
			// A moment for the drones to be heard again, so each kill finds the same hive.
			// eslint-disable-next-line no-await-in-loop
			await sleep(500);
		}

		const readyMs = trials.map(trial => trial.readyMs);
		const loadMs = trials.flatMap(trial => (trial.loaded ? [trial.loaded.ms] : []));
		const data: RestartData = {
			target: restartTaskTarget,
			taskHistory,
			held,
			fill: filled,
			before,
			dataDir: size!,
			trials,
			readyMs: {median: median(readyMs), max: readyMs.length > 0 ? Math.max(...readyMs) : undefined},
			loadMs: {median: median(loadMs), max: loadMs.length > 0 ? Math.max(...loadMs) : undefined},
			totalsMatch: totalsMatch(before.total, trials),
		};
		const outcome: ScenarioOutcome<RestartData> = {data, tables: [heldTable(data), restartTable(data)]};
		return data.totalsMatch ? outcome : {...outcome, failure: `a restarted queen lost or gained tasks: ${before.total} before the kill, ${trials.map(trial => trial.total).join(', ')} after the restarts`};
	} finally {
		await Promise.all(drones.map(async drone => drone.stop()));
		await queen.stop();
	}
}

/** True when every restart reported the total seen before the first kill. */
export function totalsMatch(before: number, trials: ReadonlyArray<{readonly total: number}>): boolean {
	return trials.length > 0 && trials.every(trial => trial.total === before);
}

function heldTable({held, taskHistory}: RestartData): Table {
	const store = held.store;
	return {
		title: `Dispatch with 100,000 tasks held: the restart scenario's queen, full, before its kills (${held.generator}, ${held.connections} connections)`,
		columns: ['tasks/s', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'non-2xx', 'queen cores', 'queen µs/task', 'fsyncs/s', 'records/fsync', 'snapshots', 'MiB/s'],
		rows: [[
			held.tasksPerSecond,
			held.latencyMs.p50,
			held.latencyMs.p99,
			held.latencyMs.max,
			held.errors,
			held.non2xx,
			held.queenCores,
			held.queenCpuUsPerTask,
			store?.syncsPerSecond,
			store?.recordsPerSync,
			store?.snapshots,
			store ? round(store.bytesPerSecond / 2 ** 20, 2) : undefined,
		]],
		notes: [
			`--task-history ${taskHistory}: the history is full, so each task finished forgets the oldest; snapshots of the whole state (~27 MiB) are written beside the log as it grows. Compare with the dispatch scenario's durable row at ${held.connections} connections (the same queen, its history at the default 1,000).`,
		],
	};
}

function restartTable(data: RestartData): Table {
	const {fill: filled, before, dataDir} = data;
	return {
		title: `Restart: kill -9 a queen holding ${before.total} tasks, start it again on its --data-dir (×${data.trials.length})`,
		columns: ['restart', 'ms to ready', 'store load ms', 'tasks loaded', 'revision', 'GET /tasks total', 'same as before'],
		rows: data.trials.map((trial, index) => [
			index + 1,
			trial.readyMs,
			trial.loaded?.ms,
			trial.loaded?.tasks,
			trial.loaded?.revision,
			trial.total,
			trial.total === before.total ? 'yes' : `NO (${before.total} before)`,
		]),
		notes: [
			`ms to ready: spawn → 200 Status.READY on /healthz, polled every 5 ms (as the startup scenario); median ${data.readyMs.median} ms, max ${data.readyMs.max} ms. store load ms: the queen's "loaded the store" line (median ${data.loadMs.median ?? '–'}, max ${data.loadMs.max ?? '–'}).`,
			`before the first kill: GET /tasks?limit=1 total ${before.total} (every task finished; --task-history ${data.taskHistory}, forgotten in batches past it), store revision ${before.store.revision}, newest task ${before.newestId ?? '–'}; after the restarts: ${data.trials.map(trial => trial.newestId ?? '–').join(', ')}.`,
			`data directory after the kill: ${formatBytes(dataDir.bytes)} in ${dataDir.files} files (${formatBytes(dataDir.diskBytes)} on disk): ${dataDir.largest.map(file => `${file.name} ${formatBytes(file.bytes)}`).join(', ')}.`,
			`filled through POST /submit_task {"text":"bench"}: ${filled.tasksAnswered} tasks answered 2xx in ${filled.seconds} s (${filled.bursts} bursts of ${filled.generator}, ${filled.connections} connections, ${filled.tasksPerSecond} tasks/s, ${filled.errors} errors, ${filled.non2xx} non-2xx); the store wrote ${filled.store.records} records (${filled.store.recordsPerSecond}/s), ${filled.store.syncs} fsyncs (${filled.store.syncsPerSecond}/s, ${filled.store.recordsPerSync ?? '–'} records each), ${filled.store.snapshots} snapshots.`,
		],
	};
}
