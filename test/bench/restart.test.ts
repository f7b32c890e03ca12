import assert from 'node:assert/strict';
import test from 'node:test';
import {checkBudgets} from '../../bench/budgets.js';
import {nextBurstSeconds, totalsMatch, type RestartData} from '../../bench/restart.js';
import type {StoreWrites} from '../../bench/store.js';

test('nextBurstSeconds aims at the missing tasks at the rate so far, from 1 to 15 s', () => {
	assert.equal(nextBurstSeconds(100_000, undefined), 3);
	assert.equal(nextBurstSeconds(100_000, 0), 3);
	assert.equal(nextBurstSeconds(77_000, 7000), 13);
	assert.equal(nextBurstSeconds(100, 7000), 1);
	assert.equal(nextBurstSeconds(1_000_000, 7000), 15);
	assert.equal(nextBurstSeconds(0, 7000), 0);
	assert.equal(nextBurstSeconds(-5, undefined), 0);
});

test('totalsMatch wants every restart to report the total seen before the kill', () => {
	assert.equal(totalsMatch(100_941, [{total: 100_941}, {total: 100_941}]), true);
	assert.equal(totalsMatch(100_941, [{total: 100_941}, {total: 100_940}]), false);
	assert.equal(totalsMatch(100_941, []), false);
});

const writes: StoreWrites = {kind: 'file', seconds: 15, records: 300_000, facts: 300_000, syncs: 3000, bytes: 1, snapshots: 4, recordsPerSecond: 20_000, factsPerSecond: 20_000, syncsPerSecond: 200, bytesPerSecond: 1, recordsPerSync: 100, recordsPerTask: 3, factsPerTask: 3};

const restartData = (readyMs: readonly number[], totalBefore: number, totalsAfter: readonly number[]): RestartData => ({
	target: 100_000,
	taskHistory: 100_000,
	held: {system: 'hive', connections: 64, tasksPerSecond: 9000, latencyMs: {p50: 5, p99: 20, max: 40, mean: 6}, generator: 'wrk', ok: 90_000, errors: 0, non2xx: 0, durationS: 10, queenCores: 0.9, droneCores: [0.1, 0.1], queenCpuUsPerTask: 100, store: writes},
	fill: {generator: 'wrk', connections: 64, bursts: 2, seconds: 15, tasksAnswered: 100_000, tasksPerSecond: 6666, errors: 0, non2xx: 0, store: writes},
	before: {total: totalBefore, newestId: 'a', store: {kind: 'file', revision: 300_000, facts: 1, records: 1, syncs: 1, bytes: 1, snapshots: 1}},
	dataDir: {path: '/d', bytes: 1, diskBytes: 1, files: 1, largest: []},
	trials: readyMs.map((ms, index) => ({readyMs: ms, loaded: {ms: ms - 300, tasks: totalsAfter[index]!, drones: 2, revision: 300_000, store: '/d'}, total: totalsAfter[index]!, newestId: 'a'})),
	readyMs: {median: [...readyMs].sort((a, b) => a - b)[Math.floor((readyMs.length - 1) / 2)], max: Math.max(...readyMs)},
	loadMs: {median: undefined, max: Math.max(...readyMs) - 300},
	totalsMatch: totalsMatch(totalBefore, totalsAfter.map(total => ({total}))),
});

const restartBudget = (data: RestartData) => {
	const budgets = checkBudgets({restart: {data, tables: []}});
	assert.equal(budgets.length, 1);
	return budgets[0]!;
};

test('the restart budget: serving again within 1 s, the slowest restart counting', () => {
	const met = restartBudget(restartData([620, 700, 650], 100_941, [100_941, 100_941, 100_941]));
	assert.equal(met.budget, 'a queen restarted on its data directory serves again for 100,000 task records');
	assert.equal(met.target, 'within 1 s');
	assert.equal(met.status, 'met');
	assert.match(met.measured, /^max 700 ms \(median 650 ms\) over 3 kill -9 restarts; store loaded in max 400 ms; 100941 tasks before the kill, the same after each restart$/);
	assert.equal(restartBudget(restartData([620, 1001, 650], 100_941, [100_941, 100_941, 100_941])).status, 'missed');
});

test('the restart budget is missed when a restart lost tasks, or the queen held fewer than 100,000', () => {
	const lost = restartBudget(restartData([620, 700, 650], 100_941, [100_941, 99_000, 100_941]));
	assert.equal(lost.status, 'missed');
	assert.match(lost.measured, /AFTER: 100941, 99000, 100941/);
	assert.equal(restartBudget(restartData([620, 700, 650], 50_000, [50_000, 50_000, 50_000])).status, 'missed');
});
