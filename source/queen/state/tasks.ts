import {finalTaskStates, type Task, type TaskState} from '../../model.js';

/** What the store keeps of the task table: every task kept, and the finished ones in the order they ended. */
export type TaskTableData = {
	readonly tasks: readonly Task[];
	readonly finished: readonly string[];
};

/**
The task table: every task kept, the pending queue, the tasks placed on each drone, and a bounded
history of finished ones. Records are immutable: a change replaces one, so a record handed out (or
carried by an event) never changes under its reader.

The queue is first submitted, first placed: ordered by `seq`. A task that comes back (its drone was
lost, or refused it) takes its old place again, ahead of everything submitted after it.
*/
export class TaskTable {
	readonly #tasks = new Map<string, Task>();
	/** Pending, in submission order: new tasks are appended (the common case, O(1)). */
	readonly #queue = new Map<string, number>();
	/** Pending tasks that came back behind newer ones: sorted by `seq`, merged into the queue's order. */
	#returned: Array<{readonly id: string; readonly seq: number}> = [];
	#lastQueuedSeq = -1;
	readonly #byDrone = new Map<string, Set<string>>();
	#finished: string[] = [];
	readonly #byKey = new Map<string, string>();
	readonly #history: number;

	constructor(history: number) {
		this.#history = history;
	}

	get(id: string): Task | undefined {
		return this.#tasks.get(id);
	}

	byKey(key: string): Task | undefined {
		const id = this.#byKey.get(key);
		return id === undefined ? undefined : this.#tasks.get(id);
	}

	get pendingCount(): number {
		return this.#queue.size + this.#returned.length;
	}

	/** Pending tasks, first in line first. */
	* pending(): IterableIterator<Task> {
		const returned = this.#returned;
		let next = 0;
		for (const [id, seq] of this.#queue) {
			while (next < returned.length && returned[next]!.seq < seq) {
				yield this.#tasks.get(returned[next++]!.id)!;
			}

			yield this.#tasks.get(id)!;
		}

		while (next < returned.length) {
			yield this.#tasks.get(returned[next++]!.id)!;
		}
	}

	/** Ids of the unfinished tasks placed on a drone. */
	onDrone(name: string): readonly string[] {
		return [...(this.#byDrone.get(name) ?? [])];
	}

	/** Every unfinished task placed on some drone: drone name → task ids. */
	placed(): ReadonlyMap<string, ReadonlySet<string>> {
		return this.#byDrone;
	}

	/** Adds or replaces a record, keeping the queue, the drone index and the history in step with it. */
	put(task: Task, trackHistory = true): void {
		const previous = this.#tasks.get(task.id);
		this.#tasks.set(task.id, task);
		if (!previous && task.idempotencyKey !== undefined) {
			this.#byKey.set(task.idempotencyKey, task.id);
		}

		const wasPending = previous?.state === 'pending';
		if (task.state === 'pending' && !wasPending) {
			this.#enqueue(task);
		} else if (task.state !== 'pending' && wasPending) {
			this.#dequeue(task);
		}

		const oldDrone = previous && isPlaced(previous.state) ? previous.drone : undefined;
		const newDrone = isPlaced(task.state) ? task.drone : undefined;
		if (oldDrone !== newDrone) {
			if (oldDrone !== undefined) {
				const ids = this.#byDrone.get(oldDrone);
				ids?.delete(task.id);
				if (ids?.size === 0) {
					this.#byDrone.delete(oldDrone);
				}
			}

			if (newDrone !== undefined) {
				let ids = this.#byDrone.get(newDrone);
				if (!ids) {
					ids = new Set();
					this.#byDrone.set(newDrone, ids);
				}

				ids.add(task.id);
			}
		}

		if (trackHistory && finalTaskStates.has(task.state) && !(previous && finalTaskStates.has(previous.state))) {
			this.#finished.push(task.id);
			this.#forgetOld();
		}
	}

	/** Newest first, optionally of one state. */
	page(query: {readonly state?: TaskState; readonly limit?: number; readonly offset?: number} = {}): {readonly tasks: Task[]; readonly total: number} {
		const {state, limit = 100, offset = 0} = query;
		const tasks: Task[] = [];
		let total = 0;
		const all = [...this.#tasks.values()];
		for (let index = all.length - 1; index >= 0; index--) {
			const task = all[index]!;
			if (state !== undefined && task.state !== state) {
				continue;
			}

			if (total >= offset && tasks.length < limit) {
				tasks.push(task);
			}

			total += 1;
		}

		return {tasks, total};
	}

	counts(): Record<TaskState, number> {
		const counts: Record<TaskState, number> = {pending: 0, dispatched: 0, running: 0, succeeded: 0, failed: 0, lost: 0};
		for (const task of this.#tasks.values()) {
			counts[task.state] += 1;
		}

		return counts;
	}

	get size(): number {
		return this.#tasks.size;
	}

	data(): TaskTableData {
		return {tasks: [...this.#tasks.values()], finished: [...this.#finished]};
	}

	/** Restores what `data()` gave: the tasks in their order, the finished ones in the order they ended. */
	restore(data: TaskTableData): void {
		for (const task of data.tasks) {
			this.put(task, false);
		}

		this.#finished = [...data.finished];
	}

	#enqueue(task: Task): void {
		if (task.seq > this.#lastQueuedSeq) {
			this.#queue.set(task.id, task.seq);
			this.#lastQueuedSeq = task.seq;
			return;
		}

		// Back in its old place: a binary search in the (short) list of returned tasks.
		const returned = this.#returned;
		let low = 0;
		let high = returned.length;
		while (low < high) {
			const middle = (low + high) >>> 1;
			if (returned[middle]!.seq < task.seq) {
				low = middle + 1;
			} else {
				high = middle;
			}
		}

		returned.splice(low, 0, {id: task.id, seq: task.seq});
	}

	#dequeue(task: Task): void {
		if (!this.#queue.delete(task.id)) {
			this.#returned = this.#returned.filter(each => each.id !== task.id);
		}
	}

	#forgetOld(): void {
		const excess = this.#finished.length - this.#history;
		// Trim in batches so that a busy queen does not shift a long array on every task.
		if (excess > Math.max(64, this.#history / 8) || (this.#history === 0 && excess > 0)) {
			const forgotten = this.#finished.slice(0, excess);
			this.#finished = this.#finished.slice(excess);
			for (const id of forgotten) {
				const task = this.#tasks.get(id);
				this.#tasks.delete(id);
				if (task?.idempotencyKey !== undefined && this.#byKey.get(task.idempotencyKey) === id) {
					this.#byKey.delete(task.idempotencyKey);
				}
			}
		}
	}
}

function isPlaced(state: TaskState): boolean {
	return state === 'dispatched' || state === 'running';
}
