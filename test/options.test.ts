import assert from 'node:assert/strict';
import {test} from 'node:test';
import {OptionError, defaults, parseHostPort, parseQueenHosts, resolveOptions} from '../source/options.js';

test('a queen gets the contract defaults', () => {
	const options = resolveOptions({mode: 'queen'});
	assert.equal(options.port, 8080);
	assert.equal(options.host, '127.0.0.1');
	assert.equal(options.heartbeatIntervalMs, 2000);
	assert.equal(options.maxRetry, 3);
	assert.equal(options.retryDelayMs, 500);
	assert.equal(options.heartbeatTimeoutMs, 1000);
	assert.equal(options.logLevel, defaults.logLevel);
});

test('a drone without --queen-host is refused with a message naming the flag', () => {
	assert.throws(() => resolveOptions({mode: 'drone'}), {name: 'OptionError', message: /--queen-host/});
});

test('bad values are refused with the option and the value in the message', () => {
	const cases: Array<[Parameters<typeof resolveOptions>[0], RegExp]> = [
		[{mode: 'queen', port: 70_000}, /--port .*70000/],
		[{mode: 'queen', port: -1}, /--port/],
		[{mode: 'queen', maxRetry: 0}, /--max-retry .*0/],
		[{mode: 'queen', heartbeatIntervalMs: 0}, /--heartbeat-interval/],
		[{mode: 'drone', queenHost: 'nohost'}, /--queen-host must be HOST:PORT.*got nohost/],
		[{mode: 'drone', queenHost: '127.0.0.1:8080,nohost'}, /--queen-host .*got 127.0.0.1:8080,nohost/],
		[{mode: 'queen', store: 'etcd://'}, /--store etcd:\/\/ takes HOST:PORT/],
		[{mode: 'queen', store: 'etcd://a:2379,b'}, /got 'b'/],
		[{mode: 'queen', store: 'postgres'}, /--store must be file, memory or etcd/],
		[{mode: 'queen', leaderLeaseMs: 500}, /--leader-lease .*0.5/],
		[{mode: 'queen', advertise: 'nohost'}, /--advertise/],
		[{mode: 'drone', queenHost: '127.0.0.1:8080', name: 'bad name!'}, /--name/],
		[{mode: 'drone', queenHost: '127.0.0.1:8080', advertise: '1.2.3.4'}, /--advertise/],
		[{mode: 'queen', logLevel: 'loud' as never}, /--log-level/],
	];
	for (const [input, message] of cases) {
		assert.throws(() => resolveOptions(input), (error: unknown) => error instanceof OptionError && message.test(error.message), JSON.stringify(input));
	}
});

test('--store etcd:// names the etcd members, and --queen-host takes several queens', () => {
	const queen = resolveOptions({mode: 'queen', store: 'etcd://127.0.0.1:2379, localhost:22379'});
	assert.equal(queen.store, 'etcd');
	assert.deepEqual(queen.etcdEndpoints, ['http://127.0.0.1:2379', 'http://localhost:22379']);
	assert.equal(queen.leaderLeaseMs, 5000);
	assert.deepEqual(resolveOptions({mode: 'queen'}).etcdEndpoints, []);
	assert.deepEqual(parseQueenHosts('a:1, b:2'), ['a:1', 'b:2']);
	assert.equal(resolveOptions({mode: 'drone', queenHost: 'a:1,b:2'}).queenHost, 'a:1,b:2');
});

test('host:port is parsed, and what is not one is undefined', () => {
	assert.deepEqual(parseHostPort('127.0.0.1:5001'), {host: '127.0.0.1', port: 5001});
	assert.deepEqual(parseHostPort('drone.local:80'), {host: 'drone.local', port: 80});
	assert.deepEqual(parseHostPort('[::1]:9'), {host: '[::1]', port: 9});
	for (const bad of ['', '127.0.0.1', ':80', 'a:0', 'a:65536', 'a b:1', 'http://a:1']) {
		assert.equal(parseHostPort(bad), undefined, bad);
	}
});
