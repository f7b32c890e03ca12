import {randomUUID} from 'node:crypto';
import type {Etcd3, ICompare, IKeyValue, IRequestOp} from 'etcd3';
import {finalTaskStates, type Task} from '../../model.js';
import type {Fact} from '../state/facts.js';
import {CorruptStoreError} from './file-store.js';
import {acknowledgment, type Acknowledgment, type Loaded, type StateImage, type StateSource, type Store, type StoreStats, type StoredDrone} from './store.js';

/**
The store of a hive shared by several queens: records in etcd, as Kubernetes keeps its objects, under one
prefix.

- `<prefix>meta`: `{revision, nextNumber, write}`, written by every transaction;
- `<prefix>drones/<name>`: a drone's record and the tasks it finished;
- `<prefix>names/<name>`: each name ever given, never deleted (no queen gives a name twice);
- `<prefix>tasks/<id>`: a task (a finished one with `endRevision`, the revision of its end, so that the history
  forgets the same tasks first after a load), deleted once the hive forgets it (`--task-history`);
- `<prefix>parts/<drones|tasks>/<name>/<0000>`: a record over `headBytes` (a long text, a command's output) in
  parts of `partBytes`, its own key then holding `#<parts>`. Every key's value is thus bounded, and so is
  every page `load()` reads: gRPC takes at most 4 MiB in one answer (and the client's circuit breaker
  shuts it for 5 s after three answers too large).

The hive applies facts in memory at once; the store learns from them which records they touched, and
writes those records as they are when it writes (group commit: one write per turn of the event loop, one
in flight at a time, the next batch gathers meanwhile). Only the leader writes: each transaction holds
only while the leader's election key still has the create revision it won with (its epoch), and while
`meta` is still what this store last wrote (so the name counter moves by transaction, and two stores
never interleave). A transaction refused, failed or timed out breaks the store: every later write is
refused at once, and the queen steps down; the next leader loads from etcd.
*/

export type EtcdStoreOptions = {
	/** The queen's etcd client (`createEtcdClient`), shared with its election: the store never closes it. */
	readonly client: Etcd3;
	/** Prefix of every key, e.g. `hive/` (`--etcd-prefix`). */
	readonly prefix: string;
	/**
	The leader's election key and the create revision it won with: every write holds only while that key
	is still the one that won. Undefined: no such compare (tests, a single queen).
	*/
	readonly fence?: {readonly key: string; readonly createRevision: string} | undefined;
	/**
	A write not answered in this time fails (and breaks the store), in ms. The client gives each call its own
	deadline (1 s) and tries a call up to three times; this bounds them together, leaving room for one more
	member to answer when one dies. @default 2000
	*/
	readonly writeTimeoutMs?: number;
};

/** A write was refused because this queen no longer leads: its election key is gone or another queen wrote. */
export class NotLeaderError extends Error {
	override readonly name = 'NotLeaderError';
	readonly code = 'ERR_HIVE_NOT_LEADER';
	/** A client that sees it may try again (another queen leads, or soon will): 503. */
	readonly status = 503;
}

/** A call to etcd failed or timed out: the store cannot say whether its write was kept. */
export class EtcdStoreError extends Error {
	override readonly name = 'EtcdStoreError';
	readonly code = 'ERR_HIVE_STORE_FAILED';
	/** Not acknowledged: the client may try again (with its Idempotency-Key), at this queen or another. */
	readonly status = 503;
}

export type EtcdStore = Store & {readonly kind: 'etcd'};

/**
etcd refuses a transaction of more than `--max-txn-ops` (128 by default) operations, or of a request over
`--max-request-bytes` (1.5 MiB): a flush is written in transactions of at most this many operations (the
meta key is one more)...
*/
const maxOpsPerTxn = 120;
/** ... and of at most this many bytes of keys and values (one larger record goes alone). */
const maxTxnBytes = 1024 * 1024;
/** A task record larger than this has its output cut to fit (a record etcd cannot take would stop every leader in turn). */
const maxRecordBytes = 1024 * 1024;
/** A record this small is kept in one key (most are: ~450 bytes for a short text task)... */
const headBytes = 1024;
/** ... a larger one in parts of this size (at most 64 parts, 65 operations: one transaction). */
const partBytes = 16 * 1024;
/**
Keys read per page by `load()`, each page ~2 MiB at most. Pages are large: etcd 3.4 walks the rest of
the range on every page (to count it), so 100,000 tasks loaded in 4.8 s at 500 keys a page, 1.4 s at 5,000.
*/
const pageKeys = {records: 2000, parts: 128, names: 5000} as const;

type Meta = {readonly revision: number; readonly nextNumber: number; readonly write?: string};

/** A task as etcd keeps it. */
type StoredTask = Task & {readonly endRevision?: number};

/** The operations that write one record: never split between two transactions. */
type Group = {readonly ops: IRequestOp[]; bytes: number};

/**
Opens a store on etcd; load it with `load()` before the first `append`. One store for each leadership
term: a queen that wins again opens a new one, with the new term's fence, and loads it.
*/
export async function openEtcdStore(options: EtcdStoreOptions): Promise<EtcdStore> {
	const {client, prefix, fence} = options;
	const writeTimeoutMs = options.writeTimeoutMs ?? 2000;
	const keys = {
		meta: `${prefix}meta`,
		drones: `${prefix}drones/`,
		names: `${prefix}names/`,
		tasks: `${prefix}tasks/`,
		parts: `${prefix}parts/`,
	};
	const metaKey = Buffer.from(keys.meta);
	const location = `etcd://${endpointsOf(client)}/${prefix}`;
	/** Names this store's writes in `meta`: a write retried after a lost answer is known as its own. */
	const writer = randomUUID().slice(0, 8);
	let writes = 0;

	let revision = 0;
	let loaded = false;
	let failure: Error | undefined;
	let source: StateSource | undefined;
	/** `meta`'s mod revision as this store last read or wrote it: the next write holds only while it is still that. */
	let metaModRevision = '0';
	// What the facts not yet written touched: read from the source when they are written.
	let dirtyDrones = new Set<string>();
	let dirtyTasks = new Set<string>();
	let newNames = new Set<string>();
	/** The revision at which each task written next ended. */
	let endRevisions = new Map<string, number>();
	/** Parts of the records kept in parts (`drones/<name>`, `tasks/<id>`): those beyond a new count are deleted. */
	const partCounts = new Map<string, number>();
	let next: Acknowledgment | undefined;
	let flushing: Promise<void> | undefined;
	const stats = {facts: 0, records: 0, syncs: 0, bytes: 0, snapshots: 0};

	const fail = (error: Error): Error => {
		failure ??= error instanceof NotLeaderError || error instanceof EtcdStoreError
			? error
			: new EtcdStoreError(`the etcd store at ${location} failed: ${error.message}`, {cause: error});
		return failure;
	};

	/** The operations that write a record (`drones/<name>`, `tasks/<id>`) as `json`, or delete it (undefined). */
	const recordOps = (record: string, json: string | undefined): Group => {
		const group: Group = {ops: [], bytes: 0};
		const put = (key: string, value: Buffer) => {
			const keyBuffer = Buffer.from(key);
			group.ops.push({request_put: {key: keyBuffer, value}});
			group.bytes += keyBuffer.length + value.length;
		};

		const partsPrefix = `${keys.parts}${record}/`;
		const had = partCounts.get(record) ?? 0;
		let parts = 0;
		if (json === undefined) {
			group.ops.push({request_delete_range: {key: Buffer.from(prefix + record)}});
		} else {
			const value = Buffer.from(json);
			if (value.length <= headBytes) {
				put(prefix + record, value);
			} else {
				parts = Math.ceil(value.length / partBytes);
				for (let index = 0; index < parts; index++) {
					put(partsPrefix + partName(index), value.subarray(index * partBytes, (index + 1) * partBytes));
				}

				put(prefix + record, Buffer.from(`#${parts}`));
			}
		}

		if (had > parts) {
			// The parts it had beyond those it has now (a range that holds none of the keys just put).
			group.ops.push({request_delete_range: {key: Buffer.from(partsPrefix + partName(parts)), range_end: prefixEnd(Buffer.from(partsPrefix))}});
		}

		if (parts > 0) {
			partCounts.set(record, parts);
		} else {
			partCounts.delete(record);
		}

		return group;
	};

	/**
	The operations of one flush, a group for each record as it is now. Their order bounds what a crash
	between two of its transactions can leave: drones added come first (a task is never written placed on a
	drone not yet written), drones removed last (their tasks were written requeued before). A crash leaves
	some of the records of facts that were not acknowledged, each whole; `Hive.open` mends a task placed on
	a drone that is not there.
	*/
	const collect = (): Group[] => {
		if (!source) {
			throw new Error('the etcd store has no state to write: Hive.open attaches it');
		}

		const first: Group[] = [];
		const last: Group[] = [];
		for (const name of dirtyDrones) {
			const drone = source.drone(name);
			(drone ? first : last).push(recordOps(`drones/${name}`, drone && JSON.stringify(drone)));
		}

		for (const name of newNames) {
			const key = Buffer.from(keys.names + name);
			first.push({ops: [{request_put: {key, value: Buffer.alloc(0)}}], bytes: key.length});
		}

		for (const id of dirtyTasks) {
			const task = source.task(id);
			const endRevision = task && finalTaskStates.has(task.state) ? endRevisions.get(id) : undefined;
			first.push(recordOps(`tasks/${id}`, task && taskJson(endRevision === undefined ? task : {...task, endRevision})));
		}

		dirtyDrones = new Set();
		dirtyTasks = new Set();
		newNames = new Set();
		endRevisions = new Map();
		return [...first, ...last];
	};

	/** Writes one transaction: its records and `meta`, if this store still leads and wrote `meta` last. */
	const commit = async (ops: readonly IRequestOp[], opsBytes: number, meta: Meta): Promise<void> => {
		const write = `${writer}:${++writes}`;
		const metaValue = Buffer.from(JSON.stringify({...meta, write}));
		const compare: ICompare[] = [{key: metaKey, target: 'Mod', result: 'Equal', mod_revision: metaModRevision}];
		const otherwise: IRequestOp[] = [{request_range: {key: metaKey}}];
		if (fence) {
			compare.unshift({key: Buffer.from(fence.key), target: 'Create', result: 'Equal', create_revision: fence.createRevision});
			otherwise.unshift({request_range: {key: Buffer.from(fence.key)}});
		}

		const success = [...ops, {request_put: {key: metaKey, value: metaValue}}];
		let answer;
		let timer: NodeJS.Timeout | undefined;
		try {
			answer = await Promise.race([
				client.kv.txn({compare, success, failure: otherwise}),
				new Promise<never>((_, reject) => {
					timer = setTimeout(() => {
						reject(new Error(`no answer in ${writeTimeoutMs} ms`));
					}, writeTimeoutMs);
				}),
			]);
		} catch (error: unknown) {
			// Given up on, a call may still be kept: what it writes is fenced, and never acknowledged.
			throw new EtcdStoreError(`the etcd store at ${location} failed: ${(error as Error).message}`, {cause: error});
		} finally {
			clearTimeout(timer);
		}

		stats.records += 1;
		stats.syncs += 1;
		stats.bytes += metaKey.length + metaValue.length + opsBytes;
		if (answer.succeeded) {
			// Every key a transaction puts has its revision as mod revision.
			metaModRevision = answer.header.revision;
			return;
		}

		const [leaderKey, metaNow] = (fence ? answer.responses : [undefined, ...answer.responses]).map(response => response?.response_range.kvs[0]);
		if (fence && leaderKey?.create_revision !== fence.createRevision) {
			throw new NotLeaderError(`${fence.key} ${leaderKey ? `was created at revision ${leaderKey.create_revision}` : 'is gone'}, not at ${fence.createRevision}: this queen no longer leads, and this write was not kept`);
		}

		if (metaNow && (parseJson(metaNow.value) as Meta | undefined)?.write === write) {
			// A call retried after its answer was lost: the first one was kept.
			metaModRevision = metaNow.mod_revision;
			return;
		}

		throw new NotLeaderError(`${keys.meta} was written by another queen (mod revision ${metaNow?.mod_revision ?? 'none'}, not ${metaModRevision}): this queen no longer writes, and this write was not kept`);
	};

	/** Writes batches one after another until none is waiting: one write in flight at a time. */
	const flushAll = async (): Promise<void> => {
		while (next) {
			const batch = next;
			next = undefined;
			try {
				if (failure) {
					throw failure;
				}

				// Read now, all in this turn: the records and `meta` are the state at `revision`.
				const groups = collect();
				const meta = {revision, nextNumber: source!.nextNumber};
				let start = 0;
				do {
					// Whole groups, as many as fit (one larger group goes alone).
					const ops: IRequestOp[] = [];
					let bytes = 0;
					let end = start;
					while (end < groups.length && (end === start || (ops.length + groups[end]!.ops.length <= maxOpsPerTxn && bytes + groups[end]!.bytes <= maxTxnBytes))) {
						ops.push(...groups[end]!.ops);
						bytes += groups[end]!.bytes;
						end += 1;
					}

					// Each transaction is fenced; a crash between two leaves what `collect` says.
					// eslint-disable-next-line no-await-in-loop
					await commit(ops, bytes, meta);
					start = end;
				} while (start < groups.length);

				batch.resolve();
			} catch (error: unknown) {
				batch.reject(fail(error as Error));
			}
		}

		flushing = undefined;
	};

	/** Reads every key under `from` at `atRevision`, `limit` keys a page. */
	const readAll = async (from: string, atRevision: string, limit: number, each: (kv: IKeyValue) => void): Promise<void> => {
		const start = Buffer.from(from);
		const end = prefixEnd(start);
		let key = start;
		for (;;) {
			// eslint-disable-next-line no-await-in-loop
			const page = await client.kv.range({key, range_end: end, revision: atRevision, limit});
			for (const kv of page.kvs) {
				each(kv);
			}

			const lastKey = page.kvs.at(-1)?.key;
			if (!page.more || lastKey === undefined) {
				return;
			}

			key = Buffer.concat([lastKey, Buffer.from([0])]);
		}
	};

	const store: EtcdStore = {
		kind: 'etcd',
		location,
		async load(): Promise<Loaded> {
			let atRevision: string;
			let meta: Meta | undefined;
			const drones: Array<{readonly drone: StoredDrone; readonly created: bigint}> = [];
			const usedNames: string[] = [];
			const tasks: Array<{readonly task: Task; readonly endRevision: number}> = [];
			try {
				const metaAnswer = await client.kv.range({key: metaKey});
				// Every page is read at this revision: one consistent state, whatever is written meanwhile.
				atRevision = metaAnswer.header.revision;
				const metaKv = metaAnswer.kvs[0];
				if (metaKv) {
					meta = parse(metaKv.key, metaKv.value) as Meta;
					metaModRevision = metaKv.mod_revision;
				}

				// The parts of large records first: `<record>/<index>` → value.
				const parts = new Map<string, Buffer[]>();
				await readAll(keys.parts, atRevision, pageKeys.parts, kv => {
					const name = kv.key.subarray(keys.parts.length).toString();
					const slash = name.lastIndexOf('/');
					const record = name.slice(0, slash);
					const list = parts.get(record) ?? [];
					list[Number(name.slice(slash + 1))] = kv.value;
					parts.set(record, list);
				});
				/** A record's JSON: its key's value, or its parts put together. */
				const value = (kv: IKeyValue, record: string): unknown => {
					if (kv.value[0] !== 0x23) {
						return parse(kv.key, kv.value);
					}

					const count = Number(kv.value.subarray(1).toString());
					const list = parts.get(record) ?? [];
					const whole = Array.from({length: count}, (_, index) => list[index]);
					if (!(count > 0) || whole.some(part => part === undefined)) {
						throw new CorruptStoreError(`etcd key ${kv.key.toString()} is in ${count} parts, but ${keys.parts}${record}/ does not hold them all; the store cannot be loaded`);
					}

					// Parts beyond the count (none, unless written by another version) go with the next write.
					partCounts.set(record, list.length);
					return parse(kv.key, Buffer.concat(whole as Buffer[]));
				};

				await readAll(keys.drones, atRevision, pageKeys.records, kv => {
					const name = kv.key.subarray(keys.drones.length).toString();
					drones.push({drone: value(kv, `drones/${name}`) as StoredDrone, created: BigInt(kv.create_revision)});
				});
				await readAll(keys.names, atRevision, pageKeys.names, kv => {
					usedNames.push(kv.key.subarray(keys.names.length).toString());
				});
				await readAll(keys.tasks, atRevision, pageKeys.records, kv => {
					const id = kv.key.subarray(keys.tasks.length).toString();
					const {endRevision, ...task} = value(kv, `tasks/${id}`) as StoredTask;
					tasks.push({task, endRevision: endRevision ?? 0});
				});
			} catch (error: unknown) {
				if (error instanceof CorruptStoreError) {
					throw error;
				}

				throw new EtcdStoreError(`could not load the etcd store at ${location}: ${(error as Error).message}`, {cause: error});
			}

			loaded = true;
			if (!meta && drones.length === 0 && tasks.length === 0 && usedNames.length === 0) {
				return {image: undefined, facts: [], warnings: []};
			}

			tasks.sort((a, b) => a.task.seq - b.task.seq);
			// Registration order: a drone's key is created when it first registers.
			drones.sort((a, b) => compareBigInt(a.created, b.created) || a.drone.registeredAt - b.drone.registeredAt);
			// The order they ended.
			const finished = tasks.filter(each => finalTaskStates.has(each.task.state))
				.sort((a, b) => a.endRevision - b.endRevision || a.task.seq - b.task.seq)
				.map(each => each.task.id);
			revision = Math.max(meta?.revision ?? 0, tasks.at(-1)?.task.seq ?? 0);
			const image: StateImage = {
				revision,
				drones: {nextNumber: meta?.nextNumber ?? 0, usedNames, drones: drones.map(each => each.drone)},
				tasks: {tasks: tasks.map(each => each.task), finished},
			};
			return {image, facts: [], warnings: []};
		},
		append(facts) {
			if (!loaded) {
				throw new Error('load the store before writing to it');
			}

			const first = revision + 1;
			revision += facts.length;
			stats.facts += facts.length;
			if (failure) {
				return {revision: first, durable: Promise.reject(failure)};
			}

			for (const [index, fact] of facts.entries()) {
				touch(fact, first + index);
			}

			if (!next) {
				next = acknowledgment();
				// Everything appended in this turn of the event loop goes in the same write.
				flushing ??= new Promise<void>(resolve => {
					setImmediate(() => {
						void flushAll().then(resolve);
					});
				});
			}

			return {revision: first, durable: next.promise};
		},
		get revision() {
			return revision;
		},
		stats(): StoreStats {
			return {...stats};
		},
		attach(state) {
			source = state;
		},
		forgetTask(id) {
			dirtyTasks.add(id);
		},
		async close() {
			await flushing;
			failure ??= new EtcdStoreError(`the etcd store at ${location} is closed`);
		},
	};

	/** Notes the records a fact touches. */
	function touch(fact: Fact, factRevision: number): void {
		switch (fact.type) {
			case 'drone.registered': {
				dirtyDrones.add(fact.drone.name);
				if (!fact.again) {
					newNames.add(fact.drone.name);
				}

				break;
			}

			case 'drone.left':
			case 'drone.evicted':
			case 'drone.cordoned':
			case 'drone.uncordoned':
			case 'drone.draining':
			case 'drone.drained': {
				dirtyDrones.add(fact.drone);
				break;
			}

			case 'task.submitted': {
				dirtyTasks.add(fact.task.id);
				break;
			}

			case 'task.succeeded': {
				// It counts in its drone's `tasksDone`.
				dirtyDrones.add(fact.drone);
				dirtyTasks.add(fact.id);
				endRevisions.set(fact.id, factRevision);
				break;
			}

			case 'task.failed':
			case 'task.lost':
			case 'task.cancelled': {
				dirtyTasks.add(fact.id);
				endRevisions.set(fact.id, factRevision);
				break;
			}

			default: {
				dirtyTasks.add(fact.id);
			}
		}
	}

	return store;
}

/**
A task's record as etcd keeps it: a record over `maxRecordBytes` (outputs of up to 256 Ki characters each,
which JSON may escape to six bytes each) has its output cut, the longer of the two first, until it fits.
*/
function taskJson(task: StoredTask): string {
	let json = JSON.stringify(task);
	if (json.length * 3 <= maxRecordBytes || Buffer.byteLength(json) <= maxRecordBytes || !task.result) {
		return json;
	}

	let {stdout, stderr} = task.result;
	const marker = '\n[… cut: the store keeps at most 1 MiB of a task]';
	while (Buffer.byteLength(json) > maxRecordBytes && (stdout.length > 0 || stderr.length > 0)) {
		if (stdout.length >= stderr.length) {
			stdout = stdout.length > marker.length * 2 ? stdout.slice(0, Math.floor((stdout.length - marker.length) / 2)) + marker : '';
		} else {
			stderr = stderr.length > marker.length * 2 ? stderr.slice(0, Math.floor((stderr.length - marker.length) / 2)) + marker : '';
		}

		json = JSON.stringify({...task, result: {...task.result, stdout, stderr}});
	}

	return json;
}

function parse(key: Buffer, json: Buffer): unknown {
	const value = parseJson(json);
	if (value === undefined) {
		throw new CorruptStoreError(`etcd key ${key.toString()} does not hold JSON; the store cannot be loaded`);
	}

	return value;
}

/** Parts sort in their order as keys: `0000`, `0001`... */
function partName(index: number): string {
	return String(index).padStart(4, '0');
}

function parseJson(value: Buffer): unknown {
	try {
		return JSON.parse(value.toString()) as unknown;
	} catch {
		return undefined;
	}
}

/** The end of the range of every key that starts with `prefix`: the prefix with its last byte one more. */
function prefixEnd(prefix: Buffer): Buffer {
	const end = Buffer.from(prefix);
	for (let index = end.length - 1; index >= 0; index--) {
		if (end[index]! < 0xFF) {
			end[index] = end[index]! + 1;
			return end.subarray(0, index + 1);
		}
	}

	return Buffer.from([0]);
}

function compareBigInt(a: bigint, b: bigint): number {
	return a < b ? -1 : (a > b ? 1 : 0);
}

/** `host:port,...` of the client's members, for `location` (etcd3 keeps them in its options). */
function endpointsOf(client: Etcd3): string {
	const {hosts} = (client as unknown as {readonly options?: {readonly hosts?: string | string[]}}).options ?? {};
	const list = typeof hosts === 'string' ? [hosts] : hosts ?? [];
	return list.map(host => host.replace(/^https?:\/\//, '')).join(',');
}
