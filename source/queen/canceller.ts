import type {DroneClient} from '../client/drone-client.js';
import type {Logger} from '../log.js';
import {runsOnDrone, type Task, type TaskResult} from '../model.js';
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

	/**
	Cancels the task `ref` names (its id or a unique prefix); refused as `Hive.resolveTask` and `Hive.cancel`
	refuse. The hive has it cancelled first, so that no placement in flight sends it anywhere else; then a
	command its drone runs is stopped there, and what it printed is kept.
	*/
	async cancel(ref: string, by: string): Promise<Task> {
		const task = this.#hive.resolveTask(ref);
		const cancelled = await this.#hive.cancel(task.id, by);
		this.#log.info({task: task.id, drone: task.drone, by}, `task ${task.id} cancelled by ${by}`);
		if (!isPlacedOnDrone(task) || task.drone === undefined) {
			return cancelled;
		}

		const {result, error} = await this.stop(task);
		await this.#hive.stopped(task.id, task.drone, {result, error});
		return this.#hive.task(task.id) ?? cancelled;
	}

	/**
	Stops a placed command on its drone: resolves with what it printed until then (`held`: the drone ran
	it), or with why the drone could not be told (it then stops the command when it next answers a
	heartbeat). `mayReturn`: the task is moved, not cancelled (a drain past its deadline), and may be
	placed on that drone again.
	*/
	async stop(task: Task, mayReturn = false): Promise<{readonly held: boolean; readonly result?: TaskResult; readonly error?: string}> {
		const drone = task.drone === undefined ? undefined : this.#hive.drone(task.drone);
		if (!drone) {
			return {held: false};
		}

		try {
			const answer = await this.#client.cancelTask(drone.address, task.id, stopTimeoutMs, mayReturn);
			return answer.output ? {held: true, result: answer.output} : {held: answer.held};
		} catch (error: unknown) {
			const reason = error instanceof Error ? error.message : String(error);
			this.#log.warn({task: task.id, drone: drone.name, err: reason}, `could not tell ${drone.name} to stop task ${task.id}`);
			return {held: false, error: `${drone.name} could not be told to stop it (${reason}); it is stopped when ${drone.name} answers again`};
		}
	}

	/**
	What a drone says it holds: a task cancelled meanwhile (its drone was not reached then), or one the hive
	has placed on another drone since, is stopped there now.
	*/
	strays(droneName: string, address: string, ids: readonly string[]): void {
		for (const id of ids) {
			const task = this.#hive.task(id);
			const elsewhere = task !== undefined && isPlacedOnDrone(task) && task.drone !== droneName;
			if ((task?.state !== 'cancelled' && !elsewhere) || this.#stopping.has(id)) {
				continue;
			}

			this.#stopping.add(id);
			this.#log.info({task: id, drone: droneName}, `${droneName} still runs task ${id}, ${elsewhere ? `placed on ${task.drone} since` : 'cancelled'}: stopping it`);
			this.#client.cancelTask(address, id, stopTimeoutMs, elsewhere).catch((error: unknown) => {
				this.#log.warn({task: id, drone: droneName, err: error instanceof Error ? error.message : String(error)}, `could not stop cancelled task ${id} on ${droneName}`);
			}).finally(() => {
				this.#stopping.delete(id);
			});
		}
	}
}

/** A command or a container a drone runs, or is being handed. */
function isPlacedOnDrone(task: Task): boolean {
	return runsOnDrone(task.kind) && (task.state === 'dispatched' || task.state === 'running');
}
