import PQueue from 'p-queue';
import type {DroneClient} from '../client/drone-client.js';
import type {Logger} from '../log.js';
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
};

/**
The heartbeat monitor. Every `intervalMs` a sweep checks every drone's `/healthz`, at most
`concurrency` at once. A failed attempt starts a chain on that drone alone: another attempt
`retryDelayMs` later, until one succeeds or `maxRetry` have failed in a row and the drone is evicted.
Nothing here holds the hive while it waits on the network: the hive is updated between calls.
*/
export class HeartbeatMonitor {
	readonly #hive: Hive;
	readonly #client: DroneClient;
	readonly #log: Logger;
	readonly #options: HeartbeatOptions;
	readonly #queue: PQueue;
	/** Drones with a check or a retry chain under way: a sweep does not start a second one. */
	readonly #checking = new Set<string>();
	readonly #timers = new Set<NodeJS.Timeout>();
	#sweepTimer: NodeJS.Timeout | undefined;
	readonly #leads: () => boolean;
	#stopped = false;
	#evictAfter = 0;

	constructor(hive: Hive, client: DroneClient, log: Logger, options: HeartbeatOptions) {
		this.#hive = hive;
		this.#client = client;
		this.#log = log;
		this.#options = options;
		this.#queue = new PQueue({concurrency: options.concurrency});
		this.#leads = options.leads ?? (() => true);
	}

	start(): void {
		this.#evictAfter = Date.now() + (this.#options.graceMs ?? 0);
		this.#scheduleSweep(this.#options.intervalMs);
	}

	stop(): void {
		this.#stopped = true;
		clearTimeout(this.#sweepTimer);
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

	/** One sweep over every drone; resolves when each has had its first attempt. */
	async sweep(): Promise<void> {
		if (!this.#leads()) {
			return;
		}

		const started = performance.now();
		const names = this.#hive.droneNames().filter(name => !this.#checking.has(name));
		this.#log.debug({drones: names.length}, 'Starting heartbeat');
		const results = await Promise.all(names.map(async name => this.#check(name)));
		const failed = results.filter(ok => !ok).length;
		this.#hive.heartbeatSwept(names.length, failed, Math.round(performance.now() - started));
	}

	#scheduleSweep(delayMs: number): void {
		if (this.#stopped) {
			return;
		}

		this.#sweepTimer = setTimeout(() => {
			const started = Date.now();
			void this.sweep().then(() => {
				// A fixed rate: the next sweep is due one interval after this one started.
				this.#scheduleSweep(Math.max(0, this.#options.intervalMs - (Date.now() - started)));
			});
		}, delayMs);
	}

	/** Starts a check of a drone; resolves with its first attempt's outcome (true when it is not checked). */
	async #check(name: string): Promise<boolean> {
		if (this.#checking.has(name) || this.#stopped) {
			return true;
		}

		this.#checking.add(name);
		return this.#attempt(name);
	}

	async #attempt(name: string): Promise<boolean> {
		const drone = this.#hive.drone(name);
		if (!drone || this.#stopped || !this.#leads()) {
			this.#checking.delete(name);
			return true;
		}

		const {maxRetry, retryDelayMs, timeoutMs} = this.#options;
		try {
			this.#log.trace({drone: name, address: drone.address}, 'checking');
			const askedAt = Date.now();
			const health = await this.#queue.add(async () => this.#client.healthz(drone.address, timeoutMs));
			this.#hive.heartbeatSucceeded(name);
			const holding = Array.isArray(health?.tasks) ? new Set(health.tasks) : undefined;
			if (this.#hive.awaitsConfirmation(name)) {
				// The first answer since this queen (re)started: what the drone holds settles what was placed there.
				this.#hive.reconcile(name, holding).catch(() => undefined);
			} else if (holding) {
				// Every later answer too: a task its drone no longer holds, or will not end, does not stay running.
				const taskTimeoutMs = typeof health?.taskTimeoutMs === 'number' && health.taskTimeoutMs > 0 ? health.taskTimeoutMs : 0;
				this.#hive.settle(name, holding, askedAt, {taskTimeoutMs, marginMs: this.#options.reportMarginMs ?? 10_000}).catch(() => undefined);
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
