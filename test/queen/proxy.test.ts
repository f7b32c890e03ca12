import assert from 'node:assert/strict';
import {createHash} from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type {AddressInfo} from 'node:net';
import {once} from 'node:events';
import {Readable} from 'node:stream';
import {setImmediate as nextTurn, setTimeout as sleep} from 'node:timers/promises';
import {test, type TestContext} from 'node:test';
import {gzipSync} from 'node:zlib';
import {closeServer, listen} from '../../source/http/server.js';
import {createLogger} from '../../source/log.js';
import {resolveOptions} from '../../source/options.js';
import {createLeaderProxy, createProxyApp, type LeaderProxy, type LeaderProxyOptions} from '../../source/queen/proxy.js';
import {spawnLarve} from '../helpers/binary.js';
import {request, startDrone, startQueen} from '../helpers/larves.js';
import {deadAddress} from '../helpers/servers.js';
import {waitFor} from '../helpers/wait.js';

const silent = createLogger('silent', {kind: 'silent'});
const token = 'proxy-test-token';
const auth = {authorization: `Bearer ${token}`};

type Follower = {readonly url: string; readonly address: string; readonly proxy: LeaderProxy};

/** A follower: the proxy alone (`createProxyApp`), listening on 127.0.0.1, port 0, as a queen's server does. */
async function startFollower(t: TestContext, leader: () => string | undefined, options: Partial<LeaderProxyOptions> = {}): Promise<Follower> {
	const proxy = createLeaderProxy({leader, via: () => 'follower:1', timeoutMs: 2000, log: silent, ...options});
	const server = await listen(createProxyApp(proxy, silent), resolveOptions({mode: 'queen', port: 0, store: 'memory'}), silent);
	t.after(async () => {
		proxy.close();
		await closeServer(server, 500);
	});
	const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
	return {url: `http://${address}`, address, proxy};
}

type Fake = {readonly address: string; readonly requests: http.IncomingMessage[]};

/** A plain server in the leader's place, answering with `handle`; closed when the test ends. */
async function fakeLeader(t: TestContext, handle: (request: http.IncomingMessage, response: http.ServerResponse) => void): Promise<Fake> {
	const requests: http.IncomingMessage[] = [];
	const server = http.createServer((request, response) => {
		requests.push(request);
		request.on('error', () => undefined);
		handle(request, response);
	});
	server.listen(0, '127.0.0.1');
	await once(server, 'listening');
	t.after(async () => {
		server.closeAllConnections();
		await new Promise(resolve => server.close(resolve));
	});
	return {address: `127.0.0.1:${(server.address() as AddressInfo).port}`, requests};
}

type RawAnswer = {readonly status: number; readonly headers: http.IncomingHttpHeaders; readonly body: Buffer};

/** One request with node:http (no decompression, headers as given), its answer read whole. */
async function raw(url: string, init: {method?: string; headers?: http.OutgoingHttpHeaders; body?: Buffer | string | Readable} = {}): Promise<RawAnswer> {
	return new Promise((resolve, reject) => {
		const outgoing = http.request(url, {method: init.method ?? 'GET', headers: init.headers, agent: false}, response => {
			const chunks: Buffer[] = [];
			response.on('data', (chunk: Buffer) => chunks.push(chunk));
			response.on('end', () => {
				resolve({status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks)});
			});
			response.on('error', reject);
		});
		outgoing.on('error', reject);
		if (init.body instanceof Readable) {
			init.body.pipe(outgoing);
		} else {
			outgoing.end(init.body);
		}
	});
}

type Stream = {
	readonly status: number;
	readonly headers: http.IncomingHttpHeaders;
	text(): string;
	/** How the stream ended: `end` (whole), `aborted` (cut mid-answer). */
	readonly ended: Promise<'end' | 'aborted'>;
	close(): void;
};

/** `GET /events` read as it comes, with node:http (so that an answer cut short shows as such). */
async function openStream(t: TestContext, url: string, headers: http.OutgoingHttpHeaders = {}): Promise<Stream> {
	return new Promise((resolve, reject) => {
		const outgoing = http.get(`${url}/events`, {headers, agent: false}, response => {
			let text = '';
			response.setEncoding('utf8');
			response.on('data', (chunk: string) => {
				text += chunk;
			});
			response.on('error', () => undefined);
			const ended = new Promise<'end' | 'aborted'>(resolveEnd => {
				response.on('close', () => {
					resolveEnd(response.complete ? 'end' : 'aborted');
				});
			});
			resolve({
				status: response.statusCode ?? 0,
				headers: response.headers,
				text: () => text,
				ended,
				close() {
					outgoing.destroy();
				},
			});
		});
		outgoing.on('error', reject);
		t.after(() => {
			outgoing.destroy();
		});
	});
}

/** Waits until the leader (at most one watcher) takes a stream again: the one before it was closed there. */
async function watcherFreed(t: TestContext, leaderUrl: string): Promise<void> {
	await waitFor(async () => {
		const stream = await openStream(t, leaderUrl);
		stream.close();
		return stream.status === 200;
	}, 'the leader to free its watcher', 5000, {pollMs: 50});
}

/** Resolves with the outcome, or 'still open' if nothing happened within `ms`. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'still open'> {
	let timer: NodeJS.Timeout | undefined;
	const late = new Promise<'still open'>(resolve => {
		timer = setTimeout(() => {
			resolve('still open');
		}, ms);
	});
	try {
		return await Promise.race([promise, late]);
	} finally {
		clearTimeout(timer);
	}
}

test('GET /drones through a follower is the leader\'s answer, and the token is the leader\'s to check', async t => {
	const leader = await startQueen(t, {token});
	const follower = await startFollower(t, () => leader.address);
	const direct = await request(`${leader.url}/drones`, {headers: auth});
	const proxied = await request(`${follower.url}/drones`, {headers: auth});
	assert.equal(proxied.status, 200);
	assert.deepEqual(proxied.body, direct.body);
	assert.equal(proxied.headers.get('content-type'), 'application/json; charset=utf-8');

	const refused = await request(`${follower.url}/drones`);
	assert.equal(refused.status, 401);
	assert.equal(refused.body.code, 'ERR_HIVE_UNAUTHORIZED');
	assert.equal(refused.headers.get('www-authenticate'), 'Bearer realm="hive"');
	const wrong = await request(`${follower.url}/drones`, {headers: {authorization: 'Bearer not-it'}});
	assert.equal(wrong.status, 401);
	assert.equal(wrong.body.error, 'wrong token');
});

test('a real drone registers through a follower, shows up on the leader, and takes tasks submitted through the follower', async t => {
	const leader = await startQueen(t, {token});
	const follower = await startFollower(t, () => leader.address);
	const drone = await startDrone(t, {address: follower.address}, {token, allowExec: true});
	const {body} = await request(`${leader.url}/drones`, {headers: auth});
	assert.deepEqual(body.drones.map((each: {name: string; address: string}) => [each.name, each.address]), [[drone.name, drone.address]]);

	const text = await request(`${follower.url}/submit_task`, {body: {text: 'through the follower'}, headers: auth});
	assert.equal(text.status, 200, JSON.stringify(text.body));
	assert.equal(text.body.task.state, 'succeeded');
	assert.equal(text.body.task.drone, drone.name);
	await waitFor(() => drone.stdout.lines.includes('through the follower'), 'the drone to print the task');

	// A command's result comes back later, from the drone to its queen (the follower), which forwards it.
	const command = await request(`${follower.url}/submit_task`, {body: {command: 'echo reported through the follower'}, headers: auth});
	assert.equal(command.body.task.state, 'running');
	const done = await waitFor(async () => {
		const {task} = (await request(`${leader.url}/tasks/${command.body.task.id}`, {headers: auth})).body;
		return task.state !== 'running' && task;
	}, 'the command\'s result to reach the leader');
	assert.equal(done.state, 'succeeded', JSON.stringify(done));
	assert.equal(done.result.stdout, 'reported through the follower\n');
});

test('operating through a follower: a cancel by prefix, a cordon, and a command\'s output followed as it comes', async t => {
	const leader = await startQueen(t, {token});
	const follower = await startFollower(t, () => leader.address, {maxSockets: 1});
	const drone = await startDrone(t, {address: follower.address}, {token, allowExec: true});
	const gate = `${process.pid}-${Date.now()}`;
	const command = await request(`${follower.url}/submit_task`, {body: {command: `echo first; while [ ! -e /tmp/hive-proxy-${gate} ]; do sleep 0.05; done; echo second`}, headers: auth});
	t.after(() => {
		fs.rmSync(`/tmp/hive-proxy-${gate}`, {force: true});
	});
	const {id} = command.body.task as {id: string};
	// Followed through the follower, outside its pool of one connection: the cordon below still goes through.
	const lines: string[] = [];
	const ended = new Promise<void>((resolve, reject) => {
		http.get(`${follower.url}/tasks/${id.slice(0, 8)}/logs?follow=true`, {headers: auth}, response => {
			response.setEncoding('utf8');
			response.on('data', (chunk: string) => lines.push(chunk));
			response.on('end', resolve);
		}).on('error', reject);
	});
	await waitFor(() => lines.join('').includes('first'), 'the first line through the follower');

	const cordon = await request(`${follower.url}/drones/${drone.name}/cordon`, {body: {}, headers: auth});
	assert.equal(cordon.status, 200, JSON.stringify(cordon.body));
	assert.equal(cordon.body.drone.cordoned, true);
	const waiting = await request(`${follower.url}/submit_task`, {body: {text: 'waits'}, headers: auth});
	assert.equal(waiting.status, 202);
	const cancel = await request(`${follower.url}/tasks/${(waiting.body.task.id as string).slice(0, 8)}`, {method: 'DELETE', headers: {...auth, 'x-hive-user': 'erin'}});
	assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
	assert.deepEqual([cancel.body.task.state, cancel.body.task.cancelled.by], ['cancelled', 'erin']);

	fs.writeFileSync(`/tmp/hive-proxy-${gate}`, '');
	await ended;
	const parsed = lines.join('').split('\n').filter(Boolean).map(line => JSON.parse(line) as {stream?: string; data?: string; end?: {state: string}});
	assert.equal(parsed.filter(line => line.stream === 'stdout').map(line => line.data).join(''), 'first\nsecond\n');
	assert.equal(parsed.at(-1)!.end!.state, 'succeeded');
});

test('GET /events through a follower delivers events that happen after it opened, and ends when the leader stops', async t => {
	const leader = await startQueen(t);
	await startDrone(t, leader);
	const follower = await startFollower(t, () => leader.address, {timeoutMs: 300});
	const stream = await openStream(t, follower.url);
	assert.equal(stream.status, 200);
	assert.equal(stream.headers['content-type'], 'text/event-stream; charset=utf-8');
	assert.equal(stream.headers['cache-control'], 'no-cache');
	await waitFor(() => stream.text().startsWith(': hive events\n\n'), 'the stream\'s first comment, before any event');
	// The timeout is on the leader's answer's headers, not on the whole stream: this one outlives it.
	await sleep(900);

	const {body} = await request(`${leader.url}/submit_task`, {body: {text: 'seen through the follower'}});
	await waitFor(() => stream.text().includes(`"type":"task.succeeded","task":{"id":"${body.task.id}"`), 'the task\'s success on the proxied stream');

	await leader.stop();
	assert.equal(await within(stream.ended, 5000), 'end');
	assert.equal(follower.proxy.inFlight, 0);
});

test('a leader killed mid-stream ends the client\'s connection through the follower, cut short', async t => {
	const queen = spawnLarve(t, ['--queen', '--port', '0', '--store', 'memory']);
	const leaderAddress = new URL(await queen.url()).host;
	const follower = await startFollower(t, () => leaderAddress);
	const stream = await openStream(t, follower.url);
	assert.equal(stream.status, 200);
	await waitFor(() => stream.text().startsWith(': hive events'), 'the stream to open');
	queen.child.kill('SIGKILL');
	await queen.exited;
	assert.equal(await within(stream.ended, 5000), 'aborted');
	await waitFor(() => follower.proxy.inFlight === 0, 'the follower to let the exchange go');
});

test('an event-stream client that goes away through a follower closes its stream on the leader', async t => {
	// One watcher at most: the leader refuses a second until the first is closed.
	const leader = await startQueen(t, {maxWatchers: 1});
	const follower = await startFollower(t, () => leader.address);
	const stream = await openStream(t, follower.url);
	assert.equal(stream.status, 200);
	assert.equal((await request(`${leader.url}/events`)).status, 503, 'the proxied stream holds the leader\'s one watcher');
	stream.close();
	await waitFor(() => follower.proxy.inFlight === 0, 'the follower to end its request to the leader');
	await watcherFreed(t, leader.url);
});

test('a client that goes away before the leader answers aborts the request to the leader', async t => {
	const leader = await fakeLeader(t, () => undefined);
	const follower = await startFollower(t, () => leader.address);
	const outgoing = http.get(`${follower.url}/tasks?wait=true`, {agent: false});
	outgoing.on('error', () => undefined);
	await waitFor(() => leader.requests.length === 1, 'the request to reach the leader');
	const closed = new Promise(resolve => leader.requests[0]!.once('close', resolve));
	outgoing.destroy();
	assert.notEqual(await within(closed, 5000), 'still open', 'the request to the leader was not aborted');
	await waitFor(() => follower.proxy.inFlight === 0, 'the follower to let the exchange go');
});

test('cut(leader) ends the streams to a deposed leader, and frees its watchers', async t => {
	const leader = await startQueen(t, {maxWatchers: 1});
	const follower = await startFollower(t, () => leader.address);
	const stream = await openStream(t, follower.url);
	await waitFor(() => stream.text().startsWith(': hive events'), 'the stream to open');
	follower.proxy.cut('127.0.0.1:1');
	assert.equal(await within(stream.ended, 300), 'still open', 'a cut to another leader leaves it');
	follower.proxy.cut(leader.address);
	assert.equal(await within(stream.ended, 5000), 'aborted');
	await watcherFreed(t, leader.url);
});

test('close() cuts the streams under way and answers what comes after with 503', async t => {
	const leader = await startQueen(t);
	const follower = await startFollower(t, () => leader.address);
	const stream = await openStream(t, follower.url);
	await waitFor(() => stream.text().startsWith(': hive events'), 'the stream to open');
	follower.proxy.close();
	assert.equal(await within(stream.ended, 5000), 'aborted');
	const after = await request(`${follower.url}/drones`);
	assert.equal(after.status, 503);
	assert.deepEqual(after.body, {error: 'the queen is stopping', code: 'ERR_HIVE_STOPPING'});
});

test('with no leader, a follower answers 503 with Retry-After and ERR_HIVE_NO_LEADER', async t => {
	let leader: string | undefined;
	const follower = await startFollower(t, () => leader, {retryAfterSeconds: 3});
	const answer = await request(`${follower.url}/submit_task`, {body: {text: 'nobody leads'}, headers: auth});
	assert.equal(answer.status, 503);
	assert.deepEqual(answer.body, {error: 'no queen leads this hive yet; try again in a moment', code: 'ERR_HIVE_NO_LEADER'});
	assert.equal(answer.headers.get('retry-after'), '3');

	// And as soon as one leads, it is asked.
	const queen = await startQueen(t);
	leader = queen.address;
	assert.equal((await request(`${follower.url}/drones`)).status, 200);
});

test('a leader whose port is closed: 503 with Retry-After, naming the leader', async t => {
	const gone = await deadAddress();
	const follower = await startFollower(t, () => gone);
	const answer = await request(`${follower.url}/drones`);
	assert.equal(answer.status, 503);
	assert.equal(answer.body.code, 'ERR_HIVE_LEADER_UNREACHABLE');
	assert.equal(answer.body.error, `the leader ${gone} cannot be reached (ECONNREFUSED); try again in a moment`);
	assert.equal(answer.headers.get('retry-after'), '1');
});

test('a leader that never answers: 504 once the timeout has passed, not before, not long after', async t => {
	const leader = await fakeLeader(t, () => undefined);
	const follower = await startFollower(t, () => leader.address, {timeoutMs: 400});
	const started = performance.now();
	const answer = await request(`${follower.url}/drones`);
	const elapsed = performance.now() - started;
	assert.equal(answer.status, 504);
	assert.deepEqual(answer.body, {error: `the leader ${leader.address} did not answer within 0.4 s`, code: 'ERR_HIVE_LEADER_TIMEOUT'});
	assert.ok(elapsed >= 380 && elapsed < 2000, `answered after ${Math.round(elapsed)} ms`);
});

test('a request that asks the leader to wait for its task is not cut by the timeout', async t => {
	const leader = await fakeLeader(t, (request, response) => {
		request.resume();
		setTimeout(() => response.writeHead(200, {'content-type': 'application/json'}).end('{"result":"OK"}'), 900);
	});
	const follower = await startFollower(t, () => leader.address, {timeoutMs: 300});
	const answer = await request(`${follower.url}/submit_task?wait=true`, {body: {text: 'slow'}});
	assert.equal(answer.status, 200);
	assert.deepEqual(answer.body, {result: 'OK'});
	assert.equal((await request(`${follower.url}/submit_task`, {body: {text: 'slow'}})).status, 504);
});

test('a request that already came through a follower is not forwarded again', async t => {
	const leader = await fakeLeader(t, (_request, response) => response.end('{}'));
	const follower = await startFollower(t, () => leader.address);
	const answer = await request(`${follower.url}/drones`, {headers: {'x-hive-via': 'other-follower:8080'}});
	assert.equal(answer.status, 503);
	assert.equal(answer.body.code, 'ERR_HIVE_NO_LEADER');
	assert.match(answer.body.error, /^no queen leads this hive yet; try again in a moment \(follower:1 does not lead, and the request was forwarded to it by other-follower:8080\)$/);
	assert.equal(answer.headers.get('retry-after'), '1');
	assert.equal(leader.requests.length, 0);

	// Two followers that each take the other for the leader: one hop, then 503.
	let first: Follower | undefined;
	const second = await startFollower(t, () => first!.address, {via: () => 'second:1'});
	first = await startFollower(t, () => second.address, {via: () => 'first:1'});
	const bounced = await request(`${first.url}/drones`);
	assert.equal(bounced.status, 503);
	assert.equal(bounced.body.code, 'ERR_HIVE_NO_LEADER');
	assert.match(bounced.body.error, /second:1 does not lead, and the request was forwarded to it by first:1/);
});

test('a body larger than the leader takes: 413, whether its length is said or not', async t => {
	const leader = await startQueen(t);
	await startDrone(t, leader);
	const follower = await startFollower(t, () => leader.address);
	const big = JSON.stringify({text: 'x'.repeat(2 * 1024 * 1024)});
	const declared = await request(`${follower.url}/submit_task`, {raw: big});
	assert.equal(declared.status, 413);
	assert.deepEqual(declared.body, {error: 'request body is larger than 1 MiB', code: 'ERR_HIVE_TOO_LARGE'});

	// Chunked, as it comes: the leader reads up to its limit and refuses the rest.
	for (let attempt = 0; attempt < 5; attempt++) {
		// eslint-disable-next-line no-await-in-loop
		const response = await fetch(`${follower.url}/submit_task`, {method: 'POST', headers: {'content-type': 'application/json'}, body: chunked(big, 16 * 1024), duplex: 'half'});
		assert.equal(response.status, 413, `attempt ${attempt}`);
		// eslint-disable-next-line no-await-in-loop
		assert.deepEqual(await response.json(), {error: 'request body is larger than 1 MiB', code: 'ERR_HIVE_TOO_LARGE'});
	}

	// A body the leader takes, sent the same way, goes through.
	const small = await fetch(`${follower.url}/submit_task`, {method: 'POST', headers: {'content-type': 'application/json'}, body: chunked(JSON.stringify({text: 'y'.repeat(400 * 1024)}), 16 * 1024), duplex: 'half'});
	assert.equal(small.status, 200);
	assert.equal(((await small.json()) as {task: {state: string}}).task.state, 'succeeded');
});

test('a body whose length says it is too large is answered 413 by the follower, without the leader', async t => {
	// A leader that refuses it at once, unread, and resets the connection: its answer would be lost.
	const leader = await fakeLeader(t, (request, response) => {
		response.writeHead(413, {connection: 'close'}).end('{}', () => request.socket.destroy());
	});
	const follower = await startFollower(t, () => leader.address);
	const answer = await request(`${follower.url}/submit_task`, {raw: JSON.stringify({text: 'x'.repeat(1024 * 1024)})});
	assert.equal(answer.status, 413);
	assert.deepEqual(answer.body, {error: 'request body is larger than 1 MiB', code: 'ERR_HIVE_TOO_LARGE'});
	assert.equal(leader.requests.length, 0);
	// Compressed, its length says nothing of what it inflates to: that is the leader's to judge.
	const compressed = await raw(`${follower.url}/submit_task`, {method: 'POST', headers: {'content-type': 'application/json', 'content-encoding': 'gzip'}, body: Buffer.alloc(1024 * 1024 + 1)});
	assert.notEqual(compressed.status, 200);
	assert.equal(leader.requests.length, 1);
});

test('a leader that refuses a body half read and resets the connection: the client still gets its 413', async t => {
	// What a leader does with a body over its limit, made certain: it answers before the body has all
	// come, and its connection closes with bytes unread (a reset), while the follower is still sending.
	const tooLarge = JSON.stringify({error: 'request body is larger than 1 MiB', code: 'ERR_HIVE_TOO_LARGE'});
	const leader = await fakeLeader(t, (request, response) => {
		let read = 0;
		request.on('data', (chunk: Buffer) => {
			read += chunk.length;
			if (read > 1024 * 1024 && !response.headersSent) {
				response.writeHead(413, {'content-type': 'application/json', connection: 'close'}).end(tooLarge, () => request.socket.destroy());
			}
		});
	});
	const follower = await startFollower(t, () => leader.address);
	const body = JSON.stringify({text: 'z'.repeat(3 * 1024 * 1024)});
	for (let attempt = 0; attempt < 5; attempt++) {
		// eslint-disable-next-line no-await-in-loop
		const response = await fetch(`${follower.url}/submit_task`, {method: 'POST', headers: {'content-type': 'application/json'}, body: chunked(body, 16 * 1024), duplex: 'half'});
		assert.equal(response.status, 413, `attempt ${attempt}`);
		// eslint-disable-next-line no-await-in-loop
		assert.equal(await response.text(), tooLarge);
		// A client that sends as it goes is still sending when the answer comes: the rest of its body will
		// not be read, so its connection ends with the answer (as the leader's own does).
		// eslint-disable-next-line no-await-in-loop
		const answer = await raw(`${follower.url}/submit_task`, {method: 'POST', headers: {'content-type': 'application/json'}, body: Readable.from(pieces(body, 16 * 1024))});
		assert.equal(answer.status, 413, `attempt ${attempt} with node:http`);
		assert.equal(answer.body.toString(), tooLarge);
		assert.equal(answer.headers.connection, 'close');
	}
});

/** `text` in pieces of `size`, one per turn of the event loop: a client that sends as it goes. */
async function * pieces(text: string, size: number): AsyncGenerator<Buffer> {
	const bytes = Buffer.from(text);
	for (let offset = 0; offset < bytes.length; offset += size) {
		// eslint-disable-next-line no-await-in-loop
		await nextTurn();
		yield bytes.subarray(offset, offset + size);
	}
}

/** A body of unknown length (chunked on the wire), in pieces of `size`. */
function chunked(text: string, size: number): ReadableStream<Uint8Array> {
	const bytes = Buffer.from(text);
	let offset = 0;
	return new ReadableStream({
		pull(controller) {
			if (offset >= bytes.length) {
				controller.close();
				return;
			}

			controller.enqueue(bytes.subarray(offset, offset + size));
			offset += size;
		},
	});
}

test('a gzip body goes to the leader as sent and is read there', async t => {
	const leader = await startQueen(t);
	await startDrone(t, leader);
	const follower = await startFollower(t, () => leader.address);
	const answer = await raw(`${follower.url}/submit_task`, {
		method: 'POST',
		headers: {'content-type': 'application/json', 'content-encoding': 'gzip'},
		body: gzipSync(JSON.stringify({text: 'compressed on the way'})),
	});
	assert.equal(answer.status, 200, answer.body.toString());
	assert.equal(JSON.parse(answer.body.toString()).task.text, 'compressed on the way');
});

test('bodies pass byte for byte both ways: a gzip request in, a gzip answer out, neither decoded', async t => {
	const answerBytes = gzipSync(Buffer.from('{"answer":"compressed by the leader"}'));
	const leader = await fakeLeader(t, (request, response) => {
		const hash = createHash('sha256');
		request.on('data', (chunk: Buffer) => hash.update(chunk));
		request.on('end', () => {
			response.writeHead(200, {'content-type': 'application/json', 'content-encoding': 'gzip', 'x-request-sha256': hash.digest('hex'), 'content-length': answerBytes.length});
			response.end(answerBytes);
		});
	});
	const follower = await startFollower(t, () => leader.address);
	const sent = gzipSync(Buffer.from(JSON.stringify({text: 'y'.repeat(300_000)})));
	const answer = await raw(`${follower.url}/submit_task`, {method: 'POST', headers: {'content-type': 'application/json', 'content-encoding': 'gzip', 'accept-encoding': 'gzip'}, body: sent});
	assert.equal(answer.status, 200);
	assert.equal(answer.headers['x-request-sha256'], createHash('sha256').update(sent).digest('hex'));
	assert.equal(answer.headers['content-encoding'], 'gzip');
	assert.equal(answer.headers['content-length'], String(answerBytes.length));
	assert.deepEqual(answer.body, answerBytes);
	const seen = leader.requests[0]!.headers;
	assert.equal(seen['content-encoding'], 'gzip');
	assert.equal(seen['content-length'], String(sent.length));
	assert.equal(seen['accept-encoding'], 'gzip');
});

test('hop-by-hop headers stop at the follower; Authorization and the drone\'s headers go through; the leader learns who forwarded it', async t => {
	const leader = await fakeLeader(t, (request, response) => {
		request.resume();
		response.writeHead(201, 'Made Here', {
			'content-type': 'application/json',
			connection: 'x-leader-private',
			'x-leader-private': 'not for the client',
			'proxy-authenticate': 'Basic',
			'x-answer': 'for the client',
		});
		response.end(JSON.stringify(request.headers));
	});
	const follower = await startFollower(t, () => leader.address);
	const answer = await raw(`${follower.url}/tasks/abc?state=running&limit=5`, {
		method: 'POST',
		headers: {
			connection: 'keep-alive, x-client-private',
			'x-client-private': 'not for the leader',
			'keep-alive': 'timeout=5',
			te: 'trailers',
			'proxy-authorization': 'Basic Zm9vOmJhcg==',
			authorization: 'Bearer the-hive-token',
			'x-hive-contact-key': 'the-contact-key',
			'x-hive-epoch': '7',
			'x-forwarded-for': '10.0.0.9',
			'user-agent': 'hive-drone/test',
			'content-type': 'application/json',
		},
		body: '{"n":1}',
	});
	assert.equal(answer.status, 201);
	assert.equal(answer.headers['x-answer'], 'for the client');
	assert.equal(answer.headers['x-leader-private'], undefined);
	assert.equal(answer.headers['proxy-authenticate'], undefined);
	const seen = JSON.parse(answer.body.toString()) as Record<string, string>;
	assert.equal(leader.requests[0]!.url, '/tasks/abc?state=running&limit=5');
	assert.equal(leader.requests[0]!.method, 'POST');
	assert.equal(seen.host, leader.address);
	assert.equal(seen.authorization, 'Bearer the-hive-token');
	assert.equal(seen['x-hive-contact-key'], 'the-contact-key');
	assert.equal(seen['x-hive-epoch'], '7');
	assert.equal(seen['user-agent'], 'hive-drone/test');
	assert.equal(seen['content-length'], '7');
	assert.equal(seen['x-forwarded-for'], '10.0.0.9, 127.0.0.1');
	assert.equal(seen['x-hive-via'], 'follower:1');
	for (const name of ['x-client-private', 'keep-alive', 'te', 'proxy-authorization', 'transfer-encoding']) {
		assert.equal(seen[name], undefined, `${name} was forwarded`);
	}
});

test('a request without a body is forwarded without one, one of unknown length as one, and the answer keeps its status', async t => {
	const leader = await fakeLeader(t, (request, response) => {
		let length = 0;
		request.on('data', (chunk: Buffer) => {
			length += chunk.length;
		});
		request.on('end', () => {
			response.writeHead(204, {'x-body-length': String(length), 'x-te': request.headers['transfer-encoding'] ?? 'none'}).end();
		});
	});
	const follower = await startFollower(t, () => leader.address);
	for (const method of ['GET', 'DELETE', 'POST', 'HEAD']) {
		// eslint-disable-next-line no-await-in-loop
		const answer = await raw(`${follower.url}/anything`, {method});
		assert.equal(answer.status, 204, method);
		assert.equal(answer.headers['x-body-length'], '0', method);
	}

	// And one of unknown length goes as one, even on a GET (for which node:http would not frame it by itself).
	for (const method of ['GET', 'POST']) {
		// eslint-disable-next-line no-await-in-loop
		const answer = await raw(`${follower.url}/anything`, {method, headers: {'transfer-encoding': 'chunked'}, body: Readable.from(pieces('0123456789', 4))});
		assert.equal(answer.status, 204, method);
		assert.equal(answer.headers['x-body-length'], '10', method);
		assert.equal(answer.headers['x-te'], 'chunked', method);
	}
});

test('short exchanges share the pool\'s kept-alive connections to the leader, never more than maxSockets of them', async t => {
	const ports = new Set<number>();
	let open = 0;
	let mostOpen = 0;
	const leader = await fakeLeader(t, (request, response) => {
		ports.add(request.socket.remotePort!);
		open++;
		mostOpen = Math.max(mostOpen, open);
		request.resume();
		// Answered a little later, so that the requests of a burst overlap at the follower.
		setTimeout(() => {
			open--;
			response.writeHead(200, {'content-type': 'application/json'}).end('{}');
		}, 20);
	});
	const follower = await startFollower(t, () => leader.address, {maxSockets: 2});
	const burst = await Promise.all(Array.from({length: 6}, async (_, index) => request(`${follower.url}/submit_task`, {body: {text: `burst ${index}`}})));
	assert.deepEqual(burst.map(answer => answer.status), [200, 200, 200, 200, 200, 200]);
	assert.equal(leader.requests.length, 6);
	assert.equal(mostOpen, 2, 'requests at the leader at once');
	assert.equal(ports.size, 2, 'connections the leader saw');

	// One after another, they go on a connection kept from before.
	for (const path of ['/drones', '/tasks', '/tasks/abc']) {
		// eslint-disable-next-line no-await-in-loop
		assert.equal((await request(`${follower.url}${path}`)).status, 200);
	}

	assert.equal(ports.size, 2, 'connections the leader saw, after requests one at a time');
});

test('an event stream and a request that waits for its task hold no pooled connection: the rest still goes through', async t => {
	const leader = await fakeLeader(t, (request, response) => {
		request.resume();
		if (request.url === '/events') {
			response.writeHead(200, {'content-type': 'text/event-stream; charset=utf-8'}).write(': hive events\n\n');
		} else if (!request.url!.includes('wait=true')) {
			response.writeHead(200, {'content-type': 'application/json'}).end('{"answered":true}');
		}
	});
	const follower = await startFollower(t, () => leader.address, {maxSockets: 1});
	const stream = await openStream(t, follower.url);
	await waitFor(() => stream.text().startsWith(': hive events'), 'the stream to open');
	const waiting = http.request(`${follower.url}/submit_task?wait=true`, {method: 'POST', agent: false, headers: {'content-type': 'application/json'}});
	waiting.on('error', () => undefined);
	waiting.end('{"text":"slow"}');
	t.after(() => {
		waiting.destroy();
	});
	await waitFor(() => leader.requests.length === 2, 'the waiting request to reach the leader');
	assert.equal(follower.proxy.inFlight, 2);

	const answer = await request(`${follower.url}/drones`);
	assert.equal(answer.status, 200, JSON.stringify(answer.body));
	assert.deepEqual(answer.body, {answered: true});
});

test('a request that finds no free pooled connection in time: 503 with Retry-After, saying so', async t => {
	const leader = await fakeLeader(t, (request, response) => {
		request.resume();
		request.on('end', () => response.writeHead(200, {'content-type': 'application/json'}).end('{}'));
	});
	const follower = await startFollower(t, () => leader.address, {maxSockets: 1, timeoutMs: 400});
	// The pool's one connection, held by a body that has not ended.
	const holder = http.request(`${follower.url}/submit_task`, {method: 'POST', agent: false, headers: {'content-type': 'application/json', 'transfer-encoding': 'chunked'}});
	holder.on('error', () => undefined);
	const held = new Promise<number>(resolve => holder.on('response', response => {
		response.resume();
		resolve(response.statusCode ?? 0);
	}));
	holder.write('{"text":');
	t.after(() => {
		holder.destroy();
	});
	await waitFor(() => leader.requests.length === 1, 'the first request to reach the leader');

	const answer = await request(`${follower.url}/drones`);
	assert.equal(answer.status, 503);
	assert.deepEqual(answer.body, {error: `the leader ${leader.address} cannot be reached (no free connection of the pool within 0.4 s); try again in a moment`, code: 'ERR_HIVE_LEADER_UNREACHABLE'});
	assert.equal(answer.headers.get('retry-after'), '1');
	assert.equal(leader.requests.length, 1);

	// Once the body has ended and the leader answered, the connection is free again.
	holder.end('"done"}');
	assert.equal(await held, 200);
	assert.equal((await request(`${follower.url}/drones`)).status, 200);
});

test('createLeaderProxy refuses a timeout that is not a whole number of milliseconds, and a pool of no connections', () => {
	assert.throws(() => createLeaderProxy({leader: () => undefined, via: () => 'x', timeoutMs: 0, log: silent}), /Expected `timeoutMs` to be a whole number of milliseconds above 0, got `0`/);
	assert.throws(() => createLeaderProxy({leader: () => undefined, via: () => 'x', timeoutMs: 10, retryAfterSeconds: 1.5, log: silent}), /retryAfterSeconds/);
	assert.throws(() => createLeaderProxy({leader: () => undefined, via: () => 'x', timeoutMs: 10, maxSockets: 0, log: silent}), /Expected `maxSockets` to be a whole number above 0, got `0`/);
});
