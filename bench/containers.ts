import {execFile, execFileSync} from 'node:child_process';
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {promisify} from 'node:util';
import {buildBusyboxRootfs, whyNoRunc} from '../test/helpers/rootfs.js';
import type {BenchContext, ScenarioOutcome, Table} from './context.js';
import {clockTicksPerSecond, onExit, requestJson, spawnDrone, spawnQueen, waitFor, type Larve} from './procs.js';
import {percentile, round} from './stats.js';

const run = promisify(execFile);

/**
Containers (issue #14): what a container costs on one drone beside a bare command. One queen and ONE
drone, the real binary, the drone started with `--allow-exec --runtime runc --slots 8 --data-dir` a
directory of its own; the rootfs is test/helpers/rootfs.ts's busybox. Three kinds of task, all `true`:
a command (`/bin/sh -c true` through the drone's sandbox), a container, and a container with limits
(memory 64M, pids 64, cpus 1: the cgroup writes limits add). Every task is submitted with
`POST /submit_task?wait=true` by the same node:http client, answered when the task has ended.

1. Latency, one task at a time: N rounds, each running one task of every kind, the kinds' order rotated
   from round to round so that none always follows another (or always comes first to an idle machine).
2. Throughput: K tasks of each kind with C in flight, split in rounds whose kinds' order rotates too.

Then what is left behind: `runc --root DATA_DIR/runc list` and the bundles while the drone is still up
(a drone that stops deletes its leftovers, which would hide a leak) and again after it stopped, the
cgroups of the bench's own containers, and tasks the queen still holds unfinished.
*/

export const benchedKinds = ['command', 'container', 'container + limits'] as const;
export type BenchedKind = typeof benchedKinds[number];

/** The drone's slots; the throughput's in-flight counts stay within them, so no task waits at the queen. */
export const droneSlots = 8;
export const inFlightCounts = [4, 8] as const;
/** The limits of the third kind. */
export const containerLimits = {memory: '64M', pids: 64, cpus: 1} as const;
/** How long one submit may wait for its task to end. */
const answerTimeoutMs = 60_000;

/** What is submitted for a kind of task. */
export function taskBody(kind: BenchedKind, rootfs: string): Record<string, unknown> {
	switch (kind) {
		case 'command': {
			return {command: 'true'};
		}

		case 'container': {
			return {container: {rootfs, command: ['true']}};
		}

		case 'container + limits': {
			return {container: {rootfs, command: ['true'], ...containerLimits}};
		}
	}
}

/** The kinds in the order of round `round`: rotated by one each round, so each kind takes every place in turn. */
export function roundOrder<T>(kinds: readonly T[], round: number): T[] {
	const shift = ((round % kinds.length) + kinds.length) % kinds.length;
	return [...kinds.slice(shift), ...kinds.slice(0, shift)];
}

/** One submit, as the client saw it. */
export type Sample = {
	/** Submit sent → answer read (the task has ended). */
	readonly answerMs: number;
	/** The drone's `result.durationMs`: the start of the task to its exit (a container's bundle written and deleted included). */
	readonly durationMs: number | undefined;
	readonly taskId: string | undefined;
	/** Why the task did not succeed (a non-200 answer, a failed task, no answer); absent when it did. */
	readonly error?: string;
};

export type Percentiles = {readonly p50: number | undefined; readonly p99: number | undefined};

function percentiles(values: readonly number[]): Percentiles {
	return {p50: round(percentile(values, 50), 1), p99: round(percentile(values, 99), 1)};
}

export type LatencyRow = {
	readonly kind: BenchedKind;
	readonly runs: number;
	readonly ok: number;
	readonly failed: number;
	readonly answerMs: Percentiles;
	readonly startToExitMs: Percentiles;
};

/** A kind's row from its samples (the successful ones make the percentiles). */
export function latencyRow(kind: BenchedKind, samples: readonly Sample[]): LatencyRow {
	const ok = samples.filter(sample => sample.error === undefined);
	return {
		kind,
		runs: samples.length,
		ok: ok.length,
		failed: samples.length - ok.length,
		answerMs: percentiles(ok.map(sample => sample.answerMs)),
		startToExitMs: percentiles(ok.flatMap(sample => (sample.durationMs === undefined ? [] : [sample.durationMs]))),
	};
}

/** One batch of a throughput row: its samples, its wall time, and the drone's CPU (with its children's) over it. */
export type Batch = {
	readonly samples: readonly Sample[];
	readonly wallMs: number;
	readonly droneCpuSeconds: number | undefined;
};

export type ThroughputRow = LatencyRow & {
	readonly inFlight: number;
	/** Tasks that succeeded ÷ the batches' wall time. */
	readonly perSecond: number | undefined;
	readonly wallS: number;
	/** The drone's and its children's (runc, sh) CPU time ÷ tasks that succeeded. */
	readonly droneCpuMsPerTask: number | undefined;
};

export function throughputRow(kind: BenchedKind, inFlight: number, batches: readonly Batch[]): ThroughputRow {
	const samples = batches.flatMap(batch => batch.samples);
	const row = latencyRow(kind, samples);
	const wallMs = batches.reduce((sum, batch) => sum + batch.wallMs, 0);
	const cpu = batches.every(batch => batch.droneCpuSeconds !== undefined) ? batches.reduce((sum, batch) => sum + batch.droneCpuSeconds!, 0) : undefined;
	return {
		...row,
		inFlight,
		wallS: round(wallMs / 1000, 2)!,
		perSecond: wallMs > 0 ? round(row.ok / (wallMs / 1000), 1) : undefined,
		droneCpuMsPerTask: cpu === undefined || row.ok === 0 ? undefined : round((cpu * 1000) / row.ok, 2),
	};
}

/** What the bench's containers left behind: each list should be empty. */
export type Leftovers = {
	/** `runc --root DATA_DIR/runc list` (and its state directory's entries) while the drone was still up, after the load. */
	readonly containersWhileUp: readonly string[];
	/** Entries of DATA_DIR/bundles while the drone was still up. */
	readonly bundlesWhileUp: readonly string[];
	/** cgroup directories of the bench's containers (`/hive/TASK_ID` under each controller) while the drone was still up. */
	readonly cgroupsWhileUp: readonly string[];
	/** The same once the drone had stopped. */
	readonly containersAfterStop: readonly string[];
	/** Tasks the queen still held pending, dispatched or running once every submit had its answer. */
	readonly unfinishedTasks: number;
};

export type ContainersData = {
	readonly skipped?: string;
	readonly runc?: string;
	readonly slots: number;
	readonly latency: readonly LatencyRow[];
	readonly throughput: readonly ThroughputRow[];
	readonly leftovers?: Leftovers;
	/** The distinct errors of the tasks that did not succeed, with how many times each. */
	readonly errors: ReadonlyArray<{readonly error: string; readonly count: number}>;
	/** Phases that reached their time limit before their count. */
	readonly cutShort: readonly string[];
};

/** The distinct errors of `samples`, most frequent first. */
export function distinctErrors(samples: readonly Sample[]): Array<{readonly error: string; readonly count: number}> {
	const counts = new Map<string, number>();
	for (const sample of samples) {
		if (sample.error !== undefined) {
			counts.set(sample.error, (counts.get(sample.error) ?? 0) + 1);
		}
	}

	return [...counts].map(([error, count]) => ({error, count})).sort((a, b) => b.count - a.count);
}

/** Why the scenario fails (tasks that did not succeed, anything left behind), or undefined when all held. */
export function containersFailure(data: ContainersData): string | undefined {
	const problems: string[] = [];
	const failed = [...data.latency, ...data.throughput].reduce((sum, row) => sum + row.failed, 0);
	if (failed > 0) {
		problems.push(`${failed} task(s) did not succeed: ${data.errors.map(each => `${each.count}× ${each.error}`).join('; ')}`);
	}

	const left = data.leftovers;
	if (left) {
		for (const [what, list] of [['containers in runc list while the drone was up', left.containersWhileUp], ['bundles while the drone was up', left.bundlesWhileUp], ['cgroups of the bench\'s containers while the drone was up', left.cgroupsWhileUp], ['containers in runc list after the drone stopped', left.containersAfterStop]] as const) {
			if (list.length > 0) {
				problems.push(`${list.length} ${what}: ${list.slice(0, 5).join(', ')}${list.length > 5 ? ', …' : ''}`);
			}
		}

		if (left.unfinishedTasks > 0) {
			problems.push(`${left.unfinishedTasks} task(s) still unfinished at the queen after every answer`);
		}
	}

	return problems.length === 0 ? undefined : problems.join('. ');
}

/** Milliseconds more than the command's (a container's cost), or undefined. */
function overCommand(value: number | undefined, command: number | undefined): string {
	return value === undefined || command === undefined ? '' : `+${round(value - command, 1)}`;
}

export function containersTables(data: ContainersData): Table[] {
	if (data.skipped) {
		return [{title: 'Containers: start-to-exit latency and containers/s on one drone', columns: ['result'], rows: [[`skipped: ${data.skipped}`]]}];
	}

	const command = data.latency.find(row => row.kind === 'command');
	const latency: Table = {
		title: `Containers: one task at a time, POST /submit_task?wait=true of \`true\` on one drone (runc ${data.runc ?? '?'}), kinds interleaved`,
		columns: ['task', 'runs', 'ok', 'answer p50 ms', 'answer p99 ms', 'start→exit p50 ms', 'start→exit p99 ms', 'p50 over command ms'],
		rows: data.latency.map(row => [row.kind, row.runs, row.ok, row.answerMs.p50, row.answerMs.p99, row.startToExitMs.p50, row.startToExitMs.p99, row.kind === 'command' ? '' : overCommand(row.startToExitMs.p50, command?.startToExitMs.p50)]),
		notes: [
			'answer = submit sent → its answer read, the task ended (the queen\'s placement, the dispatch, the run, the result back); start→exit = the drone\'s result.durationMs.',
			'a container\'s start→exit includes writing its OCI bundle, `runc run --keep`, and the `runc delete` after its exit; a command\'s is /bin/sh -c true through the drone\'s sandbox.',
			`each round runs one task of every kind, in an order rotated from round to round; a few tasks of each kind ran first as a warm-up, not counted. limits = memory ${containerLimits.memory}, pids ${containerLimits.pids}, cpus ${containerLimits.cpus}.`,
		],
	};
	const throughput: Table = {
		title: `Containers: throughput on one drone (--slots ${data.slots}), a fixed number of tasks per row with C submits in flight`,
		columns: ['task', 'in flight', 'tasks', 'ok', 'per s', 'of command', 'answer p50 ms', 'answer p99 ms', 'start→exit p50 ms', 'start→exit p99 ms', 'drone CPU ms/task'],
		rows: data.throughput.map(row => {
			const base = data.throughput.find(each => each.kind === 'command' && each.inFlight === row.inFlight);
			const share = row.kind !== 'command' && base?.perSecond && row.perSecond !== undefined ? `${Math.round((100 * row.perSecond) / base.perSecond)}%` : '';
			return [row.kind, row.inFlight, row.runs, row.ok, row.perSecond, share, row.answerMs.p50, row.answerMs.p99, row.startToExitMs.p50, row.startToExitMs.p99, row.droneCpuMsPerTask];
		}),
		notes: [
			'per s = tasks that succeeded ÷ wall time; each row\'s tasks ran in a few batches, the kinds\' order rotated from batch to batch; of command = ÷ the command\'s per s at the same C.',
			'drone CPU = utime+stime+cutime+cstime of the drone in /proc/<pid>/stat over the batches: its own and its ended children\'s (runc run, runc delete, the container\'s processes; sh) ÷ tasks that succeeded.',
		],
	};
	const left = data.leftovers;
	const checks = left
		? [
			`left behind, the drone still up after the load: ${left.containersWhileUp.length} container(s) in runc list, ${left.bundlesWhileUp.length} bundle(s), ${left.cgroupsWhileUp.length} cgroup(s) of the bench's containers; after it stopped: ${left.containersAfterStop.length} container(s) in runc list; ${left.unfinishedTasks} task(s) unfinished at the queen.`,
		]
		: ['left behind: not checked (the run ended early).'];
	return [latency, {...throughput, notes: [...throughput.notes!, ...checks, ...data.cutShort.map(what => `cut short at its time limit: ${what}`), ...data.errors.slice(0, 5).map(each => `error ${each.count}×: ${each.error}`)]}];
}

/** utime + stime + cutime + cstime (fields 14–17, clock ticks) of a `/proc/<pid>/stat` line: a process's CPU with its ended, waited-for children's. */
export function parseProcStatWithChildren(text: string): number {
	const close = text.lastIndexOf(')');
	if (close < 0) {
		throw new Error('not a /proc/<pid>/stat line');
	}

	// After ')' come field 3 (state), 4, ...: utime (field 14) is index 11 here.
	const fields = text.slice(close + 2).trim().split(/\s+/).slice(11, 15).map(Number);
	if (fields.length < 4 || fields.some(field => !Number.isFinite(field))) {
		throw new Error('no utime/stime/cutime/cstime in /proc/<pid>/stat line');
	}

	return fields.reduce((sum, field) => sum + field, 0);
}

function treeCpuSeconds(pid: number): number | undefined {
	try {
		return parseProcStatWithChildren(readFileSync(`/proc/${pid}/stat`, 'utf8')) / clockTicksPerSecond();
	} catch {
		return undefined;
	}
}

async function submitAndWait(queenUrl: string, body: Record<string, unknown>): Promise<Sample> {
	const sent = performance.now();
	try {
		const answer = await requestJson('POST', `${queenUrl}/submit_task?wait=true`, body, answerTimeoutMs);
		const task = answer.body?.task;
		const durationMs = typeof task?.result?.durationMs === 'number' ? task.result.durationMs as number : undefined;
		const taskId = typeof task?.id === 'string' ? task.id as string : undefined;
		if (answer.status === 200 && task?.state === 'succeeded') {
			return {answerMs: answer.ms, durationMs, taskId};
		}

		const error = typeof task?.error === 'string' ? task.error as string : `${answer.status} ${task?.state ?? JSON.stringify(answer.body).slice(0, 200)}`;
		return {answerMs: answer.ms, durationMs, taskId, error};
	} catch (error: unknown) {
		return {answerMs: performance.now() - sent, durationMs: undefined, taskId: undefined, error: `no answer: ${error instanceof Error ? error.message : String(error)}`};
	}
}

/** `count` submits of `body` with `inFlight` of them at a time, none started after `deadline`. */
async function batch(queenUrl: string, body: Record<string, unknown>, count: number, inFlight: number, deadline: number, dronePid: number): Promise<Batch & {readonly cut: boolean}> {
	const samples: Sample[] = [];
	let started = 0;
	const cpuBefore = treeCpuSeconds(dronePid);
	const began = performance.now();
	await Promise.all(Array.from({length: inFlight}, async () => {
		while (started < count && performance.now() < deadline) {
			started++;
			// eslint-disable-next-line no-await-in-loop
			samples.push(await submitAndWait(queenUrl, body));
		}
	}));
	const wallMs = performance.now() - began;
	const cpuAfter = treeCpuSeconds(dronePid);
	return {samples, wallMs, droneCpuSeconds: cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore, cut: samples.length < count};
}

/**
The containers of a runc state directory: those `runc list` shows, and any directory it holds that runc
cannot load (one left half-made has no state.json: `runc list` only says so on standard error).
*/
async function runcContainers(root: string): Promise<string[]> {
	const {stdout} = await run('runc', ['--root', root, 'list', '--quiet'], {timeout: 10_000});
	const listed = stdout.split('\n').map(line => line.trim()).filter(Boolean);
	const unloadable = (existsSync(root) ? readdirSync(root) : []).filter(entry => !listed.includes(entry)).map(entry => `${entry} (not loadable by runc)`);
	return [...listed, ...unloadable];
}

/** The cgroup directories (`/hive/DRONE/ID` under each controller, or the unified root) of the given containers that still exist. */
function cgroupsOf(ids: Iterable<string>): string[] {
	const root = '/sys/fs/cgroup';
	const hives = [path.join(root, 'hive'), ...readdirSync(root).map(controller => path.join(root, controller, 'hive'))].filter(dir => existsSync(dir));
	// Each drone has a branch of its own under /hive.
	const parents = hives.flatMap(hive => readdirSync(hive, {withFileTypes: true}).filter(each => each.isDirectory()).map(each => path.join(hive, each.name)));
	const found: string[] = [];
	for (const id of ids) {
		for (const parent of parents) {
			if (existsSync(path.join(parent, id))) {
				found.push(path.join(parent, id));
			}
		}
	}

	return found;
}

async function unfinishedAtQueen(queenUrl: string): Promise<number> {
	let total = 0;
	for (const state of ['pending', 'dispatched', 'running']) {
		// eslint-disable-next-line no-await-in-loop
		const answer = await requestJson('GET', `${queenUrl}/tasks?state=${state}&limit=1`);
		total += Number(answer.body?.total ?? 0);
	}

	return total;
}

export async function runContainers(context: BenchContext): Promise<ScenarioOutcome<ContainersData>> {
	const skipped = await whyNoRunc();
	if (skipped) {
		context.progress(`containers: skipped: ${skipped}`);
		const data: ContainersData = {skipped, slots: droneSlots, latency: [], throughput: [], errors: [], cutShort: []};
		return {data, tables: containersTables(data)};
	}

	const runs = context.quick ? 20 : 100;
	const tasksPerRow = context.quick ? 60 : 400;
	const batchesPerRow = context.quick ? 2 : 4;
	const warmupRuns = 3;
	const latencyLimitMs = context.quick ? 90_000 : 300_000;
	const batchLimitMs = context.quick ? 60_000 : 120_000;
	const runcVersion = /runc version (\S+)/.exec(execFileSync('runc', ['--version'], {encoding: 'utf8'}))?.[1];

	const rootfs = await buildBusyboxRootfs();
	const dataDir = mkdtempSync(path.join(os.tmpdir(), 'hive-bench-drone-'));
	const runcRoot = path.join(dataDir, 'runc');
	// A bench stopped midway (Ctrl-C, a throw) kills the drone with -9: its containers are deleted here.
	const removeOnExit = onExit(() => {
		try {
			for (const id of execFileSync('runc', ['--root', runcRoot, 'list', '--quiet'], {encoding: 'utf8', timeout: 10_000}).split('\n').filter(Boolean)) {
				execFileSync('runc', ['--root', runcRoot, 'delete', '--force', id], {timeout: 10_000});
			}
		} catch {}

		rmSync(dataDir, {recursive: true, force: true});
		rmSync(rootfs.dir, {recursive: true, force: true});
	});
	const containerIds = new Set<string>();
	const allSamples: Sample[] = [];
	const cutShort: string[] = [];
	const latency: LatencyRow[] = [];
	const throughput: ThroughputRow[] = [];
	let leftovers: Leftovers | undefined;
	const queen = await spawnQueen('queen (containers)');
	let drone: Larve | undefined;
	try {
		drone = await spawnDrone(queen, 'drone (containers)', ['--allow-exec', '--runtime', 'runc', '--slots', String(droneSlots), '--data-dir', dataDir]);
		await waitFor(async () => (await requestJson('GET', `${queen.url}/drones`)).body?.drones?.some((each: any) => each.runtimes?.includes('runc')), 'the drone registered with runc', 20_000);
		const {pid} = drone;
		const submit = async (kind: BenchedKind) => {
			const sample = await submitAndWait(queen.url, taskBody(kind, rootfs.dir));
			if (kind !== 'command' && sample.taskId) {
				containerIds.add(sample.taskId);
			}

			allSamples.push(sample);
			return sample;
		};

		context.progress(`containers: warm-up, ${warmupRuns} of each kind`);
		for (let index = 0; index < warmupRuns; index++) {
			for (const kind of benchedKinds) {
				// eslint-disable-next-line no-await-in-loop
				await submit(kind);
			}
		}

		context.progress(`containers: latency, ${runs} rounds of one task of each kind, one at a time`);
		const latencySamples = new Map<BenchedKind, Sample[]>(benchedKinds.map(kind => [kind, []]));
		const latencyDeadline = performance.now() + latencyLimitMs;
		for (let index = 0; index < runs; index++) {
			if (performance.now() >= latencyDeadline) {
				cutShort.push(`latency after ${index} of ${runs} rounds (${latencyLimitMs / 1000} s)`);
				break;
			}

			for (const kind of roundOrder(benchedKinds, index)) {
				// eslint-disable-next-line no-await-in-loop
				latencySamples.get(kind)!.push(await submit(kind));
			}
		}

		latency.push(...benchedKinds.map(kind => latencyRow(kind, latencySamples.get(kind)!)));
		for (const inFlight of inFlightCounts) {
			context.progress(`containers: throughput, ${tasksPerRow} tasks of each kind with ${inFlight} in flight, in ${batchesPerRow} batches`);
			const batches = new Map<BenchedKind, Batch[]>(benchedKinds.map(kind => [kind, []]));
			for (let index = 0; index < batchesPerRow; index++) {
				const count = Math.ceil(tasksPerRow / batchesPerRow);
				for (const kind of roundOrder(benchedKinds, index)) {
					// eslint-disable-next-line no-await-in-loop
					const done = await batch(queen.url, taskBody(kind, rootfs.dir), count, inFlight, performance.now() + batchLimitMs, pid);
					for (const sample of done.samples) {
						if (kind !== 'command' && sample.taskId) {
							containerIds.add(sample.taskId);
						}
					}

					allSamples.push(...done.samples);
					batches.get(kind)!.push(done);
					if (done.cut) {
						cutShort.push(`${kind} at ${inFlight} in flight: ${done.samples.length} of ${count} tasks in ${batchLimitMs / 1000} s`);
					}
				}
			}

			throughput.push(...benchedKinds.map(kind => throughputRow(kind, inFlight, batches.get(kind)!)));
		}

		context.progress('containers: what is left behind');
		const containersWhileUp = await runcContainers(runcRoot);
		const bundlesWhileUp = readdirSync(path.join(dataDir, 'bundles'));
		const cgroupsWhileUp = cgroupsOf(containerIds);
		const unfinishedTasks = await unfinishedAtQueen(queen.url);
		await drone.stop(10_000);
		const containersAfterStop = await runcContainers(runcRoot);
		leftovers = {containersWhileUp, bundlesWhileUp, cgroupsWhileUp, containersAfterStop, unfinishedTasks};
	} finally {
		await drone?.stop(10_000);
		await queen.stop();
		rmSync(dataDir, {recursive: true, force: true});
		await rootfs.remove();
		removeOnExit();
	}

	const data: ContainersData = {runc: runcVersion, slots: droneSlots, latency, throughput, leftovers, errors: distinctErrors(allSamples), cutShort};
	const failure = containersFailure(data);
	return {data, tables: containersTables(data), ...(failure === undefined ? {} : {failure})};
}
