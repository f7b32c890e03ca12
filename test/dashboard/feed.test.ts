import assert from 'node:assert/strict';
import {test, type TestContext} from 'node:test';
import {createHttpClient} from '../../source/client/http.js';
import {createQueenClient} from '../../source/client/queen-client.js';
import {feedHiveStore, readQueen, tokenRefused, type HiveFeed} from '../../source/dashboard/feed.js';
import {HiveStore, clockTime, type HiveSnapshot} from '../../source/dashboard/hive-store.js';
import {temporaryDirectory} from '../helpers/binary.js';
import {request, startDrone, startQueen} from '../helpers/larves.js';
import {stablePort} from '../helpers/ports.js';
import {deadAddress, fakeFollower} from '../helpers/servers.js';
import {waitFor} from '../helpers/wait.js';

/** A store fed from these queens, fast (with `token`, if given): stopped when the test ends. */
function watch(t: TestContext, hosts: readonly string[], token?: string): {store: HiveStore; feed: HiveFeed} {
	const http = createHttpClient({userAgent: 'hive-dashboard/test', timeoutMs: 2000, token});
	const store = new HiveStore({queenHost: hosts.join(','), flushMs: 10, minIntervalMs: 10});
	const feed = feedHiveStore(store, hosts.map(host => createQueenClient(host, http)), {refreshMs: 100, retryMs: 50, maxRetryMs: 200});
	t.after(() => {
		feed.stop();
		store.close();
		http.close();
	});
	return {store, feed};
}

/** A queen with one drone and one task it took, so that what is shown says whose state it is. */
async function hiveOf(t: TestContext, text: string) {
	const queen = await startQueen(t);
	const drone = await startDrone(t, queen);
	const answer = await request(`${queen.url}/submit_task?wait=true`, {body: {text}});
	assert.equal(answer.status, 200);
	return {queen, drone};
}

function shows(snapshot: HiveSnapshot) {
	return {drones: snapshot.drones.map(drone => drone.address), tasks: snapshot.tasks.map(task => task.text)};
}

function logged(snapshot: HiveSnapshot): string[] {
	return snapshot.log.map(entry => entry.text);
}

test('the dashboard reads the first queen that answers; when it stops, the next: its drones and tasks replace the old ones, and the log says who leads now', async t => {
	const a = await hiveOf(t, 'on A');
	const b = await hiveOf(t, 'on B');
	const nobody = await deadAddress();
	const {store, feed} = watch(t, [nobody, a.queen.address, b.queen.address]);
	await waitFor(() => {
		const snapshot = store.getSnapshot();
		return snapshot.connected && snapshot.queen?.address === a.queen.address && snapshot.tasks.length === 1 && snapshot.drones.length === 1;
	}, 'the dashboard to show queen A');
	assert.deepEqual(shows(store.getSnapshot()), {drones: [a.drone.address], tasks: ['on A']});
	assert.equal(store.getSnapshot().queen?.leader, a.queen.address);
	assert.equal(feed.client.baseUrl, a.queen.url);

	await a.queen.stop();
	await waitFor(() => store.getSnapshot().queen?.address === b.queen.address && store.getSnapshot().connected, 'the dashboard to move to queen B');
	await waitFor(() => shows(store.getSnapshot()).tasks.join() === 'on B', `B's tasks alone (${JSON.stringify(shows(store.getSnapshot()))})`);
	const snapshot = store.getSnapshot();
	assert.deepEqual(shows(snapshot), {drones: [b.drone.address], tasks: ['on B']});
	assert.ok(logged(snapshot).includes(`leader is now ${b.queen.address}`), logged(snapshot).join('\n'));
	assert.equal(feed.client.baseUrl, b.queen.url);
});

test('through a follower: it names the leader and epoch; with no leader the last state stays, marked; a new leader\'s state replaces it', async t => {
	const a = await hiveOf(t, 'on A');
	const b = await hiveOf(t, 'on B');
	const follower = await fakeFollower(t);
	follower.follow({address: a.queen.address, epoch: 7});
	const {store} = watch(t, [follower.address]);
	await waitFor(() => store.getSnapshot().connected && store.getSnapshot().tasks.length === 1, 'the dashboard to show A through the follower');
	assert.deepEqual(store.getSnapshot().queen, {address: follower.address, version: 'fake', role: 'follower', leader: a.queen.address, epoch: 7, startedAt: undefined});
	assert.deepEqual(shows(store.getSnapshot()), {drones: [a.drone.address], tasks: ['on A']});

	// The leader is gone: the follower cuts the stream and knows no leader for a while.
	follower.follow(null);
	await waitFor(() => !store.getSnapshot().connected && store.getSnapshot().queen?.leader === null, 'no leader');
	await waitFor(() => logged(store.getSnapshot()).some(line => line.startsWith('no leader')), 'the log to say so');
	const lost = store.getSnapshot();
	assert.notEqual(lost.staleSince, undefined);
	assert.deepEqual(shows(lost), {drones: [a.drone.address], tasks: ['on A']});

	follower.follow({address: b.queen.address, epoch: 8});
	await waitFor(() => store.getSnapshot().connected && store.getSnapshot().queen?.epoch === 8, 'the new leader');
	await waitFor(() => shows(store.getSnapshot()).tasks.join() === 'on B', `B's tasks alone (${JSON.stringify(shows(store.getSnapshot()))})`);
	assert.deepEqual(shows(store.getSnapshot()), {drones: [b.drone.address], tasks: ['on B']});
	assert.ok(logged(store.getSnapshot()).includes(`leader is now ${b.queen.address} (epoch 8)`), logged(store.getSnapshot()).join('\n'));
	assert.equal(store.getSnapshot().staleSince, undefined);
});

test('a new epoch in /healthz is followed even while the old stream stays open', async t => {
	const a = await hiveOf(t, 'on A');
	const b = await hiveOf(t, 'on B');
	const follower = await fakeFollower(t);
	follower.follow({address: a.queen.address, epoch: 1});
	const {store} = watch(t, [follower.address]);
	await waitFor(() => store.getSnapshot().connected && store.getSnapshot().tasks.length === 1, 'the dashboard to show A');
	follower.follow({address: b.queen.address, epoch: 2}, {keepStreams: true});
	await waitFor(() => store.getSnapshot().queen?.epoch === 2 && shows(store.getSnapshot()).tasks.join() === 'on B', `B's state (${JSON.stringify(shows(store.getSnapshot()))})`);
	assert.ok(logged(store.getSnapshot()).includes(`leader is now ${b.queen.address} (epoch 2)`));
});

test('/healthz as the dashboard reads it: a follower without a leader, a leader, and a queen too old to say', () => {
	assert.deepEqual(readQueen({status: 'Status.READY', version: '1', role: 'follower', leader: null, epoch: null, address: 'b:2', startedAt: '2030-01-01T12:00:00.000Z'}, 'lb:80'), {address: 'b:2', version: '1', role: 'follower', leader: null, epoch: null, startedAt: '2030-01-01T12:00:00.000Z'});
	assert.deepEqual(readQueen({version: '1', role: 'leader', leader: 'a:1', epoch: 4, address: 'a:1', startedAt: '2030-01-01T12:00:00.000Z'}, 'lb:80'), {address: 'a:1', version: '1', role: 'leader', leader: 'a:1', epoch: 4, startedAt: '2030-01-01T12:00:00.000Z'});
	assert.deepEqual(readQueen({version: '0.9', drones: {}}, 'a:1'), {address: 'a:1', version: '0.9', role: undefined, leader: 'a:1', epoch: null, startedAt: undefined});
});

test('a queen restarted on its store (the same leader, another start) is read afresh: the log says so, its state replaces what was shown, the generation goes up', async t => {
	const dataDir = temporaryDirectory(t);
	const port = await stablePort();
	const first = await startQueen(t, {store: 'file', dataDir, port});
	const drone = await startDrone(t, first);
	assert.equal((await request(`${first.url}/submit_task?wait=true`, {body: {text: 'kept in the store'}})).status, 200);
	const {store} = watch(t, [first.address]);
	await waitFor(() => store.getSnapshot().connected && store.getSnapshot().tasks.length === 1 && store.getSnapshot().drones.length === 1, 'the dashboard to show the queen');
	const before = store.getSnapshot();
	assert.equal(before.generation, 1, 'the first snapshot');
	assert.ok(before.queen?.startedAt);
	assert.equal(before.queen.startedAt, (await request(`${first.url}/healthz`)).body.startedAt);
	// A row the queen does not have (as a task of a hive gone): a reload drops it, events would not.
	store.setTasks([{...before.tasks[0]!, id: 'gone-with-the-old-queen', text: 'gone'}]);
	await waitFor(() => store.getSnapshot().tasks.length === 2, 'the row of the old hive');

	await first.stop();
	await waitFor(() => !store.getSnapshot().connected, 'the dashboard to lose the queen');
	const second = await startQueen(t, {store: 'file', dataDir, port});
	assert.equal(second.address, first.address);
	const startedAt = (await request(`${second.url}/healthz`)).body.startedAt as string;
	assert.notEqual(startedAt, before.queen.startedAt);
	await waitFor(() => store.getSnapshot().connected && store.getSnapshot().generation === 2, `a reload (generation ${store.getSnapshot().generation})`);
	await waitFor(() => shows(store.getSnapshot()).tasks.join() === 'kept in the store', `the restarted queen's tasks alone (${JSON.stringify(shows(store.getSnapshot()))})`);
	const after = store.getSnapshot();
	assert.equal(after.queen?.startedAt, startedAt);
	assert.deepEqual(shows(after).drones, [drone.address]);
	assert.ok(logged(after).includes(`queen ${first.address} restarted at ${clockTime(startedAt)}: its state replaces what was shown`), logged(after).join('\n'));
	assert.ok(after.lastUpdateAt! >= before.lastUpdateAt!);
});

test('a queen that refuses the token (a wrong one, or none) is said so plainly in the error, never shown as an empty hive', async t => {
	const token = 'the-hive-token';
	const queen = await startQueen(t, {token});
	await startDrone(t, queen, {token});
	for (const given of ['another-token', undefined]) {
		const {store} = watch(t, [queen.address], given);
		// eslint-disable-next-line no-await-in-loop
		await waitFor(() => store.getSnapshot().error === tokenRefused, `the 401 said with ${given ?? 'no token'}`);
		const snapshot = store.getSnapshot();
		assert.equal(snapshot.connected, false);
		assert.equal(snapshot.error, 'the queen refused the token (401): give the hive\'s token (HIVE_TOKEN or --token-file)');
		assert.equal(snapshot.lastUpdateAt, undefined, 'nothing read');
		assert.equal(snapshot.queen?.address, queen.address, '/healthz needs no token');
	}

	const {store} = watch(t, [queen.address], token);
	await waitFor(() => store.getSnapshot().connected && store.getSnapshot().drones.length === 1, 'the hive, with its token');
	assert.equal(store.getSnapshot().error, undefined);
});
