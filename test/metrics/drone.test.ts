import assert from 'node:assert/strict';
import {test} from 'node:test';
import {request, startDrone, startQueen} from '../helpers/larves.js';
import {waitFor} from '../helpers/wait.js';
import {histogram, scrape, value} from './scrape.js';

const token = 'metrics-token';
const auth = {authorization: `Bearer ${token}`};

test('a drone\'s /metrics needs the token, and says its --slots', async t => {
	const queen = await startQueen(t, {token});
	const drone = await startDrone(t, queen, {token, slots: 7, allowExec: true});
	assert.equal((await scrape(drone.url)).status, 401);
	const scraped = await scrape(drone.url, token);
	assert.equal(scraped.status, 200);
	assert.equal(scraped.contentType, 'text/plain; version=0.0.4; charset=utf-8');
	assert.equal(value(scraped, 'hive_drone_slots'), 7);
	assert.equal(value(scraped, 'hive_drone_running_tasks'), 0);
	assert.ok(scraped.families.get('process_resident_memory_bytes'), 'the process metrics are there too');
	// A drone's metrics are its own: none of the queen's.
	assert.equal(scraped.families.get('hive_tasks'), undefined);
});

test('with --metrics-open, a drone\'s /metrics answers without the token (and /do_task still needs it)', async t => {
	const queen = await startQueen(t, {token});
	const drone = await startDrone(t, queen, {token, metricsOpen: true, slots: 2});
	const scraped = await scrape(drone.url);
	assert.equal(scraped.status, 200);
	assert.equal(value(scraped, 'hive_drone_slots'), 2);
	assert.equal((await request(`${drone.url}/do_task`, {body: {text: 'no token'}})).status, 401);
});

test('a command task moves the drone\'s running tasks, its durations and its outcomes; a text its printed count', async t => {
	const queen = await startQueen(t, {token});
	const drone = await startDrone(t, queen, {token, allowExec: true, slots: 2});
	const before = await scrape(drone.url, token);
	assert.equal(histogram(before, 'hive_drone_task_duration_seconds').count, 0);
	assert.equal(value(before, 'hive_drone_tasks_total', {outcome: 'succeeded'}), 0);

	const ids: string[] = [];
	for (const command of ['sleep 0.3', 'exit 3']) {
		// eslint-disable-next-line no-await-in-loop
		const answer = await request(`${queen.url}/submit_task`, {body: {command}, headers: auth});
		assert.equal(answer.status, 200);
		ids.push(answer.body.task.id as string);
	}

	assert.equal((await request(`${queen.url}/submit_task`, {body: {text: 'printed'}, headers: auth})).status, 200);

	const after = await waitFor(async () => {
		const scraped = await scrape(drone.url, token);
		return histogram(scraped, 'hive_drone_task_duration_seconds').count === 2 && value(scraped, 'hive_drone_running_tasks') === 0 ? scraped : undefined;
	}, 'both commands to have ended');
	assert.equal(value(after, 'hive_drone_tasks_total', {outcome: 'succeeded'}), 1);
	assert.equal(value(after, 'hive_drone_tasks_total', {outcome: 'failed'}), 1);
	assert.equal(value(after, 'hive_drone_tasks_total', {outcome: 'timed_out'}), 0);
	assert.equal(value(after, 'hive_drone_text_tasks_total'), 1);
	const durations = histogram(after, 'hive_drone_task_duration_seconds');
	assert.ok(durations.sum >= 0.3, `the sleep's 0.3 s is in the sum (${durations.sum})`);
	// Each bucket counts the commands that took at most its bound, as their results say.
	const took = await Promise.all(ids.map(async id => (await waitFor(async () => (await request(`${queen.url}/tasks/${id}`, {headers: auth})).body.task.result, `the result of ${id}`)).durationMs / 1000));
	for (const [bound, count] of Object.entries(durations.buckets)) {
		assert.equal(count, took.filter(seconds => bound === '+Inf' || seconds <= Number(bound)).length, `bucket le=${bound}`);
	}
});

test('a command that runs past --task-timeout is counted as timed out', async t => {
	const queen = await startQueen(t, {token});
	const drone = await startDrone(t, queen, {token, allowExec: true, taskTimeoutMs: 200});
	assert.equal((await request(`${queen.url}/submit_task`, {body: {command: 'sleep 30'}, headers: auth})).status, 200);
	await waitFor(async () => value(await scrape(drone.url, token), 'hive_drone_tasks_total', {outcome: 'timed_out'}) === 1, 'the timeout to be counted');
});

test('hive_drone_running_tasks counts what runs now', async t => {
	const queen = await startQueen(t, {token});
	const drone = await startDrone(t, queen, {token, allowExec: true, slots: 3});
	for (let index = 0; index < 2; index++) {
		// eslint-disable-next-line no-await-in-loop
		assert.equal((await request(`${queen.url}/submit_task`, {body: {command: 'sleep 3'}, headers: auth})).status, 200);
	}

	const running = value(await scrape(drone.url, token), 'hive_drone_running_tasks');
	assert.equal(running, 2);
	await waitFor(async () => value(await scrape(drone.url, token), 'hive_drone_running_tasks') === 0, 'the commands to end');
});

test('a command its queen cancels is counted as cancelled on its drone', async t => {
	const queen = await startQueen(t, {token});
	const drone = await startDrone(t, queen, {token, allowExec: true});
	const running = await request(`${queen.url}/submit_task`, {body: {command: 'sleep 30'}, headers: auth});
	assert.equal(running.status, 200);
	assert.equal(value(await scrape(drone.url, token), 'hive_drone_running_tasks'), 1);
	assert.equal((await request(`${queen.url}/tasks/${running.body.task.id as string}`, {method: 'DELETE', headers: auth})).status, 200);
	const after = await waitFor(async () => {
		const scraped = await scrape(drone.url, token);
		return value(scraped, 'hive_drone_tasks_total', {outcome: 'cancelled'}) === 1 ? scraped : undefined;
	}, 'the cancel to be counted');
	assert.equal(value(after, 'hive_drone_running_tasks'), 0);
	assert.equal(value(after, 'hive_drone_tasks_total', {outcome: 'failed'}), 0);
	assert.equal(histogram(after, 'hive_drone_task_duration_seconds').count, 1);
});
