import assert from 'node:assert/strict';
import {test} from 'node:test';
import {request, startDrone, startQueen} from '../helpers/larves.js';
import {fakeDrone} from '../helpers/servers.js';
import {waitFor} from '../helpers/wait.js';

// How the queen reads a drone's failure to take a task: a drone that dies taking it, a drone that
// refuses it as malformed, and a task no drone could ever take.

test('a drone that dies taking a task costs the task an attempt; past --task-retries it fails, saying its drones died taking it', async t => {
	const queen = await startQueen(t, {taskRetries: 1});
	const killer = await fakeDrone(t);
	killer.resetTasks();
	assert.equal((await request(`${queen.url}/register`, {body: {address: killer.address}})).status, 200);
	const answer = await request(`${queen.url}/submit_task`, {body: {text: 'the drone dies taking this'}});
	const id = answer.body.task.id as string;
	const failed = await waitFor(async () => {
		const {task} = (await request(`${queen.url}/tasks/${id}`)).body;
		return task.state === 'failed' && task;
	}, 'the task to fail');
	assert.equal(failed.retries, 1);
	assert.equal(failed.attempts, 2);
	assert.match(failed.error, /died taking it/);
});

test('a task a drone refuses as malformed fails at once, with the drone\'s reason', async t => {
	const queen = await startQueen(t);
	const picky = await fakeDrone(t);
	picky.refuseTasks(400, 'text is not what this drone takes', 'ERR_HIVE_BAD_BODY');
	assert.equal((await request(`${queen.url}/register`, {body: {address: picky.address}})).status, 200);
	const answer = await request(`${queen.url}/submit_task`, {body: {text: 'something the drone will not take'}});
	assert.equal(answer.status, 200);
	assert.equal(answer.body.task.state, 'failed');
	assert.equal(answer.body.task.attempts, 1);
	assert.match(answer.body.task.error, /text is not what this drone takes/);
});

test('a text task larger than a drone can take is refused at submit with 413; one at the limit reaches the drone whole', async t => {
	const queen = await startQueen(t);
	const drone = await startDrone(t, queen);
	// Under the queen's 1 MiB body limit, but over it once the queen adds the task's id for the drone.
	const poison = await request(`${queen.url}/submit_task`, {body: {text: 'x'.repeat((1024 * 1024) - 20)}});
	assert.equal(poison.status, 413);
	assert.match(poison.body.error, /^text is 1048556 bytes; a task's text may be at most 524288 bytes \(512 KiB\)/);
	assert.equal((await request(`${queen.url}/tasks`)).body.total, 0);

	const largest = 'y'.repeat(512 * 1024);
	const taken = await request(`${queen.url}/submit_task`, {body: {text: largest}});
	assert.equal(taken.status, 200);
	assert.equal(taken.body.task.state, 'succeeded');
	assert.deepEqual(drone.stdout.lines, [largest]);
	// Escapes count as the drone will receive them: 512 KiB of JSON, not of characters.
	const escaped = await request(`${queen.url}/submit_task`, {body: {text: '\u0001'.repeat(100_000)}});
	assert.equal(escaped.status, 413);
});

test('a 400 from something else at a drone\'s address (a queen: "In queen mode") does not fail the task: it waits for a drone', async t => {
	const queen = await startQueen(t);
	const notADrone = await fakeDrone(t);
	notADrone.refuseTasks(400, 'In queen mode, not taking tasks');
	assert.equal((await request(`${queen.url}/register`, {body: {address: notADrone.address}})).status, 200);
	const answer = await request(`${queen.url}/submit_task`, {body: {text: 'for a real drone'}});
	assert.equal(answer.status, 202);
	assert.equal(answer.body.task.state, 'pending');
	const drone = await startDrone(t, queen);
	await waitFor(() => drone.stdout.lines.includes('for a real drone'), 'a real drone to take the task');
});
