import assert from 'node:assert/strict';
import {test} from 'node:test';
import {droneFlags} from '../../source/queen/local-drones.js';
import {spawnLarve} from '../helpers/binary.js';
import {request} from '../helpers/larves.js';
import {waitFor} from '../helpers/wait.js';

const token = 'a-local-hive-token-of-the-test';
const bearer = {authorization: `Bearer ${token}`};

test('a queen\'s --allow-exec, --slots and --label reach its --local-drones: a command task runs there to success', async t => {
	const queen = spawnLarve(t, ['--queen', '--port', '0', '--store', 'memory', '--local-drones', '1', '--allow-exec', '--slots', '2', '--label', 'zone=local'], {HIVE_TOKEN: token});
	const url = await queen.url();
	const drone = await waitFor(async () => (await request(`${url}/drones`, {headers: bearer})).body.drones?.[0], 'the local drone');
	assert.equal(drone.name, 'local-0');
	assert.equal(drone.allowExec, true);
	assert.equal(drone.slots, 2);
	assert.deepEqual(drone.labels, {zone: 'local'});

	const answer = await request(`${url}/submit_task?wait=true`, {body: {command: 'echo hi; echo there >&2', selector: {zone: 'local'}}, headers: bearer});
	assert.equal(answer.status, 200);
	assert.equal(answer.body.task.state, 'succeeded');
	assert.equal(answer.body.task.drone, 'local-0');
	assert.equal(answer.body.task.result.stdout, 'hi\n');
	assert.equal(answer.body.task.result.stderr, 'there\n');
	queen.child.kill('SIGTERM');
	assert.equal(await queen.exited, 0);
});

test('a local drone\'s flags: none by default; each of the queen\'s drone options, when given', () => {
	assert.deepEqual(droneFlags({}), []);
	assert.deepEqual(droneFlags({allowExec: false, taskTimeoutMs: 0, labels: {}}), []);
	assert.deepEqual(droneFlags({allowExec: true, slots: 3, labels: {zone: 'a', disk: 'ssd'}, taskTimeoutMs: 1500}), ['--allow-exec', '--slots', '3', '--label', 'zone=a', '--label', 'disk=ssd', '--task-timeout', '1.5']);
});
