import assert from 'node:assert/strict';
import {writeFileSync} from 'node:fs';
import path from 'node:path';
import {test} from 'node:test';
import {spawnLarve, temporaryDirectory} from '../helpers/binary.js';
import {request, startQueen} from '../helpers/larves.js';
import {deadAddress, fakeQueen} from '../helpers/servers.js';
import {waitFor} from '../helpers/wait.js';

test('a drone given --queen-host DEAD,LIVE registers with the live queen', async t => {
	const dead = await deadAddress();
	const queen = await startQueen(t);
	const drone = spawnLarve(t, ['--queen-host', `${dead},${queen.address}`, '--port', '0']);
	await drone.url();
	await waitFor(() => Object.keys(queen.hive!.droneMap()).length === 1, 'the drone to register with the live queen');
	const move = await waitFor(() => drone.logs().find(entry => entry.from === `http://${dead}`), 'a log line that says where the drone moved');
	assert.equal(move.to, queen.url);
	const task = await request(`${queen.url}/submit_task?wait=true`, {body: {text: 'hello from the live queen'}});
	assert.equal(task.body.task.state, 'succeeded');
	await waitFor(() => drone.stdout.includes('hello from the live queen'), 'the drone to print the task');
});

test('a drone whose queen stops registers with the next queen, under its own name', async t => {
	const first = await startQueen(t);
	const second = await startQueen(t);
	const drone = spawnLarve(t, ['--queen-host', `${first.address},${second.address}`, '--port', '0', '--name', 'worker-7']);
	await drone.url();
	await waitFor(() => Object.values(first.hive!.droneMap()).includes('worker-7'), 'the drone to register with the first queen');
	assert.deepEqual(second.hive!.droneMap(), {}, 'the second queen is only the next one');

	await first.stop();
	await waitFor(() => Object.values(second.hive!.droneMap()).includes('worker-7'), 'the drone to register with the second queen, as worker-7', 15_000);
	const moved = await waitFor(() => drone.logs().find(entry => String(entry.msg).startsWith('moved to queen')), 'the drone to say it moved');
	assert.equal(moved.queen, second.url, 'the drone says which queen it moved to');
	const task = await request(`${second.url}/submit_task?wait=true`, {body: {text: 'from the second queen'}});
	assert.equal(task.body.task.state, 'succeeded');
	assert.equal(task.body.task.drone, 'worker-7');
});

test('a task keeps running when its queen goes away, and its result is reported to the next queen', async t => {
	const first = await startQueen(t);
	const next = await fakeQueen(t);
	const drone = spawnLarve(t, ['--queen-host', `${first.address},${next.address}`, '--port', '0', '--allow-exec']);
	await drone.url();
	const go = path.join(temporaryDirectory(t), 'go');
	const submitted = await request(`${first.url}/submit_task`, {body: {command: `while [ ! -e '${go}' ]; do sleep 0.05; done; echo finished`}});
	assert.equal(submitted.body.task.state, 'running');
	const {id, drone: name} = submitted.body.task as {id: string; drone: string};

	await first.stop();
	writeFileSync(go, '');
	const heard = await waitFor(() => next.results.find(each => each.id === id), 'the result to reach the next queen', 20_000);
	assert.equal(heard.body.drone, name);
	assert.equal(heard.body.succeeded, true);
	assert.equal(heard.body.stdout, 'finished\n');
	assert.equal(next.results.filter(each => each.id === id).length, 1, 'heard once, then not sent again');
});
