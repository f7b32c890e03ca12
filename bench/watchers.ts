import path from 'node:path';
import type {BenchContext, ScenarioOutcome} from './context.js';
import {chooseGenerator, startHive, type LoadGenerator} from './dispatch.js';
import {spawnEventReaders, type EventReaders, type ReadersStats} from './event-readers.js';
import {closedLoop, type LoadResult} from './loadgen.js';
import {cpuMeter, type Proc} from './procs.js';
import {round} from './stats.js';
import {runWrk} from './wrk.js';

/**
What `GET /events` clients cost the queen: its CPU per task at 16 connections of submits to two drones
(`--store memory`), with none and with 200 clients reading every frame. One queen for the whole
scenario; the conditions alternate (none, 200, and in a full run 200 again and none again), so that a
drift of the machine falls on both. The clients are raw connections in a process of their own
(bench/event-readers.ts): they count the queen's writes to each of them (HTTP chunks) and the events.

The figures, before frames were made once per event: 588 µs per task with none, 14,092 µs
with 200; before writes were spaced `coalesceMs` apart, 3.9× (116 and 449 µs per task).
*/

/** HIVE.md's fan-out budget (issue #15): 200 watching clients cost the queen at most this many times its CPU per task with none. */
export const fanOutBudget = {watchers: 200, ratio: 2} as const;

export type WatchersRound = {
	readonly watchers: number;
	readonly tasks: number;
	readonly durationS: number;
	readonly tasksPerS: number;
	readonly p99Ms: number;
	readonly cpuSeconds: number;
	readonly cpuUsPerTask: number;
	/** Per client and second: the queen's writes (the most any client got), events (the fewest any client got), bytes. */
	readonly perClient?: {readonly writesPerS: number; readonly eventsPerS: number; readonly kibPerS: number};
};

export type FanOutCost = {
	readonly none: {readonly cpuUsPerTask: number; readonly tasksPerS: number; readonly p99Ms: number};
	readonly many: {readonly cpuUsPerTask: number; readonly tasksPerS: number; readonly p99Ms: number};
	readonly watchers: number;
	/** The many's CPU per task ÷ the none's. */
	readonly ratio: number;
};

export type WatchersData = {
	readonly generator: LoadGenerator;
	readonly rounds: readonly WatchersRound[];
	readonly cost: FanOutCost | undefined;
};

/** Rounds of one condition taken together: CPU and tasks added up, the worst p99. */
export function combineRounds(rounds: readonly WatchersRound[]): FanOutCost['none'] | undefined {
	const tasks = rounds.reduce((sum, each) => sum + each.tasks, 0);
	const durationS = rounds.reduce((sum, each) => sum + each.durationS, 0);
	if (tasks === 0 || durationS === 0) {
		return undefined;
	}

	const cpuSeconds = rounds.reduce((sum, each) => sum + each.cpuSeconds, 0);
	return {cpuUsPerTask: round((cpuSeconds * 1e6) / tasks, 0)!, tasksPerS: round(tasks / durationS, 0)!, p99Ms: Math.max(...rounds.map(each => each.p99Ms))};
}

/** The fan-out's cost: the rounds with `watchers` clients against those with none. */
export function fanOutCost(rounds: readonly WatchersRound[], watchers: number): FanOutCost | undefined {
	const none = combineRounds(rounds.filter(each => each.watchers === 0));
	const many = combineRounds(rounds.filter(each => each.watchers === watchers));
	return none && many ? {none, many, watchers, ratio: round(many.cpuUsPerTask / none.cpuUsPerTask, 2)!} : undefined;
}

/** The budget's verdict in words: met, or missed and by how much. */
export function fanOutVerdict(cost: FanOutCost): {readonly met: boolean; readonly measured: string} {
	const met = cost.ratio <= fanOutBudget.ratio;
	const over = met ? '' : `, over by ${round(cost.ratio - fanOutBudget.ratio, 2)}× (${round(cost.many.cpuUsPerTask - (cost.none.cpuUsPerTask * fanOutBudget.ratio), 0)} µs per task)`;
	return {met, measured: `${cost.ratio}× (${cost.many.cpuUsPerTask} vs ${cost.none.cpuUsPerTask} µs per task; ${cost.many.tasksPerS} vs ${cost.none.tasksPerS} tasks/s)${over}`};
}

/** One load run of `POST /submit_task` at `connections`, with the scenario's generator. */
export async function submitLoad(generator: LoadGenerator, queenUrl: string, connections: number, durationS: number): Promise<LoadResult> {
	return generator === 'wrk'
		? runWrk({url: queenUrl, connections, durationS})
		: closedLoop({url: `${queenUrl}/submit_task`, body: JSON.stringify({text: 'bench'}), connections, durationS});
}

/** Measures one window of the load: the queen's CPU, and what the readers got meanwhile. */
export async function measureRound(queen: Proc, queenUrl: string, generator: LoadGenerator, durationS: number, readers: EventReaders | undefined): Promise<{readonly round: WatchersRound; readonly readers: ReadersStats | undefined}> {
	const before = await readers?.stats();
	const meter = cpuMeter(queen.pid);
	const load = await submitLoad(generator, queenUrl, 16, durationS);
	const cpu = meter.stop();
	const after = await readers?.stats();
	const count = after?.streaming ?? 0;
	const perClient = before && after && count > 0
		? {
			writesPerS: round((after.writes.max - before.writes.max) / load.durationS, 0)!,
			eventsPerS: round((after.events.min - before.events.min) / load.durationS, 0)!,
			kibPerS: round((after.bytes - before.bytes) / count / 1024 / load.durationS, 0)!,
		}
		: undefined;
	const measured: WatchersRound = {
		watchers: count,
		tasks: load.ok,
		durationS: load.durationS,
		tasksPerS: round(load.ok / load.durationS, 0)!,
		p99Ms: load.latencyMs.p99,
		cpuSeconds: cpu.cpuSeconds,
		cpuUsPerTask: round((cpu.cpuSeconds * 1e6) / Math.max(1, load.ok), 0)!,
		...(perClient ? {perClient} : {}),
	};
	return {round: measured, readers: after};
}

export async function runWatchers(context: BenchContext): Promise<ScenarioOutcome<WatchersData>> {
	const {generator, note} = chooseGenerator();
	// HIVE_BENCH_WATCHERS_PROF=<dir>: the queen runs under --cpu-prof and writes its profile there when it stops.
	const profileDir = process.env.HIVE_BENCH_WATCHERS_PROF;
	const hive = await startHive(profileDir ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(profileDir)] : [], {memory: true});
	const plan = context.quick ? [0, fanOutBudget.watchers] : [0, fanOutBudget.watchers, fanOutBudget.watchers, 0];
	const durationS = context.quick ? context.durationS : Math.max(3, Math.round(context.durationS / 2));
	const rounds: WatchersRound[] = [];
	try {
		for (const watchers of plan) {
			context.progress(`watchers: ${watchers} clients of /events (${context.warmupS} s warm-up, ${durationS} s, ${generator})`);
			// eslint-disable-next-line no-await-in-loop
			const readers = watchers > 0 ? await spawnEventReaders(hive.queenUrl, watchers) : undefined;
			try {
				// eslint-disable-next-line no-await-in-loop
				await submitLoad(generator, hive.queenUrl, 16, context.warmupS);
				// eslint-disable-next-line no-await-in-loop
				const {round: measured, readers: seen} = await measureRound(hive.queen, hive.queenUrl, generator, durationS, readers);
				if (seen && seen.closed > 0) {
					throw new Error(`${seen.closed} of ${watchers} clients of /events lost their stream during the round`);
				}

				rounds.push(measured);
			} finally {
				// eslint-disable-next-line no-await-in-loop
				await readers?.stop();
			}
		}
	} finally {
		await hive.stop();
	}

	const cost = fanOutCost(rounds, fanOutBudget.watchers);
	return {
		data: {generator, rounds, cost},
		tables: [{
			title: `Queen CPU per task with clients of /events (16 connections of submits, two drones, --store memory, ${generator})`,
			columns: ['watchers', 'tasks/s', 'p99 ms', 'queen CPU µs/task', 'writes/s to a client', 'events/s to a client', 'KiB/s to a client'],
			rows: rounds.map(each => [each.watchers, each.tasksPerS, each.p99Ms, each.cpuUsPerTask, each.perClient?.writesPerS, each.perClient?.eventsPerS, each.perClient?.kibPerS]),
			notes: [
				...(cost ? [`${cost.watchers} watchers cost ${cost.ratio}× the CPU per task of none (${cost.many.cpuUsPerTask} vs ${cost.none.cpuUsPerTask} µs, rounds of a condition added up)`] : []),
				'writes/s: the most HTTP chunks any client got a second (one per write of the queen); events/s: the fewest events any client got a second.',
				`load: ${note}`,
			],
		}],
	};
}
