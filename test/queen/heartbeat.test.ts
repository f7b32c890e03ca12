import assert from 'node:assert/strict';
import {test} from 'node:test';
import {followEvents} from '../helpers/events.js';
import {request, startDrone, startQueen} from '../helpers/larves.js';
import {fakeDrone} from '../helpers/servers.js';

test('a drone that stops answering is evicted after --max-retry failed attempts in a row', async t => {
	const queen = await startQueen(t, {maxRetry: 4});
	const events = await followEvents(t, queen.url);
	const doomed = await fakeDrone(t);
	const name = (await request(`${queen.url}/register`, {body: {address: doomed.address}})).body.name as string;
	await doomed.die();
	const evicted = await events.waitFor(event => event.type === 'drone.evicted' && event.drone === name, 'the eviction');
	const failures = events.events.filter(event => event.type === 'heartbeat.failed' && event.drone === name);
	assert.deepEqual(failures.map(event => `${event.attempt}/${event.maxRetry}`), ['1/4', '2/4', '3/4', '4/4']);
	assert.ok(failures.every(event => events.events.indexOf(event) < events.events.indexOf(evicted)), 'every failed attempt comes before the eviction');
	assert.match(evicted.reason, /4 heartbeats failed in a row/);
	assert.deepEqual((await request(`${queen.url}/healthz`)).body.drones, {});
});

test('healthy drones are heartbeated and never evicted', async t => {
	// Sweeps every 100 ms, but a generous time limit: a loaded test machine must not look like a dead drone.
	const queen = await startQueen(t, {heartbeatTimeoutMs: 3000});
	const events = await followEvents(t, queen.url);
	const drones = [await startDrone(t, queen), await startDrone(t, queen), await startDrone(t, queen)];
	// Five sweeps over all three drones.
	for (let sweep = 0; sweep < 5; sweep++) {
		// eslint-disable-next-line no-await-in-loop
		await events.waitFor(event => event.type === 'heartbeat.sweep' && event.checked === 3 && events.events.filter(each => each.type === 'heartbeat.sweep' && each.checked === 3).length > sweep, `sweep ${sweep + 1}`);
	}

	assert.equal(events.events.filter(event => event.type === 'heartbeat.failed' || event.type === 'drone.evicted').length, 0);
	const listed = (await request(`${queen.url}/drones`)).body.drones as Array<{name: string; state: string}>;
	assert.deepEqual(listed.map(drone => drone.name).sort(), drones.map(drone => drone.name).sort());
	assert.ok(listed.every(drone => drone.state === 'ready'));
});

test('a drone that leaves is gone at once, with a drone.left event, and its name is not reused', async t => {
	const queen = await startQueen(t);
	const events = await followEvents(t, queen.url);
	const leaving = await startDrone(t, queen);
	await leaving.stop();
	const left = await events.waitFor(event => event.type === 'drone.left', 'drone.left');
	assert.equal(left.drone, leaving.name);
	assert.deepEqual((await request(`${queen.url}/healthz`)).body.drones, {});
	const next = await startDrone(t, queen);
	assert.notEqual(next.name, leaving.name);
});
