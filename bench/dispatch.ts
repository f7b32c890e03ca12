import {execFileSync} from 'node:child_process';
import autocannon from 'autocannon';
import type {BenchContext, ScenarioOutcome, Table} from './context.js';
import {cpuMeter, floorRelayPath, freePort, isReady, requestJson, spawnDrone, spawnProc, spawnQueen, seedLarvePath, waitFor, type Larve, type Proc} from './procs.js';
import {closedLoop, type LoadResult} from './loadgen.js';
import {round} from './stats.js';
import {readStoreCounters, storeWrites, type StoreWrites} from './store.js';
import {runWrk, wrkThreads, wrkVersion} from './wrk.js';

/**
Dispatch: tasks per second through one queen to two drones, real processes on loopback, at 16 and 64
connections of `POST /submit_task {"text":"bench"}`, after a warm-up. Four systems, one after
another, in one run, all driven by the same load generator (wrk when installed, else one node:http
closed loop for all of them): Hive's queen with its durable store (a submit answered only once its
record is fsync'd); Hive's queen with `--store memory` (the cost of durability is the difference); the
seed's Python queen (bench/seed/larve.py); and the floor, a bare node:http relay
(bench/floor-relay.ts) in front of two real Hive drones. A ratio is only ever taken between rows of
the same generator, and the seed's ratio (HIVE.md §7) only with the durable Hive.

For both Hive rows the queen's `/healthz` store counters are read before and after the measured run:
records (one per command), facts and fsyncs per second, and records per fsync (the group commit's batch).
*/

export const connectionCounts = [16, 64] as const;

/** `hive`: the queen with its durable store (as users run it); `hive-memory`: the same with `--store memory`. */
export type DispatchSystem = 'hive' | 'hive-memory' | 'seed' | 'floor';
export type LoadGenerator = 'wrk' | 'node:http closed loop';

export type DispatchRow = {
	readonly system: DispatchSystem;
	readonly connections: number;
	readonly tasksPerSecond: number;
	readonly latencyMs: {readonly p50: number; readonly p99: number; readonly max: number; readonly mean: number};
	readonly generator: LoadGenerator;
	readonly ok: number;
	/** Connection errors and timeouts. */
	readonly errors: number;
	readonly non2xx: number;
	readonly durationS: number;
	/** Cores used by the front process (the queen; the relay for the floor) during the measured run. */
	readonly queenCores: number | undefined;
	/** Cores used by each drone during the measured run. */
	readonly droneCores: readonly number[];
	/** The front process's CPU time (the queen's; the relay's for the floor) per task answered 2xx, in µs. */
	readonly queenCpuUsPerTask: number | undefined;
	/** What the queen's store wrote during the measured run (Hive rows only). */
	readonly store?: StoreWrites;
};

/** Hive's tasks/s ÷ the seed's, at one connection count, both measured with `generator`. */
export type SeedRatio = {
	readonly connections: number;
	readonly generator: LoadGenerator;
	readonly hive: number;
	readonly seed: number;
	readonly ratio: number;
};

export type DispatchData = {
	readonly generator: LoadGenerator;
	/** wrk's version line, or why the node:http closed loop was used. */
	readonly generatorNote: string;
	readonly rows: readonly DispatchRow[];
	/** The durable Hive ÷ the seed at each connection count (only from rows of one generator). */
	readonly ratios: readonly SeedRatio[];
	/** The durable Hive beside the memory Hive at each connection count. */
	readonly durability: readonly DurabilityCost[];
	readonly seedSkipped?: string;
};

/** The durable Hive beside the memory one at one connection count (same generator): what durability costs. */
export type DurabilityCost = {
	readonly connections: number;
	readonly durable: number;
	readonly memory: number;
	/** Durable tasks/s ÷ memory tasks/s. */
	readonly share: number;
	readonly durableCpuUsPerTask: number | undefined;
	readonly memoryCpuUsPerTask: number | undefined;
	readonly durableP99: number;
	readonly memoryP99: number;
};

export type Target = {
	readonly system: DispatchSystem;
	readonly queenUrl: string;
	/** The process in front of the drones: the queen, or the floor's relay. */
	readonly queen: Proc;
	readonly drones: readonly Proc[];
};

/** One autocannon run against `/submit_task` (the profile and dashboard scenarios' load). */
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

/** wrk when it runs here, else the node:http closed loop: one generator for every system of the run. */
export function chooseGenerator(): {readonly generator: LoadGenerator; readonly note: string} {
	const version = wrkVersion();
	return version === undefined
		? {generator: 'node:http closed loop', note: 'wrk is not installed (apt-get install wrk): every system driven by bench/loadgen.ts instead'}
		: {generator: 'wrk', note: `${version}, ${wrkThreads} threads, bench/wrk-submit.lua`};
}

/**
Hive ÷ the seed at each connection count where both were measured with the same generator. Rows of
different generators are never paired: such a ratio would measure the generators, not the queens.
*/
export function seedRatios(rows: readonly DispatchRow[]): SeedRatio[] {
	const ratios: SeedRatio[] = [];
	for (const hive of rows.filter(row => row.system === 'hive')) {
		const seed = rows.find(row => row.system === 'seed' && row.connections === hive.connections && row.generator === hive.generator);
		if (seed && seed.tasksPerSecond > 0) {
			ratios.push({connections: hive.connections, generator: hive.generator, hive: hive.tasksPerSecond, seed: seed.tasksPerSecond, ratio: round(hive.tasksPerSecond / seed.tasksPerSecond, 1)!});
		}
	}

	return ratios;
}

/** The durable Hive ÷ the memory Hive at each connection count where one generator drove both. */
export function durabilityCosts(rows: readonly DispatchRow[]): DurabilityCost[] {
	const costs: DurabilityCost[] = [];
	for (const durable of rows.filter(row => row.system === 'hive')) {
		const memory = rows.find(row => row.system === 'hive-memory' && row.connections === durable.connections && row.generator === durable.generator);
		if (memory && memory.tasksPerSecond > 0) {
			costs.push({
				connections: durable.connections,
				durable: durable.tasksPerSecond,
				memory: memory.tasksPerSecond,
				share: round(durable.tasksPerSecond / memory.tasksPerSecond, 2)!,
				durableCpuUsPerTask: durable.queenCpuUsPerTask,
				memoryCpuUsPerTask: memory.queenCpuUsPerTask,
				durableP99: durable.latencyMs.p99,
				memoryP99: memory.latencyMs.p99,
			});
		}
	}

	return costs;
}

/** How a system is named in the table. */
export function systemLabel(system: DispatchSystem): string {
	return system === 'hive' ? 'hive (durable)' : (system === 'hive-memory' ? 'hive (--store memory)' : system);
}

/** `POST /submit_task {"text":"bench"}` at `connections` for `durationS`, by `generator`. */
export async function submitLoad(url: string, connections: number, durationS: number, generator: LoadGenerator): Promise<LoadResult> {
	return generator === 'wrk'
		? runWrk({url, connections, durationS})
		: closedLoop({url: `${url}/submit_task`, body: JSON.stringify({text: 'bench'}), connections, durationS});
}

/** One measured row: a warm-up, then a run of `context.durationS` with the front's and drones' CPU metered. */
export async function measure(target: Target, connections: number, generator: LoadGenerator, context: BenchContext): Promise<DispatchRow> {
	context.progress(`dispatch: ${target.system} at ${connections} connections (${context.warmupS} s warm-up, ${context.durationS} s, ${generator})`);
	const run = async (durationS: number): Promise<LoadResult> => submitLoad(target.queenUrl, connections, durationS, generator);

	await run(context.warmupS);
	const hasStore = target.system === 'hive' || target.system === 'hive-memory';
	const storeBefore = hasStore ? await readStoreCounters(target.queenUrl) : undefined;
	const queenMeter = cpuMeter(target.queen.pid);
	const droneMeters = target.drones.map(drone => cpuMeter(drone.pid));
	const result = await run(context.durationS);
	const queen = queenMeter.stop();
	const drones = droneMeters.map(meter => meter.stop());
	const {ok} = result;
	// Over the load's own run time, as tasks/s is (the reading after it comes a few ms later, idle).
	const store = storeBefore ? storeWrites(storeBefore, await readStoreCounters(target.queenUrl), result.durationS, ok) : undefined;
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
		...(store ? {store} : {}),
	};
}

/**
A real queen and two real drones (the binary, `--port 0`), drones' standard output dropped. The queen's
store is durable (its own directory, see spawnQueen) unless `memory` asks for `--store memory`.
*/
export async function startHive(nodeFlags: readonly string[] = [], {memory = false}: {readonly memory?: boolean} = {}): Promise<Omit<Target, 'drones'> & {readonly drones: readonly Larve[]; stop(): Promise<void>}> {
	const queen = await spawnQueen(memory ? 'queen (memory)' : 'queen', memory ? ['--store', 'memory'] : [], {nodeFlags});
	const drones = await Promise.all([spawnDrone(queen, 'drone-a'), spawnDrone(queen, 'drone-b')]);
	await waitFor(async () => (await requestJson('GET', `${queen.url}/drones`)).body?.drones?.length === 2, 'two drones registered');
	return {
		system: memory ? 'hive-memory' : 'hive',
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
export async function startSeed(): Promise<Target & {stop(): Promise<void>}> {
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

/**
The floor: two real Hive drones spawned as for Hive (registered with an idle Hive queen, whose only
work is their heartbeats), and the bare node:http relay (bench/floor-relay.ts) in front of them.
*/
export async function startFloor(relayNodeFlags: readonly string[] = []): Promise<Target & {stop(): Promise<void>}> {
	const hive = await startHive();
	const relay = spawnProc(process.execPath, [...relayNodeFlags, floorRelayPath, ...hive.drones.flatMap(drone => ['--drone', drone.address])], {label: 'floor relay'});
	try {
		const line = await waitFor(() => {
			if (!relay.alive) {
				throw new Error(`the floor relay exited: ${relay.stderrTail()}`);
			}

			return relay.jsonLines.find(entry => typeof entry.url === 'string' && String(entry.msg).includes('listening'));
		}, 'the floor relay to listen', 10_000, {rethrow: true});
		return {
			system: 'floor',
			queenUrl: line.url as string,
			queen: relay,
			drones: hive.drones,
			async stop() {
				await relay.stop();
				await hive.stop();
			},
		};
	} catch (error: unknown) {
		await relay.kill();
		await hive.stop();
		throw error;
	}
}

export async function runDispatch(context: BenchContext): Promise<ScenarioOutcome<DispatchData>> {
	const {generator, note: generatorNote} = chooseGenerator();
	context.progress(`dispatch: load generator for every system: ${generator} (${generatorNote})`);
	const rows: DispatchRow[] = [];
	const measureAll = async (target: Target & {stop(): Promise<void>}) => {
		try {
			for (const connections of connectionCounts) {
				// eslint-disable-next-line no-await-in-loop
				rows.push(await measure(target, connections, generator, context));
			}
		} finally {
			await target.stop();
		}
	};

	await measureAll(await startHive());
	await measureAll(await startHive([], {memory: true}));
	const seedSkipped = seedUnavailable();
	if (seedSkipped === undefined) {
		await measureAll(await startSeed());
	}

	await measureAll(await startFloor());
	const data: DispatchData = {generator, generatorNote, rows, ratios: seedRatios(rows), durability: durabilityCosts(rows), seedSkipped};
	const tables = [dispatchTable(data)];
	const storeTable = dispatchStoreTable(rows);
	if (storeTable) {
		tables.push(storeTable);
	}

	return {data, tables};
}

function dispatchTable({generator, generatorNote, rows, ratios, durability, seedSkipped}: DispatchData): Table {
	const floorAt = (connections: number) => rows.find(row => row.system === 'floor' && row.connections === connections && row.generator === generator);
	const notes = [
		`load generator: ${generator} for every row (${generatorNote}); the same connections, POST /submit_task {"text":"bench"}.`,
		`tasks/s = 2xx answers ÷ run time; latency from ${generator} (ms); cores = /proc/<pid>/stat utime+stime ÷ wall time over the run.`,
		'front = the process the load hits: the queen (hive, seed) or the bare node:http relay (floor, bench/floor-relay.ts, in front of two real Hive drones); front µs/task = its CPU time over the run ÷ tasks answered 2xx.',
		'hive (durable) = the queen as users run it: its store in a --data-dir of its own, a submit answered once its record is fsync\'d; hive (--store memory) = the same queen keeping nothing. vs seed is the durable Hive\'s (HIVE.md §7).',
		'of floor = Hive\'s tasks/s ÷ the floor\'s at the same connections.',
		...ratios.map(ratio => `Hive ÷ seed at ${ratio.connections} connections: ${ratio.ratio}× (${ratio.hive} vs ${ratio.seed} tasks/s, ${ratio.generator} on both).`),
		...durability.map(cost => `durability at ${cost.connections} connections: the durable Hive makes ${Math.round(cost.share * 100)}% of the memory Hive's tasks/s (${cost.durable} vs ${cost.memory}), p99 ${cost.durableP99} vs ${cost.memoryP99} ms, front µs/task ${cost.durableCpuUsPerTask ?? '–'} vs ${cost.memoryCpuUsPerTask ?? '–'}.`),
	];
	if (seedSkipped) {
		notes.push(`seed: ${seedSkipped}`);
	}

	return {
		title: `Dispatch: POST /submit_task through one front process to two drones (${generator})`,
		columns: ['system', 'conns', 'generator', 'tasks/s', 'vs seed', 'of floor', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'non-2xx', 'front cores', 'drone cores', 'front µs/task'],
		rows: rows.map(row => {
			const ratio = row.system === 'hive' ? ratios.find(each => each.connections === row.connections && each.generator === row.generator) : undefined;
			const floor = floorAt(row.connections);
			const isHive = row.system === 'hive' || row.system === 'hive-memory';
			return [
				systemLabel(row.system),
				row.connections,
				row.generator,
				row.tasksPerSecond,
				ratio ? `${ratio.ratio}×` : '',
				isHive && floor && floor.tasksPerSecond > 0 ? `${Math.round((100 * row.tasksPerSecond) / floor.tasksPerSecond)}%` : '',
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

/** The durable store's writes during each durable Hive row's measured run, from its /healthz counters. */
export function dispatchStoreTable(rows: readonly DispatchRow[]): Table | undefined {
	const durable = rows.filter(row => row.store?.kind === 'file');
	if (durable.length === 0) {
		return undefined;
	}

	return {
		title: 'Dispatch: what the durable store wrote during the measured run (the queen\'s /healthz store counters, before and after)',
		columns: ['system', 'conns', 'tasks/s', 'records/s', 'facts/s', 'fsyncs/s', 'records/fsync', 'records/task', 'facts/task', 'MiB/s', 'snapshots'],
		rows: durable.map(row => {
			const store = row.store!;
			return [
				systemLabel(row.system),
				row.connections,
				row.tasksPerSecond,
				store.recordsPerSecond,
				store.factsPerSecond,
				store.syncsPerSecond,
				store.recordsPerSync,
				store.recordsPerTask,
				store.factsPerTask,
				round(store.bytesPerSecond / 2 ** 20, 2),
				store.snapshots,
			];
		}),
		notes: [
			'records = one per command the queen wrote (a submit, a placement, a result...), facts = what they hold; per second over the load\'s run time, as tasks/s.',
			'records/fsync = the group commit\'s batch: the records of one event-loop turn share one write and one fdatasync. per task = ÷ tasks answered 2xx.',
		],
	};
}
