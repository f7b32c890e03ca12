import type {StreamEvent} from '../client/event-stream.js';
import type {DronesAnswer, DroneView, TaskView} from '../client/queen-client.js';
import {age, errorText} from './format.js';
import {shortId} from '../model.js';

/**
The dashboard's picture of the hive, outside React. Snapshots (`GET /drones`, `GET /tasks`) and events
(`GET /events`) are queued as they come and applied in one batch `flushMs` after the first of them, and
never sooner than `minIntervalMs` after the previous batch (so a quiet hive shows a change within 100 ms,
and a flood costs at most four batches a second). Only then is a new immutable snapshot made and
listeners told, and only when something the dashboard shows has changed. React reads it with
`useSyncExternalStore`, so a flood of events costs one render per batch, not one per event.
*/

/** `GET /drones` as the dashboard reads it: fields newer than the queen may be missing. */
export type DronesSnapshot = Omit<DronesAnswer, 'drones'> & {readonly drones: ReadonlyArray<Omit<DroneRow, 'lastSeenAt'>>};

/** A drone as the dashboard shows it; capacity and labels are optional, so it can attach to an older queen. */
export type DroneRow = Omit<DroneView, 'slots' | 'running' | 'allowExec' | 'labels'> & Partial<Pick<DroneView, 'slots' | 'running' | 'allowExec' | 'labels'>> & {
	/** When it last answered, on this machine's clock (the queen's may differ). */
	readonly lastSeenAt: number | undefined;
	/** Takes no new tasks (a queen too old to say: undefined). */
	readonly cordoned?: boolean;
	/** A drain under way (null or undefined: none). */
	readonly drain?: {readonly startedAt: string; readonly deadline: string | null} | null;
};

export type LogTone = 'info' | 'good' | 'warn' | 'bad';

export type LogEntry = {readonly id: number; readonly time: string; readonly tone: LogTone; readonly text: string};

export type Sweep = {readonly checked: number; readonly failed: number; readonly durationMs: number};

/**
The queen the dashboard reads and who leads, as that queen's `/healthz` says. Several queens share one
store; one leads, the others (followers) pass every call on to it.
*/
export type QueenSeen = {
	/** The queen read (its `address`, or the host:port dialled when it does not say). */
	readonly address: string;
	readonly version: string | undefined;
	/** Undefined: a queen too old to say, which leads itself. */
	readonly role: 'leader' | 'follower' | undefined;
	/** The leader's host:port; null while none leads (a failover under way). */
	readonly leader: string | null;
	/** The leader's epoch; null for a queen alone (no shared store). */
	readonly epoch: number | null;
	/**
	When the queen read started (its `/healthz` `startedAt`, ISO): the header's uptime; another value at the
	same address is a restarted queen, whose state replaces what was shown. Undefined: a queen too old to say
	(optional, so that a `QueenSeen` written before it still is one).
	*/
	readonly startedAt?: string | undefined;
};

export type HiveSnapshot = {
	/** The queen(s) the dashboard was pointed at, as given (`host:port`, or several separated by commas). */
	readonly queenHost: string;
	/** The queen's version, from `/healthz`. */
	readonly queenVersion: string | undefined;
	/** The queen read and who leads; undefined until one answers. */
	readonly queen: QueenSeen | undefined;
	readonly connected: boolean;
	/** Why the dashboard cannot read the queen, if it cannot. */
	readonly error: string | undefined;
	/** Since when what is shown may be out of date: the connection was lost then (undefined while connected). */
	readonly staleSince: number | undefined;
	/** When this snapshot was made (ages are computed against it). */
	readonly now: number;
	readonly startedAt: number;
	/** Sorted by name (drone-2 before drone-10). */
	readonly drones: readonly DroneRow[];
	readonly readyDrones: number;
	readonly maxRetry: number | undefined;
	/** Newest first, at most `taskLimit`. */
	readonly tasks: readonly TaskView[];
	/** Oldest first, at most `logSize`. */
	readonly log: readonly LogEntry[];
	/** Tasks seen handed to a drone since the dashboard attached (including the queen's recent history). */
	readonly dispatched: number;
	/** Tasks dispatched per second over the last 10 s. */
	readonly dispatchRate: number;
	readonly lastSweep: Sweep | undefined;
	/**
	When data last came from a queen (an event, a `GET /drones` or `/tasks` answer, a reload), on this
	machine's clock: what a disconnected header ages ("last update 12s ago"). It goes into the next snapshot
	made, but makes none by itself: a refresh that changed nothing renders nothing.
	*/
	readonly lastUpdateAt: number | undefined;
	/**
	Goes up each time a reload replaced everything (a new leader, a restarted queen; the first snapshot too):
	what the UI showed by position (a selected row, a scroll) belongs to a hive that is gone, and is reset.
	*/
	readonly generation: number;
};

export type HiveStoreOptions = {
	/** The queen(s) as given (`--queen-host`): shown until one answers. */
	readonly queenHost: string;
	/** Wait between a first update and the snapshot that shows it. @default 100 */
	readonly flushMs?: number;
	/** Shortest time between two snapshots (under a flood of updates). @default 250, or `flushMs` if longer */
	readonly minIntervalMs?: number;
	/** Lines kept in the event log. @default 500 */
	readonly logSize?: number;
	/** Tasks kept. @default 1000 */
	readonly taskLimit?: number;
	readonly now?: () => number;
};

type Update =
	| {readonly kind: 'event'; readonly event: StreamEvent}
	| {readonly kind: 'drones'; readonly answer: DronesSnapshot; readonly fetchedAt: number}
	| {readonly kind: 'tasks'; readonly tasks: readonly TaskView[]}
	| {readonly kind: 'status'; readonly connected: boolean; readonly error: string | undefined; readonly queenVersion?: string}
	| {readonly kind: 'queen'; readonly queen: QueenSeen}
	| {readonly kind: 'reload'; readonly drones: DronesSnapshot; readonly fetchedAt: number; readonly tasks: readonly TaskView[]}
	| {readonly kind: 'note'; readonly tone: LogTone; readonly text: string; readonly at: number};

const rateWindowMs = 10_000;
const collator = new Intl.Collator('en', {numeric: true});
const byName = (a: DroneRow, b: DroneRow): number => collator.compare(a.name, b.name);

export class HiveStore {
	#logSeq = 0;
	readonly #flushMs: number;
	readonly #minIntervalMs: number;
	readonly #logSize: number;
	readonly #taskLimit: number;
	readonly #now: () => number;
	readonly #listeners = new Set<() => void>();
	#pending: Update[] = [];
	#timer: NodeJS.Timeout | undefined;
	/** When the last flush ran (performance.now(): timers only, not the snapshot's clock). */
	#lastFlush = Number.NEGATIVE_INFINITY;

	#drones = new Map<string, DroneRow>();
	/** Insertion order is oldest first. */
	readonly #tasks = new Map<string, TaskView>();
	#log: LogEntry[] = [];
	#dispatchTimes: number[] = [];
	/** The drones sorted by name, while no drone has come or gone (a refresh keeps the order). */
	#order: DroneRow[] = [];
	#orderValid = true;
	/** When the last update from a queen was queued (a flush puts it into the snapshot). */
	#lastUpdateAt: number | undefined;
	#snapshot: HiveSnapshot;

	constructor(options: HiveStoreOptions) {
		this.#flushMs = options.flushMs ?? 100;
		this.#minIntervalMs = options.minIntervalMs ?? Math.max(250, this.#flushMs);
		this.#logSize = options.logSize ?? 500;
		this.#taskLimit = options.taskLimit ?? 1000;
		this.#now = options.now ?? Date.now;
		const now = this.#now();
		this.#snapshot = {
			queenHost: options.queenHost,
			queenVersion: undefined,
			queen: undefined,
			connected: false,
			error: undefined,
			staleSince: undefined,
			now,
			startedAt: now,
			drones: [],
			readyDrones: 0,
			maxRetry: undefined,
			tasks: [],
			log: [],
			dispatched: 0,
			dispatchRate: 0,
			lastSweep: undefined,
			lastUpdateAt: undefined,
			generation: 0,
		};
	}

	// For useSyncExternalStore: stable references, a new snapshot only after a flush.
	readonly subscribe = (listener: () => void): (() => void) => {
		this.#listeners.add(listener);
		return () => this.#listeners.delete(listener);
	};

	readonly getSnapshot = (): HiveSnapshot => this.#snapshot;

	pushEvent(event: StreamEvent): void {
		this.#lastUpdateAt = this.#now();
		this.#queue({kind: 'event', event});
	}

	setDrones(answer: DronesSnapshot, fetchedAt = this.#now()): void {
		this.#lastUpdateAt = this.#now();
		this.#queue({kind: 'drones', answer, fetchedAt});
	}

	/** Tasks as `GET /tasks` gives them: newest first. */
	setTasks(tasks: readonly TaskView[]): void {
		this.#lastUpdateAt = this.#now();
		this.#queue({kind: 'tasks', tasks});
	}

	setStatus(connected: boolean, error?: string, queenVersion?: string): void {
		this.#queue({kind: 'status', connected, error, queenVersion});
	}

	/** Which queen is read and who leads (its `/healthz`). */
	setQueen(queen: QueenSeen): void {
		this.#queue({kind: 'queen', queen});
	}

	/**
	The whole hive again, from a queen that may not be the one read before (another leader, a restarted
	queen): its drones and tasks replace what was known, rather than being merged with it; the last sweep is
	forgotten (a new leader counts heartbeats afresh), and `generation` goes up. Events queued after it are
	applied on top.
	*/
	reload(drones: DronesSnapshot, tasks: readonly TaskView[], fetchedAt = this.#now()): void {
		this.#lastUpdateAt = this.#now();
		this.#queue({kind: 'reload', drones, tasks, fetchedAt});
	}

	/** A line of the dashboard's own in the event log (a new leader, a lost one). */
	note(tone: LogTone, text: string): void {
		this.#queue({kind: 'note', tone, text, at: this.#now()});
	}

	/** A flush even without updates: a new snapshot if time moving on shows (the header's uptime). */
	tick(): void {
		this.#queue(undefined);
	}

	/**
	Applies every queued update and, if that changed anything the dashboard shows, makes a new snapshot
	and tells listeners once. Normally run by the timer.
	*/
	flush(): void {
		clearTimeout(this.#timer);
		this.#timer = undefined;
		this.#lastFlush = performance.now();
		const updates = this.#pending;
		this.#pending = [];
		const previous = this.#snapshot;
		let {connected, error, queenVersion, queen, maxRetry, lastSweep, dispatched, generation} = previous;
		let dronesChanged = false;
		let tasksChanged = false;
		const newLog: LogEntry[] = [];
		for (const update of updates) {
			switch (update.kind) {
				case 'status': {
					connected = update.connected;
					error = update.error;
					queenVersion = update.queenVersion ?? queenVersion;
					break;
				}

				case 'queen': {
					if (!sameQueen(queen, update.queen)) {
						queen = update.queen;
					}

					queenVersion = update.queen.version ?? queenVersion;
					break;
				}

				case 'drones': {
					dronesChanged = this.#replaceDrones(update.answer, update.fetchedAt) || dronesChanged;
					maxRetry = update.answer.maxRetry;
					break;
				}

				case 'reload': {
					dronesChanged = this.#replaceDrones(update.drones, update.fetchedAt) || dronesChanged;
					maxRetry = update.drones.maxRetry;
					dispatched += this.#replaceTasks(update.tasks);
					tasksChanged = true;
					lastSweep = undefined;
					generation++;
					break;
				}

				case 'note': {
					newLog.push({id: ++this.#logSeq, time: clockTime(new Date(update.at).toISOString()), tone: update.tone, text: update.text});
					break;
				}

				case 'tasks': {
					for (let index = update.tasks.length - 1; index >= 0; index--) {
						dispatched += this.#upsertTask(update.tasks[index]!);
					}

					tasksChanged ||= update.tasks.length > 0;
					break;
				}

				case 'event': {
					const {event} = update;
					if (event.type.startsWith('task.') && isTask(event.task)) {
						dispatched += this.#upsertTask(event.task, event.time);
						tasksChanged = true;
					} else if (event.type === 'heartbeat.sweep') {
						const sweep = {checked: Number(event.checked), failed: Number(event.failed), durationMs: Number(event.durationMs)};
						if (sweep.checked !== lastSweep?.checked || sweep.failed !== lastSweep.failed || sweep.durationMs !== lastSweep.durationMs) {
							lastSweep = sweep;
						}
					} else {
						dronesChanged = this.#applyDroneEvent(event) || dronesChanged;
						if (event.type === 'heartbeat.failed' && typeof event.maxRetry === 'number') {
							maxRetry = event.maxRetry;
						}
					}

					const entry = describeEvent(event);
					if (entry) {
						// Heartbeat events carry no id (the queen's store does not keep them): the log numbers its lines.
						newLog.push({...entry, id: ++this.#logSeq});
					}

					break;
				}
			}
		}

		const now = this.#now();
		const horizon = now - rateWindowMs;
		if (this.#dispatchTimes.length > 0 && this.#dispatchTimes[0]! <= horizon) {
			this.#dispatchTimes = this.#dispatchTimes.filter(time => time > horizon);
		}

		const dispatchRate = this.#dispatchTimes.length / (rateWindowMs / 1000);
		const staleSince = connected ? undefined : previous.staleSince ?? (previous.connected ? now : undefined);
		const changed = dronesChanged || tasksChanged || newLog.length > 0
			|| connected !== previous.connected || error !== previous.error || queenVersion !== previous.queenVersion || queen !== previous.queen
			|| maxRetry !== previous.maxRetry || lastSweep !== previous.lastSweep || dispatched !== previous.dispatched
			|| dispatchRate !== previous.dispatchRate || generation !== previous.generation
			// The header's uptime.
			|| age(now - previous.startedAt) !== age(previous.now - previous.startedAt);
		if (!changed) {
			return;
		}

		let {log} = previous;
		if (newLog.length > 0) {
			this.#log = [...this.#log, ...newLog].slice(-this.#logSize);
			log = this.#log;
		}

		let {drones, readyDrones} = previous;
		if (dronesChanged) {
			if (!this.#orderValid) {
				this.#order = [...this.#drones.values()].sort(byName);
				this.#orderValid = true;
			}

			this.#order = this.#order.map(drone => this.#drones.get(drone.name)!);
			drones = this.#order;
			readyDrones = 0;
			for (const drone of drones) {
				readyDrones += drone.state === 'ready' ? 1 : 0;
			}
		}

		this.#snapshot = {
			...previous,
			connected,
			error,
			staleSince,
			queenVersion,
			queen,
			now,
			drones,
			readyDrones,
			maxRetry,
			tasks: tasksChanged ? [...this.#tasks.values()].reverse() : previous.tasks,
			log,
			dispatched,
			dispatchRate,
			lastSweep,
			lastUpdateAt: this.#lastUpdateAt,
			generation,
		};
		for (const listener of this.#listeners) {
			listener();
		}
	}

	/** Stops the flush timer (the dashboard is closing). */
	close(): void {
		clearTimeout(this.#timer);
		this.#timer = undefined;
		this.#pending = [];
	}

	#queue(update: Update | undefined): void {
		if (update) {
			this.#pending.push(update);
		}

		// The first update after a quiet spell shows after flushMs; under a flood, batches are minIntervalMs apart.
		this.#timer ??= setTimeout(() => {
			this.flush();
		}, Math.max(this.#flushMs, this.#lastFlush + this.#minIntervalMs - performance.now()));
	}

	/** `GET /drones`: drones that did not change keep their row (and React its rendering); true if any changed. */
	#replaceDrones(answer: DronesSnapshot, fetchedAt: number): boolean {
		const next = new Map<string, DroneRow>();
		let changed = false;
		for (const drone of answer.drones) {
			const row: DroneRow = {...drone, lastSeenAt: drone.lastSeenAgoMs === null ? undefined : fetchedAt - drone.lastSeenAgoMs};
			const known = this.#drones.get(drone.name);
			if (known === undefined) {
				this.#orderValid = false;
			}

			if (known !== undefined && sameDrone(known, row)) {
				next.set(drone.name, known);
			} else {
				next.set(drone.name, row);
				changed = true;
			}
		}

		if (next.size !== this.#drones.size) {
			this.#orderValid = false;
			changed = true;
		}

		this.#drones = next;
		return changed;
	}

	/** `GET /tasks` (newest first) in place of every task known; returns how many are newly seen with a drone. */
	#replaceTasks(tasks: readonly TaskView[]): number {
		const known = new Map(this.#tasks);
		this.#tasks.clear();
		let dispatched = 0;
		for (let index = Math.min(tasks.length, this.#taskLimit) - 1; index >= 0; index--) {
			const task = tasks[index]!;
			this.#tasks.set(task.id, task);
			dispatched += task.drone && !known.get(task.id)?.drone ? 1 : 0;
		}

		return dispatched;
	}

	/** Returns 1 when this is the first time the task is seen with a drone (a dispatch). */
	#upsertTask(task: TaskView, time?: string): number {
		const previous = this.#tasks.get(task.id);
		if (previous && Date.parse(task.updatedAt) < Date.parse(previous.updatedAt)) {
			// An older picture of it (the backlog replayed over a snapshot): what is known is newer. Taken, it
			// would show the task going back, and count its dispatch twice.
			return 0;
		}

		if (previous) {
			this.#tasks.set(task.id, {...previous, ...task});
		} else {
			this.#tasks.set(task.id, task);
			if (this.#tasks.size > this.#taskLimit) {
				this.#tasks.delete(this.#tasks.keys().next().value!);
			}
		}

		if (task.drone && !previous?.drone) {
			if (time !== undefined) {
				this.#dispatchTimes.push(Date.parse(time));
			}

			return 1;
		}

		return 0;
	}

	#applyDroneEvent(event: StreamEvent): boolean {
		const name = typeof event.drone === 'string' ? event.drone : undefined;
		if (name === undefined) {
			return false;
		}

		const drone = this.#drones.get(name);
		const now = this.#now();
		switch (event.type) {
			case 'drone.registered': {
				const address = String(event.address);
				this.#orderValid &&= drone !== undefined;
				this.#drones.set(name, drone
					? {...drone, address, state: 'ready', failedAttempts: 0, lastError: null, lastSeenAt: now}
					: {name, address, state: 'ready', registeredAt: event.time, lastSeen: event.time, lastSeenAgoMs: 0, failedAttempts: 0, tasksDone: 0, lastError: null, lastSeenAt: now});
				return true;
			}

			case 'drone.cordoned':
			case 'drone.uncordoned':
			case 'drone.draining':
			case 'drone.drained': {
				if (drone) {
					const cordoned = event.type !== 'drone.uncordoned';
					const drain = event.type === 'drone.draining' ? {startedAt: drone.drain?.startedAt ?? event.time, deadline: typeof event.deadline === 'string' ? event.deadline : null} : null;
					this.#drones.set(name, {...drone, cordoned, drain});
				}

				return drone !== undefined;
			}

			case 'drone.left':
			case 'drone.evicted': {
				const deleted = this.#drones.delete(name);
				this.#orderValid &&= !deleted;
				return deleted;
			}

			case 'heartbeat.failed': {
				if (drone) {
					this.#drones.set(name, {...drone, state: 'suspect', failedAttempts: Number(event.attempt), lastError: String(event.error)});
				}

				return drone !== undefined;
			}

			case 'heartbeat.recovered': {
				if (drone) {
					this.#drones.set(name, {...drone, state: 'ready', failedAttempts: 0, lastError: null, lastSeenAt: now});
				}

				return drone !== undefined;
			}

			default: {
				return false;
			}
		}
	}
}

function sameQueen(a: QueenSeen | undefined, b: QueenSeen): boolean {
	return a !== undefined && a.address === b.address && a.version === b.version && a.role === b.role && a.leader === b.leader && a.epoch === b.epoch && a.startedAt === b.startedAt;
}

/** Two rows of the same drone with the same fields (labels compared by value). */
function sameDrone(a: DroneRow, b: DroneRow): boolean {
	const keys = Object.keys(a) as Array<keyof DroneRow>;
	if (keys.length !== Object.keys(b).length) {
		return false;
	}

	for (const key of keys) {
		const x = a[key];
		const y = b[key];
		if (x === y) {
			continue;
		}

		if ((key !== 'labels' && key !== 'drain') || typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) {
			return false;
		}

		// Labels and a drain: objects of strings, alike when their entries are.
		const other = y as Readonly<Record<string, unknown>>;
		const entries = Object.entries(x);
		if (entries.length !== Object.keys(other).length || entries.some(([name, value]) => other[name] !== value)) {
			return false;
		}
	}

	return true;
}

/**
A task as the detail view shows it: its state as the list knows it now, with what only its whole record
has (`GET /tasks/:id`): the output, and the text, command or container's command that the list carries cut.
*/
export function withRecord(known: TaskView, record: TaskView): TaskView {
	return {
		...record,
		...known,
		text: record.text,
		command: record.command,
		container: record.container,
		result: known.result && record.result ? {...record.result, ...known.result} : known.result ?? record.result,
	};
}

function isTask(value: unknown): value is TaskView {
	return typeof value === 'object' && value !== null && typeof (value as {id?: unknown}).id === 'string';
}

/** What the event log says about an event; undefined for those it leaves to other panes. */
export function describeEvent(event: StreamEvent): LogEntry | undefined {
	const entry = (tone: LogTone, text: string): LogEntry => ({id: event.id ?? 0, time: clockTime(event.time), tone, text});
	const task = isTask(event.task) ? event.task : undefined;
	switch (event.type) {
		case 'drone.registered': {
			return entry('good', `${String(event.drone)} registered${event.again ? ' again' : ''} at ${String(event.address)}`);
		}

		case 'drone.left': {
			return entry('info', `${String(event.drone)} left (${String(event.address)})`);
		}

		case 'drone.evicted': {
			return entry('bad', `${String(event.drone)} evicted: ${String(event.reason)}`);
		}

		case 'heartbeat.failed': {
			return entry('warn', `${String(event.drone)} heartbeat failed ${String(event.attempt)}/${String(event.maxRetry)}: ${errorText(String(event.error))}`);
		}

		case 'heartbeat.recovered': {
			return entry('good', `${String(event.drone)} answers heartbeats again`);
		}

		case 'heartbeat.sweep': {
			return undefined;
		}

		case 'drone.cordoned': {
			return entry('warn', `${String(event.drone)} cordoned by ${String(event.by)}: no new tasks`);
		}

		case 'drone.uncordoned': {
			return entry('good', `${String(event.drone)} uncordoned by ${String(event.by)}`);
		}

		case 'drone.draining': {
			return entry('warn', `${String(event.drone)} draining (by ${String(event.by)}${typeof event.deadline === 'string' ? `, deadline ${clockTime(event.deadline)}` : ''})`);
		}

		case 'drone.drained': {
			return entry('info', `${String(event.drone)} drained: nothing runs there`);
		}

		default: {
			if (task) {
				// Task outcomes that need attention; the task list shows the rest.
				if (event.type === 'task.failed' || event.type === 'task.lost') {
					return entry('bad', `task ${shortId(task.id)} ${task.state}: ${task.error ?? task.reason ?? ''}`.trimEnd());
				}

				if (event.type === 'task.cancelled') {
					return entry('warn', `task ${shortId(task.id)} cancelled by ${String(event.by)}`);
				}

				return undefined;
			}

			return entry('info', event.type);
		}
	}
}

/** `HH:MM:SS` of an ISO time, on this machine's clock. */
export function clockTime(iso: string): string {
	const date = new Date(iso);
	if (Number.isNaN(date.getTime())) {
		return '--:--:--';
	}

	return [date.getHours(), date.getMinutes(), date.getSeconds()].map(part => String(part).padStart(2, '0')).join(':');
}
