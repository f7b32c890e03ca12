import type {BenchContext, ScenarioOutcome, Table} from './context.js';
import {cpuMeter, farmPath, followEvents, sleep, spawnProc, spawnQueen, waitFor, type Larve, type Proc} from './procs.js';
import {round, summarize} from './stats.js';

/**
Heartbeats: a real queen (defaults: every 2 s, 3 attempts, 1 s timeout) and N lightweight drones served
by a farm (bench/farm.ts) in separate processes — at most `dronesPerFarm` per process, so that one
process's listening and accepted sockets stay under the open-files limit. Once every drone is registered
and a turn of the queen's heartbeat wheel has checked every one, the queen's CPU is measured over the
window, and divided by the checks the farm answered: CPU µs per check. Turns come from the queen's
`heartbeat.sweep` events (one per interval: the drones it checked, and its slowest check from its slot's
due time); false evictions are `drone.evicted` events (every farm drone stays alive).
*/

export const droneCounts = [1000, 10_000] as const;
export const dronesPerFarm = 4000;

export type HeartbeatRow = {
	readonly drones: number;
	readonly farmProcesses: number;
	/** Time for every farm drone to register (farms in parallel). */
	readonly registerMs: number;
	readonly windowS: number;
	readonly queenCores: number | undefined;
	readonly farmCores: number | undefined;
	/** Turns of the wheel (`heartbeat.sweep` events) in the window. */
	readonly sweeps: number;
	readonly sweepChecked: number | undefined;
	/** Each turn's slowest check, from its slot's due time to its first attempt's outcome. */
	readonly sweepMs: {readonly p50: number | undefined; readonly max: number | undefined};
	/** The queen's CPU per check answered: what the budget is made of. */
	readonly queenUsPerCheck: number | undefined;
	/** Heartbeats answered by the farm per second over the window. */
	readonly heartbeatsPerSecond: number | undefined;
	/** Connections the farm accepted per second over the window: 0 when the queen reuses its keep-alive ones. */
	readonly connectionsPerSecond: number | undefined;
	readonly failedAttempts: number;
	readonly falseEvictions: number;
};

export type HeartbeatData = {readonly rows: readonly HeartbeatRow[]};

type FarmLine = {readonly type: string; readonly count?: number; readonly ms?: number; readonly healthz?: number; readonly connections?: number};

async function startFarms(queen: Larve, drones: number): Promise<Proc[]> {
	const farms: Proc[] = [];
	for (let shard = 0, left = drones; left > 0; shard++, left -= dronesPerFarm) {
		const count = Math.min(dronesPerFarm, left);
		farms.push(spawnProc(process.execPath, [farmPath, '--count', String(count), '--queen', queen.address, '--shard', String(shard)], {label: `farm ${shard}`, stdout: 'keep'}));
	}

	return farms;
}

const farmLines = (farm: Proc) => farm.jsonLines as unknown as FarmLine[];

async function measure(drones: number, context: BenchContext): Promise<HeartbeatRow> {
	context.progress(`heartbeat: ${drones} drones`);
	const queen = await spawnQueen(`queen (${drones} drones)`);
	const events = await followEvents(queen.url, type => type === 'heartbeat.sweep' || type === 'drone.evicted' || type === 'heartbeat.failed');
	const farms = await startFarms(queen, drones);
	try {
		const registerStarted = performance.now();
		await waitFor(() => {
			for (const farm of farms) {
				if (!farm.alive) {
					throw new Error(`${farm.label} exited: ${farm.stderrTail()}`);
				}
			}

			return farms.every(farm => farmLines(farm).some(line => line.type === 'registered'));
		}, `${drones} farm drones to register`, 180_000, {rethrow: true, pollMs: 100});
		const registerMs = Math.max(...farms.map(farm => farmLines(farm).find(line => line.type === 'registered')?.ms ?? 0));
		context.progress(`heartbeat: ${drones} drones registered in ${Math.round(performance.now() - registerStarted)} ms; waiting for a full sweep`);
		// Warm-up: a turn of the wheel that checked every drone.
		const fullSweep = await events.waitFor(event => event.type === 'heartbeat.sweep' && event.checked >= drones, `a turn that checked ${drones} drones`, 60_000);
		const windowStart = fullSweep.at;
		const queenMeter = cpuMeter(queen.pid);
		const farmMeters = farms.map(farm => cpuMeter(farm.pid));
		const statsBefore = farms.map(farm => farmLines(farm).length);
		const windowS = context.quick ? 5 : 10;
		await sleep(windowS * 1000);
		const queenCpu = queenMeter.stop();
		const farmCores = farmMeters.reduce((sum, meter) => sum + meter.stop().cores, 0);
		const stats = farms.flatMap((farm, index) => farmLines(farm).slice(statsBefore[index]).filter(line => line.type === 'stats'));
		const answered = stats.reduce((sum, line) => sum + (line.healthz ?? 0), 0);
		const connected = stats.reduce((sum, line) => sum + (line.connections ?? 0), 0);
		const sweeps = events.events.filter(event => event.type === 'heartbeat.sweep' && event.at > windowStart);
		const durations = summarize(sweeps.map(event => Number(event.durationMs)));
		const checksPerSecond = stats.length > 0 ? answered / (stats.length / farms.length) : undefined;
		return {
			drones,
			farmProcesses: farms.length,
			registerMs,
			windowS,
			queenCores: round(queenCpu.cores, 3),
			farmCores: round(farmCores, 2),
			sweeps: sweeps.length,
			sweepChecked: sweeps.length > 0 ? Math.min(...sweeps.map(event => Number(event.checked))) : undefined,
			sweepMs: {p50: durations.p50, max: durations.max},
			queenUsPerCheck: checksPerSecond ? round((queenCpu.cores * 1e6) / checksPerSecond, 1) : undefined,
			heartbeatsPerSecond: round(checksPerSecond, 0),
			connectionsPerSecond: stats.length > 0 ? round(connected / (stats.length / farms.length), 0) : undefined,
			failedAttempts: events.counts.get('heartbeat.failed') ?? 0,
			falseEvictions: events.counts.get('drone.evicted') ?? 0,
		};
	} finally {
		events.close();
		await Promise.all(farms.map(async farm => farm.stop(2000)));
		await queen.stop();
	}
}

export async function runHeartbeat(context: BenchContext): Promise<ScenarioOutcome<HeartbeatData>> {
	const rows: HeartbeatRow[] = [];
	// --quick: 1,000 only (registering 10,000 drones alone takes ~12 s).
	for (const drones of context.quick ? droneCounts.slice(0, 1) : droneCounts) {
		// eslint-disable-next-line no-await-in-loop
		rows.push(await measure(drones, context));
	}

	const table: Table = {
		title: 'Heartbeats: one queen at defaults (every 2 s, 3 attempts 0.5 s apart, 1 s timeout), a farm of live drones',
		columns: ['drones', 'farms', 'register ms', 'queen cores', 'queen µs/check', 'farm cores', 'turns', 'slowest check p50 ms', 'max ms', 'checks/s', 'new conns/s', 'failed attempts', 'false evictions'],
		rows: rows.map(row => [row.drones, row.farmProcesses, row.registerMs, row.queenCores, row.queenUsPerCheck, row.farmCores, row.sweeps, row.sweepMs.p50, row.sweepMs.max, row.heartbeatsPerSecond, row.connectionsPerSecond, row.failedAttempts, row.falseEvictions]),
		notes: [
			'the queen checks each drone once an interval at its own phase (a wheel of 50 ms slots), not all at once; queen cores over a window after a turn that checked every drone; µs/check = queen CPU / checks answered.',
			'turns = heartbeat.sweep events in the window (one an interval); slowest check = each turn\'s durationMs, from a check\'s slot time to its first attempt\'s outcome (a queen behind its wheel shows here).',
			'checks/s = /healthz answered by the farm; new conns/s = connections it accepted (0: every check on a kept-alive one); failed attempts and false evictions counted from registration to the end (every farm drone stays up).',
		],
	};
	return {data: {rows}, tables: [table]};
}
