import assert from 'node:assert/strict';
import test from 'node:test';
import {EventStreamCounter} from '../../bench/event-readers.js';
import {combineRounds, fanOutCost, fanOutVerdict, type WatchersRound} from '../../bench/watchers.js';
import {checkBudgets} from '../../bench/budgets.js';

const head = 'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n';
const chunk = (text: string) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
const frame = (id: number) => `id: ${id}\ndata: {"type":"task.submitted","id":${id}}\n\n`;

test('EventStreamCounter counts the queen\'s writes (chunks) and its events, comments apart, however the bytes are cut', () => {
	const stream = head + chunk(': hive events\n\n') + chunk(frame(1) + frame(2)) + chunk(': keep-alive\n\n') + chunk(frame(3)) + '0\r\n\r\n';
	const bytes = Buffer.from(stream);
	// Whole, then cut at every byte, then in pieces of 7 bytes: the same counts.
	const cuts: number[][] = [[bytes.length], Array.from({length: bytes.length}, () => 1), Array.from({length: Math.ceil(bytes.length / 7)}, () => 7)];
	for (const sizes of cuts) {
		const counter = new EventStreamCounter();
		let at = 0;
		for (const size of sizes) {
			// A reused buffer, as the readers' is: the counter must not keep a view of it.
			const reused = Buffer.alloc(Math.max(64, size), 0x78);
			const end = Math.min(bytes.length, at + size);
			bytes.copy(reused, 0, at, end);
			counter.push(reused, 0, end - at);
			at = end;
		}

		assert.equal(counter.status, 200);
		assert.equal(counter.writes, 4, `writes with pieces of ${sizes[0]}`);
		assert.equal(counter.events, 3, `events with pieces of ${sizes[0]}`);
		assert.equal(counter.bytes, bytes.length);
		assert.ok(counter.ended);
	}
});

test('EventStreamCounter reads a refusal\'s status and a stream without chunked encoding', () => {
	const refused = new EventStreamCounter();
	refused.push(Buffer.from('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\n\r\n{}'));
	assert.equal(refused.status, 503);
	assert.equal(refused.events, 0);

	const raw = new EventStreamCounter();
	raw.push(Buffer.from(`HTTP/1.0 200 OK\r\n\r\n${frame(1)}${frame(2)}`));
	assert.equal(raw.status, 200);
	assert.equal(raw.events, 2);
	assert.equal(raw.writes, 0);
});

const round = (watchers: number, tasks: number, cpuSeconds: number, p99Ms = 10): WatchersRound => ({watchers, tasks, durationS: 5, tasksPerS: tasks / 5, p99Ms, cpuSeconds, cpuUsPerTask: (cpuSeconds * 1e6) / tasks});

test('the fan-out cost adds up the rounds of a condition: CPU over tasks, the worst p99', () => {
	assert.deepEqual(combineRounds([round(0, 10_000, 1, 8), round(0, 30_000, 2, 12)]), {cpuUsPerTask: 75, tasksPerS: 4000, p99Ms: 12});
	assert.equal(combineRounds([]), undefined);
	const cost = fanOutCost([round(0, 10_000, 1), round(200, 10_000, 1.5), round(200, 10_000, 1.7), round(0, 10_000, 1.1)], 200)!;
	assert.equal(cost.none.cpuUsPerTask, 105);
	assert.equal(cost.many.cpuUsPerTask, 160);
	assert.equal(cost.ratio, 1.52);
	assert.equal(fanOutCost([round(0, 10_000, 1)], 200), undefined);
});

test('the fan-out budget: at most 2×, and a miss says by how much', () => {
	const met = fanOutVerdict(fanOutCost([round(0, 10_000, 1), round(200, 10_000, 2)], 200)!);
	assert.equal(met.met, true);
	assert.match(met.measured, /^2× \(200 vs 100 µs per task/);
	const missed = fanOutVerdict(fanOutCost([round(0, 10_000, 1), round(200, 10_000, 2.5)], 200)!);
	assert.equal(missed.met, false);
	assert.match(missed.measured, /over by 0\.5× \(50 µs per task\)/);

	const cost = fanOutCost([round(0, 10_000, 1), round(200, 10_000, 3)], 200);
	const [line] = checkBudgets({watchers: {data: {generator: 'wrk', rounds: [], cost}, tables: []}});
	assert.equal(line?.status, 'missed');
	assert.equal(line?.target, '≤ 2×');
	const [none] = checkBudgets({watchers: {data: {generator: 'wrk', rounds: [], cost: undefined}, tables: []}});
	assert.equal(none?.status, 'not measured');
});

test('the many-dashboards budget: the same 2×, with each dashboard\'s cores beside it', () => {
	const cost = fanOutCost([round(0, 10_000, 1), round(200, 5000, 0.9)], 200);
	const [line] = checkBudgets({dashboards: {data: {generator: 'wrk', dashboards: 3, watchers: 200, rounds: [], cost, dashboardCores: [0.1, 0.11, 0.09], eventsPerSecond: undefined}, tables: []}});
	assert.equal(line?.status, 'met');
	assert.match(line?.budget ?? '', /^3 dashboards \+ 200 clients of \/events/);
	assert.match(line?.measured ?? '', /^1\.8× .*dashboards 0\.1, 0\.11, 0\.09 cores$/);
});
