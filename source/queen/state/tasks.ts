import {finalTaskStates, taskStates, type Task, type TaskState} from '../../model.js';

/** What the store keeps of the task table: every task kept, and the finished ones in the order they ended. */
export type TaskTableData = {
	readonly tasks: readonly Task[];
	readonly finished: readonly string[];
};

/** What the table keeps of finished tasks: at most `count` of them, weighing at most `bytes` in all. */
export type HistoryBounds = {
	readonly count: number;
	readonly bytes: number;
};

/**
The task table: every task kept, the pending queue and what it weighs, the tasks placed on each drone,
and a bounded history of finished ones (by count and by weight: the oldest finished are forgotten
first). The queue is not bounded here: the hive refuses a submit that would take it past its bounds. Records
are immutable: a change replaces one, so a record handed out (or carried by an event) never changes
under its reader.

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
	/** What each pending task weighs (`weighTask`) as its record is now; `#pendingBytes` is their sum. */
	readonly #pendingWeights = new Map<string, number>();
	#pendingBytes = 0;
	readonly #byDrone = new Map<string, Set<string>>();
	/** Finished tasks in the order they ended, from `#finishedStart` on (a queue that does not shift on every task). */
	#finished: string[] = [];
	#finishedWeights: number[] = [];
	#finishedStart = 0;
	#finishedBytes = 0;
	readonly #byKey = new Map<string, string>();
	/** Ids in the order they were first put: newest last. Ids of forgotten tasks are dropped in batches. */
	#order: string[] = [];
	#forgottenInOrder = 0;
	readonly #counts = Object.fromEntries(taskStates.map(state => [state, 0])) as Record<TaskState, number>;
	readonly #history: HistoryBounds;
	readonly #onForget: ((id: string) => void) | undefined;

	/** `onForget` hears of each finished task the history forgets: a store of records deletes it too. */
	constructor(history: HistoryBounds, onForget?: (id: string) => void) {
		this.#history = history;
		this.#onForget = onForget;
	}

	get(id: string): Task | undefined {
		return this.#tasks.get(id);
	}

	/**
	The ids of the tasks kept whose id starts with `prefix`, at most `limit` of them (and whether there were
	more). A walk over every id: for a person's command (`GET /tasks/ab12`), not for a hot path.
	*/
	withPrefix(prefix: string, limit: number): {readonly ids: string[]; readonly more: boolean} {
		const ids: string[] = [];
		for (const id of this.#tasks.keys()) {
			if (id.startsWith(prefix)) {
				if (ids.length === limit) {
					return {ids, more: true};
				}

				ids.push(id);
			}
		}

		return {ids, more: false};
	}

	byKey(key: string): Task | undefined {
		const id = this.#byKey.get(key);
		return id === undefined ? undefined : this.#tasks.get(id);
	}

	get pendingCount(): number {
		return this.#queue.size + this.#returned.length;
	}

	/** What the pending tasks weigh in all (`weighTask`), in bytes. */
	get pendingBytes(): number {
		return this.#pendingBytes;
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

	/** How many unfinished tasks are placed on a drone (no copy: looked at on task events while a drain is under way). */
	countOn(name: string): number {
		return this.#byDrone.get(name)?.size ?? 0;
	}

	/** Every unfinished task placed on some drone: drone name → task ids. */
	placed(): ReadonlyMap<string, ReadonlySet<string>> {
		return this.#byDrone;
	}

	/** Adds or replaces a record, keeping the queue, the drone index and the history in step with it. */
	put(task: Task, trackHistory = true): void {
		const previous = this.#tasks.get(task.id);
		this.#tasks.set(task.id, task);
		if (previous) {
			this.#counts[previous.state] -= 1;
		} else {
			this.#order.push(task.id);
			if (task.idempotencyKey !== undefined) {
				this.#byKey.set(task.idempotencyKey, task.id);
			}
		}

		this.#counts[task.state] += 1;

		const wasPending = previous?.state === 'pending';
		if (task.state === 'pending' && !wasPending) {
			this.#enqueue(task);
		} else if (task.state !== 'pending' && wasPending) {
			this.#dequeue(task);
		} else if (task.state === 'pending' && task !== previous) {
			// Still waiting, with another reason: weighed again.
			this.#weighPending(task);
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
			this.#remember(task);
			this.#forgetOld();
		}
	}

	/**
	Newest first, optionally of one state. Walks back from the newest task and stops once the page is
	full: no copy of the table (a page of one state that few tasks are in may walk far, but copies nothing).
	*/
	page(query: {readonly state?: TaskState; readonly limit?: number; readonly offset?: number} = {}): {readonly tasks: Task[]; readonly total: number} {
		const {state, limit = 100, offset = 0} = query;
		const total = state === undefined ? this.#tasks.size : this.#counts[state];
		const tasks: Task[] = [];
		let skipped = 0;
		for (let index = this.#order.length - 1; index >= 0 && tasks.length < limit && skipped + tasks.length < total; index--) {
			const task = this.#tasks.get(this.#order[index]!);
			if (task === undefined || (state !== undefined && task.state !== state)) {
				continue;
			}

			if (skipped < offset) {
				skipped += 1;
			} else {
				tasks.push(task);
			}
		}

		return {tasks, total};
	}

	counts(): Record<TaskState, number> {
		return {...this.#counts};
	}

	/** Finished tasks kept, what they weigh (`weighTask`), and the bounds of both. */
	get history(): {readonly count: number; readonly bytes: number; readonly maxCount: number; readonly maxBytes: number} {
		return {count: this.#finished.length - this.#finishedStart, bytes: this.#finishedBytes, maxCount: this.#history.count, maxBytes: this.#history.bytes};
	}

	get size(): number {
		return this.#tasks.size;
	}

	data(): TaskTableData {
		return {tasks: [...this.#tasks.values()], finished: this.#finished.slice(this.#finishedStart)};
	}

	/** Restores what `data()` gave: the tasks in their order, the finished ones in the order they ended. */
	restore(data: TaskTableData): void {
		for (const task of data.tasks) {
			this.put(task, false);
		}

		for (const id of data.finished) {
			const task = this.#tasks.get(id);
			if (task) {
				this.#remember(task);
			}
		}

		// The bounds may be lower than when the snapshot was taken; as they were, the table is as it was (in
		// batches, as a running queen forgets: cut down to the count, a restart would lose what it showed).
		this.#forgetOld();
	}

	#enqueue(task: Task): void {
		this.#weighPending(task);
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
		this.#pendingBytes -= this.#pendingWeights.get(task.id) ?? 0;
		this.#pendingWeights.delete(task.id);
		if (!this.#queue.delete(task.id)) {
			this.#returned = this.#returned.filter(each => each.id !== task.id);
		}
	}

	#weighPending(task: Task): void {
		const weight = weighTask(task);
		this.#pendingBytes += weight - (this.#pendingWeights.get(task.id) ?? 0);
		this.#pendingWeights.set(task.id, weight);
	}

	#remember(task: Task): void {
		const weight = weighTask(task);
		this.#finished.push(task.id);
		this.#finishedWeights.push(weight);
		this.#finishedBytes += weight;
	}

	/**
	Forgets the oldest finished tasks while there are more than `count` of them, or they weigh more than
	`bytes`. Over the count, they are forgotten in batches (a busy queen does not walk its history on every
	task); over the weight, at once (what they hold is the point of the bound).
	*/
	#forgetOld(): void {
		const {count, bytes} = this.#history;
		const kept = this.#finished.length - this.#finishedStart;
		const excess = kept - count;
		const countDue = excess > 0 && (count === 0 || excess > Math.max(64, count / 8));
		if (!countDue && this.#finishedBytes <= bytes) {
			return;
		}

		let start = this.#finishedStart;
		const end = countDue ? start + excess : start;
		while (start < this.#finished.length && (start < end || this.#finishedBytes > bytes)) {
			this.#forget(this.#finished[start]!);
			this.#finishedBytes -= this.#finishedWeights[start]!;
			start += 1;
		}

		this.#finishedStart = start;
		if (start > 1024 && start * 2 > this.#finished.length) {
			this.#finished = this.#finished.slice(start);
			this.#finishedWeights = this.#finishedWeights.slice(start);
			this.#finishedStart = 0;
		}

		if (this.#forgottenInOrder * 2 > this.#order.length) {
			this.#order = this.#order.filter(id => this.#tasks.has(id));
			this.#forgottenInOrder = 0;
		}
	}

	#forget(id: string): void {
		const task = this.#tasks.get(id);
		if (!task) {
			return;
		}

		this.#tasks.delete(id);
		this.#counts[task.state] -= 1;
		this.#forgottenInOrder += 1;
		if (task.idempotencyKey !== undefined && this.#byKey.get(task.idempotencyKey) === id) {
			this.#byKey.delete(task.idempotencyKey);
		}

		this.#onForget?.(id);
	}
}

/** What a record costs the queen beside its strings: the object, its map entries, its place in the indexes. */
export const taskOverheadBytes = 2048;

/** What `weighTask` reads of a task: a submit is weighed before its record is made. */
export type Weighable = Pick<Task, 'selector'> & Partial<Pick<Task, 'text' | 'command' | 'container' | 'reason' | 'error' | 'result'>>;

/**
What keeping a task costs, about: its strings as V8 holds them (one byte a character when they all fit
in Latin-1, two otherwise) and a fixed overhead. Records share their strings with the records they
replaced, so a task costs this once.
*/
export function weighTask(task: Weighable): number {
	// Weighed on every change of a task: no array or entries made for it.
	let bytes = taskOverheadBytes + stringBytes(task.text) + stringBytes(task.command) + stringBytes(task.reason) + stringBytes(task.error);
	if (task.result) {
		bytes += stringBytes(task.result.stdout) + stringBytes(task.result.stderr);
	}

	bytes += labelBytes(task.selector);
	if (task.container) {
		const {rootfs, command, env, workdir, memory} = task.container;
		bytes += stringBytes(rootfs) + stringBytes(workdir) + stringBytes(memory) + labelBytes(env ?? {});
		for (const arg of command) {
			bytes += stringBytes(arg) + 16;
		}
	}

	return bytes;
}

function labelBytes(labels: Readonly<Record<string, string>>): number {
	let bytes = 0;
	for (const key in labels) {
		if (Object.hasOwn(labels, key)) {
			bytes += stringBytes(key) + stringBytes(labels[key]);
		}
	}

	return bytes;
}

function stringBytes(text: string | undefined): number {
	if (text === undefined) {
		return 0;
	}

	return text.length < 256 || /[^\u0000-\u00ff]/.test(text) ? text.length * 2 : text.length;
}

function isPlaced(state: TaskState): boolean {
	return state === 'dispatched' || state === 'running';
}
