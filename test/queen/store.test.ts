import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {test, type TestContext} from 'node:test';
import {Hive, RefusedError} from '../../source/queen/hive.js';
import {weighTask} from '../../source/queen/state/tasks.js';
import {CorruptStoreError, openFileStore, StoreLockedError, type FileStore} from '../../source/queen/store/file-store.js';
import {temporaryDirectory} from '../helpers/binary.js';

/** A hive on a file store in `dir`, closed when the test ends (unless closed before). */
async function openHive(t: TestContext, dir: string, options: {compactBytes?: number; taskHistory?: number; maxPendingBytes?: number} = {}): Promise<{hive: Hive; store: FileStore; close(): Promise<void>}> {
	const store = await openFileStore({dir, compactBytes: options.compactBytes});
	const hive = await Hive.open({store, taskHistory: options.taskHistory, maxPendingBytes: options.maxPendingBytes});
	store.setImageSource(() => hive.image());
	let closed = false;
	const close = async () => {
		if (!closed) {
			closed = true;
			await store.close();
		}
	};

	t.after(close);
	return {hive, store, close};
}

function segments(dir: string): string[] {
	return fs.readdirSync(dir).filter(name => name.startsWith('wal-')).sort();
}

test('a hive reopened on its store has its drones, names, tasks and results back', async t => {
	const dir = temporaryDirectory(t);
	const first = await openHive(t, dir);
	await first.hive.register({address: '127.0.0.1:5001', allowExec: true, slots: 2, labels: {zone: 'a'}, bootId: 'boot-1'});
	await first.hive.register({address: '127.0.0.1:5002'});
	await first.hive.evict('drone-1', 'gone');
	const {task: done} = await first.hive.submit({kind: 'command', command: 'echo hi'});
	first.hive.dispatch(done.id, 'drone-0');
	await first.hive.finish(done.id, 'drone-0', {succeeded: true, result: {exitCode: 0, signal: null, stdout: 'hi\n', stderr: '', durationMs: 3, timedOut: false}});
	const {task: running} = await first.hive.submit({kind: 'command', command: 'sleep 60'});
	first.hive.dispatch(running.id, 'drone-0');
	await first.hive.running(running.id, 'drone-0');
	const {task: waiting} = await first.hive.submit({kind: 'text', text: 'later', selector: {zone: 'b'}}, 'key-1');
	const revision = first.hive.revision;
	await first.close();

	const second = await openHive(t, dir);
	const {hive} = second;
	assert.equal(hive.revision, revision);
	assert.deepEqual(hive.droneMap(), {'127.0.0.1:5001': 'drone-0'});
	const drone = hive.drone('drone-0')!;
	assert.deepEqual([drone.slots, drone.allowExec, drone.labels, drone.bootId, drone.running, drone.tasksDone], [2, true, {zone: 'a'}, 'boot-1', 1, 1]);
	assert.equal(hive.task(done.id)?.state, 'succeeded');
	assert.equal(hive.task(done.id)?.result?.stdout, 'hi\n');
	assert.equal(hive.task(running.id)?.state, 'running');
	assert.deepEqual([...hive.pendingTasks()].map(task => task.id), [waiting.id]);
	assert.equal((await hive.submit({kind: 'text', text: 'later', selector: {zone: 'b'}}, 'key-1')).task.id, waiting.id, 'the idempotency key outlives the restart');
	assert.equal((await hive.register({address: '127.0.0.1:5003'})).drone.name, 'drone-2', 'no name is given twice, across restarts too');
});

test('appends of one event-loop turn share one fsync (group commit)', async t => {
	const {hive, store} = await openHive(t, temporaryDirectory(t));
	const before = store.stats();
	await Promise.all(Array.from({length: 200}, async (_, index) => hive.submit({kind: 'text', text: `task ${index}`})));
	const after = store.stats();
	assert.equal(after.records - before.records, 200);
	assert.equal(after.syncs - before.syncs, 1);
});

test('a submit is answered only once its record is on disk', async t => {
	const dir = temporaryDirectory(t);
	const {hive} = await openHive(t, dir);
	const {task} = await hive.submit({kind: 'text', text: 'kept'});
	const log = fs.readFileSync(path.join(dir, segments(dir).at(-1)!), 'utf8');
	assert.ok(log.includes(task.id), 'the record is in the log file when the submit resolves');
});

test('snapshots compact the log, and the state comes back the same from snapshot and log', async t => {
	const dir = temporaryDirectory(t);
	const first = await openHive(t, dir, {compactBytes: 4096});
	await first.hive.register({address: '127.0.0.1:5001'});
	const ids: string[] = [];
	for (let index = 0; index < 300; index++) {
		// eslint-disable-next-line no-await-in-loop
		const {task} = await first.hive.submit({kind: 'text', text: `task ${index}`});
		ids.push(task.id);
		if (index % 2 === 0) {
			first.hive.dispatch(task.id, 'drone-0');
			// eslint-disable-next-line no-await-in-loop
			await first.hive.finish(task.id, 'drone-0', {succeeded: true});
		}
	}

	await first.store.snapshot();
	assert.ok(first.store.stats().snapshots >= 2, 'snapshots were written as the log grew');
	assert.ok(fs.existsSync(path.join(dir, 'snapshot.json')));
	assert.equal(segments(dir).length, 1, 'segments the snapshot covers are deleted');
	const image = first.hive.image();
	await first.close();

	const second = await openHive(t, dir, {compactBytes: 4096});
	assert.deepEqual(JSON.parse(JSON.stringify(second.hive.image())), JSON.parse(JSON.stringify(image)));
	assert.deepEqual(ids.map(id => second.hive.task(id)?.state), ids.map((_, index) => index % 2 === 0 ? 'succeeded' : 'pending'));
});

test('a hive reopened on its store weighs its queue again, from snapshot and log; under a lower bound it keeps every task and refuses new ones', async t => {
	const dir = temporaryDirectory(t);
	const first = await openHive(t, dir);
	await first.hive.register({address: '127.0.0.1:5001'});
	const submitText = async (hive: Hive, index: number) => (await hive.submit({kind: 'text', text: `${index} `.repeat(5000), selector: {zone: 'far'}})).task;
	for (let index = 0; index < 10; index++) {
		// eslint-disable-next-line no-await-in-loop
		const task = await submitText(first.hive, index);
		first.hive.taskWaiting(task.id, `waits, ${index}`);
	}

	const [placed, requeued] = [...first.hive.pendingTasks()];
	first.hive.dispatch(placed!.id, 'drone-0');
	await first.hive.finish(placed!.id, 'drone-0', {succeeded: true});
	await first.store.snapshot();
	// After the snapshot, in the log only: a task placed and queued again, and more submitted.
	first.hive.dispatch(requeued!.id, 'drone-0');
	await first.hive.evict('drone-0', 'gone');
	for (let index = 10; index < 15; index++) {
		// eslint-disable-next-line no-await-in-loop
		await submitText(first.hive, index);
	}

	const ids = [...first.hive.pendingTasks()].map(task => task.id);
	assert.equal(ids.length, 14);
	await first.close();

	const second = await openHive(t, dir, {maxPendingBytes: 100_000});
	const {hive} = second;
	assert.deepEqual([...hive.pendingTasks()].map(task => task.id), ids, 'every task kept, under a bound lower than their weight');
	assert.equal(hive.pending.bytes, [...hive.pendingTasks()].reduce((sum, task) => sum + weighTask(task), 0));
	assert.ok(hive.pending.bytes > 100_000);
	await assert.rejects(submitText(hive, 15), (error: unknown) => error instanceof RefusedError && error.code === 'ERR_HIVE_QUEUE_FULL');
	await hive.fail(ids[0]!, 'no drone');
	assert.equal(hive.pending.bytes, [...hive.pendingTasks()].reduce((sum, task) => sum + weighTask(task), 0));
});

test('snapshots asked for while commands keep writing lose nothing', async t => {
	const dir = temporaryDirectory(t);
	const first = await openHive(t, dir);
	const ids: string[] = [];
	const writing = (async () => {
		for (let index = 0; index < 300; index++) {
			// eslint-disable-next-line no-await-in-loop
			ids.push((await first.hive.submit({kind: 'text', text: `task ${index}`})).task.id);
		}
	})();
	const snapshotting = (async () => {
		for (let index = 0; index < 5; index++) {
			// eslint-disable-next-line no-await-in-loop
			await first.store.snapshot();
		}
	})();
	await Promise.all([writing, snapshotting]);
	assert.ok(first.store.stats().snapshots >= 5);
	await first.close();

	const second = await openHive(t, dir);
	assert.equal(second.hive.taskCount, 300);
	assert.deepEqual([...second.hive.pendingTasks()].map(task => task.id), ids);
});

test('a torn last record is dropped with a warning, and the store goes on from there', async t => {
	const dir = temporaryDirectory(t);
	const first = await openHive(t, dir);
	const {task} = await first.hive.submit({kind: 'text', text: 'acknowledged'});
	await first.close();
	const log = path.join(dir, segments(dir).at(-1)!);
	const whole = fs.readFileSync(log, 'utf8');
	fs.appendFileSync(log, '0badc0de {"rev":2,"facts":[{"type":"task.subm');

	const second = await openHive(t, dir);
	assert.equal(second.hive.loadWarnings.length, 1);
	assert.match(second.hive.loadWarnings[0]!, /dropped a torn last record at line 2/);
	assert.equal(fs.readFileSync(log, 'utf8'), whole, 'the torn bytes are cut off');
	assert.equal(second.hive.task(task.id)?.text, 'acknowledged');
	const {task: next} = await second.hive.submit({kind: 'text', text: 'after'});
	await second.close();

	const third = await openHive(t, dir);
	assert.deepEqual(third.hive.loadWarnings, []);
	assert.equal(third.hive.task(next.id)?.text, 'after');
});

test('a damaged record before the last stops the load with an error naming the file, and deletes nothing', async t => {
	const dir = temporaryDirectory(t);
	const first = await openHive(t, dir);
	for (const text of ['one', 'two', 'three']) {
		// eslint-disable-next-line no-await-in-loop
		await first.hive.submit({kind: 'text', text});
	}

	await first.close();
	const log = path.join(dir, segments(dir).at(-1)!);
	const damaged = fs.readFileSync(log, 'utf8').replace('"two"', '"tw0"');
	fs.writeFileSync(log, damaged);

	const store = await openFileStore({dir});
	t.after(async () => store.close());
	await assert.rejects(Hive.open({store}), (error: unknown) => error instanceof CorruptStoreError && error.message.includes(log) && /line 2/.test(error.message));
	assert.equal(fs.readFileSync(log, 'utf8'), damaged);
});

test('a damaged snapshot stops the load with an error naming it', async t => {
	const dir = temporaryDirectory(t);
	const first = await openHive(t, dir);
	await first.hive.submit({kind: 'text', text: 'one'});
	await first.store.snapshot();
	await first.close();
	const snapshot = path.join(dir, 'snapshot.json');
	fs.writeFileSync(snapshot, fs.readFileSync(snapshot, 'utf8').replace('"one"', '"0ne"'));
	const store = await openFileStore({dir});
	t.after(async () => store.close());
	await assert.rejects(Hive.open({store}), (error: unknown) => error instanceof CorruptStoreError && error.message.includes(snapshot));
});

test('a directory another queen holds is refused; the lock of a queen that died is taken over', async t => {
	const dir = temporaryDirectory(t);
	const held = await openFileStore({dir});
	await assert.rejects(openFileStore({dir}), StoreLockedError, 'the same process');
	await held.close();

	const other = spawn('sleep', ['30'], {stdio: 'ignore'});
	t.after(() => other.kill('SIGKILL'));
	fs.writeFileSync(path.join(dir, 'LOCK'), JSON.stringify({pid: other.pid}));
	await assert.rejects(openFileStore({dir}), (error: unknown) => error instanceof StoreLockedError && error.message.includes(`pid ${other.pid}`));

	other.kill('SIGKILL');
	await new Promise(resolve => other.once('exit', resolve));
	const taken = await openFileStore({dir});
	assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8')).pid, process.pid);
	await taken.close();
	assert.equal(fs.existsSync(path.join(dir, 'LOCK')), false, 'a clean close leaves no lock');
});

test('after a restart, a drone\'s first word settles what was placed on it: held tasks run on, the rest go back', async t => {
	const dir = temporaryDirectory(t);
	const first = await openHive(t, dir, {});
	await first.hive.register({address: '127.0.0.1:5001', allowExec: true, slots: 4});
	const ids: string[] = [];
	for (const command of ['held-running', 'held-dispatched', 'forgotten']) {
		// eslint-disable-next-line no-await-in-loop
		const {task} = await first.hive.submit({kind: 'command', command});
		first.hive.dispatch(task.id, 'drone-0');
		ids.push(task.id);
	}

	await first.hive.running(ids[0]!, 'drone-0');
	await first.close();

	const {hive} = await openHive(t, dir);
	assert.equal(hive.awaitsConfirmation('drone-0'), true);
	await hive.reconcile('drone-0', new Set([ids[0]!, ids[1]!]));
	assert.equal(hive.awaitsConfirmation('drone-0'), false);
	assert.deepEqual(ids.map(id => hive.task(id)?.state), ['running', 'running', 'pending']);
	assert.equal(hive.task(ids[2]!)?.retries, 1);
	assert.equal(hive.drone('drone-0')?.running, 2);
});

test('a hive reopened on a snapshot keeps the history it had: past --task-history by less than a batch, nothing is cut', async t => {
	const dir = temporaryDirectory(t);
	// The history forgets its oldest in batches (64 past 100 here): 120 finished tasks are all kept.
	const first = await openHive(t, dir, {taskHistory: 100});
	await first.hive.register({address: '127.0.0.1:5001'});
	for (let index = 0; index < 120; index++) {
		// eslint-disable-next-line no-await-in-loop
		const {task} = await first.hive.submit({kind: 'text', text: `t${index}`});
		first.hive.dispatch(task.id, 'drone-0');
		// eslint-disable-next-line no-await-in-loop
		await first.hive.finish(task.id, 'drone-0', {succeeded: true});
	}

	assert.equal(first.hive.tasks({limit: 1, offset: 0}).total, 120);
	await first.store.snapshot();
	await first.close();

	const second = await openHive(t, dir, {taskHistory: 100});
	assert.equal(second.hive.tasks({limit: 1, offset: 0}).total, 120, 'the same tasks as before the restart');
});
