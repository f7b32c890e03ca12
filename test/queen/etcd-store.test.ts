import assert from 'node:assert/strict';
import net from 'node:net';
import {after, before, describe, test, type TestContext} from 'node:test';
import type {Etcd3} from 'etcd3';
import {Hive} from '../../source/queen/hive.js';
import {createEtcdClient} from '../../source/queen/store/etcd-client.js';
import {NotLeaderError, openEtcdStore, type EtcdStore, type EtcdStoreOptions} from '../../source/queen/store/etcd-store.js';
import {etcdMissing, startEtcd, type EtcdCluster} from '../helpers/etcd.js';
import {waitFor} from '../helpers/wait.js';

const result = (stdout: string) => ({exitCode: 0, signal: null, stdout, stderr: '', durationMs: 3, timedOut: false});
let prefixes = 0;

/** A hive on an etcd store under a prefix of its own; its store is closed when the test ends (the client is not). */
async function openHive(t: TestContext, client: Etcd3, prefix: string, options: {fence?: EtcdStoreOptions['fence']; taskHistory?: number; taskRetries?: number; onStoreFailure?: (error: Error) => void} = {}): Promise<{hive: Hive; store: EtcdStore}> {
	const store = await openEtcdStore({client, prefix, fence: options.fence});
	t.after(async () => store.close());
	const hive = await Hive.open({store, taskHistory: options.taskHistory, taskRetries: options.taskRetries, onStoreFailure: options.onStoreFailure});
	return {hive, store};
}

async function keysUnder(client: Etcd3, prefix: string): Promise<string[]> {
	return client.getAll().prefix(prefix).keys();
}

/** A TCP relay to an etcd member that can hold back the member's answers: a member that hangs rather than dies. */
async function holdingRelay(endpoint: string): Promise<{readonly endpoint: string; hold(): void; release(): void; close(): void}> {
	const target = new URL(endpoint);
	let held = false;
	const answers = new Set<net.Socket>();
	const sockets = new Set<net.Socket>();
	const server = net.createServer(inbound => {
		const outbound = net.connect(Number(target.port), target.hostname);
		answers.add(outbound);
		if (held) {
			outbound.pause();
		}

		for (const [from, to] of [[inbound, outbound], [outbound, inbound]] as const) {
			sockets.add(from);
			// Not pipe(): a piped stream resumes by itself when its destination drains.
			from.on('data', data => to.write(data));
			from.on('error', () => undefined);
			from.on('close', () => to.destroy());
		}
	});
	await new Promise<void>(resolve => {
		server.listen(0, '127.0.0.1', resolve);
	});
	return {
		endpoint: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
		hold() {
			held = true;
			for (const socket of answers) {
				socket.pause();
			}
		},
		release() {
			held = false;
			for (const socket of answers) {
				socket.resume();
			}
		},
		close() {
			for (const socket of sockets) {
				socket.destroy();
			}

			server.close();
		},
	};
}

describe('the etcd store', {skip: etcdMissing()}, () => {
	let etcd: EtcdCluster;
	let client: Etcd3;
	const newPrefix = () => `hive-${process.pid}-${++prefixes}/`;

	before(async () => {
		etcd = await startEtcd();
		client = createEtcdClient({endpoints: etcd.endpoints});
	});

	after(async () => {
		client?.close();
		await etcd?.stop();
	});

	test('cordons, drains and cancels are kept in etcd: the next leader has them', async t => {
		const prefix = newPrefix();
		const first = await openHive(t, client, prefix);
		const {hive} = first;
		await hive.register({address: '127.0.0.1:5001', allowExec: true});
		await hive.register({address: '127.0.0.1:5002', allowExec: true});
		await hive.cordon('drone-0', 'ops');
		const {task: running} = await hive.submit({kind: 'command', command: 'sleep 60'});
		await hive.dispatch(running.id, 'drone-1')!.durable;
		await hive.running(running.id, 'drone-1');
		await hive.drain('drone-1', 'ops', Date.now() + 60_000);
		const {task: waiting} = await hive.submit({kind: 'text', text: 'never placed'});
		await hive.cancel(waiting.id, 'carol');
		await first.store.close();

		const second = await openHive(t, client, prefix);
		const again = second.hive;
		assert.equal(again.drone('drone-0')!.cordoned, true);
		assert.deepEqual([again.drone('drone-1')!.cordoned, again.drone('drone-1')!.drain?.by], [true, 'ops']);
		assert.deepEqual([again.task(waiting.id)!.state, again.task(waiting.id)!.cancelled?.by], ['cancelled', 'carol']);
		assert.equal(again.pendingCount, 0);
		await again.uncordon('drone-1', 'ops');
		await second.store.close();
		const {hive: third} = await openHive(t, client, prefix);
		assert.deepEqual([third.drone('drone-1')!.cordoned, third.drone('drone-1')!.drain], [false, undefined]);
	});

	test('a hive reopened on a new store has its drones, names, tasks, queue and revision back', async t => {
		const prefix = newPrefix();
		const first = await openHive(t, client, prefix);
		assert.equal(first.store.kind, 'etcd');
		assert.equal(first.store.location, `etcd://${etcd.endpoints[0]!.slice('http://'.length)}/${prefix}`);
		const {hive} = first;
		await hive.register({address: '127.0.0.1:5001', allowExec: true, slots: 2, labels: {zone: 'a'}, bootId: 'boot-1'});
		await hive.register({address: '127.0.0.1:5002'});
		await hive.evict('drone-1', 'gone');
		const {task: a} = await hive.submit({kind: 'text', text: 'a'}, 'key-a');
		const {task: b} = await hive.submit({kind: 'text', text: 'b', selector: {zone: 'b'}});
		const {task: c} = await hive.submit({kind: 'text', text: 'c'});
		await hive.dispatch(a.id, 'drone-0')!.durable;
		await hive.refuse(a.id, 'drone-0', 'busy');
		const {task: done} = await hive.submit({kind: 'command', command: 'echo hi'});
		await hive.dispatch(done.id, 'drone-0')!.durable;
		await hive.finish(done.id, 'drone-0', {succeeded: true, result: result('hi\n')});
		const {task: broken} = await hive.submit({kind: 'command', command: 'false'});
		await hive.fail(broken.id, 'no drone');
		const {task: running} = await hive.submit({kind: 'command', command: 'sleep 60'});
		await hive.dispatch(running.id, 'drone-0')!.durable;
		await hive.running(running.id, 'drone-0');
		await first.store.close();

		const {hive: again} = await openHive(t, client, prefix);
		assert.equal(again.revision, hive.revision);
		assert.deepEqual(again.droneMap(), {'127.0.0.1:5001': 'drone-0'});
		const drone = again.drone('drone-0')!;
		assert.deepEqual([drone.slots, drone.allowExec, drone.labels, drone.bootId, drone.running, drone.tasksDone], [2, true, {zone: 'a'}, 'boot-1', 1, 1]);
		for (const id of [a.id, b.id, c.id, done.id, broken.id, running.id]) {
			// As JSON: a record loaded has no undefined fields (as one from the file store's snapshot).
			assert.deepEqual(JSON.parse(JSON.stringify(again.task(id))), JSON.parse(JSON.stringify(hive.task(id))), `task ${id} is the same`);
		}

		assert.deepEqual(again.tasks({limit: 100}).tasks.map(task => task.id), hive.tasks({limit: 100}).tasks.map(task => task.id), 'the same tasks, newest first');
		assert.deepEqual([...again.pendingTasks()].map(task => task.id), [a.id, b.id, c.id], 'a task refused takes its old place in the queue');
		assert.equal(again.task(done.id)?.result?.stdout, 'hi\n');
		assert.equal((await again.submit({kind: 'text', text: 'a'}, 'key-a')).task.id, a.id, 'the idempotency key outlives the store');
		assert.equal((await again.register({address: '127.0.0.1:5003'})).drone.name, 'drone-2', 'no name is given twice, across queens too');
		const {task: later} = await again.submit({kind: 'text', text: 'later'});
		assert.ok(later.seq > running.seq, 'revisions go on from where the last queen left them');
	});

	test('finished tasks the hive forgets past its history are deleted from etcd, the last ended kept', async t => {
		const prefix = newPrefix();
		const {hive, store} = await openHive(t, client, prefix, {taskHistory: 2});
		await hive.register({address: '127.0.0.1:5001'});
		const ids: string[] = [];
		for (let index = 0; index < 100; index++) {
			// eslint-disable-next-line no-await-in-loop
			ids.push((await hive.submit({kind: 'text', text: `task ${index}`})).task.id);
		}

		await Promise.all(ids.map(async id => hive.dispatch(id, 'drone-0')!.durable));
		// They end in the reverse order of their submission, in one write.
		await Promise.all(ids.toReversed().map(async id => hive.finish(id, 'drone-0', {succeeded: true})));

		assert.ok(hive.taskCount < 100, 'the hive forgot some');
		const stored = await keysUnder(client, `${prefix}tasks/`);
		assert.deepEqual(stored.map(key => key.slice(`${prefix}tasks/`.length)).sort(), ids.filter(id => hive.task(id)).sort(), 'etcd keeps the tasks the hive keeps');
		await store.close();

		// A queen with the same history keeps what the last one kept (it forgets in batches, as that one did).
		const {hive: again, store: againStore} = await openHive(t, client, prefix, {taskHistory: 2});
		assert.deepEqual(again.tasks().tasks.map(task => task.id).sort(), ids.filter(id => hive.task(id)).sort());
		await againStore.close();

		// A queen that keeps no history forgets every finished task, and deletes them with its first write.
		const {hive: none} = await openHive(t, client, prefix, {taskHistory: 0});
		assert.equal(none.taskCount, 0);
		await none.register({address: '127.0.0.1:5002'});
		assert.equal((await keysUnder(client, `${prefix}tasks/`)).length, 0);
	});

	test('a store whose election key has another create revision writes nothing, refuses with ERR_HIVE_NOT_LEADER, and stays refused', async t => {
		const prefix = newPrefix();
		const leaderKey = `${prefix}leader`;
		await client.put(leaderKey).value('queen-1');
		const won = (await client.get(leaderKey).exec()).kvs[0]!.create_revision;
		const failures: Error[] = [];
		const {hive, store} = await openHive(t, client, prefix, {fence: {key: leaderKey, createRevision: won}, onStoreFailure: error => failures.push(error)});
		const {task: kept} = await hive.submit({kind: 'text', text: 'while it leads'});
		assert.equal((await keysUnder(client, `${prefix}tasks/`)).length, 1, 'the leader writes');

		// Another queen won an election since: the key was made again.
		await client.delete().key(leaderKey);
		await client.put(leaderKey).value('queen-2');
		await assert.rejects(hive.submit({kind: 'text', text: 'deposed'}), (error: NotLeaderError) => {
			assert.ok(error instanceof NotLeaderError);
			assert.equal(error.code, 'ERR_HIVE_NOT_LEADER');
			return true;
		});
		assert.equal(failures[0]?.name, 'NotLeaderError', 'the queen hears of it');
		const transactions = store.stats().records;
		await assert.rejects(hive.submit({kind: 'text', text: 'still deposed'}), {code: 'ERR_HIVE_NOT_LEADER'});
		assert.equal(store.stats().records, transactions, 'a broken store refuses at once, without a call');
		assert.deepEqual(await keysUnder(client, `${prefix}tasks/`), [`${prefix}tasks/${kept.id}`], 'nothing written after the key changed');

		// A queen that never led (its epoch is not the key's) writes nothing at all.
		const other = newPrefix();
		await client.put(`${other}leader`).value('queen-3');
		const revision = (await client.get(`${other}leader`).exec()).kvs[0]!.create_revision;
		const {hive: stale} = await openHive(t, client, other, {fence: {key: `${other}leader`, createRevision: String(Number(revision) - 1)}});
		await assert.rejects(stale.register({address: '127.0.0.1:5009'}), {code: 'ERR_HIVE_NOT_LEADER'});
		assert.deepEqual(await keysUnder(client, other), [`${other}leader`]);
	});

	test('two stores on one prefix without a fence: the second writer is refused (meta moves by transaction)', async t => {
		const prefix = newPrefix();
		const {hive: one} = await openHive(t, client, prefix);
		const {hive: two} = await openHive(t, client, prefix);
		await one.register({address: '127.0.0.1:5001'});
		await assert.rejects(two.register({address: '127.0.0.1:5002'}), {code: 'ERR_HIVE_NOT_LEADER'});
		assert.deepEqual(await keysUnder(client, `${prefix}drones/`), [`${prefix}drones/drone-0`]);
	});

	test('a flush of more than 128 records goes in several transactions and reloads', async t => {
		const prefix = newPrefix();
		const {hive, store} = await openHive(t, client, prefix);
		const submitted = await Promise.all(Array.from({length: 600}, async (_, index) => hive.submit({kind: 'text', text: `task ${index}`})));
		assert.ok(store.stats().records >= 5, `600 records in ${store.stats().records} transactions`);
		assert.equal((await keysUnder(client, `${prefix}tasks/`)).length, 600);
		await store.close();
		const {hive: again} = await openHive(t, client, prefix);
		assert.deepEqual([...again.pendingTasks()].map(task => task.id), submitted.map(each => each.task.id));
	});

	test('a load of ~6 MB of tasks reads them a page at a time (gRPC takes 4 MiB in one answer)', async t => {
		const prefix = newPrefix();
		const {hive, store} = await openHive(t, client, prefix);
		const text = (index: number) => `${index} ${'x'.repeat(30 * 1024)}`;
		await Promise.all(Array.from({length: 200}, async (_, index) => hive.submit({kind: 'text', text: text(index)})));
		assert.ok(store.stats().bytes > 6_000_000, `${store.stats().bytes} bytes written`);
		await store.close();
		const {hive: again} = await openHive(t, client, prefix);
		const pending = [...again.pendingTasks()];
		assert.equal(pending.length, 200);
		assert.ok(pending.every((task, index) => task.text === text(index)));
	});

	test('a large record is kept in parts, which go when it shrinks or is forgotten', async t => {
		const prefix = newPrefix();
		const {hive, store} = await openHive(t, client, prefix, {taskHistory: 0});
		const labels = Object.fromEntries(Array.from({length: 64}, (_, index) => [`label-${index}`, 'v'.repeat(256)]));
		await hive.register({address: '127.0.0.1:5001', labels});
		const {task} = await hive.submit({kind: 'text', text: 't'.repeat(40 * 1024)});
		assert.deepEqual((await keysUnder(client, `${prefix}parts/`)).length, 2 + 3, 'two parts of the drone, three of the task');
		await store.close();

		const {hive: again} = await openHive(t, client, prefix, {taskHistory: 0});
		assert.deepEqual(again.drone('drone-0')!.labels, labels);
		assert.equal(again.task(task.id)!.text, task.text);
		await again.register({address: '127.0.0.1:5001', labels: {zone: 'a'}});
		assert.deepEqual(await keysUnder(client, `${prefix}parts/drones/`), [], 'a record that fits one key again has no parts');
		again.dispatch(task.id, 'drone-0');
		await again.finish(task.id, 'drone-0', {succeeded: true});
		assert.deepEqual(await keysUnder(client, `${prefix}parts/`), [], 'a task forgotten goes with its parts');
		assert.deepEqual(await keysUnder(client, `${prefix}tasks/`), []);
	});

	test('a task placed on a drone missing from etcd goes back to the queue at open', async t => {
		const prefix = newPrefix();
		const {hive, store} = await openHive(t, client, prefix);
		await hive.register({address: '127.0.0.1:5001', allowExec: true});
		const {task} = await hive.submit({kind: 'command', command: 'sleep 60'});
		await hive.dispatch(task.id, 'drone-0')!.durable;
		await store.close();
		// What a queen that stopped between two transactions of a flush could leave.
		await client.delete().key(`${prefix}drones/drone-0`);

		const {hive: again} = await openHive(t, client, prefix);
		const mended = again.task(task.id)!;
		assert.deepEqual([mended.state, mended.drone, mended.retries], ['pending', undefined, 1]);
		assert.match(mended.reason!, /drone-0 is not in the registry/);
		assert.equal(JSON.parse((await client.get(`${prefix}tasks/${task.id}`).string())!).state, 'pending', 'the mend is written');
		assert.equal(again.awaitsConfirmation('drone-0'), false);
	});

	test('a task record too large for etcd is kept with its output cut', async t => {
		const prefix = newPrefix();
		const {hive, store} = await openHive(t, client, prefix);
		await hive.register({address: '127.0.0.1:5001', allowExec: true});
		const {task} = await hive.submit({kind: 'command', command: 'cat /dev/urandom'});
		hive.dispatch(task.id, 'drone-0');
		// Control characters, escaped to six bytes each in JSON: ~3 MiB.
		const output = '\u0001'.repeat(256 * 1024);
		await hive.finish(task.id, 'drone-0', {succeeded: true, result: {...result(output), stderr: output}});
		await store.close();
		const {hive: again} = await openHive(t, client, prefix);
		const kept = again.task(task.id)!;
		assert.equal(kept.state, 'succeeded');
		assert.match(kept.result!.stdout, /cut: the store keeps at most 1 MiB of a task\]$/);
		assert.ok(kept.result!.stdout.length > 32 * 1024, 'what fits is kept');
	});
});

test('with its one etcd member killed, a write is refused within about 2 s, and the store stays refused', {skip: etcdMissing()}, async t => {
	const etcd = await startEtcd();
	const client = createEtcdClient({endpoints: etcd.endpoints});
	t.after(async () => {
		client.close();
		await etcd.stop();
	});
	const {hive} = await openHive(t, client, 'hive/');
	await hive.submit({kind: 'text', text: 'before'});
	await etcd.kill(0);
	const started = Date.now();
	await assert.rejects(hive.submit({kind: 'text', text: 'after'}), {code: 'ERR_HIVE_STORE_FAILED'});
	const took = Date.now() - started;
	assert.ok(took < 2500, `refused after ${took} ms`);
	await etcd.restart(0);
	// The client is back once its circuit breaker lets calls through again (5 s after it opened).
	await waitFor(async () => client.put('probe').value('1').then(() => true, () => false), 'the client to reach etcd again', 20_000, {pollMs: 200});
	await assert.rejects(hive.submit({kind: 'text', text: 'once it is back'}), {code: 'ERR_HIVE_STORE_FAILED'}, 'a broken store stays broken: the queen steps down');
});

test('with its etcd member hanging, a write is refused within about 2 s', {skip: etcdMissing()}, async t => {
	const etcd = await startEtcd();
	const relay = await holdingRelay(etcd.endpoints[0]!);
	const client = createEtcdClient({endpoints: [relay.endpoint]});
	t.after(async () => {
		client.close();
		relay.close();
		await etcd.stop();
	});
	const {hive} = await openHive(t, client, 'hive/');
	await hive.submit({kind: 'text', text: 'before'});
	relay.hold();
	const started = Date.now();
	await assert.rejects(hive.submit({kind: 'text', text: 'after'}), {code: 'ERR_HIVE_STORE_FAILED'});
	const took = Date.now() - started;
	assert.ok(took < 2500, `refused after ${took} ms (the client alone tries three times, a second each)`);
});

test('a write whose answer was lost and that the client sent again counts as written once', {skip: etcdMissing()}, async t => {
	const etcd = await startEtcd();
	const relay = await holdingRelay(etcd.endpoints[0]!);
	const client = createEtcdClient({endpoints: [relay.endpoint]});
	const direct = createEtcdClient({endpoints: etcd.endpoints});
	t.after(async () => {
		client.close();
		direct.close();
		relay.close();
		await etcd.stop();
	});
	const {hive} = await openHive(t, client, 'hive/');
	await hive.submit({kind: 'text', text: 'before'});
	// The first call is kept by etcd, its answer held past the client's deadline of 1 s; the client sends it
	// again, which finds `meta` moved, by this very write.
	relay.hold();
	const released = setTimeout(() => {
		relay.release();
	}, 1300);
	t.after(() => {
		clearTimeout(released);
	});
	const started = Date.now();
	const {task} = await hive.submit({kind: 'text', text: 'answered late'});
	assert.ok(Date.now() - started >= 1000, `answered after ${Date.now() - started} ms: past the first call's deadline`);
	await hive.submit({kind: 'text', text: 'after'});
	assert.equal((await direct.getAll().prefix('hive/tasks/').keys()).length, 3);
	assert.ok(await direct.get(`hive/tasks/${task.id}`).string());
});
