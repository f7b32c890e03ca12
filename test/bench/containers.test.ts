import assert from 'node:assert/strict';
import test from 'node:test';
import {benchedKinds, containersFailure, containersTables, distinctErrors, latencyRow, parseProcStatWithChildren, roundOrder, taskBody, throughputRow, type ContainersData, type Sample} from '../../bench/containers.js';
import {renderTable} from '../../bench/table.js';

const ok = (answerMs: number, durationMs: number): Sample => ({answerMs, durationMs, taskId: `t-${answerMs}`});
const failed = (error: string): Sample => ({answerMs: 5, durationMs: undefined, taskId: undefined, error});

test('roundOrder puts every kind in every place in turn', () => {
	assert.deepEqual(roundOrder(benchedKinds, 0), ['command', 'container', 'container + limits']);
	assert.deepEqual(roundOrder(benchedKinds, 1), ['container', 'container + limits', 'command']);
	assert.deepEqual(roundOrder(benchedKinds, 2), ['container + limits', 'command', 'container']);
	assert.deepEqual(roundOrder(benchedKinds, 3), roundOrder(benchedKinds, 0));
	const firsts = new Set([0, 1, 2].map(round => roundOrder(benchedKinds, round)[0]));
	assert.equal(firsts.size, 3);
});

test('taskBody submits a command, a container, and a container with the three limits, all running true', () => {
	assert.deepEqual(taskBody('command', '/r'), {command: 'true'});
	assert.deepEqual(taskBody('container', '/r'), {container: {rootfs: '/r', command: ['true']}});
	assert.deepEqual(taskBody('container + limits', '/r'), {container: {rootfs: '/r', command: ['true'], memory: '64M', pids: 64, cpus: 1}});
});

test('latencyRow takes its percentiles from the tasks that succeeded and counts the others', () => {
	const samples = [...Array.from({length: 100}, (_, index) => ok(index + 1, (index + 1) / 2)), failed('boom'), failed('boom')];
	const row = latencyRow('container', samples);
	assert.equal(row.runs, 102);
	assert.equal(row.ok, 100);
	assert.equal(row.failed, 2);
	assert.deepEqual(row.answerMs, {p50: 50, p99: 99});
	assert.deepEqual(row.startToExitMs, {p50: 25, p99: 49.5});
	assert.deepEqual(latencyRow('command', []).answerMs, {p50: undefined, p99: undefined});
});

test('throughputRow divides the tasks that succeeded by the batches\' wall time, and the drone\'s CPU by them', () => {
	const row = throughputRow('container', 4, [
		{samples: [ok(10, 8), ok(12, 9), failed('x')], wallMs: 500, droneCpuSeconds: 0.1},
		{samples: [ok(11, 8), ok(13, 9)], wallMs: 500, droneCpuSeconds: 0.06},
	]);
	assert.equal(row.inFlight, 4);
	assert.equal(row.runs, 5);
	assert.equal(row.ok, 4);
	assert.equal(row.perSecond, 4);
	assert.equal(row.wallS, 1);
	assert.equal(row.droneCpuMsPerTask, 40);
	// A batch whose CPU could not be read leaves the row without one, rather than a share of it.
	assert.equal(throughputRow('command', 4, [{samples: [ok(1, 1)], wallMs: 10, droneCpuSeconds: undefined}]).droneCpuMsPerTask, undefined);
});

test('distinctErrors counts each error, the most frequent first', () => {
	assert.deepEqual(distinctErrors([ok(1, 1), failed('a'), failed('b'), failed('b')]), [{error: 'b', count: 2}, {error: 'a', count: 1}]);
});

test('parseProcStatWithChildren adds utime, stime, cutime and cstime after a command name with spaces and parentheses', () => {
	const line = '4242 (node (drone) x) S 1 4242 4242 0 -1 4194304 1234 0 0 0 731 122 40 7 20 0 11 0 98765 1000000 5000';
	assert.equal(parseProcStatWithChildren(line), 731 + 122 + 40 + 7);
	assert.throws(() => parseProcStatWithChildren('nothing here'), /not a \/proc/);
});

const clean = {containersWhileUp: [], bundlesWhileUp: [], cgroupsWhileUp: [], containersAfterStop: [], unfinishedTasks: 0};
const data = (over: Partial<ContainersData> = {}): ContainersData => ({
	runc: '1.1.5',
	slots: 8,
	latency: [latencyRow('command', [ok(15, 10), ok(17, 11)]), latencyRow('container', [ok(60, 52), ok(62, 55)])],
	throughput: [
		throughputRow('command', 4, [{samples: [ok(30, 20), ok(30, 20)], wallMs: 20, droneCpuSeconds: 0.014}]),
		throughputRow('container', 4, [{samples: [ok(100, 90), ok(100, 90)], wallMs: 80, droneCpuSeconds: 0.07}]),
	],
	leftovers: clean,
	errors: [],
	cutShort: [],
	...over,
});

test('containersFailure holds when every task succeeded and nothing was left behind, and names what was', () => {
	assert.equal(containersFailure(data()), undefined);
	const failure = containersFailure(data({
		latency: [latencyRow('container', [ok(60, 52), failed('runc: oops')])],
		errors: [{error: 'runc: oops', count: 1}],
		leftovers: {...clean, containersWhileUp: ['c1', 'c2'], unfinishedTasks: 3},
	}));
	assert.match(failure!, /1 task\(s\) did not succeed: 1× runc: oops/);
	assert.match(failure!, /2 containers in runc list while the drone was up: c1, c2/);
	assert.match(failure!, /3 task\(s\) still unfinished at the queen/);
});

test('containersTables puts each container beside the command: its p50 over the command\'s and its share of the command\'s tasks/s', () => {
	const [latency, throughput] = containersTables(data()).map(table => renderTable(table));
	assert.match(latency!, /^container +2 +2 +60 +62 +52 +55 +\+42$/m);
	assert.match(latency!, /^command +2 +2 +15 +17 +10 +11$/m);
	assert.match(throughput!, /^command +4 +2 +2 +100 +30 +30 +20 +20 +7$/m);
	assert.match(throughput!, /^container +4 +2 +2 +25 +25% +100 +100 +90 +90 +35$/m);
	assert.match(throughput!, /0 container\(s\) in runc list, 0 bundle\(s\), 0 cgroup\(s\)/);
});

test('containersTables says why the scenario was skipped', () => {
	const tables = containersTables({skipped: 'runc is not installed', slots: 8, latency: [], throughput: [], errors: [], cutShort: []});
	assert.equal(tables.length, 1);
	assert.deepEqual(tables[0]!.rows, [['skipped: runc is not installed']]);
});
