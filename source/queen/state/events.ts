import {summarizeTask, type Task, type TaskSummary} from '../../model.js';

export type TaskEventType =
	| 'task.submitted'
	| 'task.pending'
	| 'task.dispatched'
	| 'task.refused'
	| 'task.requeued'
	| 'task.running'
	| 'task.succeeded'
	| 'task.failed'
	| 'task.lost'
	| 'task.cancelled'
	| 'task.stopped';

export type EventBody =
	| {readonly type: 'drone.registered'; readonly drone: string; readonly address: string; readonly again: boolean}
	| {readonly type: 'drone.left'; readonly drone: string; readonly address: string}
	| {readonly type: 'drone.evicted'; readonly drone: string; readonly address: string; readonly reason: string}
	| {readonly type: 'drone.cordoned' | 'drone.uncordoned'; readonly drone: string; readonly address: string; readonly by: string}
	/** `deadline`: ISO time past which what still runs there is moved; null: none. */
	| {readonly type: 'drone.draining'; readonly drone: string; readonly address: string; readonly by: string; readonly deadline: string | null}
	| {readonly type: 'drone.drained'; readonly drone: string; readonly address: string}
	| {readonly type: 'heartbeat.failed'; readonly drone: string; readonly address: string; readonly attempt: number; readonly maxRetry: number; readonly error: string}
	| {readonly type: 'heartbeat.recovered'; readonly drone: string; readonly address: string}
	| {readonly type: 'heartbeat.sweep'; readonly checked: number; readonly failed: number; readonly durationMs: number}
	/** `reason`: why it was refused or requeued (the task's own `reason` says why it waits now); `by`: who cancelled it. */
	| {readonly type: TaskEventType; readonly task: Task; readonly reason?: string; readonly by?: string};

export type HiveEventType = EventBody['type'];

/**
An event: `at` is ms since the epoch (clients see it as an ISO `time`). `id` is the store's revision
of the fact it reports; events of what the store does not keep (heartbeats, a pending task's reason)
have none, and a client that resumes after an id also gets those that followed it.
*/
export type HiveEvent = EventBody & {readonly id: number | undefined; readonly at: number};
export type HiveListener = (event: HiveEvent) => void;

/** An event as the backlog keeps it: a task event carries the task's summary (no output, long strings cut). */
export type KeptEvent = Exclude<HiveEvent, {readonly task: Task}> | (Omit<Extract<HiveEvent, {readonly task: Task}>, 'task'> & {readonly task: TaskSummary});

/**
The event log: a bounded backlog for clients that reconnect (`GET /events?since=`), and delivery to
listeners in order. A listener may change the hive (the dispatcher places a task when room appears):
the events that makes wait until the ones before them have reached every listener. The backlog keeps
task events with the task's summary: what a client is sent of them, and no more than that, so that
the backlog holds no task's output after the history has forgotten the task.
*/
export class EventLog {
	readonly #listeners = new Set<HiveListener>();
	#backlog: KeptEvent[] = [];
	readonly #size: number;
	readonly #delivering: HiveEvent[] = [];

	constructor(size: number) {
		this.#size = size;
	}

	subscribe(listener: HiveListener): () => void {
		this.#listeners.add(listener);
		return () => this.#listeners.delete(listener);
	}

	/** Events after the one with id `since`, oldest first (all of the backlog if it is older). */
	since(since: number): KeptEvent[] {
		let start = 0;
		for (let index = this.#backlog.length - 1; index >= 0; index--) {
			const {id} = this.#backlog[index]!;
			if (id !== undefined && id <= since) {
				start = index + 1;
				break;
			}
		}

		return this.#backlog.slice(start);
	}

	emit(event: HiveEvent): void {
		this.#backlog.push('task' in event ? {...event, task: summarizeTask(event.task)} : event);
		if (this.#backlog.length > this.#size * 2) {
			this.#backlog = this.#backlog.slice(-this.#size);
		}

		this.#delivering.push(event);
		if (this.#delivering.length > 1) {
			return;
		}

		try {
			for (let index = 0; index < this.#delivering.length; index++) {
				for (const listener of this.#listeners) {
					listener(this.#delivering[index]!);
				}
			}
		} finally {
			this.#delivering.length = 0;
		}
	}
}
