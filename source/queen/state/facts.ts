import type {ContainerSpec, DroneRecord, Labels, TaskKind, TaskResult} from '../../model.js';

/**
Facts: what the store keeps. A command of the hive decides everything first — ids, names, clocks,
which task goes back to the queue and which is lost — and writes it down as facts; applying a fact
decides nothing, so replaying the store rebuilds the same hive. Each fact, once written, has a
revision (the store's sequence number), which is also the id of the event clients see for it.
*/
export type Fact =
	| {readonly type: 'drone.registered'; readonly at: number; readonly drone: DroneRecord; readonly again: boolean; readonly nextNumber: number}
	| {readonly type: 'drone.left'; readonly at: number; readonly drone: string}
	| {readonly type: 'drone.evicted'; readonly at: number; readonly drone: string; readonly reason: string}
	/** Takes no new tasks (a person's `by`); `uncordoned` undoes it, and ends a drain under way. */
	| {readonly type: 'drone.cordoned'; readonly at: number; readonly drone: string; readonly by: string}
	| {readonly type: 'drone.uncordoned'; readonly at: number; readonly drone: string; readonly by: string}
	/** Cordoned, and drained once nothing runs there; `deadline` (ms since the epoch), when what runs is moved. */
	| {readonly type: 'drone.draining'; readonly at: number; readonly drone: string; readonly by: string; readonly deadline: number | undefined}
	/** Nothing runs there any more: the drain is over; the drone stays cordoned. */
	| {readonly type: 'drone.drained'; readonly at: number; readonly drone: string}
	| {readonly type: 'task.submitted'; readonly at: number; readonly task: SubmittedTask}
	| {readonly type: 'task.dispatched'; readonly at: number; readonly id: string; readonly drone: string}
	/** The drone did not take it: it waits again, in its place in the queue. */
	| {readonly type: 'task.refused'; readonly at: number; readonly id: string; readonly drone: string; readonly reason: string}
	| {readonly type: 'task.running'; readonly at: number; readonly id: string}
	/**
	Its drone was lost (left, evicted, restarted, or no longer runs it): it waits again, one retry more. `moved`:
	taken off a drone being drained (its deadline passed), which costs it no retry.
	*/
	| {readonly type: 'task.requeued'; readonly at: number; readonly id: string; readonly drone: string; readonly reason: string; readonly moved?: boolean}
	/** A person cancelled it (`by`): it leaves the queue, or its place on its drone (its slot is free). */
	| {readonly type: 'task.cancelled'; readonly at: number; readonly id: string; readonly by: string}
	/** What a cancelled command left once its drone stopped it: its output so far (`result`), or why the drone could not be told (`error`). */
	| {readonly type: 'task.stopped'; readonly at: number; readonly id: string; readonly result?: TaskResult | undefined; readonly error?: string | undefined}
	| {readonly type: 'task.succeeded'; readonly at: number; readonly id: string; readonly drone: string; readonly result?: TaskResult | undefined}
	| {readonly type: 'task.failed'; readonly at: number; readonly id: string; readonly drone?: string | undefined; readonly error: string; readonly result?: TaskResult | undefined}
	| {readonly type: 'task.lost'; readonly at: number; readonly id: string; readonly drone: string; readonly error: string};

export type FactType = Fact['type'];

export type SubmittedTask = {
	readonly id: string;
	readonly kind: TaskKind;
	readonly text?: string | undefined;
	readonly command?: string | undefined;
	readonly container?: ContainerSpec | undefined;
	readonly selector: Labels;
	readonly idempotencyKey?: string | undefined;
};

/** A fact with its revision, as the store hands it back. */
export type StoredFact = {readonly revision: number; readonly fact: Fact};
