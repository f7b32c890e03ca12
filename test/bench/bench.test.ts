import assert from 'node:assert/strict';
import test from 'node:test';
import {coresUsed, parseProcStat} from '../../bench/procs.js';
import {categoryOf, moduleOf, summarizeProfile, type CpuProfile} from '../../bench/profile.js';
import {median, percentile, round, summarize} from '../../bench/stats.js';
import {unfinishedTasksOn} from '../../bench/failure.js';
import {dispatchStoreTable, durabilityCosts, seedRatios, systemLabel, type DispatchData, type DispatchRow} from '../../bench/dispatch.js';
import {storeWrites} from '../../bench/store.js';
import {checkBudgets} from '../../bench/budgets.js';
import type {SeenEvent} from '../../bench/procs.js';

test('parseProcStat reads utime and stime after a command name with spaces and parentheses', () => {
	const line = '4242 (node (queen) x) S 1 4242 4242 0 -1 4194304 1234 0 0 0 731 122 0 0 20 0 11 0 98765 1000000 5000 18446744073709551615';
	assert.deepEqual(parseProcStat(line), {utime: 731, stime: 122});
});

test('parseProcStat refuses a line that is not a stat line', () => {
	assert.throws(() => parseProcStat('nothing here'), /not a \/proc/);
});

test('coresUsed is CPU seconds over wall seconds', () => {
	assert.equal(coresUsed(10, 15, 10_000), 0.5);
	assert.equal(coresUsed(0, 1, 0), 0);
});

test('percentile takes the nearest rank', () => {
	const values = Array.from({length: 100}, (_, index) => 100 - index);
	assert.equal(percentile(values, 50), 50);
	assert.equal(percentile(values, 99), 99);
	assert.equal(percentile(values, 100), 100);
	assert.equal(percentile(values, 0), 1);
	assert.equal(percentile([7], 99), 7);
	assert.equal(percentile([], 50), undefined);
	assert.throws(() => percentile([1], 101), RangeError);
});

test('median and summarize describe a sample', () => {
	assert.equal(median([3, 1, 2]), 2);
	assert.deepEqual(summarize([1, 2, 3, 4]), {count: 4, min: 1, p50: 2, p99: 4, max: 4, mean: 2.5});
	assert.equal(summarize([]).max, undefined);
	assert.equal(round(1.2345, 2), 1.23);
	assert.equal(round(Number.NaN), undefined);
});

const frame = (functionName: string, url: string, lineNumber = 0) => ({functionName, url, lineNumber});

test('moduleOf and categoryOf name packages, our code, node internals and V8 frames', () => {
	assert.equal(moduleOf(frame('x', 'file:///w/node_modules/got/dist/source/core/index.js')), 'got');
	assert.equal(moduleOf(frame('x', 'file:///w/node_modules/@koa/router/lib/router.js')), '@koa/router');
	assert.equal(moduleOf(frame('x', 'file:///w/node_modules/got/node_modules/@sindresorhus/is/dist/index.js')), '@sindresorhus/is');
	assert.equal(moduleOf(frame('emit', 'file:///w/dist/source/queen/hive.js')), 'hive source/queen/hive');
	assert.equal(moduleOf(frame('x', 'node:internal/http')), 'node:internal/http');
	assert.equal(moduleOf(frame('x', 'node:_http_client')), 'node:_http_client');
	assert.equal(moduleOf(frame('(garbage collector)', '')), '(garbage collector)');
	assert.equal(moduleOf(frame('writev', '')), '(native) writev');
	assert.equal(categoryOf('got'), 'got (client)');
	assert.equal(categoryOf('@sindresorhus/is'), 'got (client)');
	assert.equal(categoryOf('@koa/router'), 'koa (server)');
	assert.equal(categoryOf('co-body'), 'body parser');
	assert.equal(categoryOf('pino'), 'pino (logs)');
	assert.equal(categoryOf('hive source/queen/hive'), 'hive: state, events, dispatch');
	assert.equal(categoryOf('hive source/queen/store/file-store'), 'hive: store');
	assert.equal(categoryOf('hive source/queen/routes'), 'hive: http (routes, auth, clients)');
	assert.equal(categoryOf('hive source/client/json-http'), 'hive: http (routes, auth, clients)');
	assert.equal(categoryOf('node:_http_client'), 'node core (http, net, streams)');
	assert.equal(categoryOf('(native) writev'), 'socket syscalls (native writes)');
	assert.equal(categoryOf('(garbage collector)'), 'GC');
});

test('summarizeProfile adds up self time by function, module and category, idle apart', () => {
	const profile: CpuProfile = {
		nodes: [
			{id: 1, callFrame: frame('(root)', ''), children: [2, 3, 4]},
			{id: 2, callFrame: frame('(idle)', '')},
			{id: 3, callFrame: frame('request', 'file:///w/node_modules/got/dist/source/index.js', 9), children: [5]},
			{id: 4, callFrame: frame('submit', 'file:///w/dist/source/queen/routes.js', 41)},
			{id: 5, callFrame: frame('request', 'file:///w/node_modules/got/dist/source/index.js', 9)},
		],
		startTime: 0,
		endTime: 1000,
		samples: [2, 3, 4, 3, 5, 2],
		timeDeltas: [100, 200, 300, 200, 100, 100],
	};
	const summary = summarizeProfile(profile);
	assert.equal(summary.totalMs, 1);
	assert.equal(summary.idleMs, 0.2);
	assert.equal(summary.activeMs, 0.8);
	assert.deepEqual(summary.byFunction.map(entry => [entry.name, entry.selfMs]), [
		['request got/dist/source/index.js:10', 0.5],
		['submit source/queen/routes.js:42', 0.3],
	]);
	assert.deepEqual(summary.byModule.map(entry => entry.name), ['got', 'hive source/queen/routes']);
	assert.deepEqual(summary.byCategory.map(entry => [entry.name, entry.share]), [['got (client)', 0.625], ['hive: http (routes, auth, clients)', 0.375]]);
	// Samples are stamped at startTime plus the deltas so far: a window keeps those inside it.
	const windowed = summarizeProfile(profile, 25, {fromUs: 250, toUs: 800});
	assert.deepEqual(windowed.byFunction.map(entry => [entry.name, entry.selfMs]), [['request got/dist/source/index.js:10', 0.4], ['submit source/queen/routes.js:42', 0.3]]);
	assert.equal(windowed.idleMs, 0);
});

test('unfinishedTasksOn finds the tasks last placed on a drone and not finished before a time', () => {
	const task = (id: string, state: string, drone?: string) => ({id, state, drone});
	const events: SeenEvent[] = [
		{type: 'task.dispatched', at: 1, task: task('a', 'dispatched', 'drone-0')},
		{type: 'task.succeeded', at: 2, task: task('a', 'succeeded', 'drone-0')},
		{type: 'task.dispatched', at: 3, task: task('b', 'running', 'drone-0')},
		{type: 'task.dispatched', at: 4, task: task('c', 'running', 'drone-1')},
		{type: 'drone.evicted', at: 5, drone: 'drone-0'},
		{type: 'task.dispatched', at: 6, task: task('d', 'running', 'drone-0')},
	];
	assert.deepEqual([...unfinishedTasksOn(events, 'drone-0', 5)], ['b']);
});

const dispatchRow = (system: DispatchRow['system'], connections: number, tasksPerSecond: number, generator: DispatchRow['generator'] = 'wrk', p99 = 5): DispatchRow => ({
	system, connections, tasksPerSecond, generator, latencyMs: {p50: 1, p99, max: p99, mean: 1}, ok: tasksPerSecond, errors: 0, non2xx: 0, durationS: 1, queenCores: 1, droneCores: [0.2, 0.2], queenCpuUsPerTask: 100,
});

test('seedRatios pairs Hive and the seed only when one generator drove both', () => {
	const rows = [
		dispatchRow('hive', 16, 9000),
		dispatchRow('hive', 64, 12_000),
		dispatchRow('seed', 16, 300),
		dispatchRow('seed', 64, 400, 'node:http closed loop'),
		dispatchRow('floor', 16, 30_000),
	];
	assert.deepEqual(seedRatios(rows), [{connections: 16, generator: 'wrk', hive: 9000, seed: 300, ratio: 30}]);
});

test('checkBudgets wants 25× the seed at 16 and at 64 connections (30× at 64 for issue #15), p99 under 25 ms, and the queen\'s CPU per task within 2× the floor\'s', () => {
	const rows = [
		dispatchRow('hive', 16, 9000),
		{...dispatchRow('hive', 64, 12_000, 'wrk', 30), queenCpuUsPerTask: 70},
		dispatchRow('seed', 16, 300),
		dispatchRow('seed', 64, 500),
		{...dispatchRow('floor', 16, 30_000), queenCpuUsPerTask: 50},
		{...dispatchRow('floor', 64, 50_000), queenCpuUsPerTask: 20},
	];
	const dispatch: DispatchData = {generator: 'wrk', generatorNote: 'wrk', rows, ratios: seedRatios(rows), durability: durabilityCosts(rows)};
	const budgets = checkBudgets({dispatch: {data: dispatch, tables: []}});
	assert.deepEqual(budgets.map(budget => [budget.budget, budget.target, budget.status]), [
		['dispatch throughput vs the seed (16 conns)', '≥ 25×', 'met'],
		['dispatch throughput vs the seed (64 conns)', '≥ 25×', 'missed'],
		['dispatch throughput vs the seed (64 conns) (issue #15)', '≥ 30×', 'missed'],
		['dispatch p99 latency (16 conns)', '< 25 ms', 'met'],
		['dispatch p99 latency (64 conns)', '< 25 ms', 'missed'],
		['queen CPU per task vs the floor\'s (16 conns, issue #15)', '≤ 2×', 'met'],
		['queen CPU per task vs the floor\'s (64 conns, issue #15)', '≤ 2×', 'missed'],
	]);
	// A miss says by how much.
	assert.equal(budgets[1]!.measured, '24× (12000 vs 500 tasks/s, wrk on both); short by 1× (500 tasks/s more needed)');
	assert.equal(budgets[2]!.measured, '24× (12000 vs 500 tasks/s, wrk on both); short by 6× (3000 tasks/s more needed)');
	assert.equal(budgets[4]!.measured, '30 ms, over by 5 ms');
	assert.equal(budgets[5]!.measured, '2× (100 vs 50 µs at 9000 vs 30000 tasks/s)');
	assert.equal(budgets[6]!.measured, '3.5× (70 vs 20 µs at 12000 vs 50000 tasks/s), over by 30 µs per task');
});

test('durabilityCosts sets the durable Hive beside the memory Hive of the same generator', () => {
	const rows = [
		{...dispatchRow('hive', 16, 4000, 'wrk', 22), queenCpuUsPerTask: 166},
		{...dispatchRow('hive-memory', 16, 8000, 'wrk', 8), queenCpuUsPerTask: 99},
		dispatchRow('hive', 64, 12_000),
		dispatchRow('hive-memory', 64, 16_000, 'node:http closed loop'),
	];
	assert.deepEqual(durabilityCosts(rows), [{connections: 16, durable: 4000, memory: 8000, share: 0.5, durableCpuUsPerTask: 166, memoryCpuUsPerTask: 99, durableP99: 22, memoryP99: 8}]);
});

test('the seed ratio and the dispatch budgets are the durable Hive\'s, never the memory Hive\'s', () => {
	const rows = [
		dispatchRow('hive', 16, 4000, 'wrk', 22),
		dispatchRow('hive-memory', 16, 9000, 'wrk', 30),
		dispatchRow('hive', 64, 12_000),
		dispatchRow('hive-memory', 64, 16_000),
		dispatchRow('seed', 16, 300),
		dispatchRow('seed', 64, 400),
	];
	assert.deepEqual(seedRatios(rows).map(ratio => [ratio.connections, ratio.hive, ratio.ratio]), [[16, 4000, 13.3], [64, 12_000, 30]]);
	const dispatch: DispatchData = {generator: 'wrk', generatorNote: 'wrk', rows, ratios: seedRatios(rows), durability: durabilityCosts(rows)};
	assert.deepEqual(checkBudgets({dispatch: {data: dispatch, tables: []}}).map(budget => [budget.budget, budget.status, budget.measured]), [
		['dispatch throughput vs the seed (16 conns)', 'missed', '13.3× (4000 vs 300 tasks/s, wrk on both); short by 11.7× (3500 tasks/s more needed)'],
		['dispatch throughput vs the seed (64 conns)', 'met', '30× (12000 vs 400 tasks/s, wrk on both)'],
		['dispatch throughput vs the seed (64 conns) (issue #15)', 'met', '30× (12000 vs 400 tasks/s, wrk on both)'],
		['dispatch p99 latency (16 conns)', 'met', '22 ms'],
		['dispatch p99 latency (64 conns)', 'met', '5 ms'],
		['queen CPU per task vs the floor\'s (16 conns, issue #15)', 'not measured', 'the floor was not measured'],
		['queen CPU per task vs the floor\'s (64 conns, issue #15)', 'not measured', 'the floor was not measured'],
	]);
});

test('dispatchStoreTable shows the durable rows\' store writes, and nothing without them', () => {
	const store = storeWrites(
		{kind: 'file', revision: 0, facts: 0, records: 0, syncs: 0, bytes: 0, snapshots: 0},
		{kind: 'file', revision: 120_000, facts: 120_000, records: 120_000, syncs: 4000, bytes: 20 * 2 ** 20, snapshots: 1},
		10,
		40_000,
	);
	const memory = storeWrites({kind: 'memory', revision: 0, facts: 0, records: 0, syncs: 0, bytes: 0, snapshots: 0}, {kind: 'memory', revision: 9, facts: 9, records: 9, syncs: 0, bytes: 0, snapshots: 0}, 10, 3);
	const table = dispatchStoreTable([{...dispatchRow('hive', 16, 4000), store}, {...dispatchRow('hive-memory', 16, 9000), store: memory}, dispatchRow('seed', 16, 300)]);
	assert.deepEqual(table?.rows, [['hive (durable)', 16, 4000, 12_000, 12_000, 400, 30, 3, 3, 2, 1]]);
	assert.equal(dispatchStoreTable([dispatchRow('hive', 16, 4000)]), undefined);
	assert.equal(systemLabel('hive-memory'), 'hive (--store memory)');
	assert.equal(systemLabel('floor'), 'floor');
});
