import {randomUUID} from 'node:crypto';
import type {TaskResult} from '../http/schemas.js';

/**
The queen's state — drones, tasks, the pending queue — and its typed events: the one source of truth.
Everything that changes the hive goes through a method here, and every change is an event
(`subscribe`). No I/O here: the heartbeat monitor and the dispatcher do the calls and report back.
*/

export type DroneState = 'ready' | 'suspect';

export type Labels = Readonly<Record<string, string>>;

export type Drone = {
	readonly name: string;
	readonly address: string;
	readonly state: DroneState;
	readonly registeredAt: number;
	/** When the drone last answered a heartbeat (ms since the epoch). */
	readonly lastSeen: number | undefined;
	/** Failed heartbeat attempts in a row. */
	readonly failedAttempts: number;
	readonly tasksDone: number;
	readonly lastError: string | undefined;
	/** Command tasks it may run at once. */
	readonly slots: number;
	/** Whether it runs command tasks (`--allow-exec`). */
	readonly allowExec: boolean;
	readonly labels: Labels;
	/** Changes each time the drone process starts: a new one means its old tasks are gone. */
	readonly bootId: string | undefined;
	/** Command tasks placed on it and not finished (text tasks take no slot: they are done once printed). */
	readonly running: number;
};

export type DroneSpec = {
	readonly address: string;
	readonly name?: string | undefined;
	readonly slots?: number | undefined;
	readonly allowExec?: boolean | undefined;
	readonly labels?: Labels | undefined;
	readonly bootId?: string | undefined;
};

export type TaskState = 'pending' | 'dispatched' | 'running' | 'succeeded' | 'failed' | 'lost';
export type TaskKind = 'text' | 'command';

export const finalTaskStates: ReadonlySet<TaskState> = new Set(['succeeded', 'failed', 'lost']);

export type {TaskResult} from '../http/schemas.js';

export type TaskSpec =
	| {readonly kind: 'text'; readonly text: string; readonly selector?: Labels | undefined}
	| {readonly kind: 'command'; readonly command: string; readonly selector?: Labels | undefined};

export type Task = {
	readonly id: string;
	readonly kind: TaskKind;
	readonly text: string | undefined;
	readonly command: string | undefined;
	readonly selector: Labels;
	readonly state: TaskState;
	readonly drone: string | undefined;
	readonly submittedAt: number;
	readonly updatedAt: number;
	/** Drones that were asked to take it. */
	readonly attempts: number;
	/** Times it was placed again after its drone was lost. */
	readonly retries: number;
	/** Why it is pending. */
	readonly reason: string | undefined;
	/** Why it failed or was lost. */
	readonly error: string | undefined;
	readonly result: TaskResult | undefined;
};

type TaskEventType = 'task.submitted' | 'task.pending' | 'task.dispatched' | 'task.running' | 'task.succeeded' | 'task.failed' | 'task.lost';

type EventBody =
	| {readonly type: 'drone.registered'; readonly drone: string; readonly address: string; readonly again: boolean}
	| {readonly type: 'drone.left'; readonly drone: string; readonly address: string}
	| {readonly type: 'drone.evicted'; readonly drone: string; readonly address: string; readonly reason: string}
	| {readonly type: 'heartbeat.failed'; readonly drone: string; readonly address: string; readonly attempt: number; readonly maxRetry: number; readonly error: string}
	| {readonly type: 'heartbeat.recovered'; readonly drone: string; readonly address: string}
	| {readonly type: 'heartbeat.sweep'; readonly checked: number; readonly failed: number; readonly durationMs: number}
	| {readonly type: TaskEventType; readonly task: Task};

export type HiveEventType = EventBody['type'];
/** An event: `at` is ms since the epoch (clients see it as an ISO `time`). */
export type HiveEvent = EventBody & {readonly id: number; readonly at: number};
export type HiveListener = (event: HiveEvent) => void;

type Mutable<T> = {-readonly [K in keyof T]: T[K]};

export type HiveOptions = {
	/** Finished tasks kept. @default 10000 */
	readonly taskHistory?: number;
	/** Tasks waiting for a drone, at most; beyond, `submitTask` refuses. @default 10000 */
	readonly maxPending?: number;
	/** Times a task is placed again after its drone is lost. @default 2 */
	readonly taskRetries?: number;
	/** Events kept for clients that reconnect (`GET /events?since=`). @default 1000 */
	readonly eventBacklog?: number;
	readonly now?: () => number;
};

/** `submitTask` when `maxPending` tasks already wait. */
export class QueueFullError extends Error {
	override readonly name = 'QueueFullError';
	readonly code = 'ERR_HIVE_QUEUE_FULL';
}

export class Hive {
	readonly #drones = new Map<string, Mutable<Drone>>();
	readonly #namesByAddress = new Map<string, string>();
	/** Every name ever given, so that no name is given to a different drone while the queen runs. */
	readonly #usedNames = new Set<string>();
	#nextDroneNumber = 0;

	readonly #tasks = new Map<string, Mutable<Task>>();
	/** Pending tasks, oldest first (a Map keeps insertion order and deletes in O(1)). */
	readonly #pending = new Map<string, Mutable<Task>>();
	/** Unfinished tasks by drone, so that an eviction finds them without a scan. */
	readonly #tasksByDrone = new Map<string, Set<string>>();
	readonly #finishedTaskIds: string[] = [];
	readonly #taskHistory: number;
	readonly #maxPending: number;
	readonly #taskRetries: number;

	readonly #listeners = new Set<HiveListener>();
	readonly #backlog: HiveEvent[] = [];
	readonly #eventBacklog: number;
	#nextEventId = 1;
	readonly #delivering: HiveEvent[] = [];
	readonly #now: () => number;

	constructor(options: HiveOptions = {}) {
		this.#taskHistory = options.taskHistory ?? 10_000;
		this.#maxPending = options.maxPending ?? 10_000;
		this.#taskRetries = options.taskRetries ?? 2;
		this.#eventBacklog = options.eventBacklog ?? 1000;
		this.#now = options.now ?? Date.now;
	}

	// Drones

	/** Adds a drone, or refreshes one already known by address or by its requested name. */
	registerDrone(spec: DroneSpec): {readonly drone: Drone; readonly created: boolean} {
		const {address, name: requestedName} = spec;
		const now = this.#now();
		const knownName = requestedName ?? this.#namesByAddress.get(address);
		const known = knownName === undefined ? undefined : this.#drones.get(knownName);
		if (known) {
			if (known.address !== address) {
				// A named drone that moved: its old address is no longer it.
				this.#namesByAddress.delete(known.address);
				const other = this.#namesByAddress.get(address);
				if (other !== undefined) {
					this.#removeDrone(other, `its address was taken by ${known.name}`, 'drone.left');
				}

				this.#namesByAddress.set(address, known.name);
				known.address = address;
			}

			if (spec.bootId !== undefined && known.bootId !== undefined && spec.bootId !== known.bootId) {
				// The drone restarted before the queen noticed: what it was running died with it.
				this.#orphanTasks(known.name, 'restarted');
			}

			Object.assign(known, capacityOf(spec), {state: 'ready', failedAttempts: 0, lastSeen: now, lastError: undefined, bootId: spec.bootId ?? known.bootId});
			this.#emit({type: 'drone.registered', drone: known.name, address, again: true});
			return {drone: {...known}, created: false};
		}

		// A drone at a known address that now asks for another name is a different drone.
		const previous = this.#namesByAddress.get(address);
		if (previous !== undefined) {
			this.#removeDrone(previous, `its address was taken by a drone named ${requestedName}`, 'drone.left');
		}

		const name = requestedName ?? this.#newName();
		const again = this.#usedNames.has(name);
		this.#usedNames.add(name);
		const drone: Mutable<Drone> = {
			name,
			address,
			state: 'ready',
			registeredAt: now,
			lastSeen: now,
			failedAttempts: 0,
			tasksDone: 0,
			lastError: undefined,
			running: 0,
			bootId: spec.bootId,
			...capacityOf(spec),
		};
		this.#drones.set(name, drone);
		this.#namesByAddress.set(address, name);
		this.#emit({type: 'drone.registered', drone: name, address, again});
		return {drone: {...drone}, created: true};
	}

	/** A drone said it is leaving; its unfinished tasks are placed again. */
	deregisterDrone(address: string): Drone | undefined {
		const name = this.#namesByAddress.get(address);
		return name === undefined ? undefined : this.#removeDrone(name, 'its drone left', 'drone.left');
	}

	/** A drone stopped answering; its unfinished tasks are placed again or lost. */
	evictDrone(name: string, reason: string): Drone | undefined {
		return this.#removeDrone(name, reason, 'drone.evicted');
	}

	heartbeatSucceeded(name: string): void {
		const drone = this.#drones.get(name);
		if (!drone) {
			return;
		}

		drone.lastSeen = this.#now();
		if (drone.state !== 'ready' || drone.failedAttempts > 0) {
			drone.state = 'ready';
			drone.failedAttempts = 0;
			drone.lastError = undefined;
			this.#emit({type: 'heartbeat.recovered', drone: name, address: drone.address});
		}
	}

	/** Counts one failed attempt; returns the failures in a row (0 when the drone is gone). */
	heartbeatFailed(name: string, error: string, maxRetry: number): number {
		const drone = this.#drones.get(name);
		if (!drone) {
			return 0;
		}

		drone.failedAttempts += 1;
		drone.state = 'suspect';
		drone.lastError = error;
		this.#emit({type: 'heartbeat.failed', drone: name, address: drone.address, attempt: drone.failedAttempts, maxRetry, error});
		return drone.failedAttempts;
	}

	/** A call to the drone failed outside a heartbeat: no work for it until it answers again. */
	markSuspect(name: string, error: string): void {
		const drone = this.#drones.get(name);
		if (drone) {
			drone.state = 'suspect';
			drone.lastError = error;
		}
	}

	heartbeatSwept(checked: number, failed: number, durationMs: number): void {
		this.#emit({type: 'heartbeat.sweep', checked, failed, durationMs});
	}

	/** The live record, for the heartbeat monitor's hot path: read, never write. */
	peekDrone(name: string): Drone | undefined {
		return this.#drones.get(name);
	}

	drone(name: string): Drone | undefined {
		const drone = this.#drones.get(name);
		return drone && {...drone};
	}

	/** The live records, for the scheduler and the heartbeat monitor: read, never write. */
	droneRecords(): IterableIterator<Drone> {
		return this.#drones.values();
	}

	get droneCount(): number {
		return this.#drones.size;
	}

	drones(): Drone[] {
		return [...this.#drones.values()].map(drone => ({...drone}));
	}

	/** The seed's map: address → name. */
	droneMap(): Record<string, string> {
		return Object.fromEntries(this.#namesByAddress);
	}

	// Tasks

	/** Accepts a task as `pending`; throws `QueueFullError` when `maxPending` tasks already wait. */
	submitTask(spec: TaskSpec): Task {
		if (this.#pending.size >= this.#maxPending) {
			throw new QueueFullError(`the queue is full: ${this.#pending.size} tasks are waiting for a drone`);
		}

		const now = this.#now();
		const task: Mutable<Task> = {
			id: randomUUID(),
			kind: spec.kind,
			text: spec.kind === 'text' ? spec.text : undefined,
			command: spec.kind === 'command' ? spec.command : undefined,
			selector: spec.selector ?? {},
			state: 'pending',
			drone: undefined,
			submittedAt: now,
			updatedAt: now,
			attempts: 0,
			retries: 0,
			reason: undefined,
			error: undefined,
			result: undefined,
		};
		this.#tasks.set(task.id, task);
		this.#pending.set(task.id, task);
		this.#emit({type: 'task.submitted', task: {...task}});
		return {...task};
	}

	/** Pending tasks, oldest first: live records, read, never write. */
	pendingTasks(): IterableIterator<Task> {
		return this.#pending.values();
	}

	get pendingCount(): number {
		return this.#pending.size;
	}

	/** A pending task still waits; says why (an event only when the reason changes). */
	taskWaiting(id: string, reason: string): void {
		const task = this.#pending.get(id);
		if (task && task.reason !== reason) {
			this.#update(task, {reason}, 'task.pending');
		}
	}

	/** The scheduler chose a drone: the task holds a place on it while the drone is asked. */
	taskDispatched(id: string, droneName: string): Task | undefined {
		const task = this.#pending.get(id);
		const drone = this.#drones.get(droneName);
		if (!task || !drone) {
			return undefined;
		}

		this.#pending.delete(id);
		task.attempts += 1;
		if (task.kind === 'command') {
			drone.running += 1;
		}

		this.#tasksOf(droneName).add(id);
		return this.#update(task, {state: 'dispatched', drone: droneName, reason: undefined}, 'task.dispatched');
	}

	/** The drone did not take it: it waits again, first in line. */
	taskRefused(id: string, reason: string): Task | undefined {
		const task = this.#tasks.get(id);
		if (!task || task.state !== 'dispatched') {
			return undefined;
		}

		this.#release(task);
		this.#requeueFirst(task);
		return this.#update(task, {state: 'pending', drone: undefined, reason}, 'task.pending');
	}

	/** A text task its drone printed after the queen had queued it again (the drone was lost mid-call): done. */
	textTaskDeliveredLate(id: string, droneName: string): Task | undefined {
		const task = this.#pending.get(id);
		if (!task || task.kind !== 'text') {
			return undefined;
		}

		this.#pending.delete(id);
		return this.#update(task, {state: 'succeeded', drone: droneName, reason: undefined}, 'task.succeeded');
	}

	/** The drone accepted a command task and runs it. */
	taskRunning(id: string): Task | undefined {
		const task = this.#tasks.get(id);
		return task?.state === 'dispatched' ? this.#update(task, {state: 'running'}, 'task.running') : undefined;
	}

	/** The task's drone finished it. Ignored (undefined) when the task is no longer that drone's. */
	taskFinished(id: string, droneName: string, outcome: {readonly succeeded: boolean; readonly result?: TaskResult; readonly error?: string}): Task | undefined {
		const task = this.#tasks.get(id);
		if (!task || task.drone !== droneName || (task.state !== 'dispatched' && task.state !== 'running')) {
			return undefined;
		}

		this.#release(task);
		const drone = this.#drones.get(droneName);
		if (drone && outcome.succeeded) {
			drone.tasksDone += 1;
		}

		return this.#update(task, {state: outcome.succeeded ? 'succeeded' : 'failed', result: outcome.result, error: outcome.error}, outcome.succeeded ? 'task.succeeded' : 'task.failed');
	}

	/** A task that can never be placed (no drone at all): it fails now. */
	taskFailed(id: string, error: string): Task | undefined {
		const task = this.#tasks.get(id);
		if (!task || finalTaskStates.has(task.state)) {
			return undefined;
		}

		this.#release(task);
		this.#pending.delete(id);
		return this.#update(task, {state: 'failed', error}, 'task.failed');
	}

	/** The live record, for the dispatcher's checks on its hot path: read, never write. */
	peekTask(id: string): Task | undefined {
		return this.#tasks.get(id);
	}

	task(id: string): Task | undefined {
		const task = this.#tasks.get(id);
		return task && {...task};
	}

	/** Newest first, optionally of one state. */
	tasks(query: {readonly state?: TaskState; readonly limit?: number; readonly offset?: number} = {}): {readonly tasks: Task[]; readonly total: number} {
		const {state, limit = 100, offset = 0} = query;
		const tasks: Task[] = [];
		let total = 0;
		const all = [...this.#tasks.values()];
		for (let index = all.length - 1; index >= 0; index--) {
			const task = all[index]!;
			if (state !== undefined && task.state !== state) {
				continue;
			}

			if (total >= offset && tasks.length < limit) {
				tasks.push({...task});
			}

			total += 1;
		}

		return {tasks, total};
	}

	/** Counts of tasks by state. */
	taskCounts(): Record<TaskState, number> {
		const counts: Record<TaskState, number> = {pending: 0, dispatched: 0, running: 0, succeeded: 0, failed: 0, lost: 0};
		for (const task of this.#tasks.values()) {
			counts[task.state] += 1;
		}

		return counts;
	}

	// Events

	subscribe(listener: HiveListener): () => void {
		this.#listeners.add(listener);
		return () => this.#listeners.delete(listener);
	}

	/** Events after `id` still in the backlog, oldest first. */
	eventsSince(id: number): HiveEvent[] {
		return this.#backlog.filter(event => event.id > id);
	}

	#emit(body: EventBody): void {
		const event = {...body, id: this.#nextEventId++, at: this.#now()} as HiveEvent;
		this.#backlog.push(event);
		if (this.#backlog.length > this.#eventBacklog * 2) {
			this.#backlog.splice(0, this.#backlog.length - this.#eventBacklog);
		}

		// A listener may change the hive (the dispatcher places a task when room appears): the events that
		// makes wait until this one has reached every listener, so every listener sees them in id order.
		this.#delivering.push(event);
		if (this.#delivering.length > 1) {
			return;
		}

		try {
			for (let index = 0; index < this.#delivering.length; index++) {
				for (const listener of this.#listeners) {
					listener(this.#delivering[index]!);
				}
			}
		} finally {
			this.#delivering.length = 0;
		}
	}

	#removeDrone(name: string, reason: string, type: 'drone.left' | 'drone.evicted'): Drone | undefined {
		const drone = this.#drones.get(name);
		if (!drone) {
			return undefined;
		}

		this.#drones.delete(name);
		this.#namesByAddress.delete(drone.address);
		this.#emit(type === 'drone.left' ? {type, drone: name, address: drone.address} : {type, drone: name, address: drone.address, reason});
		this.#orphanTasks(name, type === 'drone.left' ? 'left' : 'was evicted');
		return {...drone};
	}

	/** A drone's unfinished tasks are placed again, at most `taskRetries` times each; then they are lost. */
	#orphanTasks(droneName: string, what: string): void {
		const ids = this.#tasksByDrone.get(droneName) ?? new Set();
		this.#tasksByDrone.delete(droneName);
		const drone = this.#drones.get(droneName);
		const again: Array<Mutable<Task>> = [];
		for (const id of ids) {
			const task = this.#tasks.get(id);
			if (!task || finalTaskStates.has(task.state)) {
				continue;
			}

			if (drone && task.kind === 'command' && drone.running > 0) {
				drone.running -= 1;
			}

			if (task.retries < this.#taskRetries) {
				again.push(task);
			} else {
				this.#update(task, {state: 'lost', error: `${droneName} ${what} and the task was already placed ${task.retries + 1} times`}, 'task.lost');
			}
		}

		// Back at the head of the queue, in the order they had: they have waited longest.
		this.#requeueFirst(...again);
		for (const task of again) {
			this.#update(task, {state: 'pending', drone: undefined, retries: task.retries + 1, reason: `placed again: ${droneName} ${what}`}, 'task.pending');
		}
	}

	#tasksOf(droneName: string): Set<string> {
		let ids = this.#tasksByDrone.get(droneName);
		if (!ids) {
			ids = new Set();
			this.#tasksByDrone.set(droneName, ids);
		}

		return ids;
	}

	/** Frees the place a task held on its drone. */
	#release(task: Mutable<Task>): void {
		if (task.drone === undefined) {
			return;
		}

		this.#tasksByDrone.get(task.drone)?.delete(task.id);
		const drone = this.#drones.get(task.drone);
		if (drone && task.kind === 'command' && drone.running > 0) {
			drone.running -= 1;
		}
	}

	/** Puts a task back at the head of the pending queue: it has waited longest. */
	#requeueFirst(...tasks: Array<Mutable<Task>>): void {
		if (tasks.length === 0) {
			return;
		}

		const rest = [...this.#pending.values()];
		this.#pending.clear();
		for (const task of tasks) {
			this.#pending.set(task.id, task);
		}

		for (const other of rest) {
			this.#pending.set(other.id, other);
		}
	}

	#newName(): string {
		let name: string;
		do {
			name = `drone-${this.#nextDroneNumber++}`;
		} while (this.#usedNames.has(name));
		return name;
	}

	#update(task: Mutable<Task>, change: Partial<Mutable<Task>>, type: TaskEventType): Task {
		Object.assign(task, change, {updatedAt: this.#now()});
		const view = {...task};
		this.#emit({type, task: view});
		if (finalTaskStates.has(task.state)) {
			this.#finishedTaskIds.push(task.id);
			this.#forgetOldTasks();
		}

		return view;
	}

	#forgetOldTasks(): void {
		const excess = this.#finishedTaskIds.length - this.#taskHistory;
		// Trim in batches so that a busy queen does not shift a long array on every task.
		if (excess > Math.max(64, this.#taskHistory / 8) || (this.#taskHistory === 0 && excess > 0)) {
			for (const id of this.#finishedTaskIds.splice(0, excess)) {
				this.#tasks.delete(id);
			}
		}
	}
}

function capacityOf(spec: DroneSpec): {slots: number; allowExec: boolean; labels: Labels} {
	return {slots: spec.slots ?? 1, allowExec: spec.allowExec ?? false, labels: {...spec.labels}};
}
