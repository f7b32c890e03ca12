import type {BenchContext, ScenarioOutcome} from './context.js';
import {dashboardUnsupported, startDashboards, type TmuxDashboards} from './dashboard.js';
import {chooseGenerator, startHive, type LoadGenerator} from './dispatch.js';
import {spawnEventReaders, type EventReaders} from './event-readers.js';
import {cpuMeter} from './procs.js';
import {round} from './stats.js';
import {fanOutBudget, fanOutCost, measureRound, submitLoad, type FanOutCost, type WatchersRound} from './watchers.js';

/**
Many dashboards: a queen (`--store memory`) with two drones under 16 connections of submits, first
watched by nobody, then by several real dashboards (`hive-larve --tui --queen-host`, each in a tmux
pseudo-terminal) and 200 raw clients of `/events` (bench/event-readers.ts) at once. Measured: the
queen's CPU per task in both (and their ratio, the fan-out budget), tasks/s and p99, each dashboard's
cores, and the events each client got a second. About 40 s (15 s with --quick).
*/

export const manyDashboards = 3;

export type DashboardsData = {
	readonly skipped?: string;
	readonly generator: LoadGenerator;
	readonly dashboards: number;
	readonly watchers: number;
	readonly rounds: readonly WatchersRound[];
	readonly cost: FanOutCost | undefined;
	/** Each dashboard's cores over the round with them. */
	readonly dashboardCores: readonly number[];
	/** Events a second to each raw client (the fewest any got), and to all clients and dashboards together. */
	readonly eventsPerSecond: {readonly perClient: number; readonly delivered: number} | undefined;
};

export async function runDashboards(context: BenchContext): Promise<ScenarioOutcome<DashboardsData>> {
	const {generator, note} = chooseGenerator();
	const skipped = dashboardUnsupported();
	const dashboardCount = skipped ? 0 : manyDashboards;
	const watchers = fanOutBudget.watchers;
	const hive = await startHive([], {memory: true});
	const rounds: WatchersRound[] = [];
	let dashboardCores: number[] = [];
	let dashboards: TmuxDashboards | undefined;
	let readers: EventReaders | undefined;
	try {
		context.progress(`dashboards: nobody watching (${context.warmupS} s warm-up, ${context.durationS} s, ${generator})`);
		await submitLoad(generator, hive.queenUrl, 16, context.warmupS);
		rounds.push((await measureRound(hive.queen, hive.queenUrl, generator, context.durationS, undefined)).round);

		context.progress(`dashboards: ${dashboardCount} dashboards${skipped ? ` (${skipped})` : ''} and ${watchers} clients of /events`);
		if (dashboardCount > 0) {
			dashboards = await startDashboards({queenAddress: hive.queenUrl.replace(/^http:\/\//, ''), count: dashboardCount, name: 'dashboards', logDir: context.resultsDir});
		}

		readers = await spawnEventReaders(hive.queenUrl, watchers);
		await submitLoad(generator, hive.queenUrl, 16, context.warmupS);
		const meters = (dashboards?.pids ?? []).map(pid => cpuMeter(pid));
		const {round: watched, readers: seen} = await measureRound(hive.queen, hive.queenUrl, generator, context.durationS, readers);
		dashboardCores = meters.map(meter => round(meter.stop().cores, 3)!);
		if (seen && seen.closed > 0) {
			throw new Error(`${seen.closed} of ${watchers} clients of /events lost their stream during the round`);
		}

		rounds.push(watched);
	} finally {
		await readers?.stop();
		dashboards?.close();
		await hive.stop();
	}

	const cost = fanOutCost(rounds, watchers);
	const perClient = rounds.at(-1)?.perClient?.eventsPerS;
	const eventsPerSecond = perClient === undefined ? undefined : {perClient, delivered: perClient * (watchers + dashboardCount)};
	const [none, many] = rounds;
	const row = (label: string, each: WatchersRound | undefined, cores: string) => [label, each?.tasksPerS, each?.p99Ms, each?.cpuUsPerTask, cores, each?.perClient?.writesPerS, each?.perClient?.eventsPerS];
	return {
		data: {...(skipped ? {skipped} : {}), generator, dashboards: dashboardCount, watchers, rounds, cost, dashboardCores, eventsPerSecond},
		tables: [{
			title: `Many dashboards: ${dashboardCount} dashboards and ${watchers} clients of /events on a queen under 16 connections of submits (two drones, --store memory, ${generator})`,
			columns: ['watching', 'tasks/s', 'p99 ms', 'queen CPU µs/task', 'each dashboard (cores)', 'writes/s to a client', 'events/s to a client'],
			rows: [
				row('nobody', none, '–'),
				row(`${dashboardCount} dashboards + ${watchers} clients`, many, dashboardCores.length > 0 ? dashboardCores.join(', ') : (skipped ?? '–')),
			],
			notes: [
				...(cost ? [`watched, the queen spends ${cost.ratio}× its CPU per task of nobody (${cost.many.cpuUsPerTask} vs ${cost.none.cpuUsPerTask} µs)`] : []),
				...(eventsPerSecond ? [`events delivered: ${eventsPerSecond.perClient} a second to each client, ${eventsPerSecond.delivered} a second in all (${watchers + dashboardCount} clients)`] : []),
				'dashboards: hive-larve --tui --queen-host in tmux (200×60); cores from /proc/<pid>/stat over the round.',
				`load: ${note}`,
			],
		}],
	};
}
