import assert from 'node:assert/strict';
import {test} from 'node:test';
import {spawnLarve} from '../helpers/binary.js';
import {request, startDrone, startQueen} from '../helpers/larves.js';
import {waitFor} from '../helpers/wait.js';

/*
The eviction race: a drone running two commands is killed while another drone has room. Its two tasks
come back to the queue in one eviction; placing the first must not see the second half-requeued (it
was placed on the other drone, then marked pending outside the queue: pending forever, and a slot of
the other drone taken for good).
*/
test('a drone running two commands is killed while another has room: both run there, and its slots come back', async t => {
	const queen = await startQueen(t);
	const doomed = spawnLarve(t, ['--queen-host', queen.address, '--port', '0', '--allow-exec', '--slots', '2']);
	await doomed.url();
	await waitFor(async () => (await request(`${queen.url}/drones`)).body.drones.length === 1, 'the first drone');
	const ids: string[] = [];
	for (const word of ['one', 'two']) {
		// eslint-disable-next-line no-await-in-loop
		const answer = await request(`${queen.url}/submit_task`, {body: {command: `sleep 1.5; echo ${word}`}});
		assert.equal(answer.body.task.state, 'running');
		ids.push(answer.body.task.id as string);
	}

	const survivor = await startDrone(t, queen, {allowExec: true, slots: 2});
	doomed.child.kill('SIGKILL');

	for (const id of ids) {
		// eslint-disable-next-line no-await-in-loop
		const task = await waitFor(async () => {
			const {body} = await request(`${queen.url}/tasks/${id}`);
			return body.task.state === 'succeeded' ? body.task : undefined;
		}, `task ${id} to succeed on the other drone`, 20_000);
		assert.equal(task.drone, survivor.name);
		assert.equal(task.retries, 1);
	}

	assert.equal((await request(`${queen.url}/tasks?state=pending`)).body.total, 0, 'nothing left pending');
	const drones = (await request(`${queen.url}/drones`)).body.drones as Array<{name: string; running: number}>;
	assert.deepEqual(drones.map(drone => [drone.name, drone.running]), [[survivor.name, 0]], 'the survivor\'s slots are free again');
});
