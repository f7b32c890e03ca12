import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {test} from 'node:test';
import {followEvents} from '../helpers/events.js';
import {request, startDrone, startQueen} from '../helpers/larves.js';
import {killProcessesWith, processesWith, uniqueSleep} from '../helpers/processes.js';
import {waitFor} from '../helpers/wait.js';

async function submit(queenUrl: string, body: unknown) {
	return request(`${queenUrl}/submit_task`, {body});
}

async function taskOf(queenUrl: string, id: string) {
	return (await request(`${queenUrl}/tasks/${id}`)).body.task;
}

async function droneOf(queenUrl: string, name: string) {
	return (await request(`${queenUrl}/drones/${name}`)).body.drone;
}

/** Reads a stream of JSON lines as it comes: `lines` grows while the answer is still open. */
function readLines(url: string): {readonly lines: any[]; readonly ended: Promise<void>; readonly status: Promise<number>} {
	const lines: any[] = [];
	let status!: (code: number) => void;
	const statusPromise = new Promise<number>(resolve => {
		status = resolve;
	});
	const ended = new Promise<void>((resolve, reject) => {
		http.get(url, response => {
			status(response.statusCode ?? 0);
			let rest = '';
			response.setEncoding('utf8');
			response.on('data', (chunk: string) => {
				rest += chunk;
				const parts = rest.split('\n');
				rest = parts.pop()!;
				for (const part of parts) {
					lines.push(JSON.parse(part));
				}
			});
			response.on('end', resolve);
			response.on('error', reject);
		}).on('error', reject);
	});
	return {lines, ended, status: statusPromise};
}

test('DELETE /tasks/:id takes a pending task out of the queue: cancelled, by whom and when, and a second cancel is 409', async t => {
	const queen = await startQueen(t);
	const events = await followEvents(t, queen.url);
	await startDrone(t, queen, {allowExec: true});
	const pending = await submit(queen.url, {command: 'true', selector: {zone: 'nowhere'}});
	assert.equal(pending.status, 202);
	const {id} = pending.body.task as {id: string};

	const cancel = await request(`${queen.url}/tasks/${id.slice(0, 8)}`, {method: 'DELETE', headers: {'X-Hive-User': 'alice@laptop'}});
	assert.equal(cancel.status, 200);
	assert.equal(cancel.body.task.id, id);
	assert.equal(cancel.body.task.state, 'cancelled');
	assert.equal(cancel.body.task.cancelled.by, 'alice@laptop');
	assert.ok(Math.abs(Date.parse(cancel.body.task.cancelled.at) - Date.now()) < 60_000);
	assert.deepEqual(await taskOf(queen.url, id), cancel.body.task);
	assert.equal((await request(`${queen.url}/healthz`)).body.pending.count, 0, 'it left the queue');
	const event = await events.waitFor(each => each.type === 'task.cancelled', 'task.cancelled');
	assert.equal(event.by, 'alice@laptop');
	assert.equal(event.task.id, id);

	const again = await request(`${queen.url}/tasks/${id}`, {method: 'DELETE'});
	assert.equal(again.status, 409);
	assert.equal(again.body.code, 'ERR_HIVE_TASK_FINISHED');
	assert.match(again.body.error, /already cancelled/);
	const listed = await request(`${queen.url}/tasks?state=cancelled`);
	assert.deepEqual(listed.body.tasks.map((task: {id: string}) => task.id), [id]);
	const unknown = await request(`${queen.url}/tasks/ffffffff-0000`, {method: 'DELETE'});
	assert.equal(unknown.status, 404);
});

test('cancelling a running command kills every process it started on its drone, keeps its output so far, and the drone reports nothing after', async t => {
	const queen = await startQueen(t);
	const drone = await startDrone(t, queen, {allowExec: true});
	const marker = uniqueSleep();
	t.after(() => {
		killProcessesWith(marker);
	});
	// A child in the background, another in the foreground: both must go.
	const answer = await submit(queen.url, {command: `echo started; sleep ${marker} & sleep ${marker}; echo never`});
	const {id} = answer.body.task as {id: string};
	await waitFor(() => processesWith(marker).filter(each => each.argv[0] === 'sleep').length === 2, 'both sleeps to run');
	await waitFor(async () => (await taskOf(queen.url, id)).state === 'running', 'the task to run');
	// Its output so far reaches the queen before the kill: the first line is printed.
	await waitFor(async () => {
		const logs = readLines(`${queen.url}/tasks/${id}/logs`);
		await logs.ended;
		return logs.lines.some(line => line.data === 'started\n');
	}, 'the first line printed');

	const cancel = await request(`${queen.url}/tasks/${id}`, {method: 'DELETE', headers: {'X-Hive-User': 'bob'}});
	assert.equal(cancel.status, 200);
	const {task} = cancel.body;
	assert.equal(task.state, 'cancelled');
	assert.equal(task.drone, drone.name);
	assert.equal(task.result.signal, 'SIGKILL');
	assert.equal(task.result.stdout, 'started\n');
	assert.equal(processesWith(marker).length, 0, 'every process of the command is gone when the cancel is answered');
	// The drone holds it no more, frees its slot, and tells the queen nothing of it (the task stays cancelled).
	await waitFor(async () => (await request(`${drone.url}/healthz`)).body.tasks.length === 0, 'the drone to let go of the task');
	const drones = (await request(`${queen.url}/drones`)).body.drones as Array<{running: number}>;
	assert.equal(drones[0]!.running, 0);
	const after = await taskOf(queen.url, id);
	assert.equal(after.state, 'cancelled');
	assert.equal(after.result.stdout, 'started\n');
});

test('a cancel that crosses a placement under way: the drone refuses the task as cancelled, and no other drone is given it', async t => {
	const queen = await startQueen(t);
	// A drone that holds every task and every cancel until the test lets them go.
	const heldTasks: http.ServerResponse[] = [];
	const heldCancels: http.ServerResponse[] = [];
	const server = http.createServer((request, response) => {
		request.resume();
		if (request.url === '/healthz') {
			response.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify({status: 'Status.READY', mode: 'Mode.DRONE', version: 'fake', allowExec: true, slots: 4, tasks: []}));
		} else if (request.url === '/do_task' || request.url === '/do_tasks') {
			heldTasks.push(response);
		} else if (request.url!.endsWith('/cancel')) {
			heldCancels.push(response);
		} else {
			response.writeHead(404).end();
		}
	});
	server.listen(0, '127.0.0.1');
	await new Promise(resolve => server.once('listening', resolve));
	t.after(() => {
		server.closeAllConnections();
		server.close();
	});
	const address = `127.0.0.1:${(server.address() as {port: number}).port}`;
	assert.equal((await request(`${queen.url}/register`, {body: {address, allowExec: true, slots: 4}})).status, 200);
	const marker = uniqueSleep();
	t.after(() => {
		killProcessesWith(marker);
	});
	const submitted = fetch(`${queen.url}/submit_task`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({command: `sleep ${marker}`})});
	await waitFor(() => heldTasks.length === 1, 'the task to reach the holding drone');
	const {id} = (await request(`${queen.url}/tasks?state=dispatched`)).body.tasks[0] as {id: string};
	// Another drone, free, that could take it.
	const other = await startDrone(t, queen, {allowExec: true});

	const cancel = request(`${queen.url}/tasks/${id}`, {method: 'DELETE'});
	await waitFor(() => heldCancels.length === 1, 'the cancel to reach the drone');
	// The drone had the cancel first: it refuses the task as cancelled.
	const refused = heldTasks[0]!;
	refused.writeHead(409, {'content-type': 'application/json'}).end(JSON.stringify({error: `task ${id} was cancelled`, code: 'ERR_HIVE_CANCELLED'}));
	await new Promise(resolve => refused.once('finish', resolve));
	await submitted;
	heldCancels[0]!.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify({result: 'OK', held: false}));
	const answer = await cancel;
	assert.equal(answer.status, 200);
	assert.equal(answer.body.task.state, 'cancelled');
	const task = await taskOf(queen.url, id);
	assert.deepEqual([task.state, task.attempts], ['cancelled', 1], 'placed once, never on the other drone');
	assert.deepEqual((await request(`${other.url}/healthz`)).body.tasks, []);
	assert.equal(processesWith(marker).length, 0);
});

test('a task cancelled before it reaches its drone never starts there', async t => {
	const queen = await startQueen(t);
	const drone = await startDrone(t, queen, {allowExec: true});
	const id = 'a-task-that-was-cancelled';
	const cancel = await request(`${drone.url}/tasks/${id}/cancel`, {body: {}});
	assert.equal(cancel.status, 200);
	assert.equal(cancel.body.held, false);
	const take = await request(`${drone.url}/do_task`, {body: {id, command: 'echo ran'}});
	assert.equal(take.status, 409);
	assert.equal(take.body.code, 'ERR_HIVE_CANCELLED');
	assert.deepEqual((await request(`${drone.url}/healthz`)).body.tasks, []);
	// One moved off a drained drone may come back.
	const moved = 'a-task-that-was-moved';
	await request(`${drone.url}/tasks/${moved}/cancel`, {body: {mayReturn: true}});
	const taken = await request(`${drone.url}/do_task`, {body: {id: moved, command: 'true'}});
	assert.equal(taken.status, 200);
});

test('a task id may be given by a unique prefix; an ambiguous one is 400 naming the matches', async t => {
	const queen = await startQueen(t);
	await startDrone(t, queen);
	const ids: string[] = [];
	for (let index = 0; index < 40; index++) {
		// eslint-disable-next-line no-await-in-loop
		ids.push((await submit(queen.url, {text: `task ${index}`})).body.task.id as string);
	}

	const [first] = ids as [string];
	const byPrefix = await request(`${queen.url}/tasks/${first.slice(0, 8)}`);
	assert.equal(byPrefix.status, 200);
	assert.equal(byPrefix.body.task.id, first);
	const logs = readLines(`${queen.url}/tasks/${first.slice(0, 8)}/logs`);
	await logs.ended;
	assert.deepEqual(logs.lines, [{stream: 'stdout', data: 'task 0\n'}, {end: {state: 'succeeded', exitCode: null, signal: null, error: null}}]);

	// 40 ids over 16 hex digits: some first digit is shared.
	const shared = [...'0123456789abcdef'].find(digit => ids.filter(id => id.startsWith(digit)).length >= 2)!;
	const matching = ids.filter(id => id.startsWith(shared)).sort();
	const ambiguous = await request(`${queen.url}/tasks/${shared}`);
	assert.equal(ambiguous.status, 400);
	assert.equal(ambiguous.body.code, 'ERR_HIVE_AMBIGUOUS_ID');
	assert.deepEqual([...ambiguous.body.matches].sort(), matching.slice(0, 10));
	assert.match(ambiguous.body.error, new RegExp(`prefix '${shared}' matches`));
	for (const id of matching.slice(0, 10)) {
		assert.ok(ambiguous.body.error.includes(id.slice(0, 5)), `the message names ${id}`);
	}

	const cancelAmbiguous = await request(`${queen.url}/tasks/${shared}`, {method: 'DELETE'});
	assert.equal(cancelAmbiguous.status, 400);
	assert.equal((await request(`${queen.url}/tasks/zz`)).status, 404);
});

test('a cordoned drone takes no new task, shows as cordoned, and the pending reason names it; uncordoned, it takes it', async t => {
	const queen = await startQueen(t);
	const events = await followEvents(t, queen.url);
	const drone = await startDrone(t, queen, {allowExec: true});
	const cordon = await request(`${queen.url}/drones/${drone.name}/cordon`, {body: {}, headers: {'X-Hive-User': 'ops'}});
	assert.equal(cordon.status, 200);
	assert.equal(cordon.body.drone.cordoned, true);
	assert.equal((await events.waitFor(event => event.type === 'drone.cordoned', 'drone.cordoned')).by, 'ops');
	assert.deepEqual((await request(`${queen.url}/healthz`)).body.cordoned, [drone.name]);
	assert.equal((await droneOf(queen.url, drone.name)).cordoned, true);

	const waiting = await submit(queen.url, {command: 'echo hello'});
	assert.equal(waiting.status, 202);
	assert.equal(waiting.body.task.reason, `0/1 drones can take it: 1 cordoned (${drone.name})`);
	// Text tasks too.
	assert.equal((await submit(queen.url, {text: 'hi'})).status, 202);

	const uncordon = await request(`${queen.url}/drones/${drone.name}/uncordon`, {body: {}});
	assert.equal(uncordon.body.drone.cordoned, false);
	await waitFor(async () => (await taskOf(queen.url, waiting.body.task.id)).state === 'succeeded', 'the task to run once the drone is uncordoned');
	assert.deepEqual((await request(`${queen.url}/healthz`)).body.cordoned, []);
	assert.equal((await request(`${queen.url}/drones/nobody/cordon`, {body: {}})).status, 404);
	assert.equal((await request(`${queen.url}/drones/nobody`)).status, 404);
});

test('a drain cordons the drone and ends (drone.drained) once its running command finishes', async t => {
	const queen = await startQueen(t);
	const events = await followEvents(t, queen.url);
	const drone = await startDrone(t, queen, {allowExec: true});
	const flag = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hive-drain-')), 'go');
	t.after(() => {
		fs.rmSync(path.dirname(flag), {recursive: true, force: true});
	});
	const running = await submit(queen.url, {command: `while [ ! -e ${flag} ]; do sleep 0.05; done; echo finished`});
	assert.equal(running.body.task.state, 'running');

	const drained = request(`${queen.url}/drones/${drone.name}/drain?wait=true`, {body: {deadline: 60}});
	await events.waitFor(event => event.type === 'drone.draining' && event.drone === drone.name, 'drone.draining');
	const during = await droneOf(queen.url, drone.name);
	assert.equal(during.cordoned, true);
	assert.ok(during.drain);
	assert.equal((await submit(queen.url, {text: 'not here'})).status, 202, 'a draining drone takes nothing new');
	assert.equal(events.events.some(event => event.type === 'drone.drained'), false, 'not drained while its command runs');

	fs.writeFileSync(flag, '');
	const answer = await drained;
	assert.equal(answer.status, 200);
	assert.equal(answer.body.drone.cordoned, true, 'it stays cordoned');
	assert.equal(answer.body.drone.drain, null);
	assert.equal((await taskOf(queen.url, running.body.task.id)).state, 'succeeded', 'its running task finished');
	await events.waitFor(event => event.type === 'drone.drained', 'drone.drained');
	const types = events.events.map(event => event.type);
	assert.ok(types.indexOf('task.succeeded') < types.indexOf('drone.drained'));
});

test('past its deadline, a drain stops what still runs on the drone and places it elsewhere, at no cost of a retry', async t => {
	const queen = await startQueen(t);
	const first = await startDrone(t, queen, {allowExec: true});
	const marker = uniqueSleep();
	t.after(() => {
		killProcessesWith(marker);
	});
	const answer = await submit(queen.url, {command: `sleep ${marker}`});
	assert.equal(answer.body.task.drone, first.name);
	await waitFor(() => processesWith(marker).some(each => each.argv[0] === 'sleep'), 'the command to run');
	const second = await startDrone(t, queen, {allowExec: true});

	const drain = await request(`${queen.url}/drones/${first.name}/drain?wait=true`, {body: {deadline: 0.3}});
	assert.equal(drain.status, 200);
	const moved = await waitFor(async () => {
		const task = await taskOf(queen.url, answer.body.task.id);
		return task.state === 'running' && task.drone === second.name && task;
	}, 'the task to run on the other drone');
	assert.equal(moved.retries, 0);
	// The first drone's copy was killed before the task was placed again: one copy, the second drone's.
	await waitFor(() => processesWith(marker).filter(each => each.argv[0] === 'sleep').length === 1, 'one copy of the command to run');
	const sleeps = processesWith(marker).filter(each => each.argv[0] === 'sleep');
	assert.equal(sleeps.length, 1);
	assert.deepEqual((await request(`${first.url}/healthz`)).body.tasks, []);
});

test('cordons, drains and cancels are kept by the store: a restarted queen still has them', async t => {
	const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hive-operating-'));
	t.after(() => {
		fs.rmSync(dataDir, {recursive: true, force: true});
	});
	const queen = await startQueen(t, {store: 'file', dataDir});
	const drone = await startDrone(t, queen);
	await request(`${queen.url}/drones/${drone.name}/cordon`, {body: {}});
	const pending = await submit(queen.url, {text: 'waits'});
	await request(`${queen.url}/tasks/${pending.body.task.id}`, {method: 'DELETE', headers: {'X-Hive-User': 'carol'}});
	await queen.stop();

	const again = await startQueen(t, {store: 'file', dataDir});
	const kept = await droneOf(again.url, drone.name);
	assert.equal(kept.cordoned, true);
	const task = await taskOf(again.url, pending.body.task.id);
	assert.equal(task.state, 'cancelled');
	assert.equal(task.cancelled.by, 'carol');
});

test('GET /tasks/:id/logs?follow=true streams a command\'s output as it prints, then how it ended', async t => {
	const queen = await startQueen(t);
	await startDrone(t, queen, {allowExec: true});
	const flag = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hive-logs-')), 'go');
	t.after(() => {
		fs.rmSync(path.dirname(flag), {recursive: true, force: true});
	});
	const answer = await submit(queen.url, {command: `echo one; while [ ! -e ${flag} ]; do sleep 0.05; done; echo two; echo oops >&2; exit 4`});
	const {id} = answer.body.task as {id: string};
	const logs = readLines(`${queen.url}/tasks/${id}/logs?follow=true`);
	assert.equal(await logs.status, 200);
	await waitFor(() => logs.lines.some(line => line.stream === 'stdout' && line.data.includes('one')), 'the first line, while the command runs');
	assert.equal((await taskOf(queen.url, id)).state, 'running');
	fs.writeFileSync(flag, '');
	await logs.ended;
	const stdout = logs.lines.filter(line => line.stream === 'stdout').map(line => line.data).join('');
	const stderr = logs.lines.filter(line => line.stream === 'stderr').map(line => line.data).join('');
	assert.equal(stdout, 'one\ntwo\n');
	assert.equal(stderr, 'oops\n');
	assert.deepEqual(logs.lines.at(-1), {end: {state: 'failed', exitCode: 4, signal: null, error: 'exited with 4'}});
});

test('GET /events?follow=false answers the backlog as JSON', async t => {
	const queen = await startQueen(t);
	const drone = await startDrone(t, queen);
	await request(`${queen.url}/drones/${drone.name}/cordon`, {body: {}});
	const answer = await request(`${queen.url}/events?follow=false`);
	assert.equal(answer.status, 200);
	assert.deepEqual(answer.body.events.map((event: {type: string}) => event.type), ['drone.registered', 'drone.cordoned']);
	const since = await request(`${queen.url}/events?follow=false&since=${answer.body.events[0].id}`);
	assert.deepEqual(since.body.events.map((event: {type: string}) => event.type), ['drone.cordoned']);
});

test('a request that waits on the hive ends with the queen\'s term: a drain waited on gets 503, a task followed gets an error line', async t => {
	const queen = await startQueen(t);
	const drone = await startDrone(t, queen, {allowExec: true});
	const marker = uniqueSleep();
	t.after(() => {
		killProcessesWith(marker);
	});
	const running = await submit(queen.url, {command: `sleep ${marker}`});
	assert.equal(running.body.task.state, 'running');
	const pending = await submit(queen.url, {command: 'true', selector: {zone: 'nowhere'}});
	const drain = request(`${queen.url}/drones/${drone.name}/drain?wait=true`, {body: {deadline: 600}});
	const logs = readLines(`${queen.url}/tasks/${pending.body.task.id}/logs?follow=true`);
	assert.equal(await logs.status, 200);
	await waitFor(async () => (await droneOf(queen.url, drone.name)).drain, 'the drain to begin');

	await queen.stop();
	const answer = await drain;
	assert.equal(answer.status, 503);
	assert.equal(answer.body.code, 'ERR_HIVE_NO_LEADER');
	assert.equal(answer.headers.get('retry-after'), '1');
	await logs.ended;
	assert.equal(logs.lines.length, 1);
	assert.match(logs.lines[0].error, /no longer leads/);
});
