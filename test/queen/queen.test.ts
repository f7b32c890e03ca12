import assert from 'node:assert/strict';
import {test} from 'node:test';
import {followEvents} from '../helpers/events.js';
import {request, startDrone, startQueen} from '../helpers/larves.js';
import {fakeDrone} from '../helpers/servers.js';
import {waitFor} from '../helpers/wait.js';
import {version} from '../../source/version.js';

test('the queen\'s /healthz is the seed\'s, with the drone map', async t => {
	const queen = await startQueen(t);
	const drone = await startDrone(t, queen);
	const answer = await request(`${queen.url}/healthz`);
	assert.equal(answer.status, 200);
	const {store, history, pending, role, leader, epoch, address, startedAt, cordoned, ...seed} = answer.body;
	assert.deepEqual(cordoned, [], 'the drones that take no new task, beside the seed\'s map');
	assert.deepEqual(seed, {status: 'Status.READY', version, mode: 'Mode.QUEEN', name: 'queen', drones: {[drone.address]: 'drone-0'}});
	assert.deepEqual({role, leader, epoch, address}, {role: 'leader', leader: queen.address, epoch: null, address: queen.address}, 'a queen alone leads, with no epoch');
	assert.ok(Date.now() - Date.parse(startedAt as string) < 60_000, 'when the queen started');
	assert.deepEqual({...history, maxBytes: undefined}, {count: 0, bytes: 0, maxCount: 10_000, maxBytes: undefined}, 'the finished tasks kept, what they weigh, and the bounds of both');
	assert.deepEqual({...pending, maxBytes: undefined}, {count: 0, bytes: 0, maxCount: 10_000, maxBytes: undefined}, 'the tasks waiting, what they weigh, and the bounds of both');
	assert.equal(store.kind, 'memory');
	assert.equal(store.revision, 1, 'one fact: the registration');
	const droneHealth = await request(`${drone.url}/healthz`);
	const {bootId, ...said} = droneHealth.body;
	assert.deepEqual(said, {status: 'Status.READY', version, mode: 'Mode.DRONE', name: 'drone-0', slots: drone.options.slots, running: 0, allowExec: false, contained: false, runtimes: [], labels: {}, tasks: [], taskTimeoutMs: 0, epoch: null});
	assert.match(bootId, /^[\da-f-]{36}$/);
});

test('/register answers the name, and registering an address again keeps it', async t => {
	const queen = await startQueen(t);
	const [one, two] = [await fakeDrone(t), await fakeDrone(t)];
	const first = await request(`${queen.url}/register`, {body: {address: one.address}});
	assert.equal(first.status, 200);
	assert.equal(first.body.result, 'OK');
	assert.equal(first.body.name, 'drone-0');
	const again = await request(`${queen.url}/register`, {body: {address: one.address}});
	assert.equal(again.body.name, 'drone-0');
	const second = await request(`${queen.url}/register`, {body: {address: two.address}});
	assert.equal(second.body.name, 'drone-1');
});

test('a submitted task is printed by a drone, and /submit_task answers the task', async t => {
	const queen = await startQueen(t);
	const drone = await startDrone(t, queen);
	const answer = await request(`${queen.url}/submit_task`, {body: {text: 'hello'}});
	assert.equal(answer.status, 200);
	assert.equal(answer.body.result, 'OK');
	assert.equal(answer.body.task.drone, drone.name);
	assert.equal(answer.body.task.text, 'hello');
	assert.equal(answer.body.task.state, 'succeeded');
	assert.deepEqual(drone.stdout.lines, ['hello']);
	const record = await request(`${queen.url}/tasks/${answer.body.task.id}`);
	assert.equal(record.body.task.drone, drone.name);
	const missing = await request(`${queen.url}/tasks/nope`);
	assert.equal(missing.status, 404);
});

test('with --task-history 0, a task forgotten as soon as it is done is still answered', async t => {
	const queen = await startQueen(t, {taskHistory: 0});
	await startDrone(t, queen);
	const answer = await request(`${queen.url}/submit_task`, {body: {text: 'gone at once'}});
	assert.equal(answer.status, 200);
	assert.equal(answer.body.task.text, 'gone at once');
});

test('with no drone, /submit_task answers 503 and says why', async t => {
	const queen = await startQueen(t);
	const answer = await request(`${queen.url}/submit_task`, {body: {text: 'hello'}});
	assert.equal(answer.status, 503);
	assert.match(answer.body.error, /no drone is registered/);
});

test('tasks are spread over drones at random', async t => {
	const queen = await startQueen(t);
	const drones = [await startDrone(t, queen), await startDrone(t, queen)];
	for (let index = 0; index < 40; index++) {
		// eslint-disable-next-line no-await-in-loop
		assert.equal((await request(`${queen.url}/submit_task`, {body: {text: `task ${index}`}})).status, 200);
	}

	for (const drone of drones) {
		assert.ok(drone.stdout.lines.length > 0, `${drone.name} got no task of 40`);
	}

	assert.equal(drones[0]!.stdout.lines.length + drones[1]!.stdout.lines.length, 40);
});

test('a dead drone fails over: every submit succeeds on the live one, and the dead one is evicted', async t => {
	const queen = await startQueen(t);
	const events = await followEvents(t, queen.url);
	const live = await startDrone(t, queen);
	const doomed = await fakeDrone(t);
	const registered = await request(`${queen.url}/register`, {body: {address: doomed.address}});
	const dead = doomed.address;
	await doomed.die();
	for (let index = 0; index < 20; index++) {
		// eslint-disable-next-line no-await-in-loop
		const answer = await request(`${queen.url}/submit_task`, {body: {text: `task ${index}`}});
		assert.equal(answer.status, 200, JSON.stringify(answer.body));
		assert.equal(answer.body.task.drone, live.name);
	}

	assert.equal(live.stdout.lines.length, 20);
	const evicted = await events.waitFor(event => event.type === 'drone.evicted' && event.drone === registered.body.name, 'the dead drone\'s eviction');
	assert.equal(evicted.address, dead);
	const drones = await request(`${queen.url}/drones`);
	assert.deepEqual(drones.body.drones.map((drone: {name: string}) => drone.name), [live.name]);
});

test('a drone that hangs mid-call stalls nothing: register, healthz, heartbeats and other submits go on', async t => {
	const queen = await startQueen(t, {dispatchTimeoutMs: 60_000});
	const events = await followEvents(t, queen.url);
	const stuck = await fakeDrone(t);
	const stuckName = (await request(`${queen.url}/register`, {body: {address: stuck.address}})).body.name as string;
	stuck.hang();

	// The only drone hangs on this task's /do_task: the seed's queen would hold its lock from here on.
	const hanging = request(`${queen.url}/submit_task`, {body: {text: 'first'}});
	await waitFor(() => stuck.held.some(response => response.req.url === '/do_task'), 'the stuck drone to hold the /do_task call');

	const health = await request(`${queen.url}/healthz`);
	assert.equal(health.status, 200);
	const drone = await startDrone(t, queen);
	// Heartbeats go on too: the stuck drone times out and is evicted while the first call still hangs.
	await events.waitFor(event => event.type === 'drone.evicted' && event.drone === stuckName, 'the stuck drone\'s eviction');
	const second = await request(`${queen.url}/submit_task`, {body: {text: 'second'}});
	assert.equal(second.status, 200);
	assert.equal(second.body.task.drone, drone.name);
	assert.equal(stuck.held.filter(response => response.req.url === '/do_task').length, 1, 'the first call is still held');

	stuck.release();
	const first = await hanging;
	assert.equal(first.status, 200, 'the hung task fails over to the live drone');
	assert.equal(first.body.task.drone, drone.name);
	assert.deepEqual(drone.stdout.lines.sort(), ['first', 'second']);
});

test('a drone evicted while it takes a text task, that then takes it after all: the task ran once, and is done', async t => {
	const queen = await startQueen(t, {dispatchTimeoutMs: 60_000});
	const events = await followEvents(t, queen.url);
	const slow = await fakeDrone(t);
	const slowName = (await request(`${queen.url}/register`, {body: {address: slow.address}})).body.name as string;
	slow.hang();
	const hanging = request(`${queen.url}/submit_task`, {body: {text: 'once'}});
	await waitFor(() => slow.held.some(response => response.req.url === '/do_task'), 'the slow drone to hold the call');
	const other = await startDrone(t, queen);
	await events.waitFor(event => event.type === 'drone.evicted' && event.drone === slowName, 'the eviction');
	slow.release(200);
	const answer = await hanging;
	assert.equal(answer.status, 200);
	assert.equal(answer.body.task.state, 'succeeded');
	assert.equal(answer.body.task.drone, slowName);
	assert.deepEqual(other.stdout.lines, [], 'not run a second time elsewhere');
});

test('GET /drones lists each drone with its state and heartbeat record', async t => {
	const queen = await startQueen(t);
	const drone = await startDrone(t, queen);
	await waitFor(async () => (await request(`${queen.url}/drones`)).body.drones[0]?.lastSeenAgoMs !== null, 'a heartbeat');
	const answer = await request(`${queen.url}/drones`);
	assert.equal(answer.body.maxRetry, 3);
	const [row] = answer.body.drones;
	assert.equal(row.name, drone.name);
	assert.equal(row.address, drone.address);
	assert.equal(row.state, 'ready');
	assert.equal(row.failedAttempts, 0);
	assert.equal(typeof row.lastSeen, 'string');
});

test('GET /events streams what happens, and replays the backlog with ?since=0', async t => {
	const queen = await startQueen(t);
	const live = await followEvents(t, queen.url);
	const drone = await startDrone(t, queen);
	await request(`${queen.url}/submit_task`, {body: {text: 'hello'}});
	const registered = await live.waitFor(event => event.type === 'drone.registered', 'drone.registered');
	assert.equal(registered.drone, drone.name);
	assert.equal(typeof registered.time, 'string');
	const dispatched = await live.waitFor(event => event.type === 'task.dispatched', 'task.dispatched');
	assert.equal(dispatched.task.drone, drone.name);
	await live.waitFor(event => event.type === 'heartbeat.sweep', 'a heartbeat sweep');

	const replay = await followEvents(t, queen.url, '?since=0');
	await replay.waitFor(event => event.type === 'task.submitted', 'the replayed task.submitted');
	assert.equal(replay.events[0]!.type, 'drone.registered');
	const bad = await request(`${queen.url}/events?since=abc`);
	assert.equal(bad.status, 400);
});
