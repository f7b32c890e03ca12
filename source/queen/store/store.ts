import type {DroneRecord, Task} from '../../model.js';
import type {DroneRegistryData} from '../state/drones.js';
import type {Fact, StoredFact} from '../state/facts.js';
import type {TaskTableData} from '../state/tasks.js';

/** The whole state at one revision: what a snapshot holds, and what a store compacts its log into. */
export type StateImage = {
	readonly revision: number;
	readonly drones: DroneRegistryData;
	readonly tasks: TaskTableData;
};

/** What a store had: the latest image (if any) and the facts written after it, in order. */
export type Loaded = {
	readonly image: StateImage | undefined;
	readonly facts: readonly StoredFact[];
	/** Warnings to log (a torn last record dropped). */
	readonly warnings: readonly string[];
};

export type StoreStats = {
	/** Facts written. */
	readonly facts: number;
	/** Commands written (one `append` each; a file store puts the commands of one batch in one line). */
	readonly records: number;
	/** fsync calls: with group commit, far fewer than records. */
	readonly syncs: number;
	readonly bytes: number;
	readonly snapshots: number;
};

/** A drone as a store keeps it: its record and the tasks it finished. */
export type StoredDrone = DroneRecord & {readonly tasksDone: number};

/**
The hive's state as it is now, for a store that keeps records rather than a log of facts (etcd): the facts
of a batch say which records changed, and the store reads what they are when it writes them. An absent
record was removed (a drone gone, a finished task forgotten).
*/
export type StateSource = {
	drone(name: string): StoredDrone | undefined;
	task(id: string): Task | undefined;
	/** The registry's name counter (`drone-N`). */
	readonly nextNumber: number;
};

/**
Where the queen's state outlives it. `append` takes the facts of one command, gives them the next
revisions at once, and returns a promise that settles when they are durable: the queen answers a client
only after that. Appends of one event-loop turn share one write and one fsync (group commit).
A store refuses (rejects) when it cannot keep a fact; the queen then stops rather than answer.
*/
export type Store = {
	readonly kind: 'memory' | 'file' | 'etcd';
	/** Where it keeps its data, for logs and errors. */
	readonly location: string;
	load(): Promise<Loaded>;
	append(facts: readonly Fact[]): {readonly revision: number; readonly durable: Promise<void>};
	/** Revision of the last fact appended. */
	readonly revision: number;
	stats(): StoreStats;
	close(): Promise<void>;
	/** The hive hands a store of records its state when it opens (`Hive.open`); a log ignores it. */
	attach?(source: StateSource): void;
	/** The hive forgot a finished task (past `taskHistory`/`taskHistoryBytes`): a store of records deletes it with its next write. */
	forgetTask?(id: string): void;
};

/** `--store memory`: keeps nothing; every append is durable at once. For tests, benches and throwaway hives. */
/** A batch's acknowledgment: settled by the store's flush, waited on by each command in the batch. */
export type Acknowledgment = {
	readonly promise: Promise<void>;
	resolve(): void;
	reject(error: Error): void;
};

/**
A new batch's acknowledgment. Nobody may wait on a batch: its rejection is then no unhandled rejection
(a command that waits sees it through `promise`).
*/
export function acknowledgment(): Acknowledgment {
	let resolve!: () => void;
	let reject!: (error: Error) => void;
	const promise = new Promise<void>((yes, no) => {
		resolve = yes;
		reject = no;
	});
	promise.catch(() => undefined);
	return {promise, resolve, reject};
}

export function createMemoryStore(): Store {
	let revision = 0;
	let facts = 0;
	let records = 0;
	const done = Promise.resolve();
	return {
		kind: 'memory',
		location: 'memory',
		async load() {
			return {image: undefined, facts: [], warnings: []};
		},
		append(batch) {
			const first = revision + 1;
			revision += batch.length;
			facts += batch.length;
			records += 1;
			return {revision: first, durable: done};
		},
		get revision() {
			return revision;
		},
		stats() {
			return {facts, records, syncs: 0, bytes: 0, snapshots: 0};
		},
		async close() {},
	};
}
