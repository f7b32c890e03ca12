import assert from 'node:assert/strict';
import {test} from 'node:test';
import {spawnLarve} from '../helpers/binary.js';
import {followEvents} from '../helpers/events.js';
import {request, startDrone, startQueen} from '../helpers/larves.js';
import {killProcessesWith, treesWith, uniqueSleep} from '../helpers/processes.js';

test('a drone runs a task id once: the same id five times starts one command, answered as the first', async t => {
	const queen = await startQueen(t);
	const drone = await startDrone(t, queen, {allowExec: true, slots: 2});
	const sleeper = uniqueSleep();
	t.after(() => killProcessesWith(sleeper));
	const task = {id: 'the-same-task', command: `exec sleep ${sleeper}`};
	for (let n = 0; n < 5; n++) {
		// eslint-disable-next-line no-await-in-loop -- one after another, as a queen that sends a task again
		const answer = await request(`${drone.url}/do_task`, {body: task});
		assert.equal(answer.status, 200);
		assert.deepEqual(answer.body, {result: 'OK', state: 'running'});
	}

	const batch = await request(`${drone.url}/do_tasks`, {body: {tasks: [task, task]}});
	assert.deepEqual(batch.body.results, [{status: 200, result: 'OK', state: 'running'}, {status: 200, result: 'OK', state: 'running'}]);
	// Each command the drone started is one process tree holding the marker (the drone's child and its own).
	assert.equal(treesWith(sleeper).length, 1, 'one command started');
	const health = await request(`${drone.url}/healthz`);
	assert.equal(health.body.running, 1);
	assert.deepEqual(health.body.tasks, ['the-same-task']);
});

test('a drone never takes more commands than its slots', async t => {
	const queen = await startQueen(t);
	const drone = await startDrone(t, queen, {allowExec: true, slots: 2});
	const sleeper = uniqueSleep();
	t.after(() => killProcessesWith(sleeper));
	const answers = [];
	for (const id of ['a', 'a', 'b', 'c', 'b', 'd']) {
		// eslint-disable-next-line no-await-in-loop -- in order: which one finds the slots full is the point
		answers.push((await request(`${drone.url}/do_task`, {body: {id, command: `exec sleep ${sleeper}`}})).status);
	}

	assert.deepEqual(answers, [200, 200, 200, 429, 200, 429]);
	assert.equal(treesWith(sleeper).length, 2);
	assert.equal((await request(`${drone.url}/healthz`)).body.running, 2);
});

test('a drone paused until evicted, then sent its own task again, runs it once: the queen finds it running', async t => {
	const queen = await startQueen(t);
	const events = await followEvents(t, queen.url);
	const drone = spawnLarve(t, ['--queen-host', queen.address, '--port', '0', '--allow-exec', '--slots', '2']);
	const droneUrl = await drone.url();
	const sleeper = uniqueSleep();
	t.after(() => killProcessesWith(sleeper));
	const answer = await request(`${queen.url}/submit_task`, {body: {command: `exec sleep ${sleeper}`}});
	const id = answer.body.task.id as string;
	assert.equal(answer.body.task.state, 'running');
	drone.child.kill('SIGSTOP');
	await events.waitFor(event => event.type === 'drone.evicted', 'the paused drone to be evicted');
	drone.child.kill('SIGCONT');
	// No other drone: the task goes back to the same drone once it registers again.
	const again = await events.waitFor(event => event.type === 'task.running' && event.task.id === id && event.task.retries === 1, 'the task to run again', 15_000);
	assert.equal(again.task.drone, answer.body.task.drone);
	assert.equal(treesWith(sleeper).length, 1, 'the drone still runs the first copy, and no second');
	const health = await request(`${droneUrl}/healthz`);
	assert.equal(health.body.running, 1);
	assert.deepEqual(health.body.tasks, [id]);
});
