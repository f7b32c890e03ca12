import assert from 'node:assert/strict';
import {test} from 'node:test';
import {Hive, RefusedError, type HiveEvent} from '../../source/queen/hive.js';
import {weighTask} from '../../source/queen/state/tasks.js';

function record(hive: Hive): HiveEvent[] {
	const events: HiveEvent[] = [];
	hive.subscribe(event => events.push(event));
	return events;
}

const name = async (hive: Hive, address: string, wanted?: string) => (await hive.register({address, name: wanted})).drone.name;

test('drones get names in order, and registering an address again keeps its name', async () => {
	const hive = await Hive.open();
	assert.equal(await name(hive, '127.0.0.1:5001'), 'drone-0');
	assert.equal(await name(hive, '127.0.0.1:5002'), 'drone-1');
	const again = await hive.register({address: '127.0.0.1:5001'});
	assert.equal(again.drone.name, 'drone-0');
	assert.equal(again.created, false);
	assert.deepEqual(hive.droneMap(), {'127.0.0.1:5001': 'drone-0', '127.0.0.1:5002': 'drone-1'});
});

test('a name is never given to a different drone after an eviction (the seed reuses drone-<len>)', async () => {
	const hive = await Hive.open();
	await name(hive, '127.0.0.1:5001');
	await name(hive, '127.0.0.1:5002');
	await hive.evict('drone-0', 'test');
	assert.equal(await name(hive, '127.0.0.1:5003'), 'drone-2');
	await hive.deregister('127.0.0.1:5002');
	assert.equal(await name(hive, '127.0.0.1:5004'), 'drone-3');
});

test('a generated name skips a name a drone chose for itself', async () => {
	const hive = await Hive.open();
	await name(hive, '127.0.0.1:5001', 'drone-0');
	assert.equal(await name(hive, '127.0.0.1:5002'), 'drone-1');
});

test('a named drone that registers from a new address moves, keeping its name', async () => {
	const hive = await Hive.open();
	await name(hive, '127.0.0.1:5001', 'worker-a');
	const moved = await hive.register({address: '127.0.0.1:6001', name: 'worker-a'});
	assert.equal(moved.created, false);
	assert.deepEqual(hive.droneMap(), {'127.0.0.1:6001': 'worker-a'});
});

test('one drone process is one drone: another address for its boot id is refused, unless the drone itself (its contact key) moves it', async () => {
	const hive = await Hive.open();
	await hive.register({address: '127.0.0.1:5001', bootId: 'boot-1', contactKey: 'key-1'});
	await assert.rejects(hive.register({address: 'localhost:5001', bootId: 'boot-1'}), (error: unknown) => error instanceof RefusedError && error.code === 'ERR_HIVE_SAME_DRONE' && error.message === 'localhost:5001 is drone-0, already registered at 127.0.0.1:5001 (the same drone process: the same boot id)');
	assert.equal(hive.contactKeyAt('127.0.0.1:5001'), 'key-1');
	// Registered again at its address without the key (by someone else): the key of the same boot stays.
	await hive.register({address: '127.0.0.1:5001', bootId: 'boot-1'});
	assert.equal(hive.contactKeyAt('127.0.0.1:5001'), 'key-1');
	// The drone itself, from another address: it moves, one record still.
	const moved = await hive.register({address: '127.0.0.2:5001', bootId: 'boot-1', contactKey: 'key-2'});
	assert.equal(moved.drone.name, 'drone-0');
	assert.deepEqual(hive.droneMap(), {'127.0.0.2:5001': 'drone-0'});
	assert.equal(hive.contactKeyAt('127.0.0.2:5001'), 'key-2');
	// A new boot at that address: a restarted drone, whose old key is no proof of anything.
	await hive.register({address: '127.0.0.2:5001', bootId: 'boot-2'});
	assert.equal(hive.contactKeyAt('127.0.0.2:5001'), undefined);
});

test('failed heartbeats count up, make the drone suspect, and a success resets them', async () => {
	const hive = await Hive.open();
	const events = record(hive);
	await name(hive, '127.0.0.1:5001');
	assert.equal(hive.heartbeatFailed('drone-0', 'ECONNREFUSED', 3), 1);
	assert.equal(hive.heartbeatFailed('drone-0', 'ECONNREFUSED', 3), 2);
	assert.equal(hive.drone('drone-0')?.state, 'suspect');
	hive.heartbeatSucceeded('drone-0');
	assert.equal(hive.drone('drone-0')?.state, 'ready');
	assert.equal(hive.drone('drone-0')?.failedAttempts, 0);
	assert.deepEqual(events.map(event => event.type), ['drone.registered', 'heartbeat.failed', 'heartbeat.failed', 'heartbeat.recovered']);
	const failed = events[2]!;
	assert.ok(failed.type === 'heartbeat.failed' && failed.attempt === 2 && failed.maxRetry === 3);
	assert.equal(failed.id, undefined, 'heartbeats are not kept by the store: their events have no revision');
});

test('every listener sees events in id order, even those a listener causes while it is told of another', async () => {
	const hive = await Hive.open();
	hive.subscribe(event => {
		if (event.type === 'drone.registered' && event.address === '127.0.0.1:5001') {
			void hive.register({address: '127.0.0.1:5002'});
		}
	});
	const seen = record(hive);
	await name(hive, '127.0.0.1:5001');
	assert.deepEqual(seen.map(event => event.id), [1, 2]);
});

test('a drone that restarted (a new boot id) before its eviction gets its tasks back in the queue, as task.requeued', async () => {
	const hive = await Hive.open();
	const events = record(hive);
	await hive.register({address: '127.0.0.1:5001', slots: 1, allowExec: true, bootId: 'first'});
	const {task} = await hive.submit({kind: 'command', command: 'sleep 60'});
	hive.dispatch(task.id, 'drone-0');
	await hive.running(task.id, 'drone-0');
	assert.equal(hive.drone('drone-0')?.running, 1);
	await hive.register({address: '127.0.0.1:5001', slots: 1, allowExec: true, bootId: 'first'});
	assert.equal(hive.task(task.id)?.state, 'running', 'the same process registering again keeps its tasks');
	await hive.register({address: '127.0.0.1:5001', slots: 1, allowExec: true, bootId: 'second'});
	assert.equal(hive.task(task.id)?.state, 'pending');
	assert.equal(hive.task(task.id)?.retries, 1);
	assert.match(hive.task(task.id)?.reason ?? '', /drone-0 restarted/);
	assert.equal(hive.drone('drone-0')?.running, 0);
	const requeued = events.find(event => event.type === 'task.requeued');
	assert.ok(requeued && 'task' in requeued && requeued.task.id === task.id && requeued.reason === 'drone-0 restarted');
});

test('events have increasing ids (the store revisions) and can be read again from the backlog', async () => {
	const hive = await Hive.open({eventBacklog: 10});
	for (let index = 0; index < 50; index++) {
		// eslint-disable-next-line no-await-in-loop
		await hive.register({address: `127.0.0.1:${5000 + index}`});
	}

	const recent = hive.eventsSince(45);
	assert.deepEqual(recent.map(event => event.id), [46, 47, 48, 49, 50]);
	assert.ok(hive.eventsSince(0).length <= 20);
	assert.equal(hive.revision, 50);
});

test('a client resuming after an id also gets the heartbeat events that followed it', async () => {
	const hive = await Hive.open();
	await name(hive, '127.0.0.1:5001');
	hive.heartbeatFailed('drone-0', 'timed out', 3);
	await name(hive, '127.0.0.1:5002');
	assert.deepEqual(hive.eventsSince(1).map(event => event.type), ['heartbeat.failed', 'drone.registered']);
});

test('finished tasks beyond the history are forgotten, oldest first', async () => {
	const hive = await Hive.open({taskHistory: 0});
	await name(hive, '127.0.0.1:5001');
	const {task} = await hive.submit({kind: 'text', text: 'hello'});
	hive.dispatch(task.id, 'drone-0');
	await hive.finish(task.id, 'drone-0', {succeeded: true});
	assert.equal(hive.task(task.id), undefined);

	const keeping = await Hive.open({taskHistory: 100});
	const ids: string[] = [];
	for (let index = 0; index < 300; index++) {
		// eslint-disable-next-line no-await-in-loop
		const {task: each} = await keeping.submit({kind: 'text', text: `task ${index}`});
		// eslint-disable-next-line no-await-in-loop
		await keeping.fail(each.id, 'no drone');
		ids.push(each.id);
	}

	assert.equal(keeping.task(ids[0]!), undefined);
	assert.equal(keeping.task(ids.at(-1)!)?.text, 'task 299');
	assert.ok(keeping.tasks({limit: 10_000}).total < 300);
	assert.equal(keeping.tasks({limit: 1}).tasks[0]?.text, 'task 299');
});

test('the queue is first submitted, first placed: a task that comes back takes its old place', async () => {
	const hive = await Hive.open();
	await hive.register({address: '127.0.0.1:5001', allowExec: true, slots: 4});
	const ids: string[] = [];
	for (const command of ['a', 'b', 'c', 'd']) {
		// eslint-disable-next-line no-await-in-loop
		ids.push((await hive.submit({kind: 'command', command})).task.id);
	}

	hive.dispatch(ids[1]!, 'drone-0');
	hive.dispatch(ids[2]!, 'drone-0');
	assert.deepEqual([...hive.pendingTasks()].map(task => task.command), ['a', 'd']);
	await hive.refuse(ids[2]!, 'drone-0', 'busy');
	await hive.evict('drone-0', 'gone');
	assert.deepEqual([...hive.pendingTasks()].map(task => task.command), ['a', 'b', 'c', 'd']);
	assert.equal(hive.task(ids[1]!)?.retries, 1, 'requeued after its drone was lost: one retry more');
	assert.equal(hive.task(ids[2]!)?.retries, 0, 'refused by a drone: no retry counted');
});

test('an idempotency key returns the task its first submit made, and refuses another task under the same key', async () => {
	const hive = await Hive.open();
	const first = await hive.submit({kind: 'text', text: 'once'}, 'key-1');
	const again = await hive.submit({kind: 'text', text: 'once'}, 'key-1');
	assert.equal(first.created, true);
	assert.equal(again.created, false);
	assert.equal(again.task.id, first.task.id);
	assert.equal(hive.tasks().total, 1);
	await assert.rejects(hive.submit({kind: 'text', text: 'other'}, 'key-1'), (error: unknown) => error instanceof RefusedError && error.code === 'ERR_HIVE_KEY_REUSED');
});

test('a full queue refuses a submit and changes nothing', async () => {
	const hive = await Hive.open({maxPending: 2});
	await hive.submit({kind: 'text', text: 'a'});
	await hive.submit({kind: 'text', text: 'b'});
	const revision = hive.revision;
	await assert.rejects(hive.submit({kind: 'text', text: 'c'}), (error: unknown) => error instanceof RefusedError && error.code === 'ERR_HIVE_QUEUE_FULL');
	assert.equal(hive.revision, revision);
	assert.equal(hive.tasks().total, 2);
});

test('the queue weighs exactly its pending tasks as they enter and leave it, and refuses a task that would weigh it past maxPendingBytes', async () => {
	const big = 'x'.repeat(10_000);
	const hive = await Hive.open({maxPendingBytes: 40_000, taskRetries: 1});
	const weighed = () => [...hive.pendingTasks()].reduce((sum, task) => sum + weighTask(task), 0);
	const check = (what: string) => {
		assert.equal(hive.pending.bytes, weighed(), what);
		assert.equal(hive.pending.count, hive.pendingCount, what);
	};

	await hive.register({address: '127.0.0.1:5001', allowExec: true, slots: 4});
	const [a, b, c] = await Promise.all(['a', 'b', 'c'].map(async letter => (await hive.submit({kind: 'command', command: letter + big, selector: {}})).task));
	check('submitted');
	assert.ok(hive.pending.bytes > 30_000 && hive.pending.bytes <= 40_000, `three tasks of 10,000 characters weigh ${hive.pending.bytes}`);
	assert.deepEqual({maxCount: hive.pending.maxCount, maxBytes: hive.pending.maxBytes}, {maxCount: 10_000, maxBytes: 40_000});
	hive.taskWaiting(a!.id, 'a reason to wait that is longer than the one before it: ' + 'y'.repeat(300));
	check('a reason given');

	const revision = hive.revision;
	await assert.rejects(hive.submit({kind: 'text', text: big}), (error: unknown) => error instanceof RefusedError && error.code === 'ERR_HIVE_QUEUE_FULL'
		&& error.message.includes(`weigh ${hive.pending.bytes} bytes`) && error.message.includes('40000 bytes'));
	assert.equal(hive.revision, revision, 'a refused submit writes nothing');
	assert.equal((await hive.submit({kind: 'text', text: 'small'})).task.state, 'pending', 'a task that fits is taken');
	check('a small one taken');

	hive.dispatch(a!.id, 'drone-0');
	check('dispatched');
	await hive.refuse(a!.id, 'drone-0', 'busy');
	check('refused: back in the queue');
	hive.dispatch(a!.id, 'drone-0');
	hive.dispatch(b!.id, 'drone-0');
	await hive.evict('drone-0', 'gone');
	check('requeued after an eviction');
	await hive.register({address: '127.0.0.1:5002', allowExec: true, slots: 4});
	hive.dispatch(a!.id, 'drone-1');
	await hive.diedTaking(a!.id, 'drone-1', 'connection reset');
	assert.equal(hive.task(a!.id)?.state, 'failed');
	check('failed when its drones died taking it');
	hive.dispatch(b!.id, 'drone-1');
	await hive.evict('drone-1', 'gone');
	assert.equal(hive.task(b!.id)?.state, 'lost');
	check('lost');
	await hive.fail(c!.id, 'no drone');
	check('failed');
	const small = [...hive.pendingTasks()][0]!;
	await hive.register({address: '127.0.0.1:5003'});
	hive.dispatch(small.id, 'drone-2');
	await hive.evict('drone-2', 'gone');
	await hive.finish(small.id, 'drone-2', {succeeded: true});
	check('a text printed after it was queued again');
	assert.deepEqual(hive.pending, {count: 0, bytes: 0, maxCount: 10_000, maxBytes: 40_000});
});

test('a result from a drone the task is not on is refused; a text task printed after it was queued again is done', async () => {
	const hive = await Hive.open();
	await hive.register({address: '127.0.0.1:5001', allowExec: true, slots: 2});
	await hive.register({address: '127.0.0.1:5002', allowExec: true, slots: 2});
	const {task} = await hive.submit({kind: 'command', command: 'true'});
	hive.dispatch(task.id, 'drone-0');
	await assert.rejects(hive.finish(task.id, 'drone-1', {succeeded: true}), (error: unknown) => error instanceof RefusedError && error.code === 'ERR_HIVE_NOT_YOURS');
	await assert.rejects(hive.finish('no-such-task', 'drone-0', {succeeded: true}), (error: unknown) => error instanceof RefusedError && error.code === 'ERR_HIVE_NO_TASK');

	const {task: text} = await hive.submit({kind: 'text', text: 'hello'});
	hive.dispatch(text.id, 'drone-1');
	await hive.evict('drone-1', 'gone');
	assert.equal(hive.task(text.id)?.state, 'pending');
	await hive.finish(text.id, 'drone-1', {succeeded: true});
	assert.equal(hive.task(text.id)?.state, 'succeeded');
	assert.equal(hive.pendingCount, 0);
});
