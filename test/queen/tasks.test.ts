import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {test} from 'node:test';
import {spawnLarve} from '../helpers/binary.js';
import {followEvents} from '../helpers/events.js';
import {request, startDrone, startQueen} from '../helpers/larves.js';
import {waitFor} from '../helpers/wait.js';

async function submit(queenUrl: string, body: unknown, wait = false) {
	return request(`${queenUrl}/submit_task${wait ? '?wait=true' : ''}`, {body});
}

async function taskOf(queenUrl: string, id: string) {
	return (await request(`${queenUrl}/tasks/${id}`)).body.task;
}

test('a command task runs on an exec drone; its output, exit code and duration come back to the queen', async t => {
	const queen = await startQueen(t);
	const drone = await startDrone(t, queen, {allowExec: true});
	const answer = await submit(queen.url, {command: 'echo out; echo err >&2; exit 3'}, true);
	assert.equal(answer.status, 200);
	const {task} = answer.body;
	assert.equal(task.kind, 'command');
	assert.equal(task.state, 'failed');
	assert.equal(task.drone, drone.name);
	assert.equal(task.result.exitCode, 3);
	assert.equal(task.result.stdout, 'out\n');
	assert.equal(task.result.stderr, 'err\n');
	assert.equal(typeof task.result.durationMs, 'number');
	assert.equal(task.error, 'exited with 3');
	assert.deepEqual(await taskOf(queen.url, task.id), task);

	const ok = await submit(queen.url, {command: 'uname -s'}, true);
	assert.equal(ok.body.task.state, 'succeeded');
	assert.match(ok.body.task.result.stdout, /Linux/);
	assert.equal(drone.stdout.text, '', 'command output is captured, not printed');
});

test('without ?wait, a command task answers 200 once a drone runs it, and its states stream as events', async t => {
	const queen = await startQueen(t);
	const events = await followEvents(t, queen.url);
	await startDrone(t, queen, {allowExec: true});
	const answer = await submit(queen.url, {command: 'true'});
	assert.equal(answer.status, 200);
	assert.match(answer.body.task.state, /running|succeeded/);
	const id = answer.body.task.id as string;
	await events.waitFor(event => event.type === 'task.succeeded' && event.task.id === id, 'task.succeeded');
	assert.deepEqual(events.events.filter(event => event.task?.id === id).map(event => event.type), ['task.submitted', 'task.dispatched', 'task.running', 'task.succeeded']);
});

test('a command task waits (202) while no drone runs commands, says why, and runs when one comes', async t => {
	const queen = await startQueen(t);
	await startDrone(t, queen);
	const answer = await submit(queen.url, {command: 'echo placed'});
	assert.equal(answer.status, 202);
	assert.equal(answer.body.task.state, 'pending');
	assert.equal(answer.body.task.reason, '0/1 drones can take it: 1 do not run commands (no --allow-exec)');
	const exec = await startDrone(t, queen, {allowExec: true});
	const done = await waitFor(async () => {
		const task = await taskOf(queen.url, answer.body.task.id);
		return task.state === 'succeeded' && task;
	}, 'the task to run on the exec drone');
	assert.equal(done.drone, exec.name);
	assert.equal(done.result.stdout, 'placed\n');
});

test('a drone never runs more commands than its slots; the rest wait and start first in, first out', async t => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hive-fifo-'));
	t.after(() => fs.rmSync(dir, {recursive: true, force: true}));
	const gate = path.join(dir, 'gate');
	const order = path.join(dir, 'order');
	const queen = await startQueen(t);
	await startDrone(t, queen, {allowExec: true, slots: 1});
	// The first command holds the only slot until the test opens the gate: no race with the submits below.
	const first = await submit(queen.url, {command: `while [ ! -e ${gate} ]; do sleep 0.01; done; echo 1 >> ${order}`});
	assert.equal(first.status, 200);
	const queued: string[] = [];
	for (const n of [2, 3, 4]) {
		// eslint-disable-next-line no-await-in-loop
		const answer = await submit(queen.url, {command: `echo ${n} >> ${order}`});
		assert.equal(answer.status, 202);
		assert.match(answer.body.task.reason, /1 have no free slot/);
		queued.push(answer.body.task.id as string);
	}

	const running = await request(`${queen.url}/tasks?state=running`);
	assert.equal(running.body.total, 1);
	assert.equal((await request(`${queen.url}/tasks?state=pending`)).body.total, 3);
	fs.writeFileSync(gate, '');
	await waitFor(async () => {
		const all = await Promise.all(queued.map(async id => taskOf(queen.url, id)));
		return all.every(task => task.state === 'succeeded');
	}, 'the queued tasks to run');
	assert.equal(fs.readFileSync(order, 'utf8'), '1\n2\n3\n4\n');
});

test('a full queue answers 429 and loses nothing already accepted', async t => {
	const queen = await startQueen(t, {maxPending: 2});
	await startDrone(t, queen);
	const accepted = [await submit(queen.url, {command: 'true'}), await submit(queen.url, {command: 'true'})];
	assert.deepEqual(accepted.map(answer => answer.status), [202, 202]);
	const refused = await submit(queen.url, {command: 'true'});
	assert.equal(refused.status, 429);
	assert.match(refused.body.error, /queue is full/);
	const text = await submit(queen.url, {text: 'still fine'});
	assert.equal(text.status, 429, 'a full queue refuses every new task');
	const pending = await request(`${queen.url}/tasks?state=pending`);
	assert.equal(pending.body.total, 2);
});

test('a selector places a task only on drones with those labels, and waits with a reason when none has them', async t => {
	const queen = await startQueen(t);
	const a = await startDrone(t, queen, {labels: {zone: 'a'}});
	await startDrone(t, queen, {labels: {zone: 'b'}});
	for (let index = 0; index < 6; index++) {
		// eslint-disable-next-line no-await-in-loop
		const answer = await submit(queen.url, {text: `to a ${index}`, selector: {zone: 'a'}});
		assert.equal(answer.body.task.drone, a.name);
	}

	const nowhere = await submit(queen.url, {text: 'to c', selector: {zone: 'c'}});
	assert.equal(nowhere.status, 202);
	assert.equal(nowhere.body.task.reason, "0/2 drones can take it: 2 didn't match the selector");
	const c = await startDrone(t, queen, {labels: {zone: 'c'}});
	await waitFor(() => c.stdout.text === 'to c\n', 'the waiting task on the new drone');
});

test('least-loaded spreads long commands over drones', async t => {
	const queen = await startQueen(t);
	const drones = [await startDrone(t, queen, {allowExec: true, slots: 2}), await startDrone(t, queen, {allowExec: true, slots: 2})];
	const answers: Array<Awaited<ReturnType<typeof submit>>> = [];
	for (let index = 0; index < 4; index++) {
		// eslint-disable-next-line no-await-in-loop
		answers.push(await submit(queen.url, {command: 'sleep 5'}));
	}

	const perDrone = drones.map(drone => answers.filter(answer => answer.body.task.drone === drone.name).length);
	assert.deepEqual(perDrone, [2, 2]);
});

test('a task timeout kills the command and fails the task', async t => {
	const queen = await startQueen(t);
	await startDrone(t, queen, {allowExec: true, taskTimeoutMs: 200});
	const answer = await submit(queen.url, {command: 'sleep 30'}, true);
	assert.equal(answer.body.task.state, 'failed');
	assert.equal(answer.body.task.result.timedOut, true);
	assert.match(answer.body.task.error, /timed out/);
});

test('output beyond 64 KiB is cut, and the cut is marked', async t => {
	const queen = await startQueen(t);
	await startDrone(t, queen, {allowExec: true});
	const answer = await submit(queen.url, {command: 'head -c 100000 /dev/zero | tr "\\0" x'}, true);
	const {stdout} = answer.body.task.result;
	assert.ok(stdout.startsWith('x'.repeat(65_536)));
	assert.match(stdout, /\[… 34464 more bytes cut\]$/);
});

test('a drone killed while its command runs: the task is placed again and runs elsewhere', async t => {
	const queen = await startQueen(t);
	const events = await followEvents(t, queen.url);
	const doomed = spawnLarve(t, ['--queen-host', queen.address, '--port', '0', '--allow-exec', '--slots', '1']);
	await doomed.url();
	const answer = await submit(queen.url, {command: 'sleep 2; echo done'});
	assert.equal(answer.body.task.state, 'running');
	const id = answer.body.task.id as string;
	const survivor = await startDrone(t, queen, {allowExec: true});
	doomed.child.kill('SIGKILL');
	const requeued = await events.waitFor(event => event.type === 'task.requeued' && event.task.id === id, 'the task placed again');
	assert.equal(requeued.task.retries, 1);
	assert.match(requeued.task.reason, /was evicted/);
	const finished = await events.waitFor(event => event.type === 'task.succeeded' && event.task.id === id, 'the task to succeed elsewhere', 15_000);
	assert.equal(finished.task.drone, survivor.name);
	// Events carry the task's summary; its output is in its record.
	assert.equal(finished.task.result.stdout, undefined);
	assert.equal((await taskOf(queen.url, id)).result.stdout, 'done\n');
});

test('with --task-retries 0, a task whose drone dies is lost, never silently dropped', async t => {
	const queen = await startQueen(t, {taskRetries: 0});
	const events = await followEvents(t, queen.url);
	const doomed = spawnLarve(t, ['--queen-host', queen.address, '--port', '0', '--allow-exec']);
	await doomed.url();
	const answer = await submit(queen.url, {command: 'sleep 30'});
	doomed.child.kill('SIGKILL');
	const lost = await events.waitFor(event => event.type === 'task.lost' && event.task.id === answer.body.task.id, 'task.lost');
	assert.match(lost.task.error, /was evicted/);
	assert.equal((await taskOf(queen.url, answer.body.task.id)).state, 'lost');
});

test('results are taken only from the task\'s own drone', async t => {
	const queen = await startQueen(t);
	await startDrone(t, queen, {allowExec: true});
	const answer = await submit(queen.url, {command: 'sleep 5'});
	const report = {drone: 'someone-else', succeeded: true, exitCode: 0, signal: null, stdout: '', stderr: '', durationMs: 1, timedOut: false};
	const wrong = await request(`${queen.url}/tasks/${answer.body.task.id}/result`, {body: report});
	assert.equal(wrong.status, 409);
	const unknown = await request(`${queen.url}/tasks/no-such-task/result`, {body: report});
	assert.equal(unknown.status, 404);
	assert.equal((await taskOf(queen.url, answer.body.task.id)).state, 'running');
});

test('a drone without --allow-exec refuses a command with 403', async t => {
	const queen = await startQueen(t);
	const drone = await startDrone(t, queen);
	const answer = await request(`${drone.url}/do_task`, {body: {id: 'x', command: 'id'}});
	assert.equal(answer.status, 403);
	assert.match(answer.body.error, /--allow-exec/);
});

test('GET /tasks filters by state, pages newest first, and refuses a bad query', async t => {
	const queen = await startQueen(t);
	await startDrone(t, queen);
	for (let index = 0; index < 5; index++) {
		// eslint-disable-next-line no-await-in-loop
		await submit(queen.url, {text: `t${index}`});
	}

	await submit(queen.url, {command: 'true'});
	const page = await request(`${queen.url}/tasks?state=succeeded&limit=2&offset=1`);
	assert.equal(page.body.total, 5);
	assert.deepEqual(page.body.tasks.map((task: {text: string}) => task.text), ['t3', 't2']);
	assert.equal((await request(`${queen.url}/tasks?state=pending`)).body.total, 1);
	assert.equal((await request(`${queen.url}/tasks?state=nope`)).status, 400);
	assert.equal((await request(`${queen.url}/tasks?limit=0`)).status, 400);
});
