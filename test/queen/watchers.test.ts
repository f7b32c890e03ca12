import assert from 'node:assert/strict';
import http from 'node:http';
import {test, type TestContext} from 'node:test';
import {request, startDrone, startQueen} from '../helpers/larves.js';
import {connect, type Client} from '../helpers/sockets.js';
import {waitFor} from '../helpers/wait.js';

type RawWatcher = {
	/** What the stream carried, byte for byte. */
	text(): string;
	close(): void;
};

/** `GET /events` read as raw text (the frames as sent), closed when the test ends. */
async function watch(t: TestContext, url: string): Promise<RawWatcher> {
	return new Promise((resolve, reject) => {
		const chunks: Buffer[] = [];
		const request = http.get(`${url}/events`, response => {
			if (response.statusCode !== 200) {
				reject(new Error(`GET /events answered ${response.statusCode}`));
				response.resume();
				return;
			}

			response.on('data', (chunk: Buffer) => chunks.push(chunk));
			response.on('error', () => undefined);
			resolve({
				text: () => Buffer.concat(chunks).toString(),
				close() {
					request.destroy();
				},
			});
		});
		request.on('error', reject);
		t.after(() => {
			request.destroy();
		});
	});
}

/** `GET /events` answered without reading a stream: its status, headers and (unless it is a stream) its JSON body. */
async function answerOf(url: string): Promise<{status: number; headers: http.IncomingHttpHeaders; body: any}> {
	return new Promise((resolve, reject) => {
		const request = http.get(`${url}/events`, response => {
			if (response.statusCode === 200) {
				request.destroy();
				resolve({status: 200, headers: response.headers, body: undefined});
				return;
			}

			let text = '';
			response.on('data', (chunk: Buffer) => {
				text += chunk.toString();
			});
			response.on('end', () => {
				resolve({status: response.statusCode ?? 0, headers: response.headers, body: JSON.parse(text)});
			});
		});
		request.on('error', reject);
	});
}

/** The frames of a stream (comments left out). */
function frames(text: string): string[] {
	return text.split('\n\n').filter(frame => frame !== '' && !frame.startsWith(':'));
}

test('every /events client receives the same frames, byte for byte', async t => {
	const queen = await startQueen(t);
	const watchers = await Promise.all(Array.from({length: 20}, async () => watch(t, queen.url)));
	await startDrone(t, queen);
	const ids: string[] = [];
	for (let index = 0; index < 5; index++) {
		// eslint-disable-next-line no-await-in-loop
		ids.push((await request(`${queen.url}/submit_task`, {body: {text: `hello ${index}`}})).body.task.id);
	}

	await waitFor(() => watchers.every(watcher => ids.every(id => watcher.text().includes(`"type":"task.succeeded","task":{"id":"${id}"`))), 'every watcher to see every task succeed');
	// The frames of facts (with an id): all came after every watcher was there. (The first heartbeat sweep may
	// come before the last watcher, so frames without an id are not compared.)
	const first = frames(watchers[0]!.text()).filter(frame => frame.startsWith('id: '));
	assert.ok(first.length >= 11, `${first.length} frames`);
	for (const watcher of watchers) {
		assert.deepEqual(frames(watcher.text()).filter(frame => frame.startsWith('id: ')).slice(0, first.length), first);
	}
});

test('--max-watchers: one more /events client is refused with 503, Retry-After and a JSON error; room comes back when one leaves', async t => {
	const queen = await startQueen(t, {maxWatchers: 3});
	const watchers = await Promise.all([watch(t, queen.url), watch(t, queen.url), watch(t, queen.url)]);
	const refused = await answerOf(queen.url);
	assert.equal(refused.status, 503);
	assert.match(refused.headers['content-type'] ?? '', /application\/json/);
	assert.ok(Number(refused.headers['retry-after']) > 0, 'Retry-After says when to try again');
	assert.match(refused.body.error, /3 clients already watch the events \(--max-watchers 3\)/);
	// The rest of the API is not affected.
	assert.equal((await request(`${queen.url}/healthz`)).status, 200);

	watchers[0].close();
	const again = await waitFor(async () => {
		try {
			return await watch(t, queen.url);
		} catch {
			return undefined;
		}
	}, 'room for a watcher once one left');
	assert.match(again.text(), /^: hive events/);
});

/** `GET /events` on a raw connection of its own: the client once the answer's head has come, or undefined if it was not a 200. */
async function rawWatch(t: TestContext, queen: {readonly url: string; readonly address: string}): Promise<Client | undefined> {
	const client = await connect(t, queen.url);
	client.socket.write(`GET /events HTTP/1.1\r\nHost: ${queen.address}\r\n\r\n`);
	await waitFor(() => client.received.includes('\r\n\r\n') || client.closed, 'the answer to GET /events');
	if (client.received.startsWith('HTTP/1.1 200 ')) {
		return client;
	}

	client.socket.destroy();
	return undefined;
}

test('a client that does not read its stream is cut off: its connection is closed, and no longer counts against --max-connections', async t => {
	const queen = await startQueen(t, {maxConnections: 2, maxWatchers: 1, maxPending: 100_000});
	const slow = (await rawWatch(t, queen))!;
	assert.ok(slow);
	await waitFor(() => slow.received.includes(': hive events'), 'the stream to open');
	// It reads no more: what the queen sends piles up in the kernel's buffers, then in the queen's.
	slow.socket.pause();

	// Events until the queen gives up on it (its watcher's place is free again): tasks whose events show
	// 1 KiB of text (what an event shows of a task's text), submitted here rather than over HTTP.
	const text = 'x'.repeat(1024);
	const next = await waitFor(async () => {
		await Promise.all(Array.from({length: 500}, async () => queen.hive!.submit({kind: 'text', text})));
		return rawWatch(t, queen);
	}, 'the queen to cut off the client that does not read', 60_000);

	// Its connection went with it: one stream is open, and there is room for a second connection.
	assert.equal((await request(`${queen.url}/healthz`)).status, 200);
	assert.ok(!next.closed);
	// Read at last, the stream ends where the queen cut it: the connection is closed.
	slow.socket.resume();
	await waitFor(() => slow.closed, 'the connection of the client cut off to be closed');
});
