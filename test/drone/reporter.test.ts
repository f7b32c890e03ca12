import assert from 'node:assert/strict';
import http from 'node:http';
import {once} from 'node:events';
import type {AddressInfo} from 'node:net';
import {test, type TestContext} from 'node:test';
import {createHttpClient} from '../../source/client/http.js';
import {createQueenClient} from '../../source/client/queen-client.js';
import {reportResult} from '../../source/drone/reporter.js';
import {createLogger} from '../../source/log.js';
import {deadAddress} from '../helpers/servers.js';

const result = {succeeded: true, exitCode: 0, signal: null, stdout: 'ok\n', stderr: '', durationMs: 5, timedOut: false};
const silent = createLogger('silent', {kind: 'silent'});

/** A queen's /tasks/:id/result that answers the given statuses in turn, then 200; `before` are queens tried first. */
async function queenAnswering(t: TestContext, statuses: number[], before: readonly string[] = []) {
	const seen: number[] = [];
	const server = http.createServer((request, response) => {
		request.resume();
		request.on('end', () => {
			const status = statuses.shift() ?? 200;
			seen.push(status);
			response.writeHead(status, {'content-type': 'application/json'}).end(status === 200 ? '{"result":"OK"}' : '{"error":"not now"}');
		});
	});
	server.listen(0, '127.0.0.1');
	await once(server, 'listening');
	const client = createHttpClient({userAgent: 'test', timeoutMs: 2000});
	t.after(() => {
		client.close();
		server.closeAllConnections();
		server.close();
	});
	const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
	return {queen: createQueenClient(before.length === 0 ? address : [...before, address], client), seen, address};
}

test('a result is reported again until the queen hears it', async t => {
	const {queen, seen} = await queenAnswering(t, [503, 503, 502]);
	await reportResult(queen, silent, 'drone-0', 'task-1', result, new AbortController().signal);
	assert.deepEqual(seen, [503, 503, 502, 200]);
});

test('a queen that says the task is not ours (4xx) is not asked again', async t => {
	const {queen, seen} = await queenAnswering(t, [409]);
	await reportResult(queen, silent, 'drone-0', 'task-1', result, new AbortController().signal);
	assert.deepEqual(seen, [409]);
});

test('a queen that says "not now" (429) is asked again', async t => {
	const {queen, seen} = await queenAnswering(t, [429]);
	await reportResult(queen, silent, 'drone-0', 'task-1', result, new AbortController().signal);
	assert.deepEqual(seen, [429, 200]);
});

test('a result that a dead queen cannot hear goes to the next queen', async t => {
	const dead = await deadAddress();
	const {queen, seen, address} = await queenAnswering(t, [], [dead]);
	assert.equal(queen.baseUrl, `http://${dead}`);
	await reportResult(queen, silent, 'drone-0', 'task-1', result, new AbortController().signal);
	assert.deepEqual(seen, [200]);
	assert.equal(queen.baseUrl, `http://${address}`, 'the next calls go to the queen that answers');
});

test('a drone that stops gives up reporting', async t => {
	const {queen, seen} = await queenAnswering(t, Array.from({length: 100}, () => 503));
	const stopping = new AbortController();
	const reporting = reportResult(queen, silent, 'drone-0', 'task-1', result, stopping.signal);
	stopping.abort();
	await reporting;
	assert.ok(seen.length <= 1, `asked ${seen.length} times after the stop`);
});
