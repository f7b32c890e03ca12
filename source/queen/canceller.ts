import type {DroneClient} from '../client/drone-client.js';
import type {Logger} from '../log.js';
import type {Task, TaskResult} from '../model.js';
import type {Hive} from './hive.js';

/** How long a drone has to kill a command and answer with what it printed. */
const stopTimeoutMs = 5000;

/**
Cancels tasks, as a person asks (`DELETE /tasks/:id`) and as a drain past its deadline needs: a pending
task leaves the queue; a running command is stopped on its drone first — all its processes, its output so
far kept — and then the task ends `cancelled`. A drone that cannot be reached is told later: the first
heartbeat that finds it still holding a cancelled task stops it there (`strays`).
*/
export class Canceller {
	readonly #hive: Hive;
	readonly #client: DroneClient;
	readonly #log: Logger;
	/** Cancelled tasks a drone is being told to stop now: one call at a time for each. */
	readonly #stopping = new Set<string>();

	constructor(hive: Hive, client: DroneClient, log: Logger) {
		this.#hive = hive;
		this.#client = client;
		this.#log = log;
	}

	/** Cancels the task `ref` names (its id or a unique prefix); refused as `Hive.resolveTask` and `Hive.cancel` refuse. */
	async cancel(ref: string, by: string): Promise<Task> {
		const task = this.#hive.resolveTask(ref);
		const stopped = isPlacedCommand(task) ? await this.stop(task) : {};
		const cancelled = await this.#hive.cancel(task.id, by, stopped);
		this.#log.info({task: task.id, drone: task.drone, by}, `task ${task.id} cancelled by ${by}`);
		return cancelled;
	}

	/**
	Stops a placed command on its drone: resolves with what it printed until then, or with why the drone
	could not be told (it then stops the command when it next answers a heartbeat). `mayReturn`: the task is
	moved, not cancelled (a drain past its deadline), and may be placed on that drone again.
	*/
	async stop(task: Task, mayReturn = false): Promise<{readonly result?: TaskResult; readonly error?: string}> {
		const drone = task.drone === undefined ? undefined : this.#hive.drone(task.drone);
		if (!drone) {
			return {};
		}

		try {
			const answer = await this.#client.cancelTask(drone.address, task.id, stopTimeoutMs, mayReturn);
			return answer.output ? {result: answer.output} : {};
		} catch (error: unknown) {
			const reason = error instanceof Error ? error.message : String(error);
			this.#log.warn({task: task.id, drone: drone.name, err: reason}, `could not tell ${drone.name} to stop task ${task.id}`);
			return {error: `${drone.name} could not be told to stop it (${reason}); it is stopped when ${drone.name} answers again`};
		}
	}

	/** What a drone says it holds: any task cancelled meanwhile (its drone was not reached then) is stopped now. */
	strays(droneName: string, address: string, ids: readonly string[]): void {
		for (const id of ids) {
			if (this.#hive.task(id)?.state !== 'cancelled' || this.#stopping.has(id)) {
				continue;
			}

			this.#stopping.add(id);
			this.#log.info({task: id, drone: droneName}, `${droneName} still runs cancelled task ${id}: stopping it`);
			this.#client.cancelTask(address, id, stopTimeoutMs).catch((error: unknown) => {
				this.#log.warn({task: id, drone: droneName, err: error instanceof Error ? error.message : String(error)}, `could not stop cancelled task ${id} on ${droneName}`);
			}).finally(() => {
				this.#stopping.delete(id);
			});
		}
	}
}

/** A command a drone has, or is being handed. */
export function isPlacedCommand(task: Task): boolean {
	return task.kind === 'command' && (task.state === 'dispatched' || task.state === 'running');
}
