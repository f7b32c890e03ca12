import assert from 'node:assert/strict';
import {once} from 'node:events';
import {PassThrough} from 'node:stream';
import {test} from 'node:test';
import {readEventStream, type StreamEvent} from '../../source/client/event-stream.js';
import {waitFor} from '../helpers/wait.js';

function sse(event: StreamEvent): string {
	return `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

test('events cut anywhere across chunks, many in one chunk or one in many, are each read once and in order', async () => {
	const events: StreamEvent[] = Array.from({length: 50}, (_, index) => ({id: index + 1, time: '2030-01-01T12:00:00.000Z', type: 'task.dispatched', text: 'x'.repeat(index * 40)}));
	const text = `: hello\n\n${events.map(event => sse(event)).join('')}`;
	const stream = new PassThrough();
	const read: StreamEvent[] = [];
	const reader = readEventStream({
		open: () => stream,
		since: 0,
		onEvent(event) {
			read.push(event);
		},
	});
	// Chunks of 1, 2, 3… characters: blocks end at every position of a chunk, and one event spans dozens.
	let at = 0;
	for (let size = 1; at < text.length; size = (size % 97) + 1) {
		stream.write(text.slice(at, at + size));
		at += size;
	}

	stream.write(sse(events[3]!));
	stream.end();
	await once(stream, 'end');
	reader.close();
	assert.deepEqual(read, events);
});

test('after a reconnect to a restarted queen (ids from 1 again), its events are read, not skipped', async () => {
	const streams = [new PassThrough(), new PassThrough()];
	const asked: Array<number | undefined> = [];
	const read: number[] = [];
	const event = (id: number): StreamEvent => ({id, time: '2030-01-01T12:00:00.000Z', type: 'drone.registered'});
	const reader = readEventStream({
		open(since) {
			asked.push(since);
			return streams[asked.length - 1]!;
		},
		since: 0,
		retryMs: 1,
		onEvent(each) {
			read.push(each.id!);
		},
	});
	streams[0]!.write([1, 2, 3, 4, 5].map(id => sse(event(id))).join(''));
	streams[0]!.end();
	await waitFor(() => asked.length === 2, 'the reconnect');
	streams[1]!.write([1, 2].map(id => sse(event(id))).join(''));
	await waitFor(() => read.length === 7, 'the restarted queen\'s events');
	reader.close();
	assert.deepEqual(asked, [0, 5]);
	assert.deepEqual(read, [1, 2, 3, 4, 5, 1, 2]);
});

test('an open that first finds out where (a promise) is read like one that does not; a rejection is a failed connection, tried again', async () => {
	const statuses: string[] = [];
	const asked: Array<number | undefined> = [];
	const read: number[] = [];
	const stream = new PassThrough();
	const event = (id: number): StreamEvent => ({id, time: '2030-01-01T12:00:00.000Z', type: 'drone.registered'});
	const reader = readEventStream({
		async open(since) {
			asked.push(since);
			if (asked.length === 1) {
				throw new Error('no leader (127.0.0.1:8082 says)');
			}

			setImmediate(() => stream.emit('response', {statusCode: 200}));
			return stream;
		},
		since: 0,
		retryMs: 1,
		onEvent(each) {
			read.push(each.id!);
		},
		onStatus(status) {
			statuses.push(status.connected ? 'connected' : status.error!);
		},
	});
	stream.write([1, 2].map(id => sse(event(id))).join(''));
	await waitFor(() => read.length === 2, 'the events after the retry');
	reader.close();
	assert.deepEqual(asked, [0, 0]);
	assert.deepEqual(statuses, ['no leader (127.0.0.1:8082 says)', 'connected']);
	assert.ok(stream.destroyed);
});

test('restart drops a connection that says nothing and resumes after the last id; ids that count anew are reported first', async () => {
	const streams = [new PassThrough(), new PassThrough()];
	const asked: Array<number | undefined> = [];
	const read: number[] = [];
	const rewinds: Array<[number, number]> = [];
	const event = (id: number): StreamEvent => ({id, time: '2030-01-01T12:00:00.000Z', type: 'drone.registered'});
	const reader = readEventStream({
		open(since) {
			asked.push(since);
			return streams[asked.length - 1]!;
		},
		since: 0,
		retryMs: 1,
		onEvent(each) {
			read.push(each.id!);
		},
		onRewind(first, lastId) {
			rewinds.push([first.id!, lastId]);
			assert.equal(read.length, 3, 'told before the event is read');
		},
	});
	streams[0]!.write([1, 2, 3].map(id => sse(event(id))).join(''));
	await waitFor(() => read.length === 3, 'the first events');
	reader.restart('the queen does not answer');
	reader.restart('twice: nothing more');
	assert.ok(streams[0]!.destroyed);
	await waitFor(() => asked.length === 2, 'the reconnect');
	streams[1]!.write([2, 3].map(id => sse(event(id))).join(''));
	await waitFor(() => read.length === 5, 'the events that count anew');
	reader.close();
	assert.deepEqual(asked, [0, 3]);
	assert.deepEqual(read, [1, 2, 3, 2, 3]);
	assert.deepEqual(rewinds, [[2, 3]]);
});
