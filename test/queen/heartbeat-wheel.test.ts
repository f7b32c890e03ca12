import assert from 'node:assert/strict';
import {test, type TestContext} from 'node:test';
import type {Larve} from '../../source/larve.js';
import type {HiveEvent} from '../../source/queen/hive.js';
import {request, startQueen} from '../helpers/larves.js';
import {fakeDrone, type FakeDrone} from '../helpers/servers.js';
import {waitFor} from '../helpers/wait.js';

// Heartbeats on a wheel: a drone that answers task batches needs no heartbeat, until it stops answering.

/** One turn of the wheel a second (20 slots), retries 0.1 s apart: a dead drone is evicted within 1.2 s. */
const wheel = {heartbeatIntervalMs: 1000, retryDelayMs: 100, heartbeatTimeoutMs: 500, maxRetry: 3} as const;

type Seen = {readonly event: HiveEvent; readonly lastSeen: number | undefined; readonly taken: number};

/** The queen's events as they happen, each with the drone's `lastSeen` and the tasks it had taken at that moment. */
function record(t: TestContext, queen: Larve, drone: FakeDrone, name: () => string | undefined): Seen[] {
	const seen: Seen[] = [];
	const unsubscribe = queen.hive!.subscribe(event => {
		const current = name();
		seen.push({event, lastSeen: current === undefined ? undefined : queen.hive!.drone(current)?.lastSeen, taken: drone.taken.length});
	});
	t.after(unsubscribe);
	return seen;
}

/** Submits text tasks one after the other until stopped. */
function keepSubmitting(queenUrl: string): () => Promise<void> {
	let running = true;
	const loop = (async () => {
		while (running) {
			// eslint-disable-next-line no-await-in-loop
			const answer = await request(`${queenUrl}/submit_task`, {body: {text: 'busy'}});
			assert.equal(answer.status, 200, JSON.stringify(answer.body));
		}
	})();
	return async () => {
		running = false;
		await loop;
	};
}

const sweeps = (seen: readonly Seen[]) => seen.filter(each => each.event.type === 'heartbeat.sweep') as Array<Seen & {readonly event: Extract<HiveEvent, {type: 'heartbeat.sweep'}>}>;

test('a drone that answers task batches is not heartbeated while it does; once it dies, heartbeats evict it within the bound', async t => {
	const queen = await startQueen(t, wheel);
	const busy = await fakeDrone(t);
	busy.takeTasks();
	let name: string | undefined;
	const seen = record(t, queen, busy, () => name);
	name = (await request(`${queen.url}/register`, {body: {address: busy.address}})).body.name as string;
	await waitFor(() => sweeps(seen).some(each => each.event.checked === 1), 'a turn that checked the idle drone');

	const stop = keepSubmitting(queen.url);
	try {
		// Two turns in a row that checked nobody: the one drone was skipped for a whole turn, its answers standing
		// for heartbeats (a queen that checked every drone every turn would say checked: 1 in each).
		const [first, second] = await waitFor(() => {
			const all = sweeps(seen);
			const index = all.findIndex((each, at) => at > 0 && each.event.checked === 0 && all[at - 1]!.event.checked === 0 && each.taken > all[at - 1]!.taken);
			return index > 0 ? [all[index - 1]!, all[index]!] as const : undefined;
		}, 'two turns in a row in which the busy drone was not checked');
		assert.ok(second.lastSeen! > first.lastSeen!, 'its lastSeen follows its answers while it is not heartbeated');
	} finally {
		await stop();
	}

	// No task reaches it now: only heartbeats can tell it is gone.
	const diedAt = seen.length;
	await busy.die();
	await waitFor(() => seen.slice(diedAt).some(each => each.event.type === 'drone.evicted'), 'the eviction');
	const after = seen.slice(diedAt);
	const evictedAt = after.findIndex(each => each.event.type === 'drone.evicted');
	const failedAt = after.findIndex(each => each.event.type === 'heartbeat.failed');
	const failures = after.slice(0, evictedAt).filter(each => each.event.type === 'heartbeat.failed').map(each => each.event as Extract<HiveEvent, {type: 'heartbeat.failed'}>);
	assert.deepEqual(failures.map(event => `${event.drone} ${event.attempt}/${event.maxRetry}`), [`${name} 1/3`, `${name} 2/3`, `${name} 3/3`]);
	// The bound: its first check after its last answer was due within one interval, that is one turn of the
	// wheel, so at most one turn ended between its death and its first failed attempt (a drone skipped and
	// left in its slot would be checked up to two turns after its last answer).
	const turnsBeforeFailure = sweeps(after.slice(0, failedAt)).length;
	assert.ok(turnsBeforeFailure <= 1, `turns that ended between its death and its first failed attempt: ${turnsBeforeFailure}`);
});

test('a drone with a command placed there is heartbeated every turn however many task batches it answers: the check settles the command', async t => {
	const queen = await startQueen(t, wheel);
	const worker = await fakeDrone(t);
	worker.takeTasks();
	worker.health = {tasks: worker.taken};
	let name: string | undefined;
	const seen = record(t, queen, worker, () => name);
	name = (await request(`${queen.url}/register`, {body: {address: worker.address, allowExec: true}})).body.name as string;
	const command = await request(`${queen.url}/submit_task`, {body: {command: 'sleep 1000'}});
	assert.equal(command.body.task.state, 'running');

	const stop = keepSubmitting(queen.url);
	const from = sweeps(seen).length;
	try {
		// Four turns in which it answered task batches.
		await waitFor(() => {
			const all = sweeps(seen);
			return all.slice(from + 1).filter((each, index) => each.taken > all[from + index]!.taken).length >= 4;
		}, 'four turns in which the drone answered task batches');
	} finally {
		await stop();
	}

	const turns = sweeps(seen).slice(from + 1);
	assert.deepEqual(turns.map(each => each.event.checked).filter(checked => checked !== 1), [], 'every turn checked it');
	assert.equal((await request(`${queen.url}/tasks/${command.body.task.id as string}`)).body.task.state, 'running', 'the command it holds stays running');
});

test('drones that register in a burst are spread over the wheel: their checks do not come at once', async t => {
	const queen = await startQueen(t, wheel);
	const drones = await Promise.all(Array.from({length: 20}, async () => fakeDrone(t)));
	// Right after a turn begins (its first tick reports the turn before), the burst registers.
	await new Promise<void>(resolve => {
		const unsubscribe = queen.hive!.subscribe(event => {
			if (event.type === 'heartbeat.sweep') {
				unsubscribe();
				resolve();
			}
		});
	});
	await Promise.all(drones.map(async drone => queen.hive!.register({address: drone.address})));
	const registeredAt = performance.now();
	// Two turns later, every drone has been checked at its own slot at least once.
	await waitFor(() => drones.every(drone => drone.checks.filter(at => at > registeredAt).length >= 2), 'every drone checked on two turns', 10_000);
	// Each drone's phase on the wheel (20 slots of 50 ms): one slot for all of them would be a burst.
	const phases = new Set(drones.map(drone => Math.floor((drone.checks.findLast(at => at > registeredAt)! % wheel.heartbeatIntervalMs) / 50)));
	assert.ok(phases.size >= 8, `20 drones checked at ${phases.size} phases of the wheel`);
});
