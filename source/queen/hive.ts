import {randomUUID} from 'node:crypto';

/**
The queen's state — drones, tasks — and its typed events: the one source of truth. Everything that
changes the hive goes through a method here, and every change is an event (`subscribe`). No I/O here:
the heartbeat monitor and the dispatcher do the calls and report back.
*/

export type DroneState = 'ready' | 'suspect';

export type Drone = {
	readonly name: string;
	readonly address: string;
	readonly state: DroneState;
	readonly registeredAt: number;
	/** When the drone last answered a heartbeat (ms since the epoch); undefined before the first. */
	readonly lastSeen: number | undefined;
	/** Failed heartbeat attempts in a row. */
	readonly failedAttempts: number;
	readonly tasksDone: number;
	readonly lastError: string | undefined;
};

export type TaskState = 'pending' | 'dispatched' | 'running' | 'succeeded' | 'failed' | 'lost';

export const finalTaskStates: ReadonlySet<TaskState> = new Set(['succeeded', 'failed', 'lost']);

export type Task = {
	readonly id: string;
	readonly text: string;
	readonly state: TaskState;
	readonly drone: string | undefined;
	readonly submittedAt: number;
	readonly updatedAt: number;
	/** Drones that were asked to take it. */
	readonly attempts: number;
	readonly error: string | undefined;
};

type EventBody =
	| {readonly type: 'drone.registered'; readonly drone: string; readonly address: string; readonly again: boolean}
	| {readonly type: 'drone.left'; readonly drone: string; readonly address: string}
	| {readonly type: 'drone.evicted'; readonly drone: string; readonly address: string; readonly reason: string}
	| {readonly type: 'heartbeat.failed'; readonly drone: string; readonly address: string; readonly attempt: number; readonly maxRetry: number; readonly error: string}
	| {readonly type: 'heartbeat.recovered'; readonly drone: string; readonly address: string}
	| {readonly type: 'heartbeat.sweep'; readonly checked: number; readonly failed: number; readonly durationMs: number}
	| {readonly type: 'task.submitted'; readonly task: Task}
	| {readonly type: 'task.dispatched'; readonly task: Task}
	| {readonly type: 'task.succeeded'; readonly task: Task}
	| {readonly type: 'task.failed'; readonly task: Task};

export type HiveEventType = EventBody['type'];
export type HiveEvent = EventBody & {readonly id: number; readonly time: string};
export type HiveListener = (event: HiveEvent) => void;

type Mutable<T> = {-readonly [K in keyof T]: T[K]};

export type HiveOptions = {
	/** Finished tasks kept. @default 10000 */
	readonly taskHistory?: number;
	/** Events kept for clients that reconnect (`GET /events?since=`). @default 1000 */
	readonly eventBacklog?: number;
	readonly now?: () => number;
};

export class Hive {
	readonly #drones = new Map<string, Mutable<Drone>>();
	readonly #namesByAddress = new Map<string, string>();
	/** Every name ever given, so that no name is given to a different drone while the queen runs. */
	readonly #usedNames = new Set<string>();
	#nextDroneNumber = 0;

	readonly #tasks = new Map<string, Mutable<Task>>();
	readonly #finishedTaskIds: string[] = [];
	readonly #taskHistory: number;

	readonly #listeners = new Set<HiveListener>();
	readonly #backlog: HiveEvent[] = [];
	readonly #eventBacklog: number;
	#nextEventId = 1;
	readonly #now: () => number;

	constructor(options: HiveOptions = {}) {
		this.#taskHistory = options.taskHistory ?? 10_000;
		this.#eventBacklog = options.eventBacklog ?? 1000;
		this.#now = options.now ?? Date.now;
	}

	// Drones

	/** Adds a drone, or refreshes one already known by address or by its requested name. */
	registerDrone(address: string, requestedName?: string): {readonly drone: Drone; readonly created: boolean} {
		const now = this.#now();
		const knownName = requestedName ?? this.#namesByAddress.get(address);
		const known = knownName === undefined ? undefined : this.#drones.get(knownName);
		if (known && (requestedName === undefined || known.address === address || requestedName === known.name)) {
			if (known.address !== address) {
				// A named drone that moved: its old address is no longer it.
				this.#namesByAddress.delete(known.address);
				this.#namesByAddress.set(address, known.name);
				(known as {address: string}).address = address;
			}

			known.state = 'ready';
			known.failedAttempts = 0;
			known.lastSeen = now;
			this.#emit({type: 'drone.registered', drone: known.name, address, again: true});
			return {drone: {...known}, created: false};
		}

		// A drone at a known address that now asks for another name is a different drone.
		const previous = this.#namesByAddress.get(address);
		if (previous !== undefined) {
			this.#removeDrone(previous);
		}

		const name = requestedName ?? this.#newName();
		const again = this.#usedNames.has(name);
		this.#usedNames.add(name);
		const drone: Mutable<Drone> = {name, address, state: 'ready', registeredAt: now, lastSeen: now, failedAttempts: 0, tasksDone: 0, lastError: undefined};
		this.#drones.set(name, drone);
		this.#namesByAddress.set(address, name);
		this.#emit({type: 'drone.registered', drone: name, address, again});
		return {drone: {...drone}, created: true};
	}

	/** A drone said it is leaving. */
	deregisterDrone(address: string): Drone | undefined {
		const name = this.#namesByAddress.get(address);
		const drone = name === undefined ? undefined : this.#removeDrone(name);
		if (drone) {
			this.#emit({type: 'drone.left', drone: drone.name, address: drone.address});
		}

		return drone;
	}

	evictDrone(name: string, reason: string): Drone | undefined {
		const drone = this.#removeDrone(name);
		if (drone) {
			this.#emit({type: 'drone.evicted', drone: drone.name, address: drone.address, reason});
		}

		return drone;
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

	/** A call to the drone failed outside a heartbeat: do not give it work until it answers again. */
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

	submitTask(text: string): Task {
		const now = this.#now();
		const task: Mutable<Task> = {id: randomUUID(), text, state: 'pending', drone: undefined, submittedAt: now, updatedAt: now, attempts: 0, error: undefined};
		this.#tasks.set(task.id, task);
		this.#emit({type: 'task.submitted', task: {...task}});
		return {...task};
	}

	taskDispatched(id: string, droneName: string): Task | undefined {
		return this.#updateTask(id, {state: 'dispatched', drone: droneName}, 'task.dispatched');
	}

	taskSucceeded(id: string): Task | undefined {
		const task = this.#updateTask(id, {state: 'succeeded'}, 'task.succeeded');
		const drone = task?.drone === undefined ? undefined : this.#drones.get(task.drone);
		if (drone) {
			drone.tasksDone += 1;
		}

		return task;
	}

	taskFailed(id: string, error: string): Task | undefined {
		return this.#updateTask(id, {state: 'failed', error}, 'task.failed');
	}

	/** Counts one drone asked to take the task. */
	taskAttempted(id: string): void {
		const task = this.#tasks.get(id);
		if (task) {
			task.attempts += 1;
		}
	}

	task(id: string): Task | undefined {
		const task = this.#tasks.get(id);
		return task && {...task};
	}

	/** Newest first. */
	tasks(limit = 100): Task[] {
		const result: Task[] = [];
		const all = [...this.#tasks.values()];
		for (let index = all.length - 1; index >= 0 && result.length < limit; index--) {
			result.push({...all[index]!});
		}

		return result;
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
		const event = {...body, id: this.#nextEventId++, time: new Date(this.#now()).toISOString()} as HiveEvent;
		this.#backlog.push(event);
		if (this.#backlog.length > this.#eventBacklog * 2) {
			this.#backlog.splice(0, this.#backlog.length - this.#eventBacklog);
		}

		for (const listener of this.#listeners) {
			listener(event);
		}
	}

	#removeDrone(name: string): Drone | undefined {
		const drone = this.#drones.get(name);
		if (!drone) {
			return undefined;
		}

		this.#drones.delete(name);
		this.#namesByAddress.delete(drone.address);
		return {...drone};
	}

	#newName(): string {
		let name: string;
		do {
			name = `drone-${this.#nextDroneNumber++}`;
		} while (this.#usedNames.has(name));
		return name;
	}

	#updateTask(id: string, change: Partial<Mutable<Task>>, type: 'task.dispatched' | 'task.succeeded' | 'task.failed'): Task | undefined {
		const task = this.#tasks.get(id);
		if (!task) {
			return undefined;
		}

		Object.assign(task, change, {updatedAt: this.#now()});
		const view = {...task};
		this.#emit({type, task: view});
		if (finalTaskStates.has(task.state)) {
			this.#finishedTaskIds.push(id);
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
