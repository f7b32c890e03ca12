import assert from 'node:assert/strict';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {test} from 'node:test';
import {request, startDrone, startQueen} from '../helpers/larves.js';
import {killProcessesWith, uniqueSleep} from '../helpers/processes.js';
import {fakeDrone} from '../helpers/servers.js';
import {waitFor} from '../helpers/wait.js';
import {histogram, sample, scrape, value} from './scrape.js';

const token = 'metrics-token';
const auth = {authorization: `Bearer ${token}`};

async function submit(url: string, body: unknown): Promise<number> {
	return (await request(`${url}/submit_task`, {body, headers: auth})).status;
}

test('GET /metrics needs the token, and answers the Prometheus text format with it', async t => {
	const queen = await startQueen(t, {token});
	const without = await scrape(queen.url);
	assert.equal(without.status, 401);
	assert.match(without.text, /ERR_HIVE_UNAUTHORIZED/);
	assert.equal((await scrape(queen.url, 'wrong')).status, 401);
	const scraped = await scrape(queen.url, token);
	assert.equal(scraped.status, 200);
	assert.equal(scraped.contentType, 'text/plain; version=0.0.4; charset=utf-8');
	for (const name of ['hive_drones', 'hive_tasks', 'hive_submits_total', 'hive_dispatch_latency_seconds', 'hive_heartbeat_sweep_duration_seconds', 'hive_heartbeat_failures_total', 'hive_evictions_total', 'hive_store_write_seconds', 'hive_leader_changes_total', 'hive_leader', 'process_cpu_user_seconds_total', 'nodejs_eventloop_lag_seconds']) {
		assert.ok(scraped.families.get(name), `${name} is exposed`);
		assert.notEqual(scraped.families.get(name)!.help, '', `${name} has help text`);
	}
});

test('with --metrics-open, GET /metrics answers without the token (and the rest still needs it)', async t => {
	const queen = await startQueen(t, {token, metricsOpen: true});
	const scraped = await scrape(queen.url);
	assert.equal(scraped.status, 200);
	assert.equal(value(scraped, 'hive_leader'), 1);
	assert.equal((await request(`${queen.url}/drones`)).status, 401);
});

test('submits are counted by outcome, and the tasks by state and the dispatch latency move with them', async t => {
	const queen = await startQueen(t, {token});
	// No drone yet: nothing can ever take it (503).
	assert.equal(await submit(queen.url, {text: 'nobody'}), 503);
	await startDrone(t, queen, {token});
	const before = await scrape(queen.url, token);
	for (let index = 0; index < 5; index++) {
		// eslint-disable-next-line no-await-in-loop
		assert.equal(await submit(queen.url, {text: `hello ${index}`}), 200);
	}

	// No drone has the label: it waits (202).
	assert.equal(await submit(queen.url, {text: 'waits', selector: {zone: 'nowhere'}}), 202);
	// Not a task at all (400).
	assert.equal(await submit(queen.url, {nonsense: true}), 400);
	const after = await waitFor(async () => {
		const scraped = await scrape(queen.url, token);
		return value(scraped, 'hive_tasks', {state: 'succeeded'}) === 5 ? scraped : undefined;
	}, 'the five texts to have succeeded');

	const outcome = (scraped: typeof before, name: string) => value(scraped, 'hive_submits_total', {outcome: name});
	assert.equal(outcome(before, 'failed'), 1);
	assert.equal(outcome(before, 'dispatched'), 0);
	assert.deepEqual(['dispatched', 'queued', 'refused', 'failed'].map(name => outcome(after, name)), [5, 1, 1, 1]);
	assert.equal(value(after, 'hive_tasks', {state: 'pending'}), 1);
	assert.equal(value(after, 'hive_tasks', {state: 'failed'}), 1);
	assert.equal(value(after, 'hive_drones', {state: 'ready'}), 1);
	assert.equal(value(after, 'hive_drones', {state: 'suspect'}), 0);
	// One observation per task a drone took: the five texts (not the one waiting, not the one that failed).
	assert.equal(histogram(before, 'hive_dispatch_latency_seconds').count, 0);
	const latency = histogram(after, 'hive_dispatch_latency_seconds');
	assert.equal(latency.count, 5);
	assert.ok(latency.sum > 0, `the latencies add up to more than 0 (${latency.sum})`);
});

test('a drone that stops answering moves the failed heartbeats, the evictions and the heartbeat turns', async t => {
	const queen = await startQueen(t, {token, maxRetry: 3});
	const doomed = await fakeDrone(t);
	assert.equal((await request(`${queen.url}/register`, {body: {address: doomed.address}, headers: auth})).status, 200);
	const alive = await waitFor(async () => {
		const scraped = await scrape(queen.url, token);
		return histogram(scraped, 'hive_heartbeat_sweep_duration_seconds').count > 0 ? scraped : undefined;
	}, 'a heartbeat turn to be counted');
	assert.equal(value(alive, 'hive_heartbeat_failures_total'), 0);
	assert.equal(value(alive, 'hive_evictions_total'), 0);
	assert.equal(value(alive, 'hive_drones', {state: 'ready'}), 1);

	await doomed.die();
	const gone = await waitFor(async () => {
		const scraped = await scrape(queen.url, token);
		return value(scraped, 'hive_evictions_total') === 1 ? scraped : undefined;
	}, 'the eviction to be counted');
	assert.equal(value(gone, 'hive_heartbeat_failures_total'), 3, 'one failure per attempt, --max-retry of them');
	assert.equal(value(gone, 'hive_drones', {state: 'ready'}) + value(gone, 'hive_drones', {state: 'suspect'}), 0);
	assert.ok(histogram(gone, 'hive_heartbeat_sweep_duration_seconds').count > histogram(alive, 'hive_heartbeat_sweep_duration_seconds').count);
});

test('the store\'s writes are timed: each durable batch once, however many commands share it', async t => {
	const dir = mkdtempSync(path.join(tmpdir(), 'hive-metrics-'));
	t.after(() => rmSync(dir, {recursive: true, force: true}));
	const queen = await startQueen(t, {token, store: 'file', dataDir: dir});
	await startDrone(t, queen, {token});
	const before = histogram(await scrape(queen.url, token), 'hive_store_write_seconds');
	// At once: commands of one turn of the event loop share a batch (one write, one fsync).
	const statuses = await Promise.all(Array.from({length: 20}, async (_, index) => submit(queen.url, {text: `kept ${index}`})));
	assert.deepEqual(new Set(statuses), new Set([200]));
	const syncs = async () => (await request(`${queen.url}/healthz`)).body.store as {syncs: number; records: number};
	const settled = await waitFor(async () => {
		const first = await syncs();
		const timed = histogram(await scrape(queen.url, token), 'hive_store_write_seconds');
		const last = await syncs();
		return first.syncs === last.syncs && timed.count === last.syncs ? {timed, store: last} : undefined;
	}, 'one write timed per batch the store wrote');
	assert.ok(settled.timed.count > before.count);
	assert.ok(settled.timed.sum > before.sum);
	assert.ok(settled.store.records > settled.store.syncs, `commands shared batches (${settled.store.records} commands in ${settled.store.syncs} batches): timing each command would count more`);
});

test('a memory store writes nothing, and times nothing', async t => {
	const queen = await startQueen(t, {token});
	await startDrone(t, queen, {token});
	assert.equal(await submit(queen.url, {text: 'in memory'}), 200);
	assert.equal(histogram(await scrape(queen.url, token), 'hive_store_write_seconds').count, 0);
});

test('a queen alone leads: hive_leader is 1 and it has seen one leader', async t => {
	const queen = await startQueen(t, {token});
	const scraped = await scrape(queen.url, token);
	assert.equal(value(scraped, 'hive_leader'), 1);
	assert.equal(value(scraped, 'hive_leader_changes_total'), 1);
	assert.equal(sample(scraped, 'hive_drones_cordoned'), 0);
});

test('cordons, drains and cancels move the drone and task gauges', async t => {
	const queen = await startQueen(t, {token});
	const drone = await startDrone(t, queen, {token, allowExec: true, slots: 2});
	const running = await request(`${queen.url}/submit_task`, {body: {command: 'sleep 30'}, headers: auth});
	assert.equal(running.status, 200);
	const before = await scrape(queen.url, token);
	assert.equal(value(before, 'hive_drones_cordoned'), 0);
	assert.equal(value(before, 'hive_drones_draining'), 0);
	assert.equal(value(before, 'hive_tasks', {state: 'running'}), 1);
	assert.equal(value(before, 'hive_tasks', {state: 'cancelled'}), 0);

	// A drain with a command running there: cordoned, and draining until nothing runs.
	assert.equal((await request(`${queen.url}/drones/${drone.name}/drain`, {body: {deadline: 600}, headers: auth})).status, 202);
	const draining = await scrape(queen.url, token);
	assert.equal(value(draining, 'hive_drones_cordoned'), 1);
	assert.equal(value(draining, 'hive_drones_draining'), 1);
	assert.equal(value(draining, 'hive_drones', {state: 'ready'}), 1, 'a cordoned drone is still ready (it answers)');

	// Cancelling the command ends the drain; the drone stays cordoned, a new task waits.
	assert.equal((await request(`${queen.url}/tasks/${running.body.task.id as string}`, {method: 'DELETE', headers: auth})).status, 200);
	assert.equal(await submit(queen.url, {text: 'waits for an uncordon'}), 202);
	const drained = await waitFor(async () => {
		const scraped = await scrape(queen.url, token);
		return value(scraped, 'hive_drones_draining') === 0 ? scraped : undefined;
	}, 'the drain to end');
	assert.equal(value(drained, 'hive_drones_cordoned'), 1);
	assert.equal(value(drained, 'hive_tasks', {state: 'cancelled'}), 1);
	assert.equal(value(drained, 'hive_tasks', {state: 'running'}), 0);
	assert.equal(value(drained, 'hive_tasks', {state: 'pending'}), 1);
	assert.equal(value(drained, 'hive_submits_total', {outcome: 'queued'}), 1);

	assert.equal((await request(`${queen.url}/drones/${drone.name}/uncordon`, {method: 'POST', headers: auth})).status, 200);
	const uncordoned = await waitFor(async () => {
		const scraped = await scrape(queen.url, token);
		return value(scraped, 'hive_tasks', {state: 'succeeded'}) === 1 ? scraped : undefined;
	}, 'the waiting text to be printed once the drone is uncordoned');
	assert.equal(value(uncordoned, 'hive_drones_cordoned'), 0);
	assert.equal(histogram(uncordoned, 'hive_dispatch_latency_seconds').count, 2, 'the command, and the text once placed');
});

test('a task moved off a drained drone counts once in the dispatch latency: its first placement', async t => {
	const queen = await startQueen(t, {token});
	const first = await startDrone(t, queen, {token, allowExec: true});
	const marker = uniqueSleep();
	t.after(() => {
		killProcessesWith(marker);
	});
	const running = await request(`${queen.url}/submit_task`, {body: {command: `sleep ${marker}`}, headers: auth});
	assert.equal(running.body.task.drone, first.name);
	const second = await startDrone(t, queen, {token, allowExec: true});
	assert.equal((await request(`${queen.url}/drones/${first.name}/drain?wait=true`, {body: {deadline: 0.2}, headers: auth})).status, 200);
	await waitFor(async () => {
		const {task} = (await request(`${queen.url}/tasks/${running.body.task.id as string}`, {headers: auth})).body;
		return task.state === 'running' && task.drone === second.name;
	}, 'the task to run on the other drone');
	assert.equal(histogram(await scrape(queen.url, token), 'hive_dispatch_latency_seconds').count, 1);
});
