import {runsOnDrone} from '../model.js';
import type {Logger} from '../log.js';
import type {Canceller} from './canceller.js';
import type {Hive, HiveEvent} from './hive.js';

/**
Carries drains through, as `kubectl drain` and `nomad node drain` do: a draining drone is cordoned (the
scheduler gives it nothing new) and its tasks finish; once nothing runs there the drain is over
(`drone.drained`). Past the drain's deadline, the commands still running there are stopped and placed
elsewhere, at no cost of a retry. Runs while its queen leads; a drain outlives a restart (the store keeps
it), and a new leader picks it up where it was.
*/
export class Drainer {
	readonly #hive: Hive;
	readonly #canceller: Canceller;
	readonly #log: Logger;
	/** The drains under way, by drone: the timer of each one's deadline (none for a drain without one). */
	readonly #deadlines = new Map<string, NodeJS.Timeout | undefined>();
	#unsubscribe: (() => void) | undefined;
	#stopped = false;

	constructor(hive: Hive, canceller: Canceller, log: Logger) {
		this.#hive = hive;
		this.#canceller = canceller;
		this.#log = log;
	}

	start(): void {
		this.#unsubscribe = this.#hive.subscribe(event => {
			this.#heard(event);
		});
		for (const drone of this.#hive.drones()) {
			if (drone.drain) {
				this.#watch(drone.name);
			}
		}
	}

	stop(): void {
		this.#stopped = true;
		this.#unsubscribe?.();
		for (const timer of this.#deadlines.values()) {
			clearTimeout(timer);
		}

		this.#deadlines.clear();
	}

	#heard(event: HiveEvent): void {
		switch (event.type) {
			case 'drone.draining': {
				this.#watch(event.drone);
				break;
			}

			case 'drone.uncordoned':
			case 'drone.drained':
			case 'drone.left':
			case 'drone.evicted': {
				clearTimeout(this.#deadlines.get(event.drone));
				this.#deadlines.delete(event.drone);
				break;
			}

			default: {
				// A task leaving a draining drone may leave it empty. (Its record no longer names the drone when it
				// was requeued: the event's own `drone` field is not there either, so every draining drone is looked at.)
				if ('task' in event && this.#deadlines.size > 0 && event.task.state !== 'dispatched' && event.task.state !== 'running') {
					for (const name of this.#deadlines.keys()) {
						this.#finishIfEmpty(name);
					}
				}
			}
		}
	}

	/** A drain under way: over now if nothing runs there, else watched until it is, or its deadline. */
	#watch(name: string): void {
		const drain = this.#hive.drone(name)?.drain;
		if (!drain || this.#stopped) {
			return;
		}

		clearTimeout(this.#deadlines.get(name));
		// A drain without a deadline is watched all the same (its entry is what task events look through).
		const timer = drain.deadline === undefined
			? undefined
			: setTimeout(() => {
				this.#moveAway(name);
			}, Math.min(Math.max(0, drain.deadline - Date.now()), 2_147_483_647));
		timer?.unref();
		this.#deadlines.set(name, timer);
		this.#finishIfEmpty(name);
	}

	#finishIfEmpty(name: string): void {
		this.#hive.drained(name)?.catch(() => undefined);
	}

	/**
	Past the deadline: the commands still running on the drone are stopped there and placed elsewhere —
	each only once its drone says it stopped it (one that ended meanwhile is settled by its result, one the
	drone cannot be reached for by the heartbeats). Looked at again shortly while anything is left there (a
	task on its way to the drone at the deadline is moved once it runs).
	*/
	#moveAway(name: string): void {
		const drone = this.#hive.drone(name);
		if (!drone?.drain || this.#stopped) {
			return;
		}

		const ids = this.#hive.tasksOn(name);
		if (ids.length === 0) {
			return;
		}

		this.#log.info({drone: name, tasks: ids.length}, `the drain of ${name} passed its deadline: moving ${ids.length} tasks elsewhere`);
		const moves = ids.map(async id => {
			const task = this.#hive.task(id);
			if (task?.state !== 'running' || !runsOnDrone(task.kind)) {
				return;
			}

			const {held} = await this.#canceller.stop(task, true);
			if (held) {
				await this.#hive.moveOffDrained(id, name);
			}
		});
		void Promise.allSettled(moves).then(() => {
			if (this.#stopped || !this.#deadlines.has(name)) {
				return;
			}

			const timer = setTimeout(() => {
				this.#moveAway(name);
			}, againMs);
			timer.unref();
			this.#deadlines.set(name, timer);
		});
	}
}

/** How soon a drain past its deadline looks again at what is left on its drone. */
const againMs = 1000;
