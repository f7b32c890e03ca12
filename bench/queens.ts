import {spawn, type ChildProcess} from 'node:child_process';
import {readFileSync, rmSync} from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {startEtcd, type EtcdCluster, type EtcdPlace} from '../test/helpers/etcd.js';
import type {BenchContext, ScenarioOutcome, Table} from './context.js';
import {chooseGenerator, seedUnavailable, startHive, startSeed, type LoadGenerator} from './dispatch.js';
import {closedLoop, type LoadResult} from './loadgen.js';
import {clockTicksPerSecond, cpuSeconds, freePort, onExit, requestJson, sleep, spawnLarve, waitFor, type Larve} from './procs.js';
import {round, summarize, type Summary} from './stats.js';
import {findStoreLoadedLine, readStoreCounters, storeWrites, type StoreWrites} from './store.js';
import {machine, renderMachine, type Machine} from './table.js';
import {runWrk, wrkThreads} from './wrk.js';
import {seeded} from '../test/helpers/seeded.js';

/**
Queens (HIVE.md §7 and §9): three queen binaries (`--store etcd://…`, `--leader-lease 5`, every other flag
at its default) on a three-member etcd (etcd 3.4, started by test/helpers/etcd.ts's `startEtcd` on free
loopback ports, data in a temporary directory of the system's), two drones given all three queens
(`--queen-host a,b,c`). All on this machine.

Throughput: `POST /submit_task {"text":"bench"}` at 64 connections, with the dispatch bench's load
generator (wrk when installed, else the node:http closed loop), against (a) the leader alone and (b) the
three queens at once, 22 + 21 + 21 connections — a static load balancer's spread: two thirds of the
submits go through a follower's proxy. With wrk, (b) is three wrk processes at the same time (one thread
each: wrk gives a thread connections ÷ threads), whose latency histograms (printed by
bench/wrk-queens.lua's `done()`) are merged into one distribution. In the same run, with the same
generator and script: the seed's queen (bench/seed/larve.py) and Hive's single queen with its file store,
so that the cost of etcd is visible. Both Hive systems are warmed up until their history is full (10,000
finished tasks, the default `--task-history`): from then on every submit also makes the store forget one,
as in a hive that has run for a while.

Failover: under a light load (4 clients, each submit with an Idempotency-Key, sent to the queens in turn
and again to the next one on an error or a 503, 50 ms between two submits of a client), the leader is
killed with SIGKILL at a seeded random moment, 10 times (3 with --quick). Measured from the kill: another
queen's /healthz saying `role: leader`, and that queen serving (`Status.READY`, and a submit sent to it
acknowledged); the killed queen is then started again on its port. Afterwards every acknowledged task is
looked up (none may be missing) and the tasks are listed (no submit may have made two).
*/

export const queensConnections = 64;
/** `--leader-lease`, in seconds: the default, given explicitly. */
export const leaderLeaseS = 5;
/** HIVE.md §7. */
export const queensBudget = {tasksPerSecond: 1500, p99Ms: 250, failoverMs: (leaderLeaseS * 1000) + 1000} as const;
const failoverClients = 4;
const failoverPauseMs = 50;
/** After a refused submit, before the next queen is tried (no client spins while no queen leads). */
const retryPauseMs = 25;
/** A warm-up that has not filled the history by then stops there (and says so). */
const fillLimitS = 120;

/** The request of bench/wrk-submit.lua, and a `done()` that prints wrk's latency histogram. */
export const wrkQueensScriptPath = fileURLToPath(new URL('../../bench/wrk-queens.lua', import.meta.url));

export type QueensSystem = 'three queens: the leader' | 'three queens: all three' | 'one queen, file store' | 'seed';

export type QueensRow = {
	readonly system: QueensSystem;
	/** Connections per target, in the order of `targets`. */
	readonly split: readonly number[];
	readonly targets: readonly string[];
	readonly connections: number;
	readonly generator: LoadGenerator;
	readonly tasksPerSecond: number;
	/** Tasks/s acknowledged through each target. */
	readonly perTarget: readonly number[];
	readonly latencyMs: LoadResult['latencyMs'];
	/** How the latency of several targets was put together. */
	readonly latencyFrom: 'one run' | 'merged wrk histograms' | 'the worst target (an upper bound)';
	readonly ok: number;
	readonly errors: number;
	readonly non2xx: number;
	readonly durationS: number;
	/** The queen that does the work: the leader, the single queen, the seed's queen. */
	readonly leaderCores: number | undefined;
	readonly leaderCpuUsPerTask: number | undefined;
	/** Both followers together, and their CPU per request they forwarded. */
	readonly followerCores?: number;
	readonly followerCpuUsPerRequest?: number;
	/** The three etcd members together, and each. */
	readonly etcdCores?: number;
	readonly etcdMemberCores?: readonly number[];
	readonly etcdCpuUsPerTask?: number;
	readonly droneCores: number | undefined;
	/** The whole machine (/proc/stat): ours, the load generator's, and anything else running. */
	readonly machineCores: number | undefined;
	/** The working queen's store over the run (etcd: one transaction per write). */
	readonly store?: StoreWrites;
	/** Run time ÷ writes: with one write in flight at a time, the mean time a write takes (upper bound). */
	readonly msPerWrite?: number;
};

export type FailoverTrial = {
	readonly victim: string;
	readonly next: string;
	/** Kill → another queen's /healthz says `role: leader`. */
	readonly electedMs: number;
	/** Kill → that queen says READY and a submit sent to it is acknowledged. */
	readonly servingMs: number;
	/** The new leader's "loaded the store" line: tasks and drones it loaded from etcd, and how long it took. */
	readonly loaded?: {readonly tasks: number; readonly drones: number; readonly ms: number};
	/** Kill → the end of the first acknowledged submit of the load that started after the kill. */
	readonly clientsFirstAckMs: number | undefined;
	/** Submits of the load refused (503) or unanswered between the kill and the new leader serving. */
	readonly refusedAttempts: number;
	/** Kill → the killed queen started again and following. */
	readonly rejoinedMs: number;
};

export type QueensData = {
	readonly machine: Machine;
	readonly generator: LoadGenerator;
	readonly generatorNote: string;
	readonly rows: readonly QueensRow[];
	readonly warmups: ReadonlyArray<{readonly system: QueensSystem; readonly seconds: number; readonly history: number; readonly full: boolean}>;
	readonly seedSkipped?: string;
	readonly failover: {
		readonly seed: number;
		readonly leaseMs: number;
		readonly trials: readonly FailoverTrial[];
		readonly electedMs: Summary;
		readonly servingMs: Summary;
		/** Tasks acknowledged: the load's and the probes'. */
		readonly acknowledged: number;
		/** The probes among them: one submit to each new leader, to see it serve. */
		readonly probes: number;
		/** Keys the load sent (some never acknowledged: the load stopped under them). */
		readonly keys: number;
		/** Acknowledged tasks not found afterwards, or found with another text. */
		readonly lost: number;
		readonly lostExamples: readonly string[];
		/** Submits (texts) that made more than one task. */
		readonly duplicated: number;
		readonly historyMax: number;
	};
};

// ---------------------------------------------------------------------------------------------------
// wrk's histogram, and several runs at once.

/** wrk's latency histogram: [µs, count], from bench/wrk-queens.lua's "HISTOGRAM" line. */
export type Histogram = ReadonlyArray<readonly [number, number]>;

/** The "HISTOGRAM us:count,..." line of a run of bench/wrk-queens.lua; undefined when there is none. */
export function parseWrkHistogram(output: string): Histogram | undefined {
	const line = /^HISTOGRAM ?(.*)$/m.exec(output);
	if (!line) {
		return undefined;
	}

	return line[1]!.trim() === '' ? [] : line[1]!.trim().split(',').map(pair => {
		const [value, count] = pair.split(':').map(Number);
		if (!Number.isFinite(value) || !Number.isFinite(count)) {
			throw new Error(`not a wrk histogram entry: ${pair}`);
		}

		return [value!, count!] as const;
	});
}

/** p50, p99, max and mean (ms) of the union of histograms: percentiles by nearest rank, as wrk takes them. */
export function histogramLatency(histograms: readonly Histogram[]): LoadResult['latencyMs'] {
	const merged = new Map<number, number>();
	for (const histogram of histograms) {
		for (const [value, count] of histogram) {
			merged.set(value, (merged.get(value) ?? 0) + count);
		}
	}

	const entries = [...merged].sort((a, b) => a[0] - b[0]);
	const total = entries.reduce((sum, [, count]) => sum + count, 0);
	const at = (p: number) => {
		const rank = Math.max(1, Math.ceil((p / 100) * total));
		let seen = 0;
		for (const [value, count] of entries) {
			seen += count;
			if (seen >= rank) {
				return value;
			}
		}

		return entries.at(-1)?.[0] ?? 0;
	};

	const ms = (us: number) => round(us / 1000, 2)!;
	return {
		p50: total === 0 ? 0 : ms(at(50)),
		p99: total === 0 ? 0 : ms(at(99)),
		max: ms(entries.at(-1)?.[0] ?? 0),
		mean: total === 0 ? 0 : ms(entries.reduce((sum, [value, count]) => sum + (value * count), 0) / total),
	};
}

/** `connections` spread over `targets` as a round-robin balancer would: the first ones get one more. */
export function splitConnections(connections: number, targets: number): number[] {
	return Array.from({length: targets}, (_, index) => Math.floor(connections / targets) + (index < connections % targets ? 1 : 0));
}

type Drive = LoadResult & {readonly perTarget: readonly LoadResult[]; readonly split: readonly number[]; readonly latencyFrom: QueensRow['latencyFrom']};

/** The load against every target at once, `split` connections each, put together. */
async function drive(urls: readonly string[], connections: number, durationS: number, generator: LoadGenerator): Promise<Drive> {
	const split = splitConnections(connections, urls.length);
	let latencyFrom: QueensRow['latencyFrom'] = urls.length === 1 ? 'one run' : 'the worst target (an upper bound)';
	let perTarget: LoadResult[];
	let latencyMs: LoadResult['latencyMs'];
	if (generator === 'wrk') {
		// One thread per wrk when there are several: wrk would give a second thread 10 of 21 connections, and drop one.
		const runs = await Promise.all(urls.map(async (url, index) => runWrk({url, connections: split[index]!, durationS, script: wrkQueensScriptPath, threads: urls.length === 1 ? wrkThreads : 1})));
		perTarget = runs;
		const histograms = runs.map(run => parseWrkHistogram(run.output ?? ''));
		if (histograms.every(histogram => histogram !== undefined)) {
			latencyMs = histogramLatency(histograms);
			latencyFrom = urls.length === 1 ? 'one run' : 'merged wrk histograms';
		} else {
			latencyMs = worstOf(runs);
		}
	} else {
		perTarget = await Promise.all(urls.map(async (url, index) => closedLoop({url: `${url}/submit_task`, body: JSON.stringify({text: 'bench'}), connections: split[index]!, durationS})));
		latencyMs = worstOf(perTarget);
	}

	return {
		ok: perTarget.reduce((sum, run) => sum + run.ok, 0),
		non2xx: perTarget.reduce((sum, run) => sum + run.non2xx, 0),
		errors: perTarget.reduce((sum, run) => sum + run.errors, 0),
		durationS: Math.max(...perTarget.map(run => run.durationS)),
		latencyMs,
		perTarget,
		split,
		latencyFrom,
	};
}

/** Several runs' latencies without their distributions: each figure the worst of them (p99: an upper bound of the union's). */
function worstOf(runs: readonly LoadResult[]): LoadResult['latencyMs'] {
	if (runs.length === 1) {
		return runs[0]!.latencyMs;
	}

	const ok = runs.reduce((sum, run) => sum + run.ok, 0);
	return {
		p50: Math.max(...runs.map(run => run.latencyMs.p50)),
		p99: Math.max(...runs.map(run => run.latencyMs.p99)),
		max: Math.max(...runs.map(run => run.latencyMs.max)),
		mean: round(runs.reduce((sum, run) => sum + (run.latencyMs.mean * run.ok), 0) / Math.max(1, ok), 2)!,
	};
}

// ---------------------------------------------------------------------------------------------------
// CPU: of groups of processes, and of the whole machine.

/** Busy and total clock ticks of the whole machine (the first line of /proc/stat; idle and iowait are not busy). */
function machineTicks(): {readonly busy: number; readonly total: number} {
	const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
	const total = fields.slice(0, 8).reduce((sum, value) => sum + value, 0);
	return {busy: total - fields[3]! - fields[4]!, total};
}

type GroupMeter = {stop(): {readonly cores: number; readonly cpuSeconds: number; readonly each: readonly number[]}};

/** CPU of a group of processes over a window (each, and together). */
function groupMeter(pids: readonly number[]): GroupMeter {
	const started = performance.now();
	const before = pids.map(pid => cpuSeconds(pid));
	return {
		stop() {
			const wallS = (performance.now() - started) / 1000;
			const used = pids.map((pid, index) => cpuSeconds(pid) - before[index]!);
			const total = used.reduce((sum, value) => sum + value, 0);
			return {cores: total / wallS, cpuSeconds: total, each: used.map(value => round(value / wallS, 2)!)};
		},
	};
}

function machineMeter(): {stop(): number | undefined} {
	try {
		const before = machineTicks();
		const started = performance.now();
		return {
			stop() {
				const after = machineTicks();
				return round((after.busy - before.busy) / clockTicksPerSecond() / ((performance.now() - started) / 1000), 2);
			},
		};
	} catch {
		return {stop: () => undefined};
	}
}

// ---------------------------------------------------------------------------------------------------
// Three queens on a three-member etcd, two drones.

type Health = {role?: string; leader?: string | null; epoch?: number | null; status?: string; history?: {count: number; maxCount: number}};

async function health(url: string, timeoutMs = 1000): Promise<Health | undefined> {
	try {
		const answer = await requestJson('GET', `${url}/healthz`, undefined, timeoutMs);
		return answer.status === 200 ? answer.body as Health : undefined;
	} catch {
		return undefined;
	}
}

type QueenSlot = {
	readonly address: string;
	readonly url: string;
	proc: Larve | undefined;
	readonly alive: boolean;
	start(): Promise<void>;
};

type Cluster = {
	readonly etcd: EtcdCluster;
	/** The pids of the etcd members m0, m1, m2 (as they run now). */
	etcdPids(): number[];
	readonly queens: readonly QueenSlot[];
	readonly drones: readonly Larve[];
	/** Waits until one running queen leads and serves and every other running queen names it; its index. */
	leader(timeoutMs?: number): Promise<number>;
	stop(): Promise<void>;
};

/**
Where startEtcd runs a member: on loopback, as its own does, but each member is also killed when the bench
exits however it exits (Ctrl-C too), its data directory removed, and its pid known (for its CPU).
*/
function benchLoopback(members: Map<string, ChildProcess>): EtcdPlace {
	const dirs = new Set<string>();
	return {
		host: '127.0.0.1',
		spawn(command, args, options) {
			const child = spawn(command, args, options);
			const name = args[args.indexOf('--name') + 1] ?? String(members.size);
			members.set(name, child);
			const forget = onExit(() => child.kill('SIGKILL'));
			child.once('exit', () => {
				forget();
			});
			const dataDir = args[args.indexOf('--data-dir') + 1];
			if (dataDir !== undefined && !dirs.has(path.dirname(dataDir))) {
				dirs.add(path.dirname(dataDir));
				onExit(() => rmSync(path.dirname(dataDir), {recursive: true, force: true}));
			}

			return child;
		},
		async get(url) {
			const response = await fetch(url, {signal: AbortSignal.timeout(1000)});
			return response.json();
		},
	};
}

async function startCluster(context: BenchContext): Promise<Cluster> {
	const members = new Map<string, ChildProcess>();
	const place = benchLoopback(members);
	context.progress('queens: a three-member etcd on loopback');
	const etcd = await startEtcd({places: [place, place, place]});
	const ports = await Promise.all([0, 1, 2].map(async () => freePort()));
	const queens = ports.map((port, index): QueenSlot => {
		const address = `127.0.0.1:${port}`;
		const slot: QueenSlot = {
			address,
			url: `http://${address}`,
			proc: undefined,
			get alive() {
				return slot.proc?.alive ?? false;
			},
			async start() {
				slot.proc = await spawnLarve(`queen ${index + 1}`, ['--queen', '--port', String(port), '--advertise', address, '--store', etcd.storeFlag, '--leader-lease', String(leaderLeaseS)]);
			},
		};
		return slot;
	});
	const drones: Larve[] = [];
	const leader = async (timeoutMs = 30_000): Promise<number> => waitFor(async () => {
		const running = queens.filter(queen => queen.alive);
		const seen = await Promise.all(running.map(async queen => health(queen.url)));
		const leaders = running.filter((_, index) => seen[index]?.role === 'leader' && seen[index]?.status === 'Status.READY');
		if (leaders.length !== 1 || !seen.every(each => each?.leader === leaders[0]!.address)) {
			return undefined;
		}

		return queens.indexOf(leaders[0]!) + 1;
	}, 'one queen to lead and the others to name it', timeoutMs, {pollMs: 50}).then(index => index - 1);
	const stop = async () => {
		await Promise.all(drones.map(async drone => drone.stop(2000)));
		await Promise.all(queens.map(async queen => queen.proc?.stop(2000)));
		await etcd.stop();
	};

	try {
		context.progress(`queens: three queens on ${etcd.storeFlag} (--leader-lease ${leaderLeaseS}), two drones`);
		await Promise.all(queens.map(async queen => queen.start()));
		const first = await leader();
		const hosts = queens.map(queen => queen.address).join(',');
		drones.push(...await Promise.all(['drone-a', 'drone-b'].map(async label => spawnLarve(label, ['--queen-host', hosts, '--port', '0']))));
		await waitFor(async () => (await requestJson('GET', `${queens[first]!.url}/drones`)).body?.drones?.length === 2, 'two drones registered');
	} catch (error: unknown) {
		await stop();
		throw error;
	}

	return {
		etcd,
		etcdPids: () => ['m0', 'm1', 'm2'].map(name => members.get(name)?.pid ?? -1),
		queens,
		drones,
		leader,
		stop,
	};
}

// ---------------------------------------------------------------------------------------------------
// Throughput.

type Subject = {
	readonly system: QueensSystem;
	readonly targets: readonly string[];
	/** The working queen's pid and URL (its /healthz has the store counters and the history). */
	readonly leader: {readonly pid: number; readonly url: string};
	readonly followers: ReadonlyArray<{readonly pid: number; readonly url: string}>;
	readonly etcd: readonly number[];
	readonly drones: readonly number[];
	readonly hasStore: boolean;
};

/**
The warm-up: the generator for warmupS, then (a Hive system) again in bursts until the history is full
(each submit then also makes the store forget a task, as it will from now on).
*/
async function warmUp(subject: Subject, generator: LoadGenerator, context: BenchContext): Promise<QueensData['warmups'][number]> {
	const started = performance.now();
	await drive(subject.targets, queensConnections, context.warmupS, generator);
	let history = 0;
	let full = !subject.hasStore;
	while (subject.hasStore) {
		// eslint-disable-next-line no-await-in-loop
		const seen = await health(subject.leader.url, 5000);
		history = seen?.history?.count ?? 0;
		full = seen?.history !== undefined && seen.history.count >= seen.history.maxCount;
		if (full || performance.now() - started > fillLimitS * 1000) {
			break;
		}

		// eslint-disable-next-line no-await-in-loop
		await drive(subject.targets, queensConnections, 3, generator);
	}

	return {system: subject.system, seconds: round((performance.now() - started) / 1000, 1)!, history, full};
}

async function measure(subject: Subject, generator: LoadGenerator, context: BenchContext): Promise<QueensRow> {
	context.progress(`queens: ${subject.system}, ${queensConnections} connections (${context.durationS} s, ${generator})`);
	const storeBefore = subject.hasStore ? await readStoreCounters(subject.leader.url) : undefined;
	const leader = groupMeter([subject.leader.pid]);
	const followers = groupMeter(subject.followers.map(follower => follower.pid));
	const etcd = groupMeter(subject.etcd);
	const drones = groupMeter(subject.drones);
	const whole = machineMeter();
	const result = await drive(subject.targets, queensConnections, context.durationS, generator);
	const used = {leader: leader.stop(), followers: followers.stop(), etcd: etcd.stop(), drones: drones.stop(), machine: whole.stop()};
	const store = storeBefore ? storeWrites(storeBefore, await readStoreCounters(subject.leader.url), result.durationS, result.ok) : undefined;
	const forwarded = subject.targets.reduce((sum, target, index) => sum + (subject.followers.some(follower => follower.url === target) ? result.perTarget[index]!.ok : 0), 0);
	return {
		system: subject.system,
		targets: subject.targets,
		split: result.split,
		connections: queensConnections,
		generator,
		tasksPerSecond: round(result.perTarget.reduce((sum, run) => sum + (run.ok / run.durationS), 0), 0)!,
		perTarget: result.perTarget.map(run => round(run.ok / run.durationS, 0)!),
		latencyMs: result.latencyMs,
		latencyFrom: result.latencyFrom,
		ok: result.ok,
		errors: result.errors,
		non2xx: result.non2xx,
		durationS: round(result.durationS, 2)!,
		leaderCores: round(used.leader.cores, 2),
		leaderCpuUsPerTask: result.ok > 0 ? round((used.leader.cpuSeconds * 1e6) / result.ok, 0) : undefined,
		...(subject.followers.length > 0 ? {
			followerCores: round(used.followers.cores, 2),
			...(forwarded > 0 ? {followerCpuUsPerRequest: round((used.followers.cpuSeconds * 1e6) / forwarded, 0)} : {}),
		} : {}),
		...(subject.etcd.length > 0 ? {
			etcdCores: round(used.etcd.cores, 2),
			etcdMemberCores: used.etcd.each,
			...(result.ok > 0 ? {etcdCpuUsPerTask: round((used.etcd.cpuSeconds * 1e6) / result.ok, 0)} : {}),
		} : {}),
		droneCores: round(used.drones.cores, 2),
		machineCores: used.machine,
		...(store ? {store, ...(store.syncs > 0 ? {msPerWrite: round((result.durationS * 1000) / store.syncs, 2)} : {})} : {}),
	};
}

// ---------------------------------------------------------------------------------------------------
// Failover.

/** A submit with an Idempotency-Key; the task's id when it was acknowledged (200/202), else undefined. */
async function submitWithKey(url: string, key: string, text: string, timeoutMs: number): Promise<string | undefined> {
	try {
		const response = await fetch(`${url}/submit_task`, {
			method: 'POST',
			headers: {'content-type': 'application/json', 'idempotency-key': key},
			body: JSON.stringify({text}),
			signal: AbortSignal.timeout(timeoutMs),
		});
		const body = await response.json() as {task?: {id?: string}};
		return (response.status === 200 || response.status === 202) && typeof body.task?.id === 'string' ? body.task.id : undefined;
	} catch {
		return undefined;
	}
}

/** The failover's light load: `clients` loops, each submit to the next queen in turn until one acknowledges it. */
function rotatingLoad(urls: readonly string[], clients: number) {
	const acknowledged = new Map<string, string>();
	const acks: Array<{readonly started: number; readonly ended: number}> = [];
	const refused: number[] = [];
	let keys = 0;
	let turn = 0;
	let stopped = false;
	const loops = Array.from({length: clients}, async (_, client) => {
		for (let index = 0; !stopped; index++) {
			const key = `c${client}-${index}`;
			keys++;
			for (;;) {
				const url = urls[turn++ % urls.length]!;
				const started = performance.now();
				// eslint-disable-next-line no-await-in-loop
				const id = await submitWithKey(url, key, `queens ${key}`, 3000);
				if (id !== undefined) {
					acknowledged.set(key, id);
					acks.push({started, ended: performance.now()});
					break;
				}

				refused.push(performance.now());
				if (stopped) {
					break;
				}

				// eslint-disable-next-line no-await-in-loop
				await sleep(retryPauseMs);
			}

			// eslint-disable-next-line no-await-in-loop
			await sleep(failoverPauseMs);
		}
	});
	return {
		acknowledged,
		acks,
		refused,
		get keys() {
			return keys;
		},
		async stop() {
			stopped = true;
			await Promise.all(loops);
		},
	};
}

async function failover(cluster: Cluster, kills: number, context: BenchContext): Promise<QueensData['failover']> {
	const seed = Number(process.env.HIVE_BENCH_SEED ?? Date.now() % 100_000);
	const random = seeded(seed);
	const {queens} = cluster;
	context.progress(`queens: failover, ${kills} kill -9 of the leader under ${failoverClients} rotating clients (seed ${seed}: HIVE_BENCH_SEED=${seed} replays the kill moments)`);
	const load = rotatingLoad(queens.map(queen => queen.url), failoverClients);
	const trials: FailoverTrial[] = [];
	try {
		for (let kill = 0; kill < kills; kill++) {
			/* eslint-disable no-await-in-loop */
			const leader = await cluster.leader();
			const acked = load.acks.length;
			await waitFor(() => load.acks.length >= acked + 10, 'ten submits acknowledged before the kill', 20_000);
			await sleep(500 + Math.floor(random() * 1500));
			const victim = queens[leader]!;
			const victimProc = victim.proc!;
			const killedAt = performance.now();
			victimProc.child.kill('SIGKILL');
			const others = [0, 1, 2].filter(index => index !== leader);
			const next = await waitFor(async () => {
				const seen = await Promise.all(others.map(async index => health(queens[index]!.url, 500)));
				const found = seen.findIndex(each => each?.role === 'leader');
				return found < 0 ? undefined : {index: others[found]!, at: performance.now()};
			}, 'another queen to lead', (leaderLeaseS * 1000) + 20_000, {pollMs: 20});
			const nextQueen = queens[next.index]!;
			const servedAt = await waitFor(async () => {
				if ((await health(nextQueen.url, 500))?.status !== 'Status.READY') {
					return undefined;
				}

				const id = await submitWithKey(nextQueen.url, `probe-${seed}-${kill}`, `queens probe ${kill}`, 2000);
				if (id === undefined) {
					return undefined;
				}

				load.acknowledged.set(`probe-${seed}-${kill}`, id);
				return performance.now();
			}, 'the new leader to serve', 20_000, {pollMs: 20});
			const loaded = findStoreLoadedLine(nextQueen.proc!.jsonLines);
			await victimProc.exited;
			context.progress(`queens: kill ${kill + 1} of ${kills}: ${victim.address} killed, ${nextQueen.address} leads after ${Math.round(next.at - killedAt)} ms, serves after ${Math.round(servedAt - killedAt)} ms`);
			await victim.start();
			const again = await cluster.leader();
			if (again !== next.index) {
				context.progress(`queens: the leader changed again after the restart (now ${queens[again]!.address})`);
			}

			const firstAck = load.acks.filter(ack => ack.started >= killedAt).sort((a, b) => a.ended - b.ended)[0];
			trials.push({
				victim: victim.address,
				next: nextQueen.address,
				electedMs: Math.round(next.at - killedAt),
				servingMs: Math.round(servedAt - killedAt),
				...(loaded ? {loaded: {tasks: loaded.tasks, drones: loaded.drones, ms: loaded.ms}} : {}),
				clientsFirstAckMs: firstAck === undefined ? undefined : Math.round(firstAck.ended - killedAt),
				refusedAttempts: load.refused.filter(at => at >= killedAt && at <= servedAt).length,
				rejoinedMs: Math.round(performance.now() - killedAt),
			});
			/* eslint-enable no-await-in-loop */
		}
	} finally {
		await load.stop();
	}

	// Every acknowledged task, looked up through the leader; then every task listed, to find a submit made twice.
	const leader = queens[await cluster.leader()]!;
	const entries = [...load.acknowledged];
	const missing: string[] = [];
	for (let start = 0; start < entries.length; start += 16) {
		// eslint-disable-next-line no-await-in-loop
		await Promise.all(entries.slice(start, start + 16).map(async ([key, id]) => {
			const answer = await requestJson('GET', `${leader.url}/tasks/${id}`, undefined, 10_000).catch(() => undefined);
			const expected = key.startsWith('probe-') ? undefined : `queens ${key}`;
			if (answer?.status !== 200 || (expected !== undefined && answer.body?.task?.text !== expected)) {
				missing.push(`${key} (${id}): ${answer ? `${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}` : 'no answer'}`);
			}
		}));
	}

	const texts = new Map<string, number>();
	for (let offset = 0; ; offset += 10_000) {
		// eslint-disable-next-line no-await-in-loop
		const page = (await requestJson('GET', `${leader.url}/tasks?limit=10000&offset=${offset}`, undefined, 30_000)).body as {tasks: Array<{text?: string}>; total: number};
		for (const task of page.tasks) {
			if (task.text?.startsWith('queens ')) {
				texts.set(task.text, (texts.get(task.text) ?? 0) + 1);
			}
		}

		if (page.tasks.length === 0 || offset + page.tasks.length >= page.total) {
			break;
		}
	}

	const historyMax = (await health(leader.url))?.history?.maxCount ?? 0;
	return {
		seed,
		leaseMs: leaderLeaseS * 1000,
		trials,
		electedMs: summarize(trials.map(trial => trial.electedMs)),
		servingMs: summarize(trials.map(trial => trial.servingMs)),
		acknowledged: load.acknowledged.size,
		probes: entries.filter(([key]) => key.startsWith('probe-')).length,
		keys: load.keys,
		lost: missing.length,
		lostExamples: missing.slice(0, 5),
		duplicated: [...texts.values()].filter(count => count > 1).length,
		historyMax,
	};
}

// ---------------------------------------------------------------------------------------------------

export async function runQueens(context: BenchContext): Promise<ScenarioOutcome<QueensData>> {
	const host = machine();
	const {generator, note: generatorNote} = chooseGenerator();
	context.progress(`queens: load generator for every row: ${generator} (${generatorNote})`);
	const rows: QueensRow[] = [];
	const warmups: Array<QueensData['warmups'][number]> = [];
	const run = async (subject: Subject) => {
		context.progress(`queens: ${subject.system}: warm-up${subject.hasStore ? ' until the history is full' : ''}`);
		warmups.push(await warmUp(subject, generator, context));
		rows.push(await measure(subject, generator, context));
	};

	const seedSkipped = seedUnavailable();
	if (seedSkipped === undefined) {
		const seed = await startSeed();
		try {
			await run({system: 'seed', targets: [seed.queenUrl], leader: {pid: seed.queen.pid, url: seed.queenUrl}, followers: [], etcd: [], drones: seed.drones.map(drone => drone.pid), hasStore: false});
		} finally {
			await seed.stop();
		}
	}

	const single = await startHive();
	try {
		await run({system: 'one queen, file store', targets: [single.queenUrl], leader: {pid: single.queen.pid, url: single.queenUrl}, followers: [], etcd: [], drones: single.drones.map(drone => drone.pid), hasStore: true});
	} finally {
		await single.stop();
	}

	const cluster = await startCluster(context);
	let failoverData: QueensData['failover'];
	try {
		const leaderIndex = await cluster.leader();
		const leader = cluster.queens[leaderIndex]!;
		const followers = cluster.queens.filter(queen => queen !== leader);
		// The leader first in the list: it gets the 22nd connection.
		const all = [leader, ...followers];
		const common = {
			leader: {pid: leader.proc!.pid, url: leader.url},
			followers: followers.map(queen => ({pid: queen.proc!.pid, url: queen.url})),
			etcd: cluster.etcdPids(),
			drones: cluster.drones.map(drone => drone.pid),
			hasStore: true,
		};
		await run({system: 'three queens: the leader', targets: [leader.url], ...common});
		await run({system: 'three queens: all three', targets: all.map(queen => queen.url), ...common});
		failoverData = await failover(cluster, context.quick ? 3 : 10, context);
	} finally {
		await cluster.stop();
	}

	const data: QueensData = {machine: host, generator, generatorNote, rows, warmups, failover: failoverData, ...(seedSkipped ? {seedSkipped} : {})};
	const problems = [
		...(failoverData.lost > 0 ? [`${failoverData.lost} acknowledged task(s) missing after the kills: ${failoverData.lostExamples.join('; ')}`] : []),
		...(failoverData.duplicated > 0 ? [`${failoverData.duplicated} submit(s) made more than one task`] : []),
		...(failoverData.acknowledged >= failoverData.historyMax ? [`${failoverData.acknowledged} tasks acknowledged during the failovers, more than the history keeps (${failoverData.historyMax}): a missing one may have been forgotten, not lost`] : []),
	];
	return {data, tables: [throughputTable(data), failoverTable(data)], ...(problems.length > 0 ? {failure: problems.join('\n')} : {})};
}

function throughputTable({machine: host, generator, generatorNote, rows, warmups, seedSkipped}: QueensData): Table {
	const single = rows.find(row => row.system === 'one queen, file store');
	const seed = rows.find(row => row.system === 'seed');
	const notes = [
		renderMachine(host),
		`load generator: ${generator} for every row (${generatorNote}; script bench/wrk-queens.lua), ${queensConnections} connections of POST /submit_task {"text":"bench"}, ${rows[0]?.durationS ?? '?'} s each.`,
		'three queens: --store etcd://(3 members) --leader-lease 5, defaults otherwise; two drones with --queen-host of all three. "the leader" = all 64 connections to the leader; "all three" = 22 to the leader + 21 + 21 to the followers at once (a static load balancer), three wrk processes of one thread each, their histograms merged.',
		'tasks/s = 2xx answers ÷ run time (each acknowledged only once written to a majority of etcd, or fsync\'d for the file store). cores = /proc/<pid>/stat CPU time ÷ wall time over the run; machine = /proc/stat busy (everything: ours, wrk, other work).',
		'leader = the queen that does the work (the single queen; the seed\'s queen); µs/task = its CPU time ÷ tasks answered 2xx. followers µs/req = both followers\' CPU ÷ the requests they forwarded. etcd µs/task = the three members\' CPU ÷ tasks.',
		'writes/s = the store\'s writes (etcd: transactions, fenced on the leader\'s key; file: fdatasyncs); tasks/write = tasks ÷ writes (the group commit\'s batch); ms/write = run time ÷ writes: with one write in flight at a time, the time one takes (upper bound).',
		`warm-up: ${warmups.map(each => `${each.system} ${each.seconds} s${each.system === 'seed' ? '' : ` (history ${each.history}${each.full ? ', full' : ', NOT full'})`}`).join('; ')}. A full history: every submit also makes the store forget a finished task, as in a hive that has run a while.`,
		...rows.filter(row => row.perTarget.length > 1).map(row => `${row.system}: ${row.perTarget.join(' + ')} tasks/s through the leader + the followers; latency ${row.latencyFrom}.`),
		...rows.filter(row => row.system.startsWith('three')).map(row => `${row.system}: ${row.tasksPerSecond} tasks/s = ${single && single.tasksPerSecond > 0 ? `${Math.round((100 * row.tasksPerSecond) / single.tasksPerSecond)}% of the single queen's` : '–'}${seed && seed.tasksPerSecond > 0 ? `, ${round(row.tasksPerSecond / seed.tasksPerSecond, 1)}× the seed's` : ''}; etcd members ${row.etcdMemberCores?.join(' + ') ?? '–'} cores.`),
		...(seedSkipped ? [`seed: ${seedSkipped}`] : []),
	];
	return {
		title: `Queens: POST /submit_task at ${queensConnections} connections — three queens on a three-member etcd, one queen with its file store, the seed (${generator})`,
		columns: ['system', 'tasks/s', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'non-2xx', 'leader cores', 'leader µs/task', 'followers cores', 'followers µs/req', 'etcd cores', 'etcd µs/task', 'drones cores', 'machine cores', 'writes/s', 'tasks/write', 'ms/write'],
		rows: rows.map(row => [
			row.system,
			row.tasksPerSecond,
			row.latencyMs.p50,
			row.latencyMs.p99,
			row.latencyMs.max,
			row.errors,
			row.non2xx,
			row.leaderCores,
			row.leaderCpuUsPerTask,
			row.followerCores,
			row.followerCpuUsPerRequest,
			row.etcdCores,
			row.etcdCpuUsPerTask,
			row.droneCores,
			row.machineCores,
			row.store?.syncsPerSecond,
			row.store && row.store.syncs > 0 ? round(row.ok / row.store.syncs, 1) : undefined,
			row.msPerWrite,
		]),
		notes,
	};
}

function failoverTable({failover: data}: QueensData): Table {
	const limit = queensBudget.failoverMs;
	const describe = (summary: Summary) => `min ${summary.min ?? '–'}, median ${summary.p50 ?? '–'}, max ${summary.max ?? '–'} ms`;
	return {
		title: `Queens: kill -9 of the leader, ${data.trials.length} times, under ${failoverClients} clients submitting with Idempotency-Keys over the three queens (lease ${data.leaseMs / 1000} s)`,
		columns: ['kill', 'killed', 'next leader', 'elected ms', 'serving ms', `≤ ${limit} ms`, 'tasks loaded', 'load ms', 'clients\' first ack ms', 'refused', 'rejoined ms'],
		rows: data.trials.map((trial, index) => [
			index + 1,
			trial.victim,
			trial.next,
			trial.electedMs,
			trial.servingMs,
			trial.servingMs <= limit ? 'yes' : 'NO',
			trial.loaded?.tasks,
			trial.loaded?.ms,
			trial.clientsFirstAckMs,
			trial.refusedAttempts,
			trial.rejoinedMs,
		]),
		notes: [
			`elected = kill → another queen's /healthz says role leader: ${describe(data.electedMs)}.`,
			`serving = kill → that queen says Status.READY and a submit sent to it is acknowledged: ${describe(data.servingMs)}; the lease plus 1 s = ${limit} ms.`,
			'tasks loaded / load ms = the new leader\'s "loaded the store" line. clients\' first ack = kill → the first acknowledged submit of the load started after the kill; refused = submits answered 503 or not at all between the kill and the new leader serving (each retried on the next queen after 25 ms).',
			`acknowledged ${data.acknowledged - data.probes} of the ${data.keys} keys the load sent, and ${data.probes} probes; afterwards ${data.lost} missing${data.lost > 0 ? ` (${data.lostExamples.join('; ')})` : ''}, ${data.duplicated} submit(s) made twice. Kill moments: seed ${data.seed} (HIVE_BENCH_SEED=${data.seed}).`,
		],
	};
}

/** Tasks/s and p99 against HIVE.md §7's three-queen figures, with how far off a miss is. */
export function queensThroughputVerdict(row: QueensRow): {readonly tasks: string; readonly tasksMet: boolean; readonly p99: string; readonly p99Met: boolean} {
	const tasksMet = row.tasksPerSecond >= queensBudget.tasksPerSecond;
	const p99Met = row.latencyMs.p99 < queensBudget.p99Ms;
	const short = queensBudget.tasksPerSecond - row.tasksPerSecond;
	const over = row.latencyMs.p99 - queensBudget.p99Ms;
	return {
		tasks: `${row.tasksPerSecond} tasks/s${tasksMet ? '' : `, short by ${short} (${Math.round((100 * short) / queensBudget.tasksPerSecond)}%)`}`,
		tasksMet,
		p99: `${row.latencyMs.p99} ms${p99Met ? '' : `, over by ${round(over, 1)} ms (${round(row.latencyMs.p99 / queensBudget.p99Ms, 2)}×)`}`,
		p99Met,
	};
}
