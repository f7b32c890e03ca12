import type {Logger} from '../log.js';
import type {Canceller} from './canceller.js';
import {isPlacedCommand} from './canceller.js';
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
	readonly #deadlines = new Map<string, NodeJS.Timeout>();
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
		const delay = drain.deadline === undefined ? undefined : Math.max(0, drain.deadline - Date.now());
		// A drain without a deadline is watched all the same (its entry is what task events look through).
		const timer = setTimeout(() => {
			this.#moveAway(name);
		}, delay === undefined ? 2_147_483_647 : Math.min(delay, 2_147_483_647));
		timer.unref();
		this.#deadlines.set(name, timer);
		this.#finishIfEmpty(name);
	}

	#finishIfEmpty(name: string): void {
		this.#hive.drained(name)?.catch(() => undefined);
	}

	/** Past the deadline: what still runs on the drone is stopped there and placed elsewhere. */
	#moveAway(name: string): void {
		const drone = this.#hive.drone(name);
		if (!drone?.drain || this.#stopped) {
			return;
		}

		const ids = this.#hive.tasksOn(name);
		this.#log.info({drone: name, tasks: ids.length}, `the drain of ${name} passed its deadline: moving ${ids.length} tasks elsewhere`);
		for (const id of ids) {
			const task = this.#hive.task(id);
			if (!task || !isPlacedCommand(task)) {
				continue;
			}

			void this.#canceller.stop(task, true).then(() => this.#hive.moveOffDrained(id, name)).catch(() => undefined);
		}
	}
}
