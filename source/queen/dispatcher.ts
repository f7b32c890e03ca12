import {whyNotTaken, type DoTaskRequest, type DroneClient} from '../client/drone-client.js';
import type {Logger} from '../log.js';
import type {HeartbeatMonitor} from './heartbeat.js';
import {runsOnDrone, type Task} from '../model.js';
import type {Hive, HiveEvent} from './hive.js';
import {explainNoFit, pickDrone, scorers, type SchedulerName} from './scheduler.js';

export type DispatcherOptions = {
	readonly timeoutMs: number;
	readonly scheduler: SchedulerName;
	readonly random?: () => number;
	/** How often pending tasks are looked at even when nothing changed. @default 1000 */
	readonly retryIntervalMs?: number;
	/** Whether this queen leads now: one that does not (paused past its lease) places nothing. @default always */
	readonly leads?: () => boolean;
};

/**
Hands tasks to drones, as Nomad's worker applies what its scheduler decides: asks the scheduler for a
drone, reserves the place in the hive, calls the drone, reports the outcome into the hive. A drone that
does not answer is marked suspect and checked at once, and the next drone is asked. A task no drone can
take waits, first in first out, and is placed as soon as room appears (a drone registers or recovers,
a command task ends, a drone is lost and its tasks come back).
*/
export class Dispatcher {
	readonly #hive: Hive;
	readonly #client: DroneClient;
	readonly #heartbeat: HeartbeatMonitor;
	readonly #log: Logger;
	readonly #options: DispatcherOptions;
	readonly #random: () => number;
	readonly #leads: () => boolean;
	/** Tasks with a placement under way: a pass over the pending queue leaves them to it. */
	readonly #placing = new Set<string>();
	#passScheduled = false;
	#stopped = false;
	#timer: NodeJS.Timeout | undefined;
	#unsubscribe: (() => void) | undefined;

	constructor(hive: Hive, client: DroneClient, heartbeat: HeartbeatMonitor, log: Logger, options: DispatcherOptions) {
		this.#hive = hive;
		this.#client = client;
		this.#heartbeat = heartbeat;
		this.#log = log;
		this.#options = options;
		this.#random = options.random ?? Math.random;
		this.#leads = options.leads ?? (() => true);
	}

	start(): void {
		this.#unsubscribe = this.#hive.subscribe(event => {
			if (makesRoom(event)) {
				this.placeSoon();
			}
		});
		this.#timer = setInterval(() => {
			this.placePending();
		}, this.#options.retryIntervalMs ?? 1000);
		this.#timer.unref();
		// A queen restarted on its store may have tasks waiting already.
		this.placeSoon();
	}

	stop(): void {
		this.#stopped = true;
		this.#unsubscribe?.();
		clearInterval(this.#timer);
	}

	/** Places a new task; resolves with it once it is handed to a drone, or waits in the queue. */
	async submit(task: Task): Promise<Task> {
		if (this.#hive.droneCount === 0) {
			return (await this.#hive.fail(task.id, 'no drone is registered with this queen')) ?? task;
		}

		// The record may already be forgotten (--task-history 0): then the view the placement ended with is the answer.
		return (await this.#place(task)) ?? this.#hive.task(task.id) ?? task;
	}

	/** Places pending tasks soon: once per event-loop turn however many times room appeared in it. */
	placeSoon(): void {
		if (this.#passScheduled) {
			return;
		}

		this.#passScheduled = true;
		setImmediate(() => {
			this.#passScheduled = false;
			this.placePending();
		});
	}

	/** One pass over the pending queue, first in line first; every placement decision is made before any call. */
	placePending(): void {
		if (this.#stopped || !this.#leads()) {
			return;
		}

		// Tasks alike (kind and selector) that found no drone in this pass will not find one either.
		const stuck = new Set<string>();
		for (const task of [...this.#hive.pendingTasks()]) {
			const key = `${task.kind} ${JSON.stringify(task.selector)}`;
			if (this.#placing.has(task.id) || stuck.has(key)) {
				continue;
			}

			if (!this.#tryNow(task)) {
				stuck.add(key);
			}
		}
	}

	/** Starts a placement when a drone can take the task now; false when none can. */
	#tryNow(task: Task): boolean {
		const context = {task, exclude: new Set<string>(), random: this.#random};
		if (!pickDrone(this.#hive.drones(), context, scorers[this.#options.scheduler])) {
			this.#hive.taskWaiting(task.id, explainNoFit(this.#hive.drones(), context));
			return false;
		}

		void this.#place(task);
		return true;
	}

	/** Places a task; resolves with its view when a drone took it, undefined when it waits. */
	async #place(task: Task): Promise<Task | undefined> {
		this.#placing.add(task.id);
		try {
			const tried = new Set<string>();
			let lastError: string | undefined;
			for (;;) {
				const context = {task, exclude: tried, random: this.#random};
				const drone = pickDrone(this.#hive.drones(), context, scorers[this.#options.scheduler]);
				if (!drone) {
					const reason = explainNoFit(this.#hive.drones(), context);
					this.#hive.taskWaiting(task.id, lastError === undefined ? reason : `${reason}; last error: ${lastError}`);
					return undefined;
				}

				tried.add(drone.name);
				if (this.#stopped || !this.#leads()) {
					return undefined;
				}

				const placed = this.#hive.dispatch(task.id, drone.name);
				if (!placed) {
					return undefined;
				}

				try {
					// A drone is told only what the store has: a queen that dies (or loses its term) before
					// the placement is kept has sent nothing, and its successor places the task once.
					// eslint-disable-next-line no-await-in-loop
					await placed.durable;
				} catch {
					// The store refused it (another queen leads, or the store failed): nothing was sent.
					return undefined;
				}

				const current = this.#hive.task(task.id);
				if (this.#stopped || !this.#leads() || current?.state !== 'dispatched' || current.drone !== drone.name) {
					// Stopped, no longer leading, or the drone was lost meanwhile and the task placed again.
					return undefined;
				}

				try {
					// eslint-disable-next-line no-await-in-loop -- one drone after another, by design
					await this.#client.doTask(drone.address, droneRequest(task), this.#options.timeoutMs);
				} catch (error: unknown) {
					if (!this.#leads()) {
						// Another queen leads now: what became of the task is its word.
						return undefined;
					}

					lastError = error instanceof Error ? error.message : String(error);
					const why = whyNotTaken(error);
					this.#log.warn({drone: drone.name, task: task.id, err: lastError, why}, `could not send task to ${drone.name}`);
					if (why === 'unreachable' || why === 'died') {
						this.#hive.markSuspect(drone.name, lastError);
						this.#heartbeat.checkNow(drone.name);
					}

					if (why === 'malformed') {
						// Sent again it would be refused again, by any drone: it fails, with the drone's reason.
						this.#hive.rejected(task.id, drone.name, lastError)?.catch(noop);
						return this.#hive.task(task.id);
					}

					(why === 'died' ? this.#hive.diedTaking(task.id, drone.name, lastError) : this.#hive.refuse(task.id, drone.name, lastError))?.catch(noop);
					continue;
				}

				// An answer is proof of life: the drone's next heartbeat can wait.
				this.#heartbeat.heardFrom(drone.name);
				this.#log.debug({drone: drone.name, task: task.id}, `Sent task to ${drone.name}`);
				if (this.#stopped || !this.#leads()) {
					// This term ended while the drone took it: the next leader learns of it from the drone.
					return undefined;
				}

				// A text task is done once its drone has printed it (even if the drone was lost meanwhile and the
				// task queued again); a command runs until its drone reports.
				// (Applied now; the store writes it on its own time: the submit was durable before its answer.)
				if (task.kind === 'text') {
					try {
						const done = this.#hive.finishNow(task.id, drone.name, {succeeded: true});
						done.durable.catch(noop);
						return done.task;
					} catch {
						// Placed again and taken by another drone meanwhile: that one's word counts.
						return this.#hive.task(task.id);
					}
				}

				const running = this.#hive.running(task.id, drone.name);
				if (!running) {
					// The drone was evicted (or left) while it was taking the task, and the task was queued again:
					// it is placed again (at least once, as Nomad's lost allocations).
					return undefined;
				}

				running.catch(noop);
				return this.#hive.task(task.id);
			}
		} finally {
			this.#placing.delete(task.id);
			// Queued again by an eviction while this placement held it (so the pass that followed skipped it):
			// it is placed now, not at the next retry tick.
			if (this.#hive.task(task.id)?.state === 'pending') {
				this.placeSoon();
			}
		}
	}
}

/** Events after which a pending task may fit where it did not. */
function makesRoom(event: HiveEvent): boolean {
	switch (event.type) {
		case 'drone.registered':
		case 'drone.uncordoned':
		case 'heartbeat.recovered': {
			return true;
		}

		case 'task.succeeded':
		case 'task.failed':
		case 'task.lost': {
			return runsOnDrone(event.task.kind);
		}

		case 'task.requeued': {
			return true;
		}

		default: {
			return false;
		}
	}
}

function noop(): void {}

/** A task as its drone takes it (`/do_task`): its id, and what it does. */
function droneRequest(task: Task): DoTaskRequest {
	switch (task.kind) {
		case 'text': {
			return {id: task.id, text: task.text!};
		}

		case 'command': {
			return {id: task.id, command: task.command!};
		}

		case 'container': {
			return {id: task.id, container: task.container!};
		}
	}
}
