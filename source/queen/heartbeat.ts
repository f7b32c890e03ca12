import PQueue from 'p-queue';
import type {DroneClient} from '../client/drone-client.js';
import type {Logger} from '../log.js';
import type {Drone} from '../model.js';
import type {Hive} from './hive.js';

export type HeartbeatOptions = {
	readonly intervalMs: number;
	readonly maxRetry: number;
	readonly retryDelayMs: number;
	readonly timeoutMs: number;
	readonly concurrency: number;
	/**
	No eviction before this long after `start`: a restarted queen gives every drone it loaded a whole
	grace period (the drones could not be reached while it was down). @default 0
	*/
	readonly graceMs?: number;
	/**
	How long past a drone's own `--task-timeout` the queen waits for a command's result before it fails
	the task itself (the drone's reporter backs off to 5 s between tries). @default 10000
	*/
	readonly reportMarginMs?: number;
	/**
	Whether this queen leads now: a queen that does not (a leader paused past its lease) checks no drone,
	counts no failure and evicts nobody, even before it is told it was replaced. @default always
	*/
	readonly leads?: () => boolean;
	/** Hears the task ids a drone says it holds, when it holds any (the canceller stops those cancelled meanwhile). */
	readonly onHolding?: (drone: string, address: string, ids: readonly string[]) => void;
};

/** About how long one tick of the wheel lasts: 10,000 drones at a 2 s interval are 250 checks a tick. */
const tickTargetMs = 50;
/** Slots at most, whatever the interval: a drone joining looks through them for the emptiest. */
const maxSlots = 1200;

/** Where a drone sits on the wheel. */
type Place = {
	/** It is looked at on each tick whose index is this modulo the slot count. */
	slot: number;
	/** When it last answered a task batch (`performance.now()`), if it did. */
	heardAt: number | undefined;
};

/** One turn of the wheel (one interval): what its `heartbeat.sweep` event tells. */
type Turn = {
	checked: number;
	failed: number;
	/** Checks of this turn without the outcome of their first attempt yet. */
	pending: number;
	/** The longest a check of this turn took, from its tick's due time to its first attempt's outcome. */
	longestMs: number;
	/** Every slot of it has been looked at. */
	closed: boolean;
	/** This queen led at each of its ticks: a turn it did not lead is not reported. */
	led: boolean;
};

/**
The heartbeat monitor: a timing wheel of slots spread over one interval. Every tick (`intervalMs` divided
into slots of about 50 ms) the drones of the next slot are checked (`/healthz`, at most `concurrency` at
once), so each drone is checked once an interval at its own phase and the queen's CPU stays flat: no
burst of every drone's request at once. A failed attempt starts a chain on that drone alone: another
attempt `retryDelayMs` later, until one succeeds or `maxRetry` have failed in a row and the drone is
evicted. Nothing here holds the hive while it waits on the network: the hive is updated between calls.

A drone that answered a task batch (`heardFrom`) within the interval is not checked when its slot
comes: that answer was proof of life, and it moves to a slot at most one interval after the answer. It
is checked all the same when a check has work to do: it has command tasks placed there (their answer
settles them), it is suspect, or the queen awaits its first answer since a restart.

Eviction bound (a dead drone, whose port refuses at once). Every drone's next check is due at most one
interval after its last proof of life L (a check asked, a task batch answered, its registration): a
drone stays in its slot (one turn, `intervalMs`, between checks), is moved to a slot at or before
L + `intervalMs` when it answered a task, and a new drone is placed at or before its registration plus
`intervalMs` (slots are rounded down: a check may come up to one tick early, never late). A drone that
dies at D ≥ L therefore fails its first attempt by D + `intervalMs`, its last by D + `intervalMs` +
(`maxRetry` - 1) × `retryDelayMs`, and is evicted then: at defaults 2 s + 2 × 0.5 s = 3 s after it died,
plus what the refused calls and a late timer take (milliseconds; a stalled event loop delays all of it).
A drone that hangs (takes the connection, never answers) adds each attempt's `timeoutMs`: 2 + 3 × 1 +
2 × 0.5 = 6 s at defaults. A failed task call to a drone checks it at once (`checkNow`), sooner.

Each turn ends with a `heartbeat.sweep` event once each check of it has had its first attempt: the
drones it checked (not those skipped, nor those with a chain already under way), the first attempts
that failed, and `durationMs`, the longest one of them took from its slot's due time (a queen that
falls behind its wheel shows here).
*/
export class HeartbeatMonitor {
	readonly #hive: Hive;
	readonly #client: DroneClient;
	readonly #log: Logger;
	readonly #options: HeartbeatOptions;
	readonly #queue: PQueue;
	/** Drones with a check or a retry chain under way: their slot does not start a second one. */
	readonly #checking = new Set<string>();
	readonly #timers = new Set<NodeJS.Timeout>();
	readonly #leads: () => boolean;
	readonly #slotCount: number;
	readonly #tickMs: number;
	readonly #slots: Array<Set<string>>;
	readonly #places = new Map<string, Place>();
	/** Drones registered since the last tick: each is given a slot at the next tick, not at the turn's start. */
	readonly #joining = new Set<string>();
	#unsubscribe: (() => void) | undefined;
	/** `performance.now()` at `start`: tick `k` is due at `#origin + k × #tickMs`. */
	#origin = 0;
	/** The index of the next tick. */
	#tick = 0;
	#tickTimer: NodeJS.Timeout | undefined;
	#turn: Turn | undefined;
	#stopped = false;
	#evictAfter = 0;

	constructor(hive: Hive, client: DroneClient, log: Logger, options: HeartbeatOptions) {
		this.#hive = hive;
		this.#client = client;
		this.#log = log;
		this.#options = options;
		this.#queue = new PQueue({concurrency: options.concurrency});
		this.#leads = options.leads ?? (() => true);
		this.#slotCount = Math.max(1, Math.min(maxSlots, Math.round(options.intervalMs / tickTargetMs)));
		this.#tickMs = options.intervalMs / this.#slotCount;
		this.#slots = Array.from({length: this.#slotCount}, () => new Set<string>());
	}

	start(): void {
		this.#evictAfter = Date.now() + (this.#options.graceMs ?? 0);
		this.#origin = performance.now();
		this.#unsubscribe = this.#hive.subscribe(event => {
			if (event.type === 'drone.registered') {
				this.#joining.add(event.drone);
			}
		});
		this.#scheduleTick();
	}

	stop(): void {
		this.#stopped = true;
		this.#unsubscribe?.();
		clearTimeout(this.#tickTimer);
		for (const timer of this.#timers) {
			clearTimeout(timer);
		}

		this.#timers.clear();
		this.#queue.clear();
	}

	/** Checks one drone at once (after a failed dispatch), unless a check of it is under way. */
	checkNow(name: string): void {
		void this.#check(name);
	}

	/**
	A drone answered a task batch: proof of life, so its slot need not check it until an interval after
	this. The dispatcher calls it on every answer; it costs a map lookup.
	*/
	heardFrom(name: string): void {
		const place = this.#places.get(name);
		if (place) {
			place.heardAt = performance.now();
		}
	}

	#scheduleTick(): void {
		if (this.#stopped) {
			return;
		}

		// Due times from the origin, not from the last tick: a late tick does not push the next ones later.
		const delay = this.#origin + (this.#tick * this.#tickMs) - performance.now();
		this.#tickTimer = setTimeout(() => {
			this.#runTick();
			this.#scheduleTick();
		}, Math.max(0, delay));
	}

	#runTick(): void {
		const tick = this.#tick++;
		const slot = tick % this.#slotCount;
		if (slot === 0) {
			this.#endTurn();
			// Every drone not on the wheel (those the hive loaded at start, too); then only those that join.
			this.#placeNewDrones(tick, this.#hive.droneNames());
			this.#turn = {checked: 0, failed: 0, pending: 0, longestMs: 0, closed: false, led: true};
		}

		if (this.#joining.size > 0) {
			// A burst of registrations is spread over the whole wheel: each drone as it comes, into the
			// emptiest slot of the interval ahead of it.
			this.#placeNewDrones(tick, this.#joining);
			this.#joining.clear();
		}

		const turn = this.#turn!;
		if (!this.#leads()) {
			turn.led = false;
			return;
		}

		const dueAt = this.#origin + (tick * this.#tickMs);
		// A copy: a drone moved to this very slot (due one turn from now) is not looked at twice.
		for (const name of [...this.#slots[slot]!]) {
			this.#visit(name, tick, dueAt, turn);
		}
	}

	#visit(name: string, tick: number, dueAt: number, turn: Turn): void {
		const place = this.#places.get(name)!;
		const drone = this.#hive.drone(name);
		if (!drone) {
			// Evicted or gone since: it leaves the wheel (registered again, it is placed again).
			this.#slots[place.slot]!.delete(name);
			this.#places.delete(name);
			return;
		}

		if (this.#checking.has(name)) {
			// A chain under way will evict it or hear from it.
			return;
		}

		if (place.heardAt !== undefined && this.#skips(name, drone)) {
			// Due one interval after that answer, rounded down to a tick.
			const dueTick = Math.floor((place.heardAt + this.#options.intervalMs - this.#origin) / this.#tickMs);
			if (dueTick > tick) {
				this.#move(name, place, this.#emptiestTick(tick + 1, Math.min(dueTick, tick + this.#slotCount)));
				// `lastSeen` says when it answered, as a heartbeat would have.
				this.#hive.heartbeatSucceeded(name, Date.now() - (performance.now() - place.heardAt));
				return;
			}
		}

		turn.checked++;
		turn.pending++;
		void this.#check(name, turn, dueAt);
	}

	/** Whether a task batch's answer may stand for a check: the check would have nothing else to do. */
	#skips(name: string, drone: Drone): boolean {
		return drone.state === 'ready' && drone.failedAttempts === 0 && drone.running === 0 && !this.#hive.awaitsConfirmation(name);
	}

	/** Gives each of `names` not yet on the wheel a slot: the emptiest one due at or before its registration plus an interval. */
	#placeNewDrones(tick: number, names: Iterable<string>): void {
		const perfNow = performance.now();
		const wallNow = Date.now();
		for (const name of names) {
			if (this.#places.has(name) || !this.#hive.drone(name)) {
				continue;
			}

			const lastSeen = this.#hive.drone(name)?.lastSeen ?? wallNow;
			const dueTick = Math.floor((perfNow - (wallNow - lastSeen) + this.#options.intervalMs - this.#origin) / this.#tickMs);
			const at = this.#emptiestTick(tick, Math.max(tick, Math.min(dueTick, tick + this.#slotCount - 1)));
			const place: Place = {slot: at % this.#slotCount, heardAt: undefined};
			this.#places.set(name, place);
			this.#slots[place.slot]!.add(name);
		}
	}

	/** The tick from `first` to `last` whose slot holds the fewest drones (the latest of equals). */
	#emptiestTick(first: number, last: number): number {
		let best = last;
		for (let tick = last - 1; tick >= first; tick--) {
			if (this.#slots[tick % this.#slotCount]!.size < this.#slots[best % this.#slotCount]!.size) {
				best = tick;
			}
		}

		return best;
	}

	#move(name: string, place: Place, tick: number): void {
		const slot = tick % this.#slotCount;
		if (slot !== place.slot) {
			this.#slots[place.slot]!.delete(name);
			place.slot = slot;
			this.#slots[slot]!.add(name);
		}
	}

	#endTurn(): void {
		const turn = this.#turn;
		if (turn) {
			turn.closed = true;
			this.#reportIfDone(turn);
		}
	}

	#firstOutcome(turn: Turn, dueAt: number, ok: boolean): void {
		turn.pending--;
		turn.failed += ok ? 0 : 1;
		turn.longestMs = Math.max(turn.longestMs, performance.now() - dueAt);
		this.#reportIfDone(turn);
	}

	#reportIfDone(turn: Turn): void {
		if (turn.closed && turn.pending === 0 && turn.led && !this.#stopped) {
			this.#hive.heartbeatSwept(turn.checked, turn.failed, Math.round(turn.longestMs));
		}
	}

	/** Starts a check of a drone, unless one is under way; `turn` hears its first attempt's outcome. */
	async #check(name: string, turn?: Turn, dueAt = 0): Promise<void> {
		if (this.#checking.has(name) || this.#stopped) {
			if (turn) {
				this.#firstOutcome(turn, dueAt, true);
			}

			return;
		}

		this.#checking.add(name);
		const ok = await this.#attempt(name);
		if (turn) {
			this.#firstOutcome(turn, dueAt, ok);
		}
	}

	/** One attempt; resolves with its outcome (true when the drone is not checked after all). */
	async #attempt(name: string): Promise<boolean> {
		const drone = this.#hive.drone(name);
		if (!drone || this.#stopped || !this.#leads()) {
			this.#checking.delete(name);
			return true;
		}

		const {maxRetry, retryDelayMs, timeoutMs} = this.#options;
		try {
			if (this.#log.isLevelEnabled('trace')) {
				this.#log.trace({drone: name, address: drone.address}, 'checking');
			}

			const askedAt = Date.now();
			const health = await this.#queue.add(async () => this.#client.healthz(drone.address, timeoutMs));
			this.#hive.heartbeatSucceeded(name);
			if (this.#hive.awaitsConfirmation(name)) {
				// The first answer since this queen (re)started: what the drone holds settles what was placed there.
				this.#hive.reconcile(name, Array.isArray(health?.tasks) ? new Set(health.tasks) : undefined).catch(() => undefined);
			} else if (Array.isArray(health?.tasks) && drone.running > 0) {
				// Every later answer too, while commands were placed there before it was asked (none: nothing to settle):
				// a task its drone no longer holds, or will not end, does not stay running.
				const taskTimeoutMs = typeof health.taskTimeoutMs === 'number' && health.taskTimeoutMs > 0 ? health.taskTimeoutMs : 0;
				this.#hive.settle(name, new Set(health.tasks), askedAt, {taskTimeoutMs, marginMs: this.#options.reportMarginMs ?? 10_000}).catch(() => undefined);
			}

			if (Array.isArray(health?.tasks) && health.tasks.length > 0) {
				this.#options.onHolding?.(name, drone.address, health.tasks);
			}

			this.#checking.delete(name);
			return true;
		} catch (error: unknown) {
			if (this.#stopped || !this.#leads()) {
				this.#checking.delete(name);
				return true;
			}

			const reason = error instanceof Error ? error.message : String(error);
			const failures = this.#hive.heartbeatFailed(name, reason, maxRetry);
			this.#log.warn({drone: name, address: drone.address, attempt: failures, maxRetry, err: reason}, `could not check ${drone.address} (${name}) on attempt ${failures}/${maxRetry}`);
			const inGrace = Date.now() < this.#evictAfter;
			if (failures === 0 || (failures >= maxRetry && !inGrace)) {
				if (failures > 0) {
					this.#hive.evict(name, `${failures} heartbeats failed in a row: ${reason}`).catch(() => undefined);
					this.#log.warn({drone: name, address: drone.address}, `removed ${drone.address} (${name}) from drone list`);
				}

				this.#checking.delete(name);
				return false;
			}

			const timer = setTimeout(() => {
				this.#timers.delete(timer);
				void this.#attempt(name);
			}, retryDelayMs);
			this.#timers.add(timer);
			return false;
		}
	}
}
