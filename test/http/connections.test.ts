import assert from 'node:assert/strict';
import {test, type TestContext} from 'node:test';
import {request, startDrone, startQueen} from '../helpers/larves.js';
import {connect, type Client} from '../helpers/sockets.js';
import {waitFor} from '../helpers/wait.js';

test('with more connections than --max-connections, the idle ones are closed first and /healthz is still answered', async t => {
	const queen = await startQueen(t, {maxConnections: 50});
	const drone = await startDrone(t, queen);
	// Idle connections: 300 that never send anything, and one that made a request and stays open (keep-alive).
	const kept = await connect(t, queen.url);
	kept.socket.write(`GET /healthz HTTP/1.1\r\nHost: ${queen.address}\r\n\r\n`);
	await waitFor(() => kept.received.includes('Status.READY'), 'the keep-alive answer');
	const idle: Client[] = [];
	for (let index = 0; index < 300; index++) {
		// eslint-disable-next-line no-await-in-loop
		idle.push(await connect(t, queen.url));
	}

	const health = await request(`${queen.url}/healthz`);
	assert.equal(health.status, 200);
	assert.equal(health.body.status, 'Status.READY');
	await waitFor(() => kept.closed, 'the oldest idle connection to be closed');
	await waitFor(() => idle.filter(client => client.closed).length >= 250, 'idle connections beyond the cap to be closed');
	// The queen's work goes on: its drone is not evicted and tasks are placed.
	const submitted = await request(`${queen.url}/submit_task`, {body: {text: 'still here'}});
	assert.equal(submitted.status, 200);
	assert.equal(submitted.body.task.drone, drone.name);
	assert.deepEqual(queen.hive!.droneNames(), [drone.name]);
});

test('when every connection is busy, one more gets a 503 JSON answer rather than a hang', async t => {
	const queen = await startQueen(t, {maxConnections: 5});
	// Event streams are requests in flight: never closed to make room.
	const streams = await Promise.all(Array.from({length: 5}, async () => {
		const client = await connect(t, queen.url);
		client.socket.write(`GET /events HTTP/1.1\r\nHost: ${queen.address}\r\n\r\n`);
		await waitFor(() => client.received.includes(': hive events'), 'the stream to open');
		return client;
	}));
	const refused = await request(`${queen.url}/healthz`);
	assert.equal(refused.status, 503);
	assert.match(refused.body.error, /5 connections are open \(--max-connections 5\)/);
	assert.ok(streams.every(client => !client.closed));
});

for (const mode of ['queen', 'drone'] as const) {
	test(`a ${mode} closes idle keep-alive connections after --idle-timeout, silent ones and a slowloris after the headers timeout`, async t => {
		const limits = {idleTimeoutMs: 300, headersTimeoutMs: 1000};
		const queen = await startQueen(t, mode === 'queen' ? limits : {});
		const larve = mode === 'queen' ? queen : await startDrone(t, queen, limits);
		const kept = await connect(t, larve.url);
		kept.socket.write(`GET /healthz HTTP/1.1\r\nHost: ${larve.address}\r\n\r\n`);
		const silent = await connect(t, larve.url);
		const slowloris = await connect(t, larve.url);
		slowloris.socket.write(`GET /healthz HTTP/1.1\r\nHost: ${larve.address}\r\n`);
		// A header line every 100 ms: the socket is never quiet, its request never ends.
		const drip = setInterval(() => {
			if (!slowloris.closed) {
				slowloris.socket.write('X-Slow: 1\r\n');
			}
		}, 100);
		t.after(() => {
			clearInterval(drip);
		});
		await waitFor(() => kept.closed, 'the idle keep-alive connection to be closed', 5000);
		assert.match(kept.received, /Status\.READY/);
		await waitFor(() => silent.closed, 'the silent connection to be closed', 5000);
		await waitFor(() => slowloris.closed, 'the slowloris to be cut', 5000);
		assert.equal((await request(`${larve.url}/healthz`)).status, 200);
	});
}

test('a request sent on a connection refused at the cap is not handled: a submit answered 503 creates no task', async t => {
	const queen = await startQueen(t, {maxConnections: 3});
	const drone = await startDrone(t, queen);
	const streams = await Promise.all(Array.from({length: 3}, async () => {
		const client = await connect(t, queen.url);
		client.socket.write(`GET /events HTTP/1.1\r\nHost: ${queen.address}\r\n\r\n`);
		await waitFor(() => client.received.includes(': hive events'), 'the stream to open');
		return client;
	}));
	const refused = await postOnNewConnection(t, queen, '/submit_task', {text: 'sent on a refused connection'});
	assert.match(refused.received, /^HTTP\/1\.1 503 /);
	assert.match(refused.received, /3 connections are open \(--max-connections 3\)/);

	// Room for one more: a submit sent after the refused one is handled, and it is the only task.
	streams[0]!.socket.destroy();
	const after = await waitFor(async () => {
		const answer = await request(`${queen.url}/submit_task`, {body: {text: 'sent once there is room'}});
		return answer.status === 503 ? undefined : answer;
	}, 'a submit once there is room');
	assert.equal(after.status, 200);
	await waitFor(() => drone.stdout.text.includes('sent once there is room'), 'the task sent once there is room to be printed');
	const tasks = await waitFor(async () => {
		const answer = await request(`${queen.url}/tasks`);
		return answer.status === 503 ? undefined : answer;
	}, 'the task list');
	assert.equal(tasks.body.total, 1);
	assert.equal(queen.hive!.taskCount, 1);
	assert.ok(!drone.stdout.text.includes('sent on a refused connection'));
	assert.ok(!streams[1]!.received.includes('sent on a refused connection'));
});

test('a /do_task sent to a drone on a connection refused at the cap is not taken: nothing is printed', async t => {
	// No heartbeat during the test: the queen's calls would take the drone's connections.
	const queen = await startQueen(t, {heartbeatIntervalMs: 60_000});
	const drone = await startDrone(t, queen, {maxConnections: 2});
	// Busy connections: requests whose body never comes (the 100 Continue says the drone is handling them).
	const hanging = await Promise.all(Array.from({length: 2}, async () => {
		const client = await connect(t, drone.url);
		client.socket.write(`POST /do_task HTTP/1.1\r\nHost: ${drone.address}\r\nContent-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n`);
		await waitFor(() => client.received.includes('100 Continue'), 'the request to be in flight');
		return client;
	}));
	const refused = await postOnNewConnection(t, drone, '/do_task', {text: 'sent on a refused connection'});
	assert.match(refused.received, /^HTTP\/1\.1 503 /);
	assert.match(refused.received, /2 connections are open \(--max-connections 2\)/);

	// Room for one more: a task sent after the refused one is printed, the refused one never is.
	hanging[0]!.socket.destroy();
	await waitFor(async () => (await request(`${drone.url}/do_task`, {body: {text: 'sent once there is room'}})).status === 200, 'a task taken once there is room');
	assert.match(drone.stdout.text, /sent once there is room/);
	assert.doesNotMatch(drone.stdout.text, /sent on a refused connection/);
});

/** POSTs a JSON body on a connection of its own, and waits until the larve has closed that connection. */
async function postOnNewConnection(t: TestContext, larve: {readonly url: string; readonly address: string}, path: string, value: unknown) {
	const client = await connect(t, larve.url);
	const body = JSON.stringify(value);
	client.socket.write(`POST ${path} HTTP/1.1\r\nHost: ${larve.address}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
	await waitFor(() => client.closed, 'the refused connection to be closed');
	return client;
}
