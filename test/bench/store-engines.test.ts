import assert from 'node:assert/strict';
import {mkdtemp, rm, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import {crc32} from 'node:zlib';
import {closedLoop, combineRounds, diskUsage, mountOf, rotate, submitTextLength, summarizeLoop, taskRecordJson} from '../../bench/store-engines.js';

test('taskRecordJson makes a task record of exactly the bytes asked for', () => {
	const json = taskRecordJson('3b241101-e2bb-4255-8caf-4136c566a962', 42, 300);
	assert.equal(json.length, 300);
	const record = JSON.parse(json) as {id: string; seq: number; state: string; text: string};
	assert.equal(record.id, '3b241101-e2bb-4255-8caf-4136c566a962');
	assert.equal(record.seq, 42);
	assert.equal(record.state, 'succeeded');
	assert.match(record.text, /^x+$/);
	assert.equal(taskRecordJson('id', 1, 500).length, 500);
	assert.throws(() => taskRecordJson('id', 1, 20), RangeError);
});

test('submitTextLength makes the file store line of a submit the bytes asked for', () => {
	const text = 'x'.repeat(submitTextLength(300));
	const json = JSON.stringify({rev: 1_234_567, facts: [{type: 'task.submitted', at: Date.now(), task: {id: '3b241101-e2bb-4255-8caf-4136c566a962', kind: 'text', text, selector: {}}}]});
	const line = `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
	assert.equal(line.length, 300);
	assert.equal(submitTextLength(10), 1, 'never less than one character');
});

test('summarizeLoop gives writes/s over the wall time and the latency percentiles', () => {
	const latencies = Array.from({length: 100}, (_, index) => index + 1);
	assert.deepEqual(summarizeLoop(latencies, 2000), {writes: 100, perSecond: 50, p50Ms: 50, p99Ms: 99, maxMs: 100});
	assert.deepEqual(summarizeLoop([], 0), {writes: 0, perSecond: undefined, p50Ms: undefined, p99Ms: undefined, maxMs: undefined});
});

test('rotate turns a list so that each round starts elsewhere', () => {
	assert.deepEqual(rotate([1, 2, 3], 0), [1, 2, 3]);
	assert.deepEqual(rotate([1, 2, 3], 1), [2, 3, 1]);
	assert.deepEqual(rotate([1, 2, 3], 5), [3, 1, 2]);
	assert.deepEqual(rotate([1, 2, 3], -1), [3, 1, 2]);
	assert.deepEqual(rotate([], 2), []);
});

test('combineRounds takes the medians of the rounds and the range of their rates', () => {
	const result = combineRounds([
		{writes: 10, perSecond: 100, p50Ms: 1, p99Ms: 9, maxMs: 20},
		{writes: 30, perSecond: 300, p50Ms: 3, p99Ms: 5, maxMs: 50},
		{writes: 20, perSecond: 200, p50Ms: 2, p99Ms: 7, maxMs: 10},
	]);
	assert.deepEqual(result, {rounds: 3, writes: 60, perSecond: 200, p50Ms: 2, p99Ms: 7, perSecondMin: 100, perSecondMax: 300, maxMs: 50});
	assert.equal(combineRounds([]).perSecond, undefined);
});

test('mountOf finds the deepest mount that holds a path', () => {
	const mounts = [
		'overlay / overlay rw 0 0',
		'/dev/vda /work ext4 rw 0 0',
		'tmpfs /work/tmp tmpfs rw 0 0',
		'proc /proc proc rw 0 0',
		'',
	].join('\n');
	assert.deepEqual(mountOf('/work/repo/bench/results', mounts), {device: '/dev/vda', mountPoint: '/work', type: 'ext4'});
	assert.deepEqual(mountOf('/work/tmp/x', mounts), {device: 'tmpfs', mountPoint: '/work/tmp', type: 'tmpfs'});
	assert.equal(mountOf('/workshop', mounts)?.mountPoint, '/');
	assert.equal(mountOf('/x', ''), undefined);
});

test('diskUsage adds up the files under a directory', async () => {
	const dir = await mkdtemp(path.join(os.tmpdir(), 'hive-disk-usage-'));
	try {
		await writeFile(path.join(dir, 'a'), 'x'.repeat(5000));
		await writeFile(path.join(dir, 'b'), 'y'.repeat(100));
		const usage = await diskUsage(dir);
		assert.equal(usage.apparent, 5100);
		assert.ok(usage.allocated >= 0);
		assert.equal(usage.files.length, 2);
	} finally {
		await rm(dir, {recursive: true, force: true});
	}
});

test('closedLoop keeps its writers busy and measures only after the warm-up', async () => {
	let inFlight = 0;
	let most = 0;
	const result = await closedLoop(async () => {
		inFlight += 1;
		most = Math.max(most, inFlight);
		await new Promise(resolve => setTimeout(resolve, 5));
		inFlight -= 1;
	}, 4, 50, 200);
	assert.equal(most, 4);
	assert.ok(result.writes > 20 && result.writes < 250, `${result.writes} writes`);
	assert.ok(result.p50Ms! >= 4, `p50 ${result.p50Ms} ms`);
});
