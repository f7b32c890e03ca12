import assert from 'node:assert/strict';
import {once} from 'node:events';
import net from 'node:net';
import {test} from 'node:test';
import {spawnLarve} from '../helpers/binary.js';
import {request} from '../helpers/larves.js';
import {stablePort} from '../helpers/ports.js';
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
	// (Whether a callback timed out here depends on the machine; the next test makes one time out for sure.)
	// Backing off (up to 2 s a try), a drone tries a bounded number of times.
	assert.ok(retries.every(lines => lines.length < 60), `a drone retried ${Math.max(...retries.map(lines => lines.length))} times`);
	assert.equal(exits.filter(code => code !== undefined).length, 0);
});

test('a drone whose registration callback times out is told to try again, and does, until it is registered', async t => {
	const queen = spawnLarve(t, ['--queen', '--port', '0', '--store', 'memory', '--heartbeat-timeout', '0.3']);
	const queenHost = (await queen.url()).replace('http://', '');
	// The drone's address as the queen sees it: a relay that swallows the first two connections (the
	// queen's callback gets no answer: it times out) and passes the later ones through to the drone.
	const dronePort = await stablePort();
	let swallowed = 0;
	const held: net.Socket[] = [];
	const relay = net.createServer(socket => {
		if (swallowed < 2) {
			swallowed++;
			held.push(socket);
			return;
		}

		const upstream = net.connect(dronePort, '127.0.0.1');
		socket.pipe(upstream).pipe(socket);
		upstream.on('error', () => socket.destroy());
		socket.on('error', () => upstream.destroy());
	});
	relay.listen(0, '127.0.0.1');
	await once(relay, 'listening');
	t.after(() => {
		for (const socket of held) {
			socket.destroy();
		}

		relay.close();
	});
	const advertised = `127.0.0.1:${(relay.address() as net.AddressInfo).port}`;
	const drone = spawnLarve(t, ['--queen-host', queenHost, '--port', String(dronePort), '--advertise', advertised]);
	await drone.url();
	const retried = drone.logs().filter(entry => entry.msg === 'queen not reachable yet; retrying');
	assert.ok(retried.length >= 1 && retried.every(entry => /504|no answer from the drone|timed out/.test(String(entry.err))), JSON.stringify(retried));
	assert.equal(swallowed, 2);
	const {drones} = (await request(`http://${queenHost}/healthz`)).body as {drones: Record<string, string>};
	assert.deepEqual(Object.keys(drones), [advertised]);
});
