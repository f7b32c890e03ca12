import assert from 'node:assert/strict';
import http from 'node:http';
import type {AddressInfo} from 'node:net';
import {test, type TestContext} from 'node:test';
import Koa from 'koa';
import {EventLog} from '../../source/queen/state/events.js';
import {eventJson} from '../../source/queen/routes.js';
import {Watchers, type WatchersOptions} from '../../source/queen/watchers.js';
import {connect, type Client} from '../helpers/sockets.js';
import {waitFor} from '../helpers/wait.js';

/*
The watchers on their own: an event log, a Koa server that answers every request with the event
stream, and raw connections that see the queen's writes as they are made (one HTTP chunk each).
*/

type Setup = {
	readonly log: EventLog;
	readonly watchers: Watchers;
	/** A client of `/events` (with `query`, e.g. `?since=1`) once its stream is open. */
	readonly watch: (query?: string) => Promise<Client>;
	/** A sweep event: with an id, as the store's facts have; without, as heartbeats have. */
	readonly emit: (checked: number, id?: number) => void;
};

async function setUp(t: TestContext, options: Partial<WatchersOptions> = {}): Promise<Setup> {
	const log = new EventLog(100);
	const watchers = new Watchers({subscribe: listener => log.subscribe(listener), eventsSince: since => log.since(since)}, {max: 10, view: eventJson, ...options});
	const app = new Koa();
	app.use(async ctx => {
		const since = ctx.query.since === undefined ? undefined : Number(ctx.query.since);
		watchers.open(ctx, since);
	});
	const handle = app.callback();
	const server = http.createServer((request, response) => {
		void handle(request, response);
	});
	server.listen(0, '127.0.0.1');
	await new Promise(resolve => server.once('listening', resolve));
	const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
	t.after(async () => {
		watchers.closeAll();
		server.closeAllConnections();
		await new Promise(resolve => server.close(resolve));
	});
	return {
		log,
		watchers,
		watch: async (query = '') => {
			const client = await connect(t, url);
			client.socket.write(`GET /events${query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
			await waitFor(() => client.received.includes(': hive events'), 'the stream to open');
			return client;
		},
		emit: (checked, id) => {
			log.emit({type: 'heartbeat.sweep', checked, failed: 0, durationMs: 1, id, at: Date.now()});
		},
	};
}

/** The HTTP chunks of a chunked answer (one per write of the server), the stream's opening comment left out. */
function writes(received: string): string[] {
	let rest = received.slice(received.indexOf('\r\n\r\n') + 4);
	const chunks: string[] = [];
	while (rest.length > 0) {
		const lineEnd = rest.indexOf('\r\n');
		const size = Number.parseInt(rest.slice(0, lineEnd), 16);
		if (lineEnd < 0 || size === 0 || Number.isNaN(size)) {
			break;
		}

		// Sizes are in bytes; these frames are ASCII.
		chunks.push(rest.slice(lineEnd + 2, lineEnd + 2 + size));
		rest = rest.slice(lineEnd + 2 + size + 2);
	}

	return chunks.filter(chunk => chunk !== ': hive events\n\n');
}

/** The `checked` of each event a client got, in order. */
function checkedSeen(client: Client): number[] {
	return [...client.received.matchAll(/"checked":(\d+)/g)].map(match => Number(match[1]));
}

/** The stream has ended: its last chunk came (the connection itself may stay open, kept alive). */
const ended = (client: Client) => client.received.endsWith('\r\n0\r\n\r\n');

const turn = async () => new Promise(resolve => {
	setImmediate(resolve);
});

test('an event after a quiet spell goes at once; the events that follow within coalesceMs wait and go in one write', async t => {
	const {watch, emit, watchers} = await setUp(t, {coalesceMs: 60_000});
	const client = await watch();
	emit(1);
	// Held for the window, this would wait a minute: it comes at once.
	await waitFor(() => checkedSeen(client).includes(1), 'the first event');

	for (const checked of [2, 3, 4]) {
		emit(checked);
		// eslint-disable-next-line no-await-in-loop
		await turn();
	}

	// A stopping queen sends what it holds, then ends the streams.
	watchers.closeAll();
	await waitFor(() => ended(client), 'the stream to end');
	const chunks = writes(client.received);
	assert.equal(chunks.length, 2, `one write for the first event and one for the three after it: ${JSON.stringify(chunks)}`);
	assert.deepEqual(checkedSeen(client), [1, 2, 3, 4]);
});

test('a client that comes while events are held gets none of them, and those already watching get them first', async t => {
	const {watch, emit, watchers} = await setUp(t, {coalesceMs: 60_000});
	const first = await watch();
	emit(1);
	await waitFor(() => checkedSeen(first).includes(1), 'the first event');
	emit(2);
	await turn();
	const second = await watch();
	// Held for a minute otherwise: the newcomer's arrival sent it.
	await waitFor(() => checkedSeen(first).includes(2), 'the held event to reach the first client');
	emit(3);
	watchers.closeAll();
	await waitFor(() => ended(first) && ended(second), 'both streams to end');
	assert.deepEqual(checkedSeen(first), [1, 2, 3]);
	assert.deepEqual(checkedSeen(second), [3]);
});

test('?since= while events are held: the replay has them, and they do not come twice', async t => {
	const {watch, emit, watchers} = await setUp(t, {coalesceMs: 60_000});
	const first = await watch();
	emit(1, 101);
	await waitFor(() => checkedSeen(first).includes(1), 'the first event');
	emit(2, 102);
	emit(3);
	await turn();
	const resumed = await watch('?since=101');
	emit(4, 104);
	watchers.closeAll();
	await waitFor(() => ended(first) && ended(resumed), 'both streams to end');
	assert.deepEqual(checkedSeen(first), [1, 2, 3, 4]);
	assert.deepEqual(checkedSeen(resumed), [2, 3, 4]);
	assert.match(resumed.received, /id: 102\ndata: /);
	assert.match(resumed.received, /id: 104\ndata: /);
});

test('an idle stream gets keep-alive comments', async t => {
	const {watch} = await setUp(t, {keepAliveMs: 20});
	const client = await watch();
	await waitFor(() => client.received.includes(': keep-alive\n\n'), 'a keep-alive comment');
});

test('with no client left, an event is made into no frame', async t => {
	let viewed = 0;
	const {watch, emit, watchers} = await setUp(t, {
		view(event) {
			viewed++;
			return eventJson(event);
		},
	});
	const client = await watch();
	emit(1);
	await waitFor(() => checkedSeen(client).includes(1), 'the event');
	assert.equal(viewed, 1);
	client.socket.destroy();
	await waitFor(() => watchers.count === 0, 'the client to be gone');
	emit(2);
	assert.equal(viewed, 1);
});
