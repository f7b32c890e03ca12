import {readdirSync, statSync} from 'node:fs';
import path from 'node:path';
import {requestJson} from './procs.js';
import {round} from './stats.js';

/**
What the bench reads of a queen's store: the counters its `/healthz` reports (`store: {kind, revision,
facts, records, syncs, bytes, snapshots}`, cumulative since the queen started), the rates of writes
between two readings, the "loaded the store" line a queen logs at start, and a store directory's size.
*/

export type StoreCounters = {
	readonly kind: string;
	readonly revision: number;
	/** Facts written. */
	readonly facts: number;
	/** Records written: one per command. */
	readonly records: number;
	/** fsync (fdatasync) calls. */
	readonly syncs: number;
	readonly bytes: number;
	readonly snapshots: number;
};

const counterNames = ['revision', 'facts', 'records', 'syncs', 'bytes', 'snapshots'] as const;

/** The `store` object of a queen's `/healthz` body; throws when it is missing or not all numbers. */
export function parseStoreCounters(health: unknown): StoreCounters {
	const store = (health as {store?: unknown} | undefined)?.store as Record<string, unknown> | undefined;
	if (typeof store !== 'object' || store === null) {
		throw new Error(`/healthz has no store object: ${JSON.stringify(health)}`);
	}

	if (typeof store.kind !== 'string') {
		throw new TypeError(`/healthz store without a kind: ${JSON.stringify(store)}`);
	}

	const counters: Record<string, number> = {};
	for (const name of counterNames) {
		const value = store[name];
		if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
			throw new TypeError(`/healthz store.${name} is not a count: ${JSON.stringify(store)}`);
		}

		counters[name] = value;
	}

	return {kind: store.kind, ...(counters as Omit<StoreCounters, 'kind'>)};
}

/** A queen's store counters now, from its `/healthz`. */
export async function readStoreCounters(queenUrl: string): Promise<StoreCounters> {
	const answer = await requestJson('GET', `${queenUrl}/healthz`);
	if (answer.status !== 200) {
		throw new Error(`GET ${queenUrl}/healthz answered ${answer.status}`);
	}

	return parseStoreCounters(answer.body);
}

/** What a store wrote between two readings of its counters, and at what rate. */
export type StoreWrites = {
	readonly kind: string;
	readonly seconds: number;
	readonly records: number;
	readonly facts: number;
	readonly syncs: number;
	readonly bytes: number;
	readonly snapshots: number;
	readonly recordsPerSecond: number;
	readonly factsPerSecond: number;
	readonly syncsPerSecond: number;
	readonly bytesPerSecond: number;
	/** The group commit's batch: records ÷ fsyncs (undefined without an fsync: a memory store). */
	readonly recordsPerSync: number | undefined;
	/** Records ÷ tasks answered, when the tasks are given. */
	readonly recordsPerTask: number | undefined;
	readonly factsPerTask: number | undefined;
};

/** The difference of two readings of one queen's counters over `seconds`, per second and per fsync. */
export function storeWrites(before: StoreCounters, after: StoreCounters, seconds: number, tasks?: number): StoreWrites {
	if (before.kind !== after.kind) {
		throw new Error(`the store changed kind between two readings (${before.kind} → ${after.kind})`);
	}

	const delta = (name: typeof counterNames[number]) => {
		const value = after[name] - before[name];
		if (value < 0) {
			throw new Error(`store.${name} went backwards (${before[name]} → ${after[name]}): two different queens?`);
		}

		return value;
	};

	const records = delta('records');
	const facts = delta('facts');
	const syncs = delta('syncs');
	const bytes = delta('bytes');
	const snapshots = delta('snapshots');
	const perSecond = (count: number) => (seconds > 0 ? round(count / seconds, 0)! : 0);
	const perTask = (count: number) => (tasks !== undefined && tasks > 0 ? round(count / tasks, 2) : undefined);
	return {
		kind: after.kind,
		seconds: round(seconds, 2)!,
		records,
		facts,
		syncs,
		bytes,
		snapshots,
		recordsPerSecond: perSecond(records),
		factsPerSecond: perSecond(facts),
		syncsPerSecond: perSecond(syncs),
		bytesPerSecond: perSecond(bytes),
		recordsPerSync: syncs > 0 ? round(records / syncs, 1) : undefined,
		recordsPerTask: perTask(records),
		factsPerTask: perTask(facts),
	};
}

/** The fields of the line a queen logs once its store is loaded ("loaded the store in DIR"). */
export type StoreLoadedLine = {
	readonly ms: number;
	readonly tasks: number;
	readonly drones: number;
	readonly revision: number;
	readonly store: string | undefined;
};

/** The last "loaded the store" line among a larve's JSON log lines, or undefined. */
export function findStoreLoadedLine(lines: ReadonlyArray<Record<string, unknown>>): StoreLoadedLine | undefined {
	for (let index = lines.length - 1; index >= 0; index--) {
		const line = lines[index]!;
		if (typeof line.msg === 'string' && line.msg.startsWith('loaded the store')) {
			const number = (name: string) => {
				const value = line[name];
				if (typeof value !== 'number') {
					throw new TypeError(`"loaded the store" line without a number ${name}: ${JSON.stringify(line)}`);
				}

				return value;
			};

			return {ms: number('ms'), tasks: number('tasks'), drones: number('drones'), revision: number('revision'), store: typeof line.store === 'string' ? line.store : undefined};
		}
	}

	return undefined;
}

export type DirectorySize = {
	/** Sum of the files' sizes. */
	readonly bytes: number;
	/** Sum of the blocks they take on disk (st_blocks × 512), as `du` counts. */
	readonly diskBytes: number;
	readonly files: number;
	/** Each file's name and size, largest first. */
	readonly largest: ReadonlyArray<{readonly name: string; readonly bytes: number}>;
};

/** The size of the files in a directory and its subdirectories. */
export function directorySize(dir: string): DirectorySize {
	let bytes = 0;
	let diskBytes = 0;
	const files: Array<{name: string; bytes: number}> = [];
	const walk = (current: string) => {
		for (const entry of readdirSync(current, {withFileTypes: true})) {
			const full = path.join(current, entry.name);
			if (entry.isDirectory()) {
				walk(full);
			} else if (entry.isFile()) {
				const stat = statSync(full);
				bytes += stat.size;
				diskBytes += stat.blocks * 512;
				files.push({name: path.relative(dir, full), bytes: stat.size});
			}
		}
	};

	walk(dir);
	files.sort((a, b) => b.bytes - a.bytes);
	return {bytes, diskBytes, files: files.length, largest: files.slice(0, 5)};
}

/** Bytes as `12.3 MiB` / `4.0 KiB` / `512 B`. */
export function formatBytes(bytes: number): string {
	if (bytes >= 2 ** 20) {
		return `${round(bytes / 2 ** 20, 1)} MiB`;
	}

	if (bytes >= 2 ** 10) {
		return `${round(bytes / 2 ** 10, 1)} KiB`;
	}

	return `${bytes} B`;
}
