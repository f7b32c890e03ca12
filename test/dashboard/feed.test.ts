import assert from 'node:assert/strict';
import {test, type TestContext} from 'node:test';
import {createHttpClient} from '../../source/client/http.js';
import {createQueenClient} from '../../source/client/queen-client.js';
import {feedHiveStore, readQueen, type HiveFeed} from '../../source/dashboard/feed.js';
import {HiveStore, type HiveSnapshot} from '../../source/dashboard/hive-store.js';
import {request, startDrone, startQueen} from '../helpers/larves.js';
import {deadAddress, fakeFollower} from '../helpers/servers.js';
import {waitFor} from '../helpers/wait.js';

/** A store fed from these queens, fast: stopped when the test ends. */
function watch(t: TestContext, hosts: readonly string[]): {store: HiveStore; feed: HiveFeed} {
	const http = createHttpClient({userAgent: 'hive-dashboard/test', timeoutMs: 2000});
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
	assert.deepEqual(store.getSnapshot().queen, {address: follower.address, version: 'fake', role: 'follower', leader: a.queen.address, epoch: 7});
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
	assert.deepEqual(readQueen({status: 'Status.READY', version: '1', role: 'follower', leader: null, epoch: null, address: 'b:2'}, 'lb:80'), {address: 'b:2', version: '1', role: 'follower', leader: null, epoch: null});
	assert.deepEqual(readQueen({version: '1', role: 'leader', leader: 'a:1', epoch: 4, address: 'a:1'}, 'lb:80'), {address: 'a:1', version: '1', role: 'leader', leader: 'a:1', epoch: 4});
	assert.deepEqual(readQueen({version: '0.9', drones: {}}, 'a:1'), {address: 'a:1', version: '0.9', role: undefined, leader: 'a:1', epoch: null});
});
