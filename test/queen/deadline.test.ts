import assert from 'node:assert/strict';
import {test} from 'node:test';
import {fastHeartbeats, request, startDrone, startQueen} from '../helpers/larves.js';
import {fakeDrone} from '../helpers/servers.js';
import {waitFor} from '../helpers/wait.js';

// The queen's own deadline on a command placed on a drone: what the drone's heartbeat says it holds.

async function finalTask(queenUrl: string, id: string, timeoutMs = 10_000) {
	return waitFor(async () => {
		const {task} = (await request(`${queenUrl}/tasks/${id}`)).body;
		return ['succeeded', 'failed', 'lost'].includes(task.state as string) && task;
	}, `task ${id} to end`, timeoutMs);
}

test('a command its drone no longer holds, with no result, does not stay running: it is placed again, then lost', async t => {
	const queen = await startQueen(t, {...fastHeartbeats, taskRetries: 1});
	const forgetful = await fakeDrone(t);
	forgetful.takeTasks();
	forgetful.health = {tasks: []};
	assert.equal((await request(`${queen.url}/register`, {body: {address: forgetful.address, allowExec: true}})).status, 200);
	const answer = await request(`${queen.url}/submit_task`, {body: {command: 'echo never reported'}});
	assert.equal(answer.body.task.state, 'running');
	const task = await finalTask(queen.url, answer.body.task.id as string);
	assert.equal(task.state, 'lost');
	assert.equal(task.retries, 1);
	assert.match(task.error, /no longer holds it and no result came/);
	assert.equal(forgetful.taken.length, 2, 'placed once more before it was lost');
});

test('a command its drone holds past the drone\'s own --task-timeout plus a margin is failed by the queen', async t => {
	const queen = await startQueen(t, fastHeartbeats);
	const stuck = await fakeDrone(t);
	stuck.takeTasks();
	stuck.health = {tasks: stuck.taken, taskTimeoutMs: 200};
	assert.equal((await request(`${queen.url}/register`, {body: {address: stuck.address, allowExec: true}})).status, 200);
	const answer = await request(`${queen.url}/submit_task`, {body: {command: 'sleep 1000'}});
	assert.equal(answer.body.task.state, 'running');
	const task = await finalTask(queen.url, answer.body.task.id as string, 30_000);
	assert.equal(task.state, 'failed');
	assert.match(task.error, /no result from drone-0 10 s past its --task-timeout of 0\.2 s/);
});

test('a real drone\'s long command is not taken from it by the heartbeats that check what it holds', async t => {
	const queen = await startQueen(t, fastHeartbeats);
	await startDrone(t, queen, {allowExec: true, taskTimeoutMs: 5000});
	const answer = await request(`${queen.url}/submit_task`, {body: {command: 'sleep 1.5; echo done'}});
	const task = await finalTask(queen.url, answer.body.task.id as string);
	assert.equal(task.state, 'succeeded');
	assert.equal(task.retries, 0);
	assert.equal(task.attempts, 1);
});
