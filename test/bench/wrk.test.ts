import assert from 'node:assert/strict';
import test from 'node:test';
import {parseWrkOutput, parseWrkTime} from '../../bench/wrk.js';

// Real outputs of `wrk --latency -s bench/wrk-submit.lua`, captured on the bench machine (wrk
// debian/4.1.0-3+b2): the seed's queen at 64 connections, the floor relay at 16, the seed's drone
// (which refuses /submit_task with 400), and 300 connections with a 1 s timeout against the seed.

const seedAt64 = `Running 3s test @ http://127.0.0.1:18090
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   104.59ms   24.35ms 268.29ms   88.99%
    Req/Sec   302.13     48.03   343.00     90.00%
  Latency Distribution
     50%  101.30ms
     75%  106.86ms
     90%  116.72ms
     99%  199.96ms
  1806 requests in 3.00s, 319.22KB read
Requests/sec:    601.19
Transfer/sec:    106.27KB
`;

const floorAt16 = `Running 2s test @ http://127.0.0.1:18083
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   577.22us  741.62us  19.65ms   96.58%
    Req/Sec    16.08k     2.75k   23.17k    78.05%
  Latency Distribution
     50%  473.00us
     75%  540.00us
     90%  707.00us
     99%    3.86ms
  65544 requests in 2.10s, 11.63MB read
Requests/sec:  31216.24
Transfer/sec:      5.54MB
`;

const refusedByDrone = `Running 2s test @ http://127.0.0.1:18091
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     9.16ms    1.10ms  18.78ms   82.74%
    Req/Sec     0.87k    26.52     0.91k    65.00%
  Latency Distribution
     50%    9.00ms
     75%    9.60ms
     90%   10.26ms
     99%   12.50ms
  3475 requests in 2.00s, 1.02MB read
  Non-2xx or 3xx responses: 3475
Requests/sec:   1733.27
Transfer/sec:    523.03KB
`;

const withTimeout = `Running 2s test @ http://127.0.0.1:18090
  1 threads and 300 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   336.28ms  128.60ms 939.28ms   61.00%
    Req/Sec   603.35     95.09   666.00     90.00%
  Latency Distribution
     50%  307.69ms
     75%  471.08ms
     90%  478.64ms
     99%  647.47ms
  1201 requests in 2.02s, 212.29KB read
  Socket errors: connect 0, read 0, write 0, timeout 1
Requests/sec:    594.87
Transfer/sec:    105.15KB
`;

test('parseWrkTime reads wrk\'s microseconds, milliseconds, seconds and minutes', () => {
	assert.equal(parseWrkTime('473.00us'), 0.473);
	assert.equal(parseWrkTime('1.48ms'), 1.48);
	assert.equal(parseWrkTime('2.10s'), 2100);
	assert.equal(parseWrkTime('1.50m'), 90_000);
	assert.throws(() => parseWrkTime('fast'), /not a wrk time/);
});

test('parseWrkOutput reads answers, run time, Requests/sec and the latency distribution', () => {
	assert.deepEqual(parseWrkOutput(seedAt64), {
		requests: 1806,
		requestsPerSecond: 601.19,
		ok: 1806,
		non2xx: 0,
		errors: 0,
		socketErrors: {connect: 0, read: 0, write: 0, timeout: 0},
		durationS: 3,
		latencyMs: {p50: 101.3, p99: 199.96, max: 268.29, mean: 104.59},
	});
});

test('parseWrkOutput converts microsecond latencies to milliseconds', () => {
	const result = parseWrkOutput(floorAt16);
	assert.equal(result.requests, 65_544);
	assert.equal(result.durationS, 2.1);
	assert.equal(result.requestsPerSecond, 31_216.24);
	assert.deepEqual(result.latencyMs, {p50: 0.47, p99: 3.86, max: 19.65, mean: 0.58});
});

test('parseWrkOutput counts "Non-2xx or 3xx responses" out of the tasks answered', () => {
	const result = parseWrkOutput(refusedByDrone);
	assert.equal(result.requests, 3475);
	assert.equal(result.non2xx, 3475);
	assert.equal(result.ok, 0);
});

test('parseWrkOutput adds up socket errors', () => {
	const result = parseWrkOutput(withTimeout);
	assert.deepEqual(result.socketErrors, {connect: 0, read: 0, write: 0, timeout: 1});
	assert.equal(result.errors, 1);
	assert.equal(result.ok, 1201);
});

test('parseWrkOutput refuses output without a latency distribution (wrk run without --latency)', () => {
	const withoutDistribution = seedAt64.replace(/  Latency Distribution\n(?:.*%.*\n)+/, '');
	assert.throws(() => parseWrkOutput(withoutDistribution), /latency distribution/);
	assert.throws(() => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused\n'), /requests in/);
});
