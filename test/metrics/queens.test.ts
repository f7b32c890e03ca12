import assert from 'node:assert/strict';
import {test, type TestContext} from 'node:test';
import {etcdMissing, startEtcd, type EtcdCluster} from '../helpers/etcd.js';
import {request, startDrone, startQueen} from '../helpers/larves.js';
import {startQueens} from '../helpers/queens.js';
import {waitFor} from '../helpers/wait.js';
import {histogram, scrape, value, type Scrape} from './scrape.js';

const skip = etcdMissing();
const token = 'metrics-token';
const auth = {authorization: `Bearer ${token}`};

async function etcdFor(t: TestContext): Promise<EtcdCluster> {
	const etcd = await startEtcd();
	t.after(async () => etcd.stop());
	return etcd;
}

test('a follower of several queens answers /metrics itself: its own process, the leaders it saw, none of the hive\'s', {skip}, async t => {
	const etcd = await etcdFor(t);
	const hive = await startQueens(t, 3, etcd.storeFlag, ['--token', token, '--leader-lease', '3', '--heartbeat-interval', '0.3']);
	const leader = await hive.leader();
	const follower = (leader + 1) % 3;
	const bystander = (leader + 2) % 3;
	const scrapeQueen = async (index: number): Promise<Scrape> => scrape(hive.queens[index]!.url, token);

	assert.equal((await scrape(hive.queens[follower]!.url)).status, 401, 'a follower checks the token itself');
	const led = await scrapeQueen(leader);
	assert.equal(value(led, 'hive_leader'), 1);
	assert.equal(value(led, 'hive_drones', {state: 'ready'}), 0);
	assert.equal(value(led, 'hive_tasks', {state: 'pending'}), 0);
	const followed = await scrapeQueen(follower);
	assert.equal(followed.status, 200);
	assert.equal(value(followed, 'hive_leader'), 0, 'the follower\'s own answer (the leader\'s would say 1)');
	assert.ok(value(followed, 'hive_leader_changes_total') >= 1, 'it has seen a leader');
	assert.deepEqual(followed.families.get('hive_drones')?.metrics, [], 'what the hive holds is the leader\'s word, not a follower\'s');
	assert.deepEqual(followed.families.get('hive_tasks')?.metrics, []);
	assert.ok(value(followed, 'process_resident_memory_bytes') > 0, 'its own process metrics');
	// A submit through the follower is the leader's to count.
	assert.equal((await request(`${hive.queens[follower]!.url}/submit_task`, {body: {text: 'via a follower'}, headers: auth})).status, 503);
	assert.equal(value(await scrapeQueen(follower), 'hive_submits_total', {outcome: 'failed'}), 0);
	assert.equal(value(await scrapeQueen(leader), 'hive_submits_total', {outcome: 'failed'}), 1);

	const seenBefore = value(await scrapeQueen(bystander), 'hive_leader_changes_total');
	await hive.queens[leader]!.kill();
	// The new leader is one of the two left; the bystander sees it take over either way.
	const next = await waitFor(async () => {
		const [a, b] = await Promise.all([scrapeQueen(follower), scrapeQueen(bystander)]);
		if (value(a, 'hive_leader') === 1) {
			return {leading: a, other: b};
		}

		return value(b, 'hive_leader') === 1 ? {leading: b, other: a} : undefined;
	}, 'another queen to lead', 20_000, {pollMs: 100});
	assert.equal(value(next.other, 'hive_leader'), 0);
	const seenAfter = await waitFor(async () => {
		const seen = value(await scrapeQueen(bystander), 'hive_leader_changes_total');
		return seen > seenBefore ? seen : undefined;
	}, 'the bystander to count the new leader');
	assert.ok(seenAfter > seenBefore);
});

test('a queen\'s counters go on across its terms: a new term feeds the same registry, once', {skip}, async t => {
	const etcd = await etcdFor(t);
	const queen = await startQueen(t, {token, store: etcd.storeFlag, leaderLeaseMs: 2000});
	await waitFor(() => queen.hive, 'the queen to lead');
	await startDrone(t, queen, {token});
	for (let index = 0; index < 2; index++) {
		// eslint-disable-next-line no-await-in-loop
		assert.equal((await request(`${queen.url}/submit_task`, {body: {text: `first term ${index}`}, headers: auth})).status, 200);
	}

	const first = await scrape(queen.url, token);
	assert.equal(value(first, 'hive_leader_changes_total'), 1);
	const firstHive = queen.hive;
	const firstEpoch = queen.leadership!.leader!.epoch;
	queen.leadership!.stepDown('the test ends its term');
	await waitFor(() => queen.hive !== undefined && queen.hive !== firstHive && queen.leadership!.leader?.epoch !== firstEpoch, 'the queen to lead again, in a new term', 20_000);
	assert.equal((await request(`${queen.url}/submit_task`, {body: {text: 'second term'}, headers: auth})).status, 200);

	const second = await scrape(queen.url, token);
	assert.equal(value(second, 'hive_leader'), 1);
	assert.equal(value(second, 'hive_leader_changes_total'), 2);
	assert.equal(value(second, 'hive_submits_total', {outcome: 'dispatched'}), 3, 'the first term\'s two and the second\'s one, each once');
	assert.equal(histogram(second, 'hive_dispatch_latency_seconds').count, 3);
	// Tasks are read from the term's hive: the first term's, loaded from etcd, are there.
	assert.equal(value(second, 'hive_tasks', {state: 'succeeded'}), 3);
	assert.ok(histogram(second, 'hive_store_write_seconds').count > histogram(first, 'hive_store_write_seconds').count, 'etcd\'s writes are timed in the new term too');
});
