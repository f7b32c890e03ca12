import assert from 'node:assert/strict';
import http from 'node:http';
import {once} from 'node:events';
import type {AddressInfo} from 'node:net';
import {test, type TestContext} from 'node:test';
import {createHttpClient} from '../../source/client/http.js';
import {createQueenClient} from '../../source/client/queen-client.js';
import {deadAddress} from '../helpers/servers.js';

type Seen = {readonly url: string; readonly idempotencyKey: string | undefined};

/** A queen that answers every request with `status` and records what it was asked. */
async function queenAnswering(t: TestContext, status: number, body: unknown = {result: 'OK', drones: []}): Promise<{address: string; seen: Seen[]}> {
	const seen: Seen[] = [];
	const server = http.createServer((request, response) => {
		request.resume();
		request.on('end', () => {
			seen.push({url: request.url!, idempotencyKey: request.headers['idempotency-key'] as string | undefined});
			response.writeHead(status, {'content-type': 'application/json'}).end(JSON.stringify(status === 200 ? body : {error: `HTTP ${status}`}));
		});
	});
	server.listen(0, '127.0.0.1');
	await once(server, 'listening');
	t.after(() => {
		server.closeAllConnections();
		server.close();
	});
	return {address: `127.0.0.1:${(server.address() as AddressInfo).port}`, seen};
}

function client(t: TestContext) {
	const http = createHttpClient({userAgent: 'test', timeoutMs: 2000});
	t.after(() => {
		http.close();
	});
	return http;
}

test('a call to a queen that does not answer goes to the next, which stays current', async t => {
	const dead = await deadAddress();
	const live = await queenAnswering(t, 200);
	const moves: string[] = [];
	const queen = createQueenClient([dead, live.address], client(t), {onMove: (from, to) => moves.push(`${from} -> ${to}`)});
	await queen.drones();
	await queen.drones();
	assert.equal(live.seen.length, 2);
	assert.deepEqual(moves, [`http://${dead} -> http://${live.address}`], 'moved once');
	assert.equal(queen.baseUrl, `http://${live.address}`);
});

test('a queen that answers 503 (no leader, stopping) is left for the next', async t => {
	const leaderless = await queenAnswering(t, 503);
	const live = await queenAnswering(t, 200);
	const queen = createQueenClient([leaderless.address, live.address], client(t));
	await queen.drones();
	assert.equal(leaderless.seen.length, 1);
	assert.equal(live.seen.length, 1);
});

test('a queen\'s other refusals are the caller\'s: the call is not tried elsewhere', async t => {
	const refusing = await queenAnswering(t, 409);
	const other = await queenAnswering(t, 200);
	const queen = createQueenClient([refusing.address, other.address], client(t));
	await assert.rejects(queen.reportResult('task-1', {drone: 'drone-0', succeeded: true, exitCode: 0, signal: null, stdout: '', stderr: '', durationMs: 1, timedOut: false}), {status: 409});
	assert.equal(other.seen.length, 0);
	assert.equal(queen.baseUrl, `http://${refusing.address}`);
});

test('a call tries each queen at most once, then fails to its caller', async t => {
	const first = await queenAnswering(t, 503);
	const second = await queenAnswering(t, 503);
	const queen = createQueenClient([first.address, second.address], client(t));
	await assert.rejects(queen.drones(), {status: 503});
	assert.equal(first.seen.length + second.seen.length, 2);
});

test('a submit tried at two queens carries one idempotency key: it cannot make two tasks', async t => {
	const leaderless = await queenAnswering(t, 503);
	const live = await queenAnswering(t, 200, {result: 'OK', task: {}});
	const queen = createQueenClient([leaderless.address, live.address], client(t));
	await queen.submitTask('hello');
	const keys = [leaderless.seen[0]!.idempotencyKey, live.seen[0]!.idempotencyKey];
	assert.ok(keys[0], 'a key was sent');
	assert.equal(keys[0], keys[1]);
});
