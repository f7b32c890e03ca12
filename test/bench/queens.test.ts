import assert from 'node:assert/strict';
import test from 'node:test';
import {checkBudgets} from '../../bench/budgets.js';
import {histogramLatency, parseWrkHistogram, splitConnections, type QueensData, type QueensRow} from '../../bench/queens.js';
import {percentile} from '../../bench/stats.js';
import {parseWrkOutput} from '../../bench/wrk.js';

// The end of a real run of `wrk --latency -s bench/wrk-queens.lua` (wrk debian/4.1.0-3+b2), its histogram cut short.
const output = `Running 1s test @ http://127.0.0.1:18777
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   201.81us  539.68us  10.84ms   94.51%
    Req/Sec    41.14k    11.89k   48.51k    86.36%
  Latency Distribution
     50%   76.00us
     75%  123.00us
     90%  203.00us
     99%    2.62ms
  89939 requests in 1.10s, 10.64MB read
Requests/sec:  81753.59
Transfer/sec:      9.67MB
HISTOGRAM 10:1,11:1,12:22,76:40,2622:2,10837:1
`;

test('the histogram line of bench/wrk-queens.lua is read, and the rest of the output still parses as before', () => {
	assert.deepEqual(parseWrkHistogram(output), [[10, 1], [11, 1], [12, 22], [76, 40], [2622, 2], [10_837, 1]]);
	assert.equal(parseWrkOutput(output).latencyMs.p99, 2.62);
	assert.equal(parseWrkHistogram('no such line'), undefined);
	assert.deepEqual(parseWrkHistogram('HISTOGRAM \n'), []);
	assert.throws(() => parseWrkHistogram('HISTOGRAM 10:x'), /not a wrk histogram entry/);
});

test('merged histograms give the percentiles of the union of their samples (nearest rank), not of any one run', () => {
	const runs = [[[1000, 90], [5000, 10]], [[2000, 50]], [[300_000, 3], [400, 47]]] as const;
	const samples = runs.flatMap(run => run.flatMap(([us, count]) => Array.from({length: count}, () => us)));
	const merged = histogramLatency(runs);
	assert.equal(merged.p50, percentile(samples, 50)! / 1000);
	assert.equal(merged.p99, percentile(samples, 99)! / 1000);
	assert.equal(merged.max, 300);
	assert.equal(merged.mean, Math.round((samples.reduce((a, b) => a + b, 0) / samples.length / 1000) * 100) / 100);
	assert.deepEqual([merged.p50, merged.p99], [1, 300]);
	assert.deepEqual(histogramLatency([]), {p50: 0, p99: 0, max: 0, mean: 0});
});

test('64 connections over three queens, as a round-robin balancer spreads them: 22 + 21 + 21', () => {
	assert.deepEqual(splitConnections(64, 3), [22, 21, 21]);
	assert.deepEqual(splitConnections(64, 1), [64]);
	assert.equal(splitConnections(65, 3).reduce((a, b) => a + b, 0), 65);
});

function row(system: QueensRow['system'], tasksPerSecond: number, p99: number): QueensRow {
	return {system, split: [64], targets: ['x'], connections: 64, generator: 'wrk', tasksPerSecond, perTarget: [tasksPerSecond], latencyMs: {p50: 1, p99, max: p99, mean: 1}, latencyFrom: 'one run', ok: tasksPerSecond * 10, errors: 0, non2xx: 0, durationS: 10, leaderCores: 1, leaderCpuUsPerTask: 100, droneCores: 0.1, machineCores: 2};
}

test('checkBudgets holds three queens to 1,500 tasks/s and p99 under 250 ms, says by how much a miss is off, and checks failover and loss', () => {
	const summary = (max: number) => ({count: 10, min: 4000, p50: 5000, p99: max, max, mean: 5000});
	const data = {
		rows: [row('seed', 400, 300), row('three queens: the leader', 4000, 70), row('three queens: all three', 1200, 300)],
		failover: {seed: 1, leaseMs: 5000, trials: Array.from({length: 10}), electedMs: summary(6100), servingMs: summary(6500), acknowledged: 100, probes: 10, keys: 90, lost: 0, lostExamples: [], duplicated: 0, historyMax: 10_000},
	} as unknown as QueensData;
	const budgets = checkBudgets({queens: {data, tables: []}}).map(budget => [budget.status, budget.measured]);
	assert.deepEqual(budgets, [
		['met', '4000 tasks/s'],
		['met', '70 ms'],
		['missed', '1200 tasks/s, short by 300 (20%)'],
		['missed', '300 ms, over by 50 ms (1.2×)'],
		['missed', 'max 6500 ms (median 5000 ms, elected after max 6100 ms) over 10 kill -9s, over by 500 ms'],
		['met', '0 of 100 (0 made twice)'],
	]);
});
