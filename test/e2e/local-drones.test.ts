import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {test} from 'node:test';
import {droneFlags, localHiveToken} from '../../source/queen/local-drones.js';
import {spawnLarve, temporaryDirectory} from '../helpers/binary.js';
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

test('a local hive\'s own token is kept with its store (mode 0600): started again, the hive has the same one, so what was given it goes on working', async t => {
	const dataDir = temporaryDirectory(t);
	const startHive = async () => {
		const queen = spawnLarve(t, ['--queen', '--port', '0', '--data-dir', dataDir, '--local-drones', '1']);
		return {queen, url: await queen.url()};
	};

	const first = await startHive();
	const file = path.join(dataDir, 'token');
	const kept = fs.readFileSync(file, 'utf8').trim();
	assert.equal(fs.statSync(file).mode & 0o777, 0o600);
	const headers = {authorization: `Bearer ${kept}`};
	await waitFor(async () => (await request(`${first.url}/drones`, {headers})).body.drones?.[0]?.state === 'ready', 'the local drone, registered with the token');
	first.queen.child.kill('SIGTERM');
	assert.equal(await first.queen.exited, 0);

	const second = await startHive();
	assert.equal((await request(`${second.url}/tasks`, {headers})).status, 200, 'the token given out before still opens the hive');
	assert.equal((await request(`${second.url}/tasks`)).status, 401);
	second.queen.child.kill('SIGTERM');
	assert.equal(await second.queen.exited, 0);

	assert.notEqual(localHiveToken(undefined), localHiveToken(undefined), 'without a store to keep it, a new one each start');
});
