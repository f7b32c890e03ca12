import {execFile} from 'node:child_process';
import {randomUUID} from 'node:crypto';
import fs from 'node:fs/promises';
import {readFileSync} from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {promisify} from 'node:util';
import type {BenchContext, ScenarioOutcome, Table} from './context.js';
import {median, percentile, round} from './stats.js';
import {machine, renderMachine} from './table.js';
import {loadClassicLevel, loadLmdb} from './optional.js';
import type {Hive} from '../source/queen/hive.js';
import type {FileStore} from '../source/queen/store/file-store.js';

/**
`store`: which engine should keep the queen's state? The same workload, in one run on this machine, for
our append-only log (through the Hive, as the queen pays it, and through `store.append` alone), lmdb
and classic-level:

- durable writes: one ~300-byte record per write, each answered only once it is on disk; 1 writer
  (sequential awaits) and 64 writers (closed loop), `durationS` each after `warmupS` of warm-up;
- recovery: 100,000 task records stored, then the time to open and load them all into memory, in a
  fresh node process (timed from after its imports: JIT and heap cold, the OS page cache warm);
- the data size on disk (allocated blocks, as `du`).

Every engine writes in its own fresh directory under bench/results/engines/, removed after.
*/

export const recordBytes = 300;
export const recoveryRecords = 100_000;
/** Of the recovery records, how many stay pending (a full default queue); the rest are finished. */
export const recoveryPending = 10_000;
const recoveryRuns = 3;

// Pure helpers (tested in test/bench/store-engines.test.ts)

/**
A task record as JSON, exactly `bytes` long (its text padded), as the queen keeps a finished one.
Throws when `bytes` cannot hold the record's fixed fields.
*/
export function taskRecordJson(id: string, seq: number, bytes: number, at = 1_700_000_000_000): string {
	const record = (text: string) => JSON.stringify({
		id, seq, kind: 'text', text, selector: {}, state: 'succeeded', drone: 'drone-0',
		submittedAt: at, updatedAt: at, attempts: 1, retries: 0,
	});
	const padding = bytes - record('').length;
	if (padding < 0) {
		throw new RangeError(`a task record needs at least ${record('').length} bytes, not ${bytes}`);
	}

	return record('x'.repeat(padding));
}

/**
The length of a text that makes the file store's line for `submit` (`<crc32> {"rev":…,"facts":[…]}\n`)
`lineBytes` long, at a 7-digit revision. At least 1.
*/
export function submitTextLength(lineBytes: number): number {
	const json = JSON.stringify({
		rev: 1_000_000,
		facts: [{type: 'task.submitted', at: 1_700_000_000_000, task: {id: randomUUIDShape, kind: 'text', text: '', selector: {}}}],
	});
	return Math.max(1, lineBytes - (8 + 1 + json.length + 1));
}

const randomUUIDShape = '00000000-0000-4000-8000-000000000000';

export type LoopResult = {
	readonly writes: number;
	readonly perSecond: number | undefined;
	readonly p50Ms: number | undefined;
	readonly p99Ms: number | undefined;
	readonly maxMs: number | undefined;
};

/** Writes/s and latency percentiles of the writes measured (those begun after the warm-up) over `wallMs`. */
export function summarizeLoop(latenciesMs: readonly number[], wallMs: number): LoopResult {
	return {
		writes: latenciesMs.length,
		perSecond: wallMs > 0 ? round(latenciesMs.length / (wallMs / 1000), 0) : undefined,
		p50Ms: round(percentile(latenciesMs, 50), 2),
		p99Ms: round(percentile(latenciesMs, 99), 2),
		maxMs: round(latenciesMs.length === 0 ? undefined : latenciesMs.reduce((a, b) => Math.max(a, b), 0), 1),
	};
}

/** `list` turned left by `by` places: each round starts with another engine, so that none is always first on the disk. */
export function rotate<T>(list: readonly T[], by: number): T[] {
	if (list.length === 0) {
		return [];
	}

	const start = ((by % list.length) + list.length) % list.length;
	return [...list.slice(start), ...list.slice(0, start)];
}

export type RoundsResult = {
	readonly rounds: number;
	readonly writes: number;
	/** Medians over the rounds. */
	readonly perSecond: number | undefined;
	readonly p50Ms: number | undefined;
	readonly p99Ms: number | undefined;
	/** The slowest and fastest round. */
	readonly perSecondMin: number | undefined;
	readonly perSecondMax: number | undefined;
	readonly maxMs: number | undefined;
};

/** Several rounds of one engine and writer count: medians of their rates and percentiles, the range of rates. */
export function combineRounds(results: readonly LoopResult[]): RoundsResult {
	const defined = (values: ReadonlyArray<number | undefined>) => values.filter((value): value is number => value !== undefined);
	const rates = defined(results.map(result => result.perSecond));
	const maxes = defined(results.map(result => result.maxMs));
	return {
		rounds: results.length,
		writes: results.reduce((sum, result) => sum + result.writes, 0),
		perSecond: round(median(rates), 0),
		p50Ms: round(median(defined(results.map(result => result.p50Ms))), 2),
		p99Ms: round(median(defined(results.map(result => result.p99Ms))), 2),
		perSecondMin: rates.length === 0 ? undefined : Math.min(...rates),
		perSecondMax: rates.length === 0 ? undefined : Math.max(...rates),
		maxMs: maxes.length === 0 ? undefined : Math.max(...maxes),
	};
}

/** The mount (`/proc/mounts` line) that holds `file`: the longest mount point that is a prefix of it. */
export function mountOf(file: string, mounts: string): {readonly device: string; readonly mountPoint: string; readonly type: string} | undefined {
	let best: {device: string; mountPoint: string; type: string} | undefined;
	for (const line of mounts.split('\n')) {
		const [device, mountPoint, type] = line.split(' ');
		if (device === undefined || mountPoint === undefined || type === undefined) {
			continue;
		}

		const inside = mountPoint === '/' || file === mountPoint || file.startsWith(`${mountPoint}/`);
		if (inside && (!best || mountPoint.length > best.mountPoint.length)) {
			best = {device, mountPoint, type};
		}
	}

	return best;
}

// The loop

/**
A closed loop: `writers` workers each await one write after the other for `warmupMs + durationMs`; the
writes begun after the warm-up are measured, until the last of them is answered.
*/
export async function closedLoop(write: () => Promise<void>, writers: number, warmupMs: number, durationMs: number): Promise<LoopResult> {
	const started = performance.now();
	const measureFrom = started + warmupMs;
	const stopAt = measureFrom + durationMs;
	const latencies: number[] = [];
	let lastEnd = measureFrom;
	const worker = async () => {
		for (;;) {
			const begun = performance.now();
			if (begun >= stopAt) {
				return;
			}

			// eslint-disable-next-line no-await-in-loop
			await write();
			const ended = performance.now();
			if (begun >= measureFrom) {
				latencies.push(ended - begun);
				lastEnd = Math.max(lastEnd, ended);
			}
		}
	};

	await Promise.all(Array.from({length: writers}, async () => worker()));
	return summarizeLoop(latencies, lastEnd - measureFrom);
}

// The engines

type Writer = {
	write(): Promise<void>;
	/** What the engine says about the run (records, syncs, snapshots). */
	describe(): string;
	close(): Promise<void>;
};

type Engine = {
	readonly name: string;
	readonly durability: string;
	/** Writer counts it runs with. @default [1, 64] */
	readonly writers?: readonly number[];
	openWriter(dir: string): Promise<Writer>;
};

const hiveModule = async () => import('../source/queen/hive.js');
const fileStoreModule = async () => import('../source/queen/store/file-store.js');

function syncNote(stats: {readonly records: number; readonly syncs: number; readonly bytes: number; readonly snapshots: number}): string {
	return `${stats.records} records, ${stats.syncs} fdatasyncs (${round(stats.records / Math.max(1, stats.syncs), 1)} records each), ${round(stats.bytes / Math.max(1, stats.records), 0)} B/record, ${stats.snapshots} snapshots`;
}

/** The disk's floor: a 300-byte write and an fdatasync, one after the other, on a plain file. */
const floorEngine: Engine = {
	name: 'floor: write + fdatasync',
	durability: 'one write and one fdatasync per record, nothing shared: what this disk gives one writer',
	writers: [1],
	async openWriter(dir) {
		const handle = await fs.open(path.join(dir, 'floor.log'), 'a', 0o600);
		const line = Buffer.from(`${'x'.repeat(recordBytes - 1)}\n`);
		let writes = 0;
		return {
			async write() {
				writes += 1;
				await handle.write(line);
				await handle.datasync();
			},
			describe: () => `${writes} writes, ${writes} fdatasyncs`,
			async close() {
				await handle.close();
			},
		};
	},
};

const hiveEngine: Engine = {
	name: 'hive log, Hive.submit',
	durability: 'write + fdatasync per group commit (one per event-loop turn); the submit resolves after it',
	async openWriter(dir) {
		const {Hive} = await hiveModule();
		const {openFileStore} = await fileStoreModule();
		const store = await openFileStore({dir});
		// As the queen is: a snapshot when the log outgrows it. No queue limit, by count or by weight: nothing
		// takes the tasks (they share one text, so they hold far less than they are weighed at).
		const hive = await Hive.open({store, maxPending: Number.MAX_SAFE_INTEGER, maxPendingBytes: Number.MAX_SAFE_INTEGER});
		store.setImageSource(() => hive.image());
		const text = 'x'.repeat(submitTextLength(recordBytes));
		return {
			async write() {
				await hive.submit({kind: 'text', text});
			},
			describe: () => syncNote(store.stats()),
			async close() {
				await store.close();
			},
		};
	},
};

const appendEngine: Engine = {
	name: 'hive log, store.append',
	durability: 'as above; the store alone (no Hive, no snapshots)',
	async openWriter(dir) {
		const {openFileStore} = await fileStoreModule();
		const store = await openFileStore({dir});
		await store.load();
		const text = 'x'.repeat(submitTextLength(recordBytes));
		return {
			async write() {
				await store.append([{type: 'task.submitted', at: Date.now(), task: {id: randomUUID(), kind: 'text', text, selector: {}, idempotencyKey: undefined}}]).durable;
			},
			describe: () => syncNote(store.stats()),
			async close() {
				await store.close();
			},
		};
	},
};

/** lmdb's options: `overlappingSync: false` makes every commit sync (fdatasync) before its promise resolves. */
export const lmdbOptions = {encoding: 'string', overlappingSync: false} as const;

const lmdbEngine: Engine = {
	name: 'lmdb, overlappingSync: false',
	durability: 'each commit (one transaction per event-loop turn) fdatasyncs before put() resolves',
	async openWriter(dir) {
		const {open} = await loadLmdb();
		const db = open({path: dir, ...lmdbOptions});
		let seq = 0;
		return {
			async write() {
				seq += 1;
				await db.put(randomUUID(), taskRecordJson(randomUUID(), seq, recordBytes, Date.now()));
			},
			describe: () => `${seq} puts`,
			async close() {
				await db.close();
			},
		};
	},
};

const lmdbOverlapEngine: Engine = {
	name: 'lmdb, overlappingSync (default)',
	durability: 'overlappingSync (the default on Linux) with separateFlushed: each write awaits put().flushed',
	async openWriter(dir) {
		const {open} = await loadLmdb();
		const db = open({path: dir, encoding: 'string', separateFlushed: true});
		let seq = 0;
		return {
			async write() {
				seq += 1;
				const put = db.put(randomUUID(), taskRecordJson(randomUUID(), seq, recordBytes, Date.now()));
				await put;
				await put.flushed;
			},
			describe: () => `${seq} puts`,
			async close() {
				await db.close();
			},
		};
	},
};

const classicLevelEngine: Engine = {
	name: 'classic-level, sync: true',
	durability: 'put(key, value, {sync: true}): LevelDB syncs its log before the put resolves',
	async openWriter(dir) {
		const {ClassicLevel} = await loadClassicLevel();
		const db = new ClassicLevel(dir, {valueEncoding: 'utf8'});
		await db.open();
		let seq = 0;
		return {
			async write() {
				seq += 1;
				await db.put(randomUUID(), taskRecordJson(randomUUID(), seq, recordBytes, Date.now()), {sync: true});
			},
			describe: () => `${seq} puts`,
			async close() {
				await db.close();
			},
		};
	},
};

// Filling a store with the recovery records (not measured)

/** Opens a hive on a file store in `dir` as the queen does, runs `work` with it, closes the store. */
async function withHiveOnDisk<T>(dir: string, work: (hive: Hive, store: FileStore) => Promise<T>): Promise<T> {
	const {Hive} = await hiveModule();
	const {openFileStore} = await fileStoreModule();
	const store = await openFileStore({dir});
	try {
		const hive = await Hive.open({store, taskHistory: recoveryRecords, maxPending: recoveryRecords});
		store.setImageSource(() => hive.image());
		return await work(hive, store);
	} finally {
		await store.close();
	}
}

/** 100k tasks through the Hive as the queen writes them: submitted, then dispatched and finished but the last ones. */
async function fillHive(dir: string): Promise<string> {
	return withHiveOnDisk(dir, async (hive, store) => {
		const {drone} = await hive.register({address: '127.0.0.1:1', slots: 1});
		const text = 'x'.repeat(submitTextLength(recordBytes));
		const chunk = 1000;
		for (let done = 0; done < recoveryRecords; done += chunk) {
			const writes: Array<Promise<void>> = [];
			for (let index = done; index < done + chunk; index++) {
				const {task, durable} = hive.submitNow({kind: 'text', text});
				writes.push(durable);
				if (index < recoveryRecords - recoveryPending) {
					writes.push(hive.dispatch(task.id, drone.name)!.durable, hive.finishNow(task.id, drone.name, {succeeded: true}).durable);
				}
			}

			// eslint-disable-next-line no-await-in-loop
			await Promise.all(writes);
		}

		return syncNote(store.stats());
	});
}

/** Writes a snapshot of a filled hive directory, so that its log is empty. */
async function snapshotHive(dir: string): Promise<void> {
	await withHiveOnDisk(dir, async (_hive, store) => store.snapshot());
}

async function fillLmdb(dir: string): Promise<string> {
	const {open} = await loadLmdb();
	const db = open({path: dir, ...lmdbOptions});
	try {
		for (let done = 0; done < recoveryRecords; done += 5000) {
			const puts: Array<Promise<boolean>> = [];
			for (let index = done; index < done + 5000; index++) {
				puts.push(db.put(randomUUID(), taskRecordJson(randomUUID(), index, recordBytes)));
			}

			// eslint-disable-next-line no-await-in-loop
			await Promise.all(puts);
		}

		return `${recoveryRecords} puts in transactions of 5,000`;
	} finally {
		await db.close();
	}
}

async function fillClassicLevel(dir: string): Promise<string> {
	const {ClassicLevel} = await loadClassicLevel();
	const db = new ClassicLevel(dir, {valueEncoding: 'utf8'});
	await db.open();
	try {
		for (let done = 0; done < recoveryRecords; done += 1000) {
			const batch = Array.from({length: 1000}, (_, offset) => ({type: 'put' as const, key: randomUUID(), value: taskRecordJson(randomUUID(), done + offset, recordBytes)}));
			// eslint-disable-next-line no-await-in-loop
			await db.batch(batch, {sync: true});
		}

		return `${recoveryRecords} puts in synced batches of 1,000`;
	} finally {
		await db.close();
	}
}

// Measuring

/** Bytes the files under `dir` take on disk (allocated blocks, as `du`), and their apparent size. */
export async function diskUsage(dir: string): Promise<{readonly allocated: number; readonly apparent: number; readonly files: string[]}> {
	let allocated = 0;
	let apparent = 0;
	const files: string[] = [];
	for (const entry of await fs.readdir(dir, {withFileTypes: true, recursive: true})) {
		if (!entry.isFile()) {
			continue;
		}

		const file = path.join(entry.parentPath, entry.name);
		// eslint-disable-next-line no-await-in-loop
		const stat = await fs.stat(file);
		allocated += stat.blocks * 512;
		apparent += stat.size;
		files.push(`${path.relative(dir, file)} ${round(stat.size / 2 ** 20, 1)} MiB`);
	}

	return {allocated, apparent, files};
}

const recoverScript = fileURLToPath(new URL('store-recover.js', import.meta.url));

export type RecoveryProbe = {readonly ms: number; readonly records: number; readonly heapMiB: number};

/** Opens and loads a store in a fresh node process; its own clock, from after its imports. */
async function recoverInChild(engine: string, dir: string): Promise<RecoveryProbe> {
	const {stdout} = await promisify(execFile)(process.execPath, [recoverScript, engine, dir], {maxBuffer: 1 << 20, timeout: 120_000});
	return JSON.parse(stdout.trim().split('\n').at(-1)!) as RecoveryProbe;
}

export type WriteRow = {
	readonly engine: string;
	readonly writers: number;
	readonly durability: string;
	readonly result: RoundsResult;
	readonly runs: readonly LoopResult[];
	readonly details: readonly string[];
};

export type RecoveryRow = {
	readonly engine: string;
	readonly state: string;
	readonly records: number;
	readonly runsMs: readonly number[];
	readonly medianMs: number | undefined;
	readonly heapMiB: number;
	readonly allocatedMiB: number | undefined;
	readonly apparentMiB: number | undefined;
	readonly files: readonly string[];
	readonly fill: string;
};

export type StoreEnginesData = {
	readonly rounds: number;
	readonly writes: readonly WriteRow[];
	readonly recovery: readonly RecoveryRow[];
	readonly skipped: readonly string[];
	readonly disk: string;
};

async function installed(name: string): Promise<string | undefined> {
	try {
		await import(name);
		return undefined;
	} catch (error: unknown) {
		return `${name} is skipped: it does not load here (${(error as Error).message.split('\n')[0]}); npm install --no-save lmdb@3 classic-level@3 brings it`;
	}
}

export async function runStoreEngines(context: BenchContext): Promise<ScenarioOutcome<StoreEnginesData>> {
	const root = path.join(context.resultsDir, 'engines');
	await fs.rm(root, {recursive: true, force: true});
	await fs.mkdir(root, {recursive: true});
	const mount = mountOf(await fs.realpath(root), readFileSync('/proc/mounts', 'utf8'));
	const disk = mount ? `${mount.device} (${mount.type}) mounted on ${mount.mountPoint}` : 'unknown';
	const skipped: string[] = [];
	const lmdbMissing = await installed('lmdb');
	const levelMissing = await installed('classic-level');
	for (const reason of [lmdbMissing, levelMissing]) {
		if (reason) {
			skipped.push(reason);
			context.progress(`store: ${reason}`);
		}
	}

	const engines = [
		floorEngine,
		hiveEngine,
		appendEngine,
		...(lmdbMissing ? [] : [lmdbEngine, lmdbOverlapEngine]),
		...(levelMissing ? [] : [classicLevelEngine]),
	];
	// This disk is shared and its fsync time wanders from minute to minute: the engines take turns, round after round.
	const rounds = context.quick ? 1 : 3;
	let made = 0;
	const freshDir = async (label: string) => {
		made += 1;
		const dir = path.join(root, `${String(made).padStart(3, '0')}-${label.replaceAll(/[^\w.-]+/g, '-')}`);
		await fs.mkdir(dir, {recursive: true});
		return dir;
	};

	try {
		const cells = engines.flatMap(engine => (engine.writers ?? [1, 64]).map(writers => ({engine, writers, runs: [] as LoopResult[], details: [] as string[]})));
		for (let round_ = 0; round_ < rounds; round_++) {
			for (const cell of rotate(cells, round_ * 2)) {
				const {engine, writers} = cell;
				// eslint-disable-next-line no-await-in-loop
				const dir = await freshDir(`${engine.name.split(',')[0]!}-w${writers}`);
				// eslint-disable-next-line no-await-in-loop
				const writer = await engine.openWriter(dir);
				let result: LoopResult;
				let detail: string;
				try {
					// eslint-disable-next-line no-await-in-loop
					result = await closedLoop(async () => writer.write(), writers, context.warmupS * 1000, context.durationS * 1000);
					detail = writer.describe();
				} finally {
					// eslint-disable-next-line no-await-in-loop
					await writer.close();
				}

				// eslint-disable-next-line no-await-in-loop
				const usage = await diskUsage(dir);
				cell.runs.push(result);
				cell.details.push(`${detail}; ${round(usage.allocated / 2 ** 20, 1)} MiB on disk`);
				context.progress(`store: round ${round_ + 1}/${rounds}: ${engine.name}, ${writers} writer(s): ${result.perSecond}/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms (${detail})`);
				// eslint-disable-next-line no-await-in-loop
				await fs.rm(dir, {recursive: true, force: true});
			}
		}

		const writes: WriteRow[] = cells.map(cell => ({
			engine: cell.engine.name, writers: cell.writers, durability: cell.engine.durability, result: combineRounds(cell.runs), runs: cell.runs, details: cell.details,
		}));

		// Recovery: every engine filled once, then probed in turns.
		const targets: Array<{engine: string; child: string; state: string; dir: string; fill: string; probes: RecoveryProbe[]}> = [];
		const hiveDir = await freshDir('hive-recovery');
		context.progress(`store: filling the hive log with ${recoveryRecords} tasks`);
		const hiveFill = await fillHive(hiveDir);
		const snapshotDir = await freshDir('hive-recovery-snapshot');
		await fs.cp(hiveDir, snapshotDir, {recursive: true});
		await snapshotHive(snapshotDir);
		targets.push(
			{engine: 'hive log', child: 'hive', state: 'as the writes left it: snapshot + log', dir: hiveDir, fill: hiveFill, probes: []},
			{engine: 'hive log', child: 'hive', state: 'after a clean stop\'s snapshot', dir: snapshotDir, fill: `${hiveFill}, then one snapshot`, probes: []},
		);
		if (!lmdbMissing) {
			const dir = await freshDir('lmdb-recovery');
			targets.push({engine: 'lmdb', child: 'lmdb', state: 'B+tree (data.mdb)', dir, fill: await fillLmdb(dir), probes: []});
		}

		if (!levelMissing) {
			const dir = await freshDir('classic-level-recovery');
			targets.push({engine: 'classic-level', child: 'classic-level', state: 'LSM (log + sst)', dir, fill: await fillClassicLevel(dir), probes: []});
		}

		for (let run = 0; run < recoveryRuns; run++) {
			for (const target of rotate(targets, run)) {
				// eslint-disable-next-line no-await-in-loop
				const probe = await recoverInChild(target.child, target.dir);
				if (probe.records !== recoveryRecords) {
					throw new Error(`${target.engine} recovered ${probe.records} records, not ${recoveryRecords}`);
				}

				target.probes.push(probe);
				context.progress(`store: recovery ${run + 1}/${recoveryRuns} of ${target.engine} (${target.state}): ${round(probe.ms, 0)} ms`);
			}
		}

		const recovery: RecoveryRow[] = [];
		for (const target of targets) {
			// eslint-disable-next-line no-await-in-loop
			const usage = await diskUsage(target.dir);
			const runsMs = target.probes.map(probe => round(probe.ms, 0)!);
			recovery.push({
				engine: target.engine, state: target.state, records: recoveryRecords, runsMs, medianMs: median(runsMs),
				heapMiB: Math.max(...target.probes.map(probe => probe.heapMiB)),
				allocatedMiB: round(usage.allocated / 2 ** 20, 1), apparentMiB: round(usage.apparent / 2 ** 20, 1), files: usage.files, fill: target.fill,
			});
			// eslint-disable-next-line no-await-in-loop
			await fs.rm(target.dir, {recursive: true, force: true});
		}

		return {data: {rounds, writes, recovery, skipped, disk}, tables: tables({rounds, writes, recovery, skipped, disk}, context)};
	} finally {
		await fs.rm(root, {recursive: true, force: true});
	}
}

function tables(data: StoreEnginesData, context: BenchContext): Table[] {
	const {rounds, writes, recovery, skipped, disk} = data;
	const many = rounds > 1;
	const writeTable: Table = {
		title: `Store engines: durable writes of ~${recordBytes}-byte records, each answered after it is on disk (${context.durationS} s after ${context.warmupS} s warm-up${many ? `, ${rounds} rounds taking turns: medians` : ''})`,
		columns: ['engine', 'writers', 'writes/s', ...(many ? ['range /s'] : []), 'p50 ms', 'p99 ms', 'max ms'],
		rows: writes.map(row => [
			row.engine, row.writers, row.result.perSecond, ...(many ? [`${row.result.perSecondMin}–${row.result.perSecondMax}`] : []),
			row.result.p50Ms, row.result.p99Ms, row.result.maxMs,
		]),
		notes: [
			...[...new Map(writes.map(row => [row.engine, row.durability])).entries()].map(([engine, durability]) => `${engine}: ${durability}`),
			...writes.map(row => `${row.engine}, ${row.writers} writer(s): ${row.details.join(' | ')}`),
			'hive log, Hive.submit: nothing takes the tasks, so the queue (and the snapshot the store writes when its log outgrows the last one) grows all run long; its max ms is such a snapshot, serialized on the event loop.',
			'64 writers in a closed loop: a group commit holds at most 64 records.',
			`Machine: ${renderMachine(machine()).replace(/^Machine: /, '')}; disk ${disk}`,
			...skipped,
		],
	};
	const recoveryTable: Table = {
		title: `Store engines: recovery of ${recoveryRecords.toLocaleString('en-US')} task records (open + load all into memory, fresh node process, median of ${recoveryRuns} taking turns)`,
		columns: ['engine', 'on disk', 'recovery ms', 'runs ms', 'MiB on disk', 'heap MiB'],
		rows: recovery.map(row => [row.engine, row.state, row.medianMs, row.runsMs.join(', '), row.allocatedMiB, row.heapMiB]),
		notes: [
			`hive log: ${recoveryRecords.toLocaleString('en-US')} tasks submitted through the Hive (taskHistory ${recoveryRecords}), ${(recoveryRecords - recoveryPending).toLocaleString('en-US')} dispatched and finished, ${recoveryPending.toLocaleString('en-US')} pending; openFileStore + Hive.open`,
			'lmdb, classic-level: one ~300-byte JSON task record per key; open + iterate every value + JSON.parse into a Map',
			...recovery.map(row => `${row.engine} (${row.state}): ${row.files.join(', ')}; filled with ${row.fill}`),
			'The OS page cache is warm (the files were just written): this is a process restart, not a machine reboot. MiB on disk: allocated blocks, as du.',
		],
	};
	const byEngine = (name: string, writers: number) => writes.find(row => row.engine === name && row.writers === writers)?.result;
	const recoveryOf = (name: string) => recovery.find(row => row.engine === name);
	const summaryTable: Table = {
		title: 'Store engines: summary',
		columns: ['engine', '1 writer /s', '64 writers /s', 'p99 ms at 64', 'recovery ms (100k)', 'MiB on disk (100k)'],
		rows: writes.filter(row => row.writers === 64).map(row => {
			const base = row.engine.split(',')[0]!;
			const kept = recoveryOf(base);
			return [row.engine, byEngine(row.engine, 1)?.perSecond, row.result.perSecond, row.result.p99Ms, kept?.medianMs, kept?.allocatedMiB];
		}),
		notes: ['recovery and size: the hive log as the writes left it (snapshot + log); lmdb\'s are measured once for both settings (same file format)'],
	};
	return [summaryTable, writeTable, recoveryTable];
}
