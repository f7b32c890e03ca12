import {CallError} from '../client/http.js';
import type {DroneClient} from '../client/drone-client.js';
import {HiveError} from '../http/errors.js';
import type {Logger} from '../log.js';
import type {HeartbeatMonitor} from './heartbeat.js';
import type {Hive, Task} from './hive.js';
import {pickDrone} from './scheduler.js';

export type DispatcherOptions = {
	readonly timeoutMs: number;
	/** Drones asked for one task before it fails. @default 3 */
	readonly maxAttempts?: number;
	readonly random?: () => number;
};

/**
Hands tasks to drones: asks the scheduler for a drone, calls it, reports the outcome into the hive.
A drone that does not answer is marked suspect and checked at once, and another drone is asked.
*/
export class Dispatcher {
	readonly #hive: Hive;
	readonly #client: DroneClient;
	readonly #heartbeat: HeartbeatMonitor;
	readonly #log: Logger;
	readonly #timeoutMs: number;
	readonly #maxAttempts: number;
	readonly #random: () => number;

	constructor(hive: Hive, client: DroneClient, heartbeat: HeartbeatMonitor, log: Logger, options: DispatcherOptions) {
		this.#hive = hive;
		this.#client = client;
		this.#heartbeat = heartbeat;
		this.#log = log;
		this.#timeoutMs = options.timeoutMs;
		this.#maxAttempts = options.maxAttempts ?? 3;
		this.#random = options.random ?? Math.random;
	}

	/** Places a submitted task; resolves with it dispatched, or throws a 503 `HiveError` with it failed. */
	async dispatch(task: Task): Promise<Task> {
		const tried = new Set<string>();
		let lastError = '';
		while (tried.size < this.#maxAttempts) {
			const drone = pickDrone(this.#hive.droneRecords(), {exclude: tried, random: this.#random});
			if (!drone) {
				break;
			}

			tried.add(drone.name);
			this.#hive.taskAttempted(task.id);
			try {
				// eslint-disable-next-line no-await-in-loop -- one drone after another, by design
				await this.#client.doTask(drone.address, {text: task.text}, this.#timeoutMs);
			} catch (error: unknown) {
				lastError = error instanceof Error ? error.message : String(error);
				this.#log.warn({drone: drone.name, task: task.id, err: lastError}, `could not send task to ${drone.name}`);
				if (!(error instanceof CallError) || error.code === 'ERR_HIVE_UNREACHABLE' || (error.status ?? 500) >= 500) {
					this.#hive.markSuspect(drone.name, lastError);
					this.#heartbeat.checkNow(drone.name);
				}

				continue;
			}

			this.#log.debug({drone: drone.name, task: task.id}, `Sent task to ${drone.name}`);
			this.#hive.taskDispatched(task.id, drone.name);
			// A text task is done once its drone has printed it.
			return this.#hive.taskSucceeded(task.id) ?? task;
		}

		const message = tried.size === 0
			? (this.#hive.droneCount === 0 ? 'no drone is registered with this queen' : 'no drone is ready to take the task')
			: `no drone accepted the task (tried ${[...tried].join(', ')}): ${lastError}`;
		this.#hive.taskFailed(task.id, message);
		throw new HiveError(503, message, 'ERR_HIVE_NO_DRONE');
	}
}
