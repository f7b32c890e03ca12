import assert from 'node:assert/strict';
import {test} from 'node:test';
import {spawnLarve} from '../helpers/binary.js';
import {request} from '../helpers/larves.js';
import {waitFor} from '../helpers/wait.js';

const droneCount = 30;

test('30 drones started at once against a queen whose callback is slow all register: a callback that timed out is no refusal', async t => {
	// A 20 ms callback limit times out while 30 processes start on the machine's cores; it is met once they are up.
	// --max-retry high: the same short limit on heartbeats must not evict anyone while the test runs.
	const queen = spawnLarve(t, ['--queen', '--port', '0', '--store', 'memory', '--heartbeat-timeout', '0.02', '--heartbeat-interval', '1', '--max-retry', '1000']);
	const queenUrl = await queen.url();
	const queenHost = queenUrl.replace('http://', '');
	const drones = Array.from({length: droneCount}, () => spawnLarve(t, ['--queen-host', queenHost, '--port', '0', '--register-timeout', '60']));
	const exits: Array<number | string | undefined> = drones.map(() => undefined);
	for (const [index, drone] of drones.entries()) {
		void drone.exited.then(code => {
			exits[index] = code;
		});
	}

	await waitFor(() => {
		const exited = exits.findIndex(code => code !== undefined);
		if (exited !== -1) {
			throw new Error(`drone ${exited} exited ${exits[exited]}: ${drones[exited]!.stderr.split('\n').filter(line => line.includes('register')).slice(-2).join(' ')}`);
		}

		return drones.every(drone => drone.logs().some(entry => String(entry.msg).includes('listening')));
	}, `${droneCount} drones to register`, 90_000, {rethrow: true, pollMs: 100});

	const {drones: map} = (await request(`${queenUrl}/healthz`)).body as {drones: Record<string, string>};
	assert.equal(Object.keys(map).length, droneCount);
	assert.equal(new Set(Object.values(map)).size, droneCount, 'each drone has a name of its own');
	const retries = drones.map(drone => drone.logs().filter(entry => entry.msg === 'queen not reachable yet; retrying'));
	// The point of the test: some callbacks did time out, and the drones took that as "try again".
	assert.ok(retries.some(lines => lines.some(entry => /no answer from the drone|timed out/.test(String(entry.err)))), 'no callback timed out: the test proved nothing');
	// Backing off (up to 2 s a try), a drone tries a bounded number of times.
	assert.ok(retries.every(lines => lines.length < 60), `a drone retried ${Math.max(...retries.map(lines => lines.length))} times`);
	assert.equal(exits.filter(code => code !== undefined).length, 0);
});
