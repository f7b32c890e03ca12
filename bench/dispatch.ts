import {execFileSync} from 'node:child_process';
import autocannon from 'autocannon';
import type {BenchContext, ScenarioOutcome, Table} from './context.js';
import {cpuMeter, freePort, isReady, requestJson, spawnDrone, spawnProc, spawnQueen, seedLarvePath, waitFor, type Proc} from './procs.js';
import {closedLoop, type LoadResult} from './loadgen.js';
import {round} from './stats.js';

/**
Dispatch: tasks per second through one queen to two drones, real processes on loopback, driven by
autocannon (`POST /submit_task {"text":"bench"}`) at 16 and 64 connections, after a warm-up. The
seed's Python queen (bench/seed/larve.py) is measured the same way, side by side.
*/

export const connectionCounts = [16, 64] as const;

export type DispatchRow = {
	readonly system: 'hive' | 'seed';
	readonly connections: number;
	readonly tasksPerSecond: number;
	readonly latencyMs: {readonly p50: number; readonly p99: number; readonly max: number; readonly mean: number};
	readonly generator: string;
	readonly ok: number;
	/** Connection errors and timeouts. */
	readonly errors: number;
	readonly non2xx: number;
	readonly durationS: number;
	/** Cores used by the queen during the measured run. */
	readonly queenCores: number | undefined;
	/** Cores used by each drone during the measured run. */
	readonly droneCores: readonly number[];
	/** The queen's CPU time per dispatched task, in µs. */
	readonly queenCpuUsPerTask: number | undefined;
};

export type DispatchData = {
	readonly rows: readonly DispatchRow[];
	readonly seedSkipped?: string;
};

type Target = {
	readonly system: 'hive' | 'seed';
	readonly queenUrl: string;
	readonly queen: Proc;
	readonly drones: readonly Proc[];
};

/** One autocannon run against `/submit_task`. */
export function load(url: string, connections: number, durationS: number, extra: {readonly overallRate?: number} = {}) {
	return autocannon({
		url: `${url}/submit_task`,
		method: 'POST',
		headers: {'content-type': 'application/json'},
		body: JSON.stringify({text: 'bench'}),
		connections,
		duration: durationS,
		timeout: 10,
		...extra,
	});
}

async function measure(target: Target, connections: number, context: BenchContext): Promise<DispatchRow> {
	const generator = target.system === 'hive' ? 'autocannon' : 'node:http closed loop';
	context.progress(`dispatch: ${target.system} at ${connections} connections (${context.warmupS} s warm-up, ${context.durationS} s, ${generator})`);
	const run = async (durationS: number): Promise<LoadResult> => {
		if (target.system === 'seed') {
			return closedLoop({url: `${target.queenUrl}/submit_task`, body: JSON.stringify({text: 'bench'}), connections, durationS});
		}

		const result = await load(target.queenUrl, connections, durationS);
		return {
			ok: result['2xx'],
			non2xx: result.non2xx,
			errors: result.errors + result.timeouts,
			durationS: result.duration,
			latencyMs: {p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max, mean: round(result.latency.mean, 2)!},
		};
	};

	await run(context.warmupS);
	const queenMeter = cpuMeter(target.queen.pid);
	const droneMeters = target.drones.map(drone => cpuMeter(drone.pid));
	const result = await run(context.durationS);
	const queen = queenMeter.stop();
	const drones = droneMeters.map(meter => meter.stop());
	const {ok} = result;
	return {
		system: target.system,
		generator,
		connections,
		tasksPerSecond: round(ok / result.durationS, 0)!,
		latencyMs: result.latencyMs,
		ok,
		errors: result.errors,
		non2xx: result.non2xx,
		durationS: round(result.durationS, 2)!,
		queenCores: round(queen.cores, 2),
		droneCores: drones.map(drone => round(drone.cores, 2)!),
		queenCpuUsPerTask: ok > 0 ? round((queen.cpuSeconds * 1e6) / ok, 0) : undefined,
	};
}

/** A real queen and two real drones (the binary, `--port 0`), drones' standard output dropped. */
export async function startHive(nodeFlags: readonly string[] = []): Promise<Target & {stop(): Promise<void>}> {
	const queen = await spawnQueen('queen', [], {nodeFlags});
	const drones = await Promise.all([spawnDrone(queen, 'drone-a'), spawnDrone(queen, 'drone-b')]);
	await waitFor(async () => (await requestJson('GET', `${queen.url}/drones`)).body?.drones?.length === 2, 'two drones registered');
	return {
		system: 'hive',
		queenUrl: queen.url,
		queen,
		drones,
		async stop() {
			await Promise.all(drones.map(async drone => drone.stop()));
			await queen.stop();
		},
	};
}

/** Why the seed cannot run here, or undefined when python3 can import flask and requests. */
export function seedUnavailable(): string | undefined {
	try {
		execFileSync('python3', ['-c', 'import flask, requests'], {stdio: 'ignore', timeout: 20_000});
		return undefined;
	} catch {
		return 'skipped: flask not installed (python3 -c "import flask, requests" failed)';
	}
}

/** The seed's queen and two drones (python3 bench/seed/larve.py), on free ports, output dropped. */
async function startSeed(): Promise<Target & {stop(): Promise<void>}> {
	const queenPort = await freePort();
	const queen = spawnProc('python3', ['-u', seedLarvePath, '--queen', '--port', String(queenPort)], {label: 'seed queen', parseStderr: false});
	const queenUrl = `http://127.0.0.1:${queenPort}`;
	await waitFor(async () => {
		if (!queen.alive) {
			throw new Error(`the seed's queen exited: ${queen.stderrTail()}`);
		}

		return isReady(queenUrl);
	}, "the seed's queen", 20_000, {rethrow: false});
	const drones: Proc[] = [];
	for (const label of ['seed drone-a', 'seed drone-b']) {
		// The seed's drone registers once at start, so it starts after its queen, one after another.
		// eslint-disable-next-line no-await-in-loop
		const port = await freePort();
		const drone = spawnProc('python3', ['-u', seedLarvePath, '--queen-host', `127.0.0.1:${queenPort}`, '--port', String(port)], {label, parseStderr: false});
		drones.push(drone);
		// eslint-disable-next-line no-await-in-loop
		await waitFor(async () => isReady(`http://127.0.0.1:${port}`), `${label}`, 20_000);
	}

	await waitFor(async () => Object.keys((await requestJson('GET', `${queenUrl}/healthz`)).body?.drones ?? {}).length === 2, "the seed's two drones registered", 20_000);
	return {
		system: 'seed',
		queenUrl,
		queen,
		drones,
		async stop() {
			// The seed has no graceful stop (its threads never end): kill it.
			await Promise.all([queen, ...drones].map(async proc => proc.kill()));
		},
	};
}

export async function runDispatch(context: BenchContext): Promise<ScenarioOutcome<DispatchData>> {
	const rows: DispatchRow[] = [];
	const hive = await startHive();
	try {
		for (const connections of connectionCounts) {
			// eslint-disable-next-line no-await-in-loop
			rows.push(await measure(hive, connections, context));
		}
	} finally {
		await hive.stop();
	}

	const seedSkipped = seedUnavailable();
	if (seedSkipped === undefined) {
		const seed = await startSeed();
		try {
			for (const connections of connectionCounts) {
				// eslint-disable-next-line no-await-in-loop
				rows.push(await measure(seed, connections, context));
			}
		} finally {
			await seed.stop();
		}
	}

	return {data: {rows, seedSkipped}, tables: [dispatchTable(rows, seedSkipped)]};
}

function dispatchTable(rows: readonly DispatchRow[], seedSkipped: string | undefined): Table {
	const seedAt = (connections: number) => rows.find(row => row.system === 'seed' && row.connections === connections);
	const notes = [
		'tasks/s = 2xx answers ÷ run time; latency from autocannon (ms); cores = /proc/<pid>/stat utime+stime ÷ wall time over the run.',
		'queen µs/task = the queen\'s CPU time over the run ÷ tasks answered 2xx.',
		'load: autocannon for Hive; for the seed a node:http closed loop (same connections), because the seed\'s Flask dev server closes every connection and autocannon stalls on that.',
	];
	if (seedSkipped) {
		notes.push(`seed: ${seedSkipped}`);
	}

	return {
		title: 'Dispatch: POST /submit_task through one queen to two drones (autocannon)',
		columns: ['queen', 'conns', 'tasks/s', 'vs seed', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'non-2xx', 'queen cores', 'drone cores', 'queen µs/task'],
		rows: rows.map(row => {
			const seed = seedAt(row.connections);
			return [
				row.system,
				row.connections,
				row.tasksPerSecond,
				row.system === 'hive' && seed && seed.tasksPerSecond > 0 ? `${round(row.tasksPerSecond / seed.tasksPerSecond, 1)}×` : '',
				row.latencyMs.p50,
				row.latencyMs.p99,
				row.latencyMs.max,
				row.errors,
				row.non2xx,
				row.queenCores,
				row.droneCores.join(' + '),
				row.queenCpuUsPerTask,
			];
		}),
		notes,
	};
}
