import {randomUUID} from 'node:crypto';
import {finalTaskStates, runsOnDrone, type Drone, type DroneRecord, type DroneSpec, type Task, type TaskResult, type TaskSpec, type TaskState} from '../model.js';
import {DroneRegistry} from './state/drones.js';
import {EventLog, type EventBody, type HiveEvent, type HiveListener, type KeptEvent} from './state/events.js';
import type {Fact, SubmittedTask} from './state/facts.js';
import {TaskTable, weighTask} from './state/tasks.js';
import {createMemoryStore, type StateImage, type Store} from './store/store.js';

export type {HiveEvent, HiveEventType, HiveListener, KeptEvent} from './state/events.js';

/**
The queen's state — drones, tasks, the pending queue — and its events: the one source of truth.

Reads return records that never change under their reader. Writes are commands: a command checks
what it can against the state, decides everything (ids, names, clocks, which task is requeued and
which is lost) and writes it as facts to the store; the facts are applied here at once, their events
go out, and the command's promise settles once the store has them durably — the queen answers a
client only then. A command that cannot be done is refused (its promise rejects) and changes nothing.
No I/O here but the store's: the heartbeat monitor and the dispatcher make the calls and report back.
*/

export type HiveOptions = {
	/** Where facts are kept. @default a memory store */
	readonly store?: Store;
	/** Finished tasks kept. @default 10000 */
	readonly taskHistory?: number;
	/** What the finished tasks kept may weigh in all (`weighTask`), in bytes; the oldest go first. @default 256 MiB */
	readonly taskHistoryBytes?: number;
	/** Tasks waiting for a drone, at most; beyond, `submit` is refused. @default 10000 */
	readonly maxPending?: number;
	/** What the tasks waiting for a drone may weigh in all (`weighTask`), in bytes; a submit that would pass it is refused. @default 256 MiB */
	readonly maxPendingBytes?: number;
	/** Times a task is placed again after its drone is lost. @default 2 */
	readonly taskRetries?: number;
	/** Events kept for clients that reconnect (`GET /events?since=`). @default 1000 */
	readonly eventBacklog?: number;
	readonly now?: () => number;
	/** The store could not keep a fact: the queen must stop. */
	readonly onStoreFailure?: (error: Error) => void;
};

/** A command the hive refuses: its `code` says why, its message says it to a person. */
export class RefusedError extends Error {
	override readonly name = 'RefusedError';

	constructor(
		message: string,
		readonly code: 'ERR_HIVE_QUEUE_FULL' | 'ERR_HIVE_NO_TASK' | 'ERR_HIVE_NOT_YOURS' | 'ERR_HIVE_KEY_REUSED' | 'ERR_HIVE_NO_DRONE' | 'ERR_HIVE_SAME_DRONE' | 'ERR_HIVE_AMBIGUOUS_ID' | 'ERR_HIVE_TASK_FINISHED' | 'ERR_HIVE_NO_SUCH_DRONE',
		/** Task ids an ambiguous prefix matches (`ERR_HIVE_AMBIGUOUS_ID`). */
		readonly matches?: readonly string[],
	) {
		super(message);
	}
}

/** Ids an ambiguous prefix is answered with, at most. */
const maxMatchesShown = 10;

export type Outcome = {readonly succeeded: boolean; readonly result?: TaskResult | undefined; readonly error?: string | undefined};

export class Hive {
	readonly #drones = new DroneRegistry();
	readonly #tasks: TaskTable;
	readonly #events: EventLog;
	readonly #store: Store;
	readonly #taskRetries: number;
	readonly #maxPending: number;
	readonly #maxPendingBytes: number;
	readonly #now: () => number;
	readonly #onStoreFailure: (error: Error) => void;
	/** Tasks placed before a restart, by drone: confirmed (or given back) by the drone's first heartbeat. */
	readonly #unconfirmed = new Map<string, Set<string>>();
	#lastDurable: Promise<void> = Promise.resolve();
	/** The store's promise for the batch the last facts went into, and the same as the hive hands it out. */
	#watched: Promise<void> | undefined;
	#settled: Promise<void> = Promise.resolve();
	/** The writes of submits not yet in the store, by task id: a retry with the same key waits for its first. */
	readonly #submitWrites = new Map<string, Promise<void>>();
	/** Why the store refused a write, once it has: nothing after is acknowledged. */
	#failure: Error | undefined;
	#loadWarnings: readonly string[] = [];

	/** Opens a hive on a store: what it kept is loaded, and every drone gets a whole grace period. */
	static async open(options: HiveOptions = {}): Promise<Hive> {
		const hive = new Hive(options);
		await hive.#load();
		return hive;
	}

	private constructor(options: HiveOptions) {
		this.#store = options.store ?? createMemoryStore();
		const store = this.#store;
		this.#tasks = new TaskTable({count: options.taskHistory ?? 10_000, bytes: options.taskHistoryBytes ?? 256 * 1024 * 1024}, id => {
			store.forgetTask?.(id);
		});
		// A store of records (etcd) writes what the facts touched as it is when it writes.
		const drones = this.#drones;
		const tasks = this.#tasks;
		store.attach?.({
			drone(name) {
				const record = drones.record(name);
				return record && {...record, tasksDone: drones.get(name)!.tasksDone};
			},
			task: id => tasks.get(id),
			get nextNumber() {
				return drones.nextNumber;
			},
		});
		this.#events = new EventLog(options.eventBacklog ?? 1000);
		this.#taskRetries = options.taskRetries ?? 2;
		this.#maxPending = options.maxPending ?? 10_000;
		this.#maxPendingBytes = options.maxPendingBytes ?? 256 * 1024 * 1024;
		this.#now = options.now ?? Date.now;
		this.#onStoreFailure = options.onStoreFailure ?? (() => undefined);
	}

	// Reads

	/** What loading the store found wrong but could mend (a torn last record dropped). */
	get loadWarnings(): readonly string[] {
		return this.#loadWarnings;
	}

	get store(): Store {
		return this.#store;
	}

	/** Revision of the last fact written. */
	get revision(): number {
		return this.#store.revision;
	}

	drone(name: string): Drone | undefined {
		return this.#drones.get(name);
	}

	/** Every drone, in registration order. */
	drones(): IterableIterator<Drone> {
		return this.#drones.all();
	}

	/** Names of the drones that take no new tasks (cordoned, or draining). */
	cordonedDrones(): string[] {
		return this.#drones.cordoned();
	}

	droneNames(): string[] {
		return [...this.#drones.names()];
	}

	get droneCount(): number {
		return this.#drones.size;
	}

	/** The seed's map: address → name. */
	droneMap(): Record<string, string> {
		return this.#drones.map();
	}

	task(id: string): Task | undefined {
		return this.#tasks.get(id);
	}

	/**
	The task a person means by `ref`: its id, or a unique prefix of it (as git and docker take them).
	Refused when no task has it (`ERR_HIVE_NO_TASK`), or several do (`ERR_HIVE_AMBIGUOUS_ID`, naming them).
	*/
	resolveTask(ref: string): Task {
		const exact = this.#tasks.get(ref);
		if (exact) {
			return exact;
		}

		const {ids, more} = ref === '' ? {ids: [], more: false} : this.#tasks.withPrefix(ref, maxMatchesShown);
		if (ids.length === 1) {
			return this.#tasks.get(ids[0]!)!;
		}

		if (ids.length === 0) {
			throw new RefusedError(`no task with id ${ref}`, 'ERR_HIVE_NO_TASK');
		}

		const shown = ids.map(id => id.slice(0, Math.max(ref.length + 4, 12))).join(', ');
		throw new RefusedError(`task id prefix '${ref}' matches ${more ? `more than ${ids.length}` : ids.length} tasks: ${shown}${more ? ', …' : ''}; give more of the id`, 'ERR_HIVE_AMBIGUOUS_ID', ids);
	}

	/** Newest first, optionally of one state. */
	tasks(query: {readonly state?: TaskState; readonly limit?: number; readonly offset?: number} = {}): {readonly tasks: Task[]; readonly total: number} {
		return this.#tasks.page(query);
	}

	/** Tasks kept: unfinished ones and the finished history. */
	get taskCount(): number {
		return this.#tasks.size;
	}

	taskCounts(): Record<TaskState, number> {
		return this.#tasks.counts();
	}

	/** Finished tasks kept, what they weigh in bytes, and the bounds of both (`taskHistory`, `taskHistoryBytes`). */
	get history(): {readonly count: number; readonly bytes: number; readonly maxCount: number; readonly maxBytes: number} {
		return this.#tasks.history;
	}

	/** Pending tasks, first in line first. */
	pendingTasks(): IterableIterator<Task> {
		return this.#tasks.pending();
	}

	get pendingCount(): number {
		return this.#tasks.pendingCount;
	}

	/** Tasks waiting for a drone, what they weigh in bytes, and the bounds of both (`maxPending`, `maxPendingBytes`). */
	get pending(): {readonly count: number; readonly bytes: number; readonly maxCount: number; readonly maxBytes: number} {
		return {count: this.#tasks.pendingCount, bytes: this.#tasks.pendingBytes, maxCount: this.#maxPending, maxBytes: this.#maxPendingBytes};
	}

	/** Ids of the unfinished tasks placed on a drone. */
	tasksOn(drone: string): readonly string[] {
		return this.#tasks.onDrone(drone);
	}

	/** Whether a drone still has tasks from before a restart to confirm with its first heartbeat. */
	awaitsConfirmation(drone: string): boolean {
		return this.#unconfirmed.has(drone);
	}

	subscribe(listener: HiveListener): () => void {
		return this.#events.subscribe(listener);
	}

	/** Events after the one with id `since` still in the backlog, oldest first (task events with the task's summary). */
	eventsSince(since: number): KeptEvent[] {
		return this.#events.since(since);
	}

	/** The whole state, as a store's snapshot keeps it. */
	image(): StateImage {
		return {revision: this.#store.revision, drones: this.#drones.data(), tasks: this.#tasks.data()};
	}

	// Commands: drones

	/**
	Adds a drone, or refreshes one already known by the name it asks for, its address, or its boot id (one
	drone process is one drone, whatever address it was registered at). Another address for a drone
	process already in the hive is refused, unless the registration is the drone's own (it holds the
	contact key): only the drone itself moves its record.
	*/
	async register(spec: DroneSpec): Promise<{readonly drone: Drone; readonly created: boolean}> {
		const at = this.#now();
		const {address, bootId} = spec;
		const sameProcessName = bootId === undefined ? undefined : this.#drones.nameWithBoot(bootId);
		const sameProcess = sameProcessName === undefined ? undefined : this.#drones.record(sameProcessName);
		if (sameProcess && sameProcess.address !== address && spec.contactKey === undefined) {
			throw new RefusedError(`${address} is ${sameProcess.name}, already registered at ${sameProcess.address} (the same drone process: the same boot id)`, 'ERR_HIVE_SAME_DRONE');
		}

		const facts: Fact[] = [];
		const knownName = spec.name ?? this.#drones.nameAt(address) ?? sameProcess?.name;
		const known = knownName === undefined ? undefined : this.#drones.record(knownName);
		let record: DroneRecord;
		if (known) {
			const proven = spec.contactKey !== undefined || (bootId !== undefined && bootId === known.bootId);
			if (known.address !== address && !proven && (known.bootId !== undefined || known.contactKey !== undefined)) {
				// Whoever answers at the new address has not shown it is this drone: the record (and the key the
				// queen shows the drone) stays where the drone is.
				throw new RefusedError(`${known.name} is registered at ${known.address}; only ${known.name} itself can move its record (its registration shows its contact key)`, 'ERR_HIVE_SAME_DRONE');
			}

			const other = this.#drones.nameAt(address);
			if (known.address !== address && other !== undefined && other !== known.name) {
				// A named drone that moved to an address another drone had: that one is gone.
				facts.push(...this.#removal(other, 'drone.left', `its address was taken by ${known.name}`, at));
			}

			const sameBoot = bootId === undefined || bootId === known.bootId;
			if (!sameBoot && known.bootId !== undefined) {
				// The drone restarted before the queen noticed: what it was running died with it.
				facts.push(...this.#orphans(known.name, `${known.name} restarted`, at));
			}

			// A registration that does not show the drone's key keeps the key of the same boot.
			// A drone restarted without its runtime has none any more (capacityOf leaves out an empty list).
			record = {...known, address, ...(known.runtimes === undefined ? {} : {runtimes: undefined}), ...capacityOf(spec), bootId: bootId ?? known.bootId, contactKey: spec.contactKey ?? (sameBoot && known.address === address ? known.contactKey : undefined)};
			facts.push({type: 'drone.registered', at, drone: record, again: true, nextNumber: this.#drones.nextNumber});
		} else {
			// A drone at a known address that now asks for another name is a different drone.
			const previous = this.#drones.nameAt(address);
			if (previous !== undefined) {
				facts.push(...this.#removal(previous, 'drone.left', `its address was taken by a drone named ${spec.name}`, at));
			}

			const generated = spec.name === undefined ? this.#drones.nextName() : undefined;
			const name = spec.name ?? generated!.name;
			record = {name, address, registeredAt: at, bootId, contactKey: spec.contactKey, ...capacityOf(spec)};
			facts.push({type: 'drone.registered', at, drone: record, again: this.#drones.wasUsed(name), nextNumber: generated?.nextNumber ?? this.#drones.nextNumber});
		}

		if (sameProcess && sameProcess.name !== record.name && !facts.some(fact => fact.type === 'drone.left' && fact.drone === sameProcess.name)) {
			// The same process, registered before under another name: one drone, one record.
			facts.unshift(...this.#removal(sameProcess.name, 'drone.left', `it registered again as ${record.name}`, at));
		}

		const {durable} = this.#write(facts);
		const drone = this.#drones.get(record.name)!;
		await durable;
		return {drone, created: !known};
	}

	/** The contact key the queen shows on its calls to the drone at this address (none: the drone registers again). */
	contactKeyAt(address: string): string | undefined {
		return this.#drones.contactKeyAt(address);
	}

	/** A drone said it is leaving; its unfinished tasks are placed again. */
	async deregister(address: string): Promise<DroneRecord | undefined> {
		const name = this.#drones.nameAt(address);
		if (name === undefined) {
			return undefined;
		}

		const record = this.#drones.record(name);
		await this.#commit(this.#removal(name, 'drone.left', `${name} left`, this.#now()));
		return record;
	}

	/** A drone stopped answering; its unfinished tasks are placed again or lost. */
	async evict(name: string, reason: string): Promise<DroneRecord | undefined> {
		const record = this.#drones.record(name);
		if (!record) {
			return undefined;
		}

		await this.#commit(this.#removal(name, 'drone.evicted', reason, this.#now()));
		return record;
	}

	/** No new tasks for the drone (`kubectl cordon`); what runs there finishes. Refused for a drone not in the hive. */
	async cordon(name: string, by: string): Promise<Drone> {
		const record = this.#knownDrone(name);
		if (!record.cordoned) {
			await this.#commit([{type: 'drone.cordoned', at: this.#now(), drone: name, by}]);
		}

		return this.#drones.get(name) ?? this.#droneView(record);
	}

	/** Tasks for the drone again; a drain under way ends. */
	async uncordon(name: string, by: string): Promise<Drone> {
		const record = this.#knownDrone(name);
		if (record.cordoned || record.drain) {
			await this.#commit([{type: 'drone.uncordoned', at: this.#now(), drone: name, by}]);
		}

		return this.#drones.get(name) ?? this.#droneView(record);
	}

	/**
	Drains the drone: cordoned, then drained once nothing runs there (the drainer watches, and moves what still
	runs past `deadline`). A drain asked again keeps the first one's start and takes the new deadline.
	*/
	async drain(name: string, by: string, deadline: number | undefined): Promise<Drone> {
		const record = this.#knownDrone(name);
		const at = this.#now();
		const facts: Fact[] = [{type: 'drone.draining', at, drone: name, by, deadline}];
		if (this.#tasks.countOn(name) === 0) {
			facts.push({type: 'drone.drained', at, drone: name});
		}

		await this.#commit(facts);
		return this.#drones.get(name) ?? this.#droneView(record);
	}

	/** A draining drone runs nothing any more: its drain is over (it stays cordoned). */
	drained(name: string): Promise<void> | undefined {
		const record = this.#drones.record(name);
		if (!record?.drain || this.#tasks.countOn(name) > 0) {
			return undefined;
		}

		return this.#commit([{type: 'drone.drained', at: this.#now(), drone: name}]);
	}

	/** A task taken off a drone whose drain passed its deadline (stopped there): it waits again, at no cost of a retry. */
	moveOffDrained(id: string, drone: string): Promise<void> | undefined {
		const task = this.#tasks.get(id);
		if (!task || task.drone !== drone || (task.state !== 'dispatched' && task.state !== 'running')) {
			return undefined;
		}

		return this.#commit([{type: 'task.requeued', at: this.#now(), id, drone, reason: `the drain of ${drone} passed its deadline`, moved: true}]);
	}

	#knownDrone(name: string): DroneRecord {
		const record = this.#drones.record(name);
		if (!record) {
			throw new RefusedError(`no drone named ${name} is in the hive`, 'ERR_HIVE_NO_SUCH_DRONE');
		}

		return record;
	}

	/** A drone removed while its command was being written (its view, as it was). */
	#droneView(record: DroneRecord): Drone {
		return {...record, state: 'suspect', lastSeen: undefined, failedAttempts: 0, lastError: 'it left the hive', tasksDone: 0, running: 0};
	}

	/** A heartbeat answered (or, `at` then, a task batch that stood for one). Kept in memory only. */
	heartbeatSucceeded(name: string, at = this.#now()): void {
		if (this.#drones.seen(name, at)) {
			const drone = this.#drones.get(name)!;
			this.#emitVolatile({type: 'heartbeat.recovered', drone: name, address: drone.address});
		}
	}

	/** Counts one failed attempt; returns the failures in a row (0 when the drone is gone). */
	heartbeatFailed(name: string, error: string, maxRetry: number): number {
		const failures = this.#drones.failed(name, error);
		if (failures > 0) {
			this.#emitVolatile({type: 'heartbeat.failed', drone: name, address: this.#drones.get(name)!.address, attempt: failures, maxRetry, error});
		}

		return failures;
	}

	/** A call to the drone failed outside a heartbeat: no work for it until it answers again. */
	markSuspect(name: string, error: string): void {
		this.#drones.suspect(name, error);
	}

	heartbeatSwept(checked: number, failed: number, durationMs: number): void {
		this.#emitVolatile({type: 'heartbeat.sweep', checked, failed, durationMs});
	}

	/**
	A drone's first answer after the queen restarted: what it says it holds (`/healthz`'s `tasks`). A task
	the queen had placed there that it does not hold goes back to the queue (or is lost past its retries);
	one it holds that was still `dispatched` is `running`. Undefined `holding`: a drone that does not say.
	*/
	async reconcile(name: string, holding: ReadonlySet<string> | undefined): Promise<void> {
		const ids = this.#unconfirmed.get(name);
		this.#unconfirmed.delete(name);
		if (!ids || holding === undefined) {
			return;
		}

		const at = this.#now();
		const facts: Fact[] = [];
		for (const id of ids) {
			const task = this.#tasks.get(id);
			if (!task || task.drone !== name || (task.state !== 'dispatched' && task.state !== 'running')) {
				continue;
			}

			if (runsOnDrone(task.kind) && holding.has(id)) {
				if (task.state === 'dispatched') {
					facts.push({type: 'task.running', at, id});
				}
			} else {
				facts.push(this.#requeueOrLose(task, name, `${name} does not run it after the queen restarted`, at));
			}
		}

		await this.#commit(facts);
	}

	/**
	What a drone says it holds, on any heartbeat after the first: the queen's own deadline on the tasks it
	placed there. A command `running` there since before the queen asked (`askedAt`) that the drone no
	longer holds, with no result heard, goes back to the queue (or is lost past its retries): a drone
	holds a task before it answers that it took it, and until the queen has its result, so none is in
	flight. (A `dispatched` one may still be on its way: the dispatch's own time limit covers it.) One the
	drone still holds `marginMs` past the drone's own `--task-timeout` is failed: its drone will not end it.
	*/
	async settle(name: string, holding: ReadonlySet<string>, askedAt: number, deadline: {readonly taskTimeoutMs: number; readonly marginMs: number}): Promise<void> {
		const at = this.#now();
		const facts: Fact[] = [];
		for (const id of this.#tasks.onDrone(name)) {
			const task = this.#tasks.get(id);
			if (!task || !runsOnDrone(task.kind) || task.state !== 'running' || task.updatedAt >= askedAt) {
				continue;
			}

			if (!holding.has(id)) {
				facts.push(this.#requeueOrLose(task, name, `${name} no longer holds it and no result came from it`, at));
			} else if (deadline.taskTimeoutMs > 0 && at - task.updatedAt > deadline.taskTimeoutMs + deadline.marginMs) {
				facts.push({type: 'task.failed', at, id, drone: name, error: `no result from ${name} ${deadline.marginMs / 1000} s past its --task-timeout of ${deadline.taskTimeoutMs / 1000} s`});
			}
		}

		if (facts.length > 0) {
			await this.#commit(facts);
		}
	}

	// Commands: tasks

	/**
	Accepts a task as `pending`. With an idempotency key already used, the task it made is returned
	(`created: false`); refused when `maxPending` tasks already wait, when the task would take what the
	waiting tasks weigh past `maxPendingBytes`, or when the key was used for another task.
	*/
	async submit(spec: TaskSpec, idempotencyKey?: string): Promise<{readonly task: Task; readonly created: boolean}> {
		const {task, created, durable} = this.submitNow(spec, idempotencyKey);
		await durable;
		return {task: created ? task : this.#tasks.get(task.id) ?? task, created};
	}

	/**
	`submit`, applied now: the task can be placed while its record goes to disk (`durable`). Throws a
	`RefusedError` when it cannot be done.
	*/
	submitNow(spec: TaskSpec, idempotencyKey?: string): {readonly task: Task; readonly created: boolean; readonly durable: Promise<void>} {
		if (idempotencyKey !== undefined) {
			const existing = this.#tasks.byKey(idempotencyKey);
			if (existing) {
				if (!sameTask(existing, spec)) {
					throw new RefusedError(`Idempotency-Key ${idempotencyKey} was used for another task (${existing.id})`, 'ERR_HIVE_KEY_REUSED');
				}

				// Its first submit may still be on its way to the store: answered when it is there, refused if it
				// never gets there (a retry must not be told what its first try was not).
				return {task: existing, created: false, durable: this.#failure ? Promise.reject(this.#failure) : this.#submitWrites.get(existing.id) ?? Promise.resolve()};
			}
		}

		if (this.#tasks.pendingCount >= this.#maxPending) {
			throw new RefusedError(`the queue is full: ${this.#tasks.pendingCount} tasks are waiting for a drone`, 'ERR_HIVE_QUEUE_FULL');
		}

		const id = randomUUID();
		const task = {id, ...what(spec), selector: spec.selector ?? {}, idempotencyKey};
		// Weighed as its record will be when it enters the queue (a reason to wait, given later, adds a little).
		const weight = weighTask(task);
		const waiting = this.#tasks.pendingBytes;
		if (waiting + weight > this.#maxPendingBytes) {
			throw new RefusedError(`the queue is full: the ${this.#tasks.pendingCount} tasks waiting for a drone weigh ${waiting} bytes, and this one (${weight} bytes) would take them past the bound of ${this.#maxPendingBytes} bytes (--max-pending-bytes)`, 'ERR_HIVE_QUEUE_FULL');
		}

		const durable = this.#commit([{type: 'task.submitted', at: this.#now(), task}]);
		this.#submitWrites.set(id, durable);
		durable.then(() => this.#submitWrites.delete(id), () => undefined);
		return {task: this.#tasks.get(id)!, created: true, durable};
	}

	/** The dispatcher chose a drone: the task holds a place on it while the drone is asked. Undefined: it cannot. */
	dispatch(id: string, drone: string): {readonly task: Task; readonly durable: Promise<void>} | undefined {
		const task = this.#tasks.get(id);
		if (task?.state !== 'pending' || !this.#drones.record(drone)) {
			return undefined;
		}

		const durable = this.#commit([{type: 'task.dispatched', at: this.#now(), id, drone}]);
		return {task: this.#tasks.get(id)!, durable};
	}

	/** The drone did not take it: it waits again, in its place in the queue. */
	refuse(id: string, drone: string, reason: string): Promise<void> | undefined {
		const task = this.#tasks.get(id);
		if (task?.state !== 'dispatched' || task.drone !== drone) {
			return undefined;
		}

		return this.#commit([{type: 'task.refused', at: this.#now(), id, drone, reason}]);
	}

	/**
	The drone died taking the task (it had the call and dropped it unanswered): that costs the task an
	attempt, as a drone lost while running it would; past its retries it fails, so that a task that kills
	the drones it is sent to does not go round them for ever.
	*/
	diedTaking(id: string, drone: string, reason: string): Promise<void> | undefined {
		const task = this.#tasks.get(id);
		if (task?.state !== 'dispatched' || task.drone !== drone) {
			return undefined;
		}

		const at = this.#now();
		return this.#commit([task.retries < this.#taskRetries
			? {type: 'task.requeued', at, id, drone, reason: `${drone} died taking it (${reason})`}
			: {type: 'task.failed', at, id, drone, error: `its drones died taking it, ${task.retries + 1} times (the last, ${drone}: ${reason})`}]);
	}

	/** The drone refused the task itself (malformed, too large): no drone will take it, and it fails now. */
	rejected(id: string, drone: string, reason: string): Promise<void> | undefined {
		const task = this.#tasks.get(id);
		if (task?.state !== 'dispatched' || task.drone !== drone) {
			return undefined;
		}

		return this.#commit([{type: 'task.failed', at: this.#now(), id, drone, error: `${drone} refused it: ${reason}`}]);
	}

	/** The drone took a command task and runs it. */
	running(id: string, drone: string): Promise<void> | undefined {
		const task = this.#tasks.get(id);
		if (task?.state !== 'dispatched' || task.drone !== drone) {
			return undefined;
		}

		return this.#commit([{type: 'task.running', at: this.#now(), id}]);
	}

	/**
	A drone finished a task. Refused when the task is not that drone's: placed again elsewhere, or
	finished already. A text task a drone printed after the queen had queued it again (the drone was
	lost mid-call) is done too.
	*/
	async finish(id: string, drone: string, outcome: Outcome): Promise<Task> {
		const {task, durable} = this.finishNow(id, drone, outcome);
		await durable;
		return task;
	}

	/** `finish`, applied now; `task` is its record as it ended (the history may forget it at once). */
	finishNow(id: string, drone: string, outcome: Outcome): {readonly task: Task; readonly durable: Promise<void>} {
		const task = this.#tasks.get(id);
		if (!task) {
			throw new RefusedError(`no task with id ${id}`, 'ERR_HIVE_NO_TASK');
		}

		if (task.state === 'cancelled' && task.drone === drone) {
			// It ended as it was cancelled: it stays cancelled, and keeps what it printed.
			const durable = this.stopped(id, drone, {result: outcome.result}) ?? this.#lastDurable;
			return {task: this.#tasks.get(id) ?? task, durable};
		}

		const placedThere = task.drone === drone && (task.state === 'dispatched' || task.state === 'running');
		const deliveredLate = task.kind === 'text' && task.state === 'pending';
		if (!placedThere && !deliveredLate) {
			throw new RefusedError(`task ${id} is not running on ${drone} (it is ${task.state}${task.drone ? ` on ${task.drone}` : ''})`, 'ERR_HIVE_NOT_YOURS');
		}

		const at = this.#now();
		const {durable, events} = this.#write([outcome.succeeded
			? {type: 'task.succeeded', at, id, drone, result: outcome.result}
			: {type: 'task.failed', at, id, drone, result: outcome.result, error: outcome.error ?? 'failed'}]);
		const [event] = events;
		return {task: event && 'task' in event ? event.task : task, durable};
	}

	/**
	Cancels a task that has not ended (refused with `ERR_HIVE_TASK_FINISHED` when it has): it leaves the
	queue, or its place on its drone, at once — no dispatch in flight places it anywhere after this. The
	caller then stops a running command on its drone, and tells what that left (`stopped`).
	*/
	async cancel(id: string, by: string): Promise<Task> {
		const task = this.#tasks.get(id);
		if (!task) {
			throw new RefusedError(`no task with id ${id}`, 'ERR_HIVE_NO_TASK');
		}

		if (finalTaskStates.has(task.state)) {
			throw new RefusedError(`task ${id} already ${task.state === 'lost' ? 'was lost' : task.state}: only a task that has not ended can be cancelled`, 'ERR_HIVE_TASK_FINISHED');
		}

		const {events, durable} = this.#write([{type: 'task.cancelled', at: this.#now(), id, by}]);
		await durable;
		const [event] = events;
		return event && 'task' in event ? event.task : this.#tasks.get(id) ?? task;
	}

	/**
	What a cancelled command left on its drone: its output until it was killed (or until it ended, when its
	result crossed the cancel), or why the drone could not be told. Kept once; undefined when there is nothing to keep.
	*/
	stopped(id: string, drone: string, left: {readonly result?: TaskResult | undefined; readonly error?: string | undefined}): Promise<void> | undefined {
		const task = this.#tasks.get(id);
		if (task?.state !== 'cancelled' || task.drone !== drone || task.result !== undefined || (left.result === undefined && left.error === undefined)) {
			return undefined;
		}

		return this.#commit([{type: 'task.stopped', at: this.#now(), id, result: left.result, error: left.error}]);
	}

	/** A task that can never be placed (no drone at all): it fails now. */
	async fail(id: string, error: string): Promise<Task | undefined> {
		const task = this.#tasks.get(id);
		if (!task || finalTaskStates.has(task.state)) {
			return task;
		}

		await this.#commit([{type: 'task.failed', at: this.#now(), id, error}]);
		return this.#tasks.get(id) ?? task;
	}

	/** A pending task still waits; says why (an event when the reason changes; not kept by the store). */
	taskWaiting(id: string, reason: string): void {
		const task = this.#tasks.get(id);
		if (task?.state === 'pending' && task.reason !== reason) {
			const waiting = {...task, reason, updatedAt: this.#now()};
			this.#tasks.put(waiting);
			this.#emitVolatile({type: 'task.pending', task: waiting});
		}
	}

	// The write path

	/** Writes facts, applies them, sends their events; settles when they are durable. */
	async #commit(facts: readonly Fact[]): Promise<void> {
		return this.#write(facts).durable;
	}

	/** Writes facts, applies them and sends their events now; `durable` settles when the store has them. */
	#write(facts: readonly Fact[]): {readonly durable: Promise<void>; readonly events: readonly HiveEvent[]} {
		if (facts.length === 0) {
			return {durable: this.#lastDurable, events: []};
		}

		const {revision, durable} = this.#store.append(facts);
		const events: HiveEvent[] = [];
		for (let index = 0; index < facts.length; index++) {
			const event = this.#apply(facts[index]!, revision + index);
			if (event) {
				events.push(event);
			}
		}

		// Every fact is applied before the first event goes out: a listener that acts on one sees them all.
		for (const event of events) {
			this.#events.emit(event);
		}

		// Commands of one turn share the store's batch, and so one watch on it.
		if (durable !== this.#watched) {
			this.#watched = durable;
			this.#settled = durable.catch((error: unknown) => {
				const failure = error instanceof Error ? error : new Error(String(error));
				this.#failure ??= failure;
				this.#onStoreFailure(failure);
				throw failure;
			});
			this.#lastDurable = this.#settled.catch(() => undefined);
		}

		return {durable: this.#settled, events};
	}

	/** Applies one fact; returns the event that reports it. Decides nothing: replaying gives the same hive. */
	#apply(fact: Fact, revision: number): HiveEvent | undefined {
		const {at} = fact;
		switch (fact.type) {
			case 'drone.registered': {
				this.#drones.put(fact.drone, fact.nextNumber, fact.at);
				return {type: fact.type, drone: fact.drone.name, address: fact.drone.address, again: fact.again, id: revision, at};
			}

			case 'drone.left':
			case 'drone.evicted': {
				const record = this.#drones.remove(fact.drone);
				this.#unconfirmed.delete(fact.drone);
				if (!record) {
					return undefined;
				}

				return fact.type === 'drone.left'
					? {type: fact.type, drone: fact.drone, address: record.address, id: revision, at}
					: {type: fact.type, drone: fact.drone, address: record.address, reason: fact.reason, id: revision, at};
			}

			case 'drone.cordoned':
			case 'drone.uncordoned':
			case 'drone.draining':
			case 'drone.drained': {
				return this.#applyToDrone(fact, revision);
			}

			case 'task.submitted': {
				const {task: spec} = fact;
				const task: Task = {
					id: spec.id,
					seq: revision,
					kind: spec.kind,
					text: spec.text,
					command: spec.command,
					...(spec.container === undefined ? {} : {container: spec.container}),
					selector: spec.selector,
					state: 'pending',
					drone: undefined,
					submittedAt: fact.at,
					updatedAt: fact.at,
					attempts: 0,
					retries: 0,
					reason: undefined,
					error: undefined,
					result: undefined,
					idempotencyKey: spec.idempotencyKey,
				};
				this.#tasks.put(task);
				return {type: fact.type, task, id: revision, at};
			}

			default: {
				return this.#applyToTask(fact, revision);
			}
		}
	}

	#applyToDrone(fact: Extract<Fact, {type: 'drone.cordoned' | 'drone.uncordoned' | 'drone.draining' | 'drone.drained'}>, revision: number): HiveEvent | undefined {
		const {at} = fact;
		const record = this.#drones.amend(fact.drone, current => {
			switch (fact.type) {
				case 'drone.cordoned': {
					return {...current, cordoned: true};
				}

				case 'drone.uncordoned': {
					return {...current, cordoned: false, drain: undefined};
				}

				case 'drone.draining': {
					return {...current, cordoned: true, drain: {by: fact.by, startedAt: current.drain?.startedAt ?? at, deadline: fact.deadline}};
				}

				case 'drone.drained': {
					return {...current, drain: undefined};
				}
			}
		});
		if (!record) {
			return undefined;
		}

		const {address} = record;
		switch (fact.type) {
			case 'drone.cordoned':
			case 'drone.uncordoned': {
				return {type: fact.type, drone: fact.drone, address, by: fact.by, id: revision, at};
			}

			case 'drone.draining': {
				return {type: fact.type, drone: fact.drone, address, by: fact.by, deadline: fact.deadline === undefined ? null : new Date(fact.deadline).toISOString(), id: revision, at};
			}

			case 'drone.drained': {
				return {type: fact.type, drone: fact.drone, address, id: revision, at};
			}
		}
	}

	#applyToTask(fact: Exclude<Fact, {type: 'drone.registered' | 'drone.left' | 'drone.evicted' | 'drone.cordoned' | 'drone.uncordoned' | 'drone.draining' | 'drone.drained' | 'task.submitted'}>, revision: number): HiveEvent | undefined {
		const task = this.#tasks.get(fact.id);
		if (!task) {
			return undefined;
		}

		const at = fact.at;
		let next: Task;
		switch (fact.type) {
			case 'task.dispatched': {
				next = {...task, state: 'dispatched', drone: fact.drone, attempts: task.attempts + 1, reason: undefined, updatedAt: at};
				if (runsOnDrone(task.kind)) {
					this.#drones.addRunning(fact.drone, 1);
				}

				break;
			}

			case 'task.running': {
				next = {...task, state: 'running', updatedAt: at};
				break;
			}

			case 'task.refused': {
				this.#release(task);
				next = {...task, state: 'pending', drone: undefined, reason: `${fact.drone} did not take it: ${fact.reason}`, updatedAt: at};
				break;
			}

			case 'task.requeued': {
				this.#release(task);
				next = {...task, state: 'pending', drone: undefined, retries: fact.moved ? task.retries : task.retries + 1, reason: `placed again: ${fact.reason}`, updatedAt: at};
				break;
			}

			case 'task.cancelled': {
				this.#release(task);
				next = {...task, state: 'cancelled', reason: undefined, cancelled: {by: fact.by, at}, updatedAt: at};
				break;
			}

			case 'task.stopped': {
				next = {...task, result: fact.result ?? task.result, error: fact.error ?? task.error, updatedAt: at};
				break;
			}

			case 'task.succeeded': {
				this.#release(task);
				this.#drones.countDone(fact.drone);
				next = {...task, state: 'succeeded', drone: fact.drone, reason: undefined, result: fact.result, updatedAt: at};
				break;
			}

			case 'task.failed': {
				this.#release(task);
				next = {...task, state: 'failed', drone: fact.drone ?? task.drone, reason: undefined, result: fact.result, error: fact.error, updatedAt: at};
				break;
			}

			case 'task.lost': {
				this.#release(task);
				next = {...task, state: 'lost', error: fact.error, updatedAt: at};
				break;
			}
		}

		this.#tasks.put(next);
		if (fact.type === 'task.cancelled') {
			return {type: fact.type, task: next, by: fact.by, id: revision, at};
		}

		return 'reason' in fact ? {type: fact.type, task: next, reason: fact.reason, id: revision, at} : {type: fact.type, task: next, id: revision, at};
	}

	/** Frees the slot a placed command task held on its drone. */
	#release(task: Task): void {
		if (runsOnDrone(task.kind) && task.drone !== undefined && (task.state === 'dispatched' || task.state === 'running')) {
			this.#drones.addRunning(task.drone, -1);
		}
	}

	/** The facts of a drone's going: the drone, then each of its unfinished tasks requeued or lost. */
	#removal(name: string, type: 'drone.left' | 'drone.evicted', reason: string, at: number): Fact[] {
		const what = type === 'drone.left' ? `${name} left` : `${name} was evicted`;
		return [
			type === 'drone.left' ? {type, at, drone: name} : {type, at, drone: name, reason},
			...this.#orphans(name, what, at),
		];
	}

	#orphans(name: string, why: string, at: number): Fact[] {
		return this.#tasks.onDrone(name).map(id => this.#requeueOrLose(this.#tasks.get(id)!, name, why, at));
	}

	#requeueOrLose(task: Task, drone: string, why: string, at: number): Fact {
		return task.retries < this.#taskRetries
			? {type: 'task.requeued', at, id: task.id, drone, reason: why}
			: {type: 'task.lost', at, id: task.id, drone, error: `${why} and the task was already placed ${task.retries + 1} times`};
	}

	#emitVolatile(body: EventBody): void {
		this.#events.emit({...body, id: undefined, at: this.#now()});
	}

	async #load(): Promise<void> {
		const loaded = await this.#store.load();
		this.#loadWarnings = loaded.warnings;
		if (loaded.image) {
			this.#drones.restore(loaded.image.drones, this.#now());
			this.#tasks.restore(loaded.image.tasks);
			// An image keeps tasks, not the slots they hold: each placed command task takes one again.
			for (const [drone, ids] of this.#tasks.placed()) {
				for (const id of ids) {
					if (runsOnDrone(this.#tasks.get(id)!.kind)) {
						this.#drones.addRunning(drone, 1);
					}
				}
			}
		}

		for (const {revision, fact} of loaded.facts) {
			this.#apply(fact, revision);
		}

		// A task placed on a drone the registry does not have (a store that writes a batch in parts stopped
		// between two): it goes back to the queue, or is lost, as for a drone removed.
		const at = this.#now();
		const strays: Fact[] = [];
		for (const [drone, ids] of this.#tasks.placed()) {
			if (!this.#drones.record(drone)) {
				for (const id of ids) {
					strays.push(this.#requeueOrLose(this.#tasks.get(id)!, drone, `${drone} is not in the registry`, at));
				}
			}
		}

		await this.#commit(strays);

		// Every drone gets a whole grace period from now; what was placed waits for its drone's word.
		this.#drones.seenAll(this.#now());
		for (const [drone, ids] of this.#tasks.placed()) {
			this.#unconfirmed.set(drone, new Set(ids));
		}
	}
}

function capacityOf(spec: DroneSpec): Pick<DroneRecord, 'slots' | 'allowExec' | 'contained' | 'runtimes' | 'labels'> {
	return {slots: spec.slots ?? 1, allowExec: spec.allowExec ?? false, ...(spec.contained === undefined ? {} : {contained: spec.contained}), ...(spec.runtimes?.length ? {runtimes: spec.runtimes} : {}), labels: {...spec.labels}};
}

function sameTask(task: Task, spec: TaskSpec): boolean {
	return canonical(what(task)) === canonical(what(spec)) && canonical(task.selector) === canonical(spec.selector ?? {});
}

/** A value as JSON with every object's keys in order: two submits of one task compare equal however their keys came. */
function canonical(value: unknown): string {
	return JSON.stringify(value, (_key, each: unknown) => (each !== null && typeof each === 'object' && !Array.isArray(each)
		? Object.fromEntries(Object.entries(each).sort(([a], [b]) => (a < b ? -1 : (a > b ? 1 : 0))))
		: each));
}

/** What a task does, and nothing else of it: its kind and its text, command or container. */
function what(task: TaskSpec | Task): Omit<SubmittedTask, 'id' | 'selector' | 'idempotencyKey'> {
	switch (task.kind) {
		case 'text': {
			return {kind: 'text', text: task.text};
		}

		case 'command': {
			return {kind: 'command', command: task.command};
		}

		case 'container': {
			return {kind: 'container', container: task.container};
		}
	}
}
