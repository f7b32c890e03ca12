import assert from 'node:assert/strict';
import {once} from 'node:events';
import net from 'node:net';
import {setTimeout} from 'node:timers/promises';
import {test} from 'node:test';
import {request, startDrone, startQueen} from '../helpers/larves.js';

test('malformed, missing, wrongly typed and oversized bodies get a 400 or 413 JSON error on both modes', async t => {
	const queen = await startQueen(t);
	const drone = await startDrone(t, queen);
	const cases: Array<[string, {raw?: string; body?: unknown}, number, RegExp]> = [
		[`${queen.url}/submit_task`, {raw: '{"text": '}, 400, /not valid JSON/],
		[`${queen.url}/submit_task`, {body: {}}, 400, /^text is required$/],
		[`${queen.url}/submit_task`, {body: {text: 5}}, 400, /^text must be a string$/],
		[`${queen.url}/submit_task`, {body: {text: ''}}, 400, /^text must not be empty$/],
		[`${queen.url}/submit_task`, {body: ['text']}, 400, /JSON object/],
		[`${queen.url}/submit_task`, {raw: 'null'}, 400, /JSON|object/],
		[`${queen.url}/register`, {body: {address: 'nohost'}}, 400, /^address must be host:port$/],
		[`${queen.url}/register`, {body: {address: 5}}, 400, /^address must be a string$/],
		[`${queen.url}/register`, {body: {address: '127.0.0.1:1', name: 'no spaces'}}, 400, /^name must be/],
		[`${drone.url}/do_task`, {raw: '{{'}, 400, /not valid JSON/],
		[`${drone.url}/do_task`, {body: {text: null}}, 400, /^text must be a string$/],
		[`${drone.url}/do_task`, {body: {txt: 'hello'}}, 400, /^text is required$/],
		[`${queen.url}/submit_task`, {body: {kind: 'docker', text: 'x'}}, 400, /^kind must be text, command or container, got "docker"$/],
		[`${queen.url}/submit_task`, {body: {command: ''}}, 400, /^command must not be empty$/],
		[`${queen.url}/submit_task`, {body: {text: 'a', command: 'b'}}, 400, /both text and command/],
		[`${queen.url}/submit_task`, {body: {text: 'a', selector: {zone: 1}}}, 400, /^selector/],
		[`${queen.url}/submit_task`, {body: {text: 'a', selector: 'zone=a'}}, 400, /^selector must be an object of strings/],
		[`${drone.url}/do_task`, {body: {text: 'x'.repeat(2 * 1024 * 1024)}}, 413, /larger than 1 MiB/],
		[`${queen.url}/submit_task`, {body: {text: 'x'.repeat(2 * 1024 * 1024)}}, 413, /larger than 1 MiB/],
	];
	for (const [url, init, status, message] of cases) {
		// eslint-disable-next-line no-await-in-loop
		const answer = await request(url, init);
		const label = `${url} ${init.raw ?? JSON.stringify(init.body).slice(0, 40)}`;
		assert.equal(answer.status, status, label);
		assert.match(answer.body.error, message, label);
		assert.doesNotMatch(JSON.stringify(answer.body), /at .*\.(js|ts):\d+/, `no stack trace: ${label}`);
	}

	assert.equal(drone.stdout.text, '', 'a refused task prints nothing');
	const health = await request(`${queen.url}/healthz`);
	assert.equal(health.status, 200, 'the queen is still up');
	assert.deepEqual(health.body.drones, {[drone.address]: drone.name}, 'and lost nothing');
});

test('a request from a web page (Origin) is refused: a page cannot command a larve on its machine', async t => {
	const queen = await startQueen(t);
	const drone = await startDrone(t, queen, {allowExec: true});
	for (const url of [`${queen.url}/submit_task`, `${drone.url}/do_task`]) {
		// eslint-disable-next-line no-await-in-loop
		const answer = await request(url, {raw: '{"text": "from a page"}', headers: {'content-type': 'text/plain', origin: 'https://evil.example'}});
		assert.equal(answer.status, 403, url);
		assert.match(answer.body.error, /web pages/);
	}

	assert.equal(drone.stdout.text, '');
});

test('unknown paths are 404 and wrong methods 405, as JSON', async t => {
	const queen = await startQueen(t);
	const drone = await startDrone(t, queen);
	for (const base of [queen.url, drone.url]) {
		// eslint-disable-next-line no-await-in-loop
		const missing = await request(`${base}/no/such/path`);
		assert.equal(missing.status, 404);
		assert.match(missing.body.error, /no such endpoint: GET \/no\/such\/path/);
		// eslint-disable-next-line no-await-in-loop
		const wrong = await request(`${base}/healthz`, {method: 'DELETE'});
		assert.equal(wrong.status, 405);
		assert.match(wrong.body.error, /method DELETE not allowed on \/healthz/);
		assert.match(wrong.headers.get('allow') ?? '', /GET/);
	}

	const getSubmit = await request(`${queen.url}/submit_task`);
	assert.equal(getSubmit.status, 405);
});

test('each mode refuses the other mode\'s endpoints with the seed\'s messages', async t => {
	const queen = await startQueen(t);
	const drone = await startDrone(t, queen);
	const cases: Array<[string, unknown, string]> = [
		[`${queen.url}/do_task`, {text: 'hello'}, 'In queen mode, not taking tasks'],
		[`${drone.url}/submit_task`, {text: 'hello'}, 'In drone mode, not scheduling tasks'],
		[`${drone.url}/register`, {address: '127.0.0.1:5001'}, 'In drone mode, not taking registration'],
	];
	for (const [url, body, message] of cases) {
		// eslint-disable-next-line no-await-in-loop
		const answer = await request(url, {body});
		assert.equal(answer.status, 400, url);
		assert.deepEqual(answer.body, {error: message, code: 'ERR_HIVE_WRONG_MODE'});
	}
});

/** Sends raw bytes on one connection; resolves with all it got back when the larve closes it (or after `ms`, marked). */
async function rawExchange(url: string, write: (socket: net.Socket) => void, ms = 10_000): Promise<{text: string; closed: boolean}> {
	const {hostname, port} = new URL(url);
	const socket = net.connect(Number(port), hostname);
	let text = '';
	socket.on('data', (chunk: Buffer) => {
		text += chunk.toString('latin1');
	});
	socket.on('error', () => undefined);
	write(socket);
	const closed = await Promise.race([once(socket, 'close').then(() => true), setTimeout(ms, false)]);
	socket.destroy();
	return {text, closed};
}

test('what node:http refuses before a route sees it gets a JSON error too: a NUL in a header, a Content-Length that is not a number', async t => {
	const queen = await startQueen(t);
	for (const head of ['GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n', 'POST /submit_task HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n']) {
		// eslint-disable-next-line no-await-in-loop
		const {text, closed} = await rawExchange(queen.url, socket => socket.end(head));
		assert.ok(closed);
		assert.match(text, /^HTTP\/1\.1 400 /);
		assert.match(text, /content-type: application\/json/i);
		const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as {error: string};
		assert.match(body.error, /not a valid HTTP request/);
	}
});

test('a body that is not the gzip it claims is a 400; TRACE is a 405 with Allow', async t => {
	const queen = await startQueen(t);
	const gzip = await request(`${queen.url}/submit_task`, {raw: '{"text": "plain"}', headers: {'content-type': 'application/json', 'content-encoding': 'gzip'}});
	assert.equal(gzip.status, 400);
	assert.match(gzip.body.error, /Content-Encoding/);
	const {text} = await rawExchange(queen.url, socket => socket.write('TRACE /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
	assert.match(text, /^HTTP\/1\.1 405 /);
	assert.match(text, /^allow: .*GET/im);
	assert.match(text, /"error":"method TRACE not allowed on \/healthz/);
	assert.equal((await request(`${queen.url}/healthz`)).status, 200);
});

test('after a 413 on a chunked body the connection is closed, not left to read the rest as the next request', async t => {
	const queen = await startQueen(t);
	const {text, closed} = await rawExchange(queen.url, socket => {
		socket.write('POST /submit_task HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
		const chunk = 'a'.repeat(64 * 1024);
		let sent = 0;
		const more = () => {
			while (sent < 24) {
				sent++;
				if (!socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`)) {
					socket.once('drain', more);
					return;
				}
			}

			socket.write('0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
		};

		more();
	});
	assert.match(text, /^HTTP\/1\.1 413 /);
	assert.match(text, /^connection: close/im);
	assert.ok(closed, `the connection was left open after: ${text}`);
});
