import assert from 'node:assert/strict';
import {test, type TestContext} from 'node:test';
import {createDroneClient, whyNotTaken} from '../../source/client/drone-client.js';
import {CallError} from '../../source/client/http.js';
import {request, startDrone, type TestDrone} from '../helpers/larves.js';
import {fakeQueen} from '../helpers/servers.js';
import {waitFor} from '../helpers/wait.js';

/** A real drone registered with a fake queen that never calls it (no re-registration during the test): the test is its queen. */
async function droneWithKey(t: TestContext): Promise<{drone: TestDrone; key: string}> {
	const queen = await fakeQueen(t);
	const drone = await startDrone(t, queen);
	const key = String(queen.registrations[0]!.contactKey);
	return {drone, key};
}

const asQueen = (key: string, epoch?: number): Record<string, string> => ({'x-hive-contact-key': key, ...(epoch === undefined ? {} : {'x-hive-epoch': String(epoch)})});

test('a drone refuses a call with an epoch older than its queen has shown, before doing anything', async t => {
	const {drone, key} = await droneWithKey(t);
	assert.equal((await request(`${drone.url}/healthz`)).body.epoch, null, 'no epoch seen yet');

	const five = await request(`${drone.url}/do_task`, {body: {text: 'five'}, headers: asQueen(key, 5)});
	assert.equal(five.status, 200);
	assert.deepEqual(drone.stdout.lines, ['five']);
	assert.equal((await request(`${drone.url}/healthz`)).body.epoch, 5);

	const four = await request(`${drone.url}/do_task`, {body: {text: 'four'}, headers: asQueen(key, 4)});
	assert.equal(four.status, 409);
	assert.deepEqual(four.body, {error: 'epoch 4 is older than 5: another queen leads now', code: 'ERR_HIVE_STALE_EPOCH'});
	const batch = await request(`${drone.url}/do_tasks`, {body: {tasks: [{text: 'four again'}]}, headers: asQueen(key, 4)});
	assert.equal(batch.status, 409);
	assert.equal(batch.body.code, 'ERR_HIVE_STALE_EPOCH');
	// A deposed queen's heartbeat is refused too: to it, the drone is lost.
	const heartbeat = await request(`${drone.url}/healthz`, {headers: asQueen(key, 4)});
	assert.equal(heartbeat.status, 409);
	assert.equal(heartbeat.body.code, 'ERR_HIVE_STALE_EPOCH');
	assert.deepEqual(drone.stdout.lines, ['five'], 'no task of the older epoch ran');

	// The same epoch, or a newer one, is the queen's.
	assert.equal((await request(`${drone.url}/do_task`, {body: {text: 'five again'}, headers: asQueen(key, 5)})).status, 200);
	assert.equal((await request(`${drone.url}/healthz`, {headers: asQueen(key, 6)})).body.epoch, 6);
});

test('a caller without the contact key cannot raise the epoch and lock the queen out', async t => {
	const {drone, key} = await droneWithKey(t);
	assert.equal((await request(`${drone.url}/do_task`, {body: {text: 'from the queen'}, headers: asQueen(key, 5)})).status, 200);
	const stranger = await request(`${drone.url}/do_task`, {body: {text: 'from a stranger'}, headers: asQueen('a-guess-at-the-key-0123456789abcdef', 9)});
	assert.equal(stranger.status, 200, 'the token decides who may give tasks, as before; the key only whose epoch counts');
	await request(`${drone.url}/healthz`, {headers: asQueen('a-guess-at-the-key-0123456789abcdef', 12)});
	assert.equal((await request(`${drone.url}/healthz`)).body.epoch, 5);
	const queen = await request(`${drone.url}/do_task`, {body: {text: 'the queen still'}, headers: asQueen(key, 5)});
	assert.equal(queen.status, 200);
	assert.deepEqual(drone.stdout.lines, ['from the queen', 'from a stranger', 'the queen still']);
});

test('calls without an epoch are taken as before, even after one was seen', async t => {
	const {drone, key} = await droneWithKey(t);
	assert.equal((await request(`${drone.url}/do_task`, {body: {text: 'no epoch'}})).status, 200);
	assert.equal((await request(`${drone.url}/do_task`, {body: {text: 'key, no epoch'}, headers: asQueen(key)})).status, 200);
	assert.equal((await request(`${drone.url}/do_task`, {body: {text: 'epoch 3'}, headers: asQueen(key, 3)})).status, 200);
	assert.equal((await request(`${drone.url}/do_task`, {body: {text: 'no epoch again'}})).status, 200);
	assert.deepEqual(drone.stdout.lines, ['no epoch', 'key, no epoch', 'epoch 3', 'no epoch again']);
	const bad = await request(`${drone.url}/do_task`, {body: {text: 'bad epoch'}, headers: asQueen(key, 3.5)});
	assert.equal(bad.status, 400);
	assert.equal(bad.body.code, 'ERR_HIVE_BAD_HEADER');
});

test('the queen\'s drone client shows its epoch, and reads a stale-epoch refusal as refused (the task waits again)', async t => {
	const {drone, key} = await droneWithKey(t);
	let epoch: number | undefined = 7;
	const client = createDroneClient({userAgent: 'hive-queen/test', contactKeyFor: () => key, epoch: () => epoch});
	t.after(() => {
		client.close();
	});
	assert.deepEqual(await client.doTask(drone.address, {id: 'one', text: 'at epoch 7'}, 2000), {result: 'OK'});
	assert.equal((await client.healthz(drone.address, 2000)).epoch, 7);

	epoch = 3;
	const refusal = await client.doTask(drone.address, {id: 'two', text: 'at epoch 3'}, 2000).then(() => undefined, (error: unknown) => error);
	assert.ok(refusal instanceof CallError, `refused, not ${String(refusal)}`);
	assert.equal(refusal.answerCode, 'ERR_HIVE_STALE_EPOCH');
	assert.equal(whyNotTaken(refusal), 'refused');
	// The same refusal in a batch (two tasks in one turn go as one /do_tasks).
	const batch = await Promise.allSettled([
		client.doTask(drone.address, {id: 'three', text: 'batch 1'}, 2000),
		client.doTask(drone.address, {id: 'four', text: 'batch 2'}, 2000),
	]);
	for (const each of batch) {
		assert.equal(each.status, 'rejected');
		assert.equal(whyNotTaken(each.reason), 'refused');
	}

	await assert.rejects(client.healthz(drone.address, 2000), {status: 409});
	assert.deepEqual(drone.stdout.lines, ['at epoch 7']);

	epoch = undefined;
	assert.deepEqual(await client.doTask(drone.address, {id: 'five', text: 'no epoch'}, 2000), {result: 'OK'});
});

test('a drone takes the epoch of the queen that accepts its registration, even a lower one (an etcd started anew)', async t => {
	// The fake queen never heartbeats: the drone registers again every 2.5 intervals, each time called back.
	const queen = await fakeQueen(t, {heartbeatIntervalMs: 100, callBack: true});
	queen.epoch = 7;
	const drone = await startDrone(t, queen);
	assert.equal((await request(`${drone.url}/healthz`)).body.epoch, 7);
	const stale = await request(`${drone.url}/do_task`, {body: {text: 'at 2, too early'}, headers: asQueen(String(queen.registrations.at(-1)!.contactKey), 2)});
	assert.equal(stale.status, 409);

	queen.epoch = 2;
	const before = queen.registrations.length;
	await waitFor(async () => queen.registrations.length > before && (await request(`${drone.url}/healthz`)).body.epoch === 2, 'the drone to register again, at epoch 2');
	const taken = await request(`${drone.url}/do_task`, {body: {text: 'at 2'}, headers: asQueen(String(queen.registrations.at(-1)!.contactKey), 2)});
	assert.equal(taken.status, 200);
	assert.deepEqual(drone.stdout.lines, ['at 2']);
});
