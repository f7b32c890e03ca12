import assert from 'node:assert/strict';
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import {directorySize, findStoreLoadedLine, formatBytes, parseStoreCounters, storeWrites, type StoreCounters} from '../../bench/store.js';

// A queen's /healthz as it answers with its store (source/queen/routes.ts).
const health = {
	status: 'Status.READY',
	version: '0.1.0',
	mode: 'Mode.QUEEN',
	name: 'queen',
	drones: {'127.0.0.1:5001': 'drone-0'},
	store: {kind: 'file', revision: 302_825, facts: 302_823, records: 302_823, syncs: 3264, bytes: 81_000_000, snapshots: 4},
};

const counters = (values: Partial<StoreCounters>): StoreCounters => ({kind: 'file', revision: 0, facts: 0, records: 0, syncs: 0, bytes: 0, snapshots: 0, ...values});

test('parseStoreCounters reads the store object of a queen\'s /healthz', () => {
	assert.deepEqual(parseStoreCounters(health), {kind: 'file', revision: 302_825, facts: 302_823, records: 302_823, syncs: 3264, bytes: 81_000_000, snapshots: 4});
});

test('parseStoreCounters refuses a /healthz without a store or with a counter that is not a count', () => {
	assert.throws(() => parseStoreCounters({status: 'Status.READY'}), /no store object/);
	assert.throws(() => parseStoreCounters(undefined), /no store object/);
	assert.throws(() => parseStoreCounters({store: {...health.store, kind: undefined}}), /without a kind/);
	assert.throws(() => parseStoreCounters({store: {...health.store, syncs: '12'}}), /store\.syncs is not a count/);
	assert.throws(() => parseStoreCounters({store: {...health.store, records: -1}}), /store\.records is not a count/);
});

test('storeWrites gives the writes between two readings per second, per fsync and per task', () => {
	const writes = storeWrites(
		counters({revision: 10, facts: 10, records: 8, syncs: 2, bytes: 1000, snapshots: 1}),
		counters({revision: 30_010, facts: 30_010, records: 24_008, syncs: 802, bytes: 1_001_000, snapshots: 2}),
		10,
		8000,
	);
	assert.deepEqual(writes, {
		kind: 'file',
		seconds: 10,
		records: 24_000,
		facts: 30_000,
		syncs: 800,
		bytes: 1_000_000,
		snapshots: 1,
		recordsPerSecond: 2400,
		factsPerSecond: 3000,
		syncsPerSecond: 80,
		bytesPerSecond: 100_000,
		recordsPerSync: 30,
		recordsPerTask: 3,
		factsPerTask: 3.75,
	});
});

test('storeWrites of a memory store has no records per fsync, and no per-task figures without tasks', () => {
	const writes = storeWrites(counters({kind: 'memory'}), counters({kind: 'memory', records: 300, facts: 300}), 3);
	assert.equal(writes.recordsPerSecond, 100);
	assert.equal(writes.syncsPerSecond, 0);
	assert.equal(writes.recordsPerSync, undefined);
	assert.equal(writes.recordsPerTask, undefined);
	assert.equal(storeWrites(counters({}), counters({records: 5}), 0).recordsPerSecond, 0);
});

test('storeWrites refuses readings of two different stores', () => {
	assert.throws(() => storeWrites(counters({records: 10}), counters({records: 9}), 1), /records went backwards/);
	assert.throws(() => storeWrites(counters({}), counters({kind: 'memory'}), 1), /changed kind/);
});

test('findStoreLoadedLine finds the last "loaded the store" log line and its fields', () => {
	const lines = [
		{level: 30, msg: 'loaded the store in /a', store: '/a', revision: 5, drones: 0, tasks: 1, ms: 9},
		{level: 30, msg: 'listening', url: 'http://127.0.0.1:1'},
		{level: 30, time: 1, pid: 2, hostname: 'h', store: '/d', revision: 302_825, drones: 2, tasks: 100_941, ms: 686, msg: 'loaded the store in /d'},
		{level: 40, msg: 'no token'},
	];
	assert.deepEqual(findStoreLoadedLine(lines), {ms: 686, tasks: 100_941, drones: 2, revision: 302_825, store: '/d'});
	assert.equal(findStoreLoadedLine(lines.slice(1, 2)), undefined);
	assert.equal(findStoreLoadedLine([]), undefined);
	assert.throws(() => findStoreLoadedLine([{msg: 'loaded the store in /d', ms: '686'}]), /without a number ms/);
});

test('directorySize adds up the files of a directory and its subdirectories', () => {
	const dir = mkdtempSync(path.join(os.tmpdir(), 'hive-bench-size-'));
	try {
		writeFileSync(path.join(dir, 'snapshot.json'), 'x'.repeat(5000));
		writeFileSync(path.join(dir, 'wal-0000000000000001.log'), 'y'.repeat(300));
		mkdirSync(path.join(dir, 'sub'));
		writeFileSync(path.join(dir, 'sub', 'LOCK'), '{}');
		const size = directorySize(dir);
		assert.equal(size.bytes, 5302);
		assert.equal(size.files, 3);
		assert.ok(size.diskBytes >= 0);
		assert.deepEqual(size.largest.map(file => file.name), ['snapshot.json', 'wal-0000000000000001.log', path.join('sub', 'LOCK')]);
	} finally {
		rmSync(dir, {recursive: true, force: true});
	}
});

test('formatBytes picks MiB, KiB or bytes', () => {
	assert.equal(formatBytes(28_206_694), '26.9 MiB');
	assert.equal(formatBytes(4096), '4 KiB');
	assert.equal(formatBytes(512), '512 B');
});
