import assert from 'node:assert/strict';
import {readdirSync, readFileSync, statSync} from 'node:fs';
import http from 'node:http';
import {once} from 'node:events';
import type {AddressInfo} from 'node:net';
import path from 'node:path';
import {test} from 'node:test';
import {setTimeout as sleep} from 'node:timers/promises';
import {startLarve} from '../source/larve.js';
import {createLogger} from '../source/log.js';
import type {HiveEvent} from '../source/queen/hive.js';
import {spawnLarve, temporaryDirectory} from './helpers/binary.js';
import {followEvents} from './helpers/events.js';
import {fastHeartbeats, request, startDrone, startQueen} from './helpers/larves.js';
import {fakeDrone} from './helpers/servers.js';
import {waitFor} from './helpers/wait.js';

const silent = createLogger('silent', {kind: 'silent'});

/** Calls a drone's `/healthz` as a stranger claiming to be the queen, every 20 ms, until stopped. */
function impersonateQueen(droneUrl: string): () => Promise<void> {
	let stopped = false;
	const loop = (async () => {
		while (!stopped) {
			// eslint-disable-next-line no-await-in-loop
			await request(`${droneUrl}/healthz`, {headers: {'user-agent': 'hive-queen/0.1.0', 'x-hive-contact-key': 'a-guess-at-the-key-0123456789abcdef'}}).catch(() => undefined);
			// eslint-disable-next-line no-await-in-loop
			await sleep(20);
		}
	})();
	return async () => {
		stopped = true;
		await loop;
	};
}

test('a stranger claiming to be the queen cannot keep a drone out: after a queen restart the drone registers again', async t => {
	const first = await startLarve({port: 0, store: 'memory', ...fastHeartbeats, mode: 'queen'}, {log: silent, graceMs: 500});
	t.after(async () => first.stop());
	const drone = await startDrone(t, first);
	await first.stop();
	// The drone's silence limit is 2.5 heartbeat intervals (250 ms here); the stranger calls every 20 ms.
	const stopImpersonating = impersonateQueen(drone.url);
	t.after(stopImpersonating);
	const port = Number(first.address.split(':')[1]);
	const queen = await startQueen(t, {port});
	await waitFor(async () => (await request(`${queen.url}/healthz`)).body.drones[drone.address] === drone.name, 'the drone to register with the restarted queen');
	await stopImpersonating();
});

test('the queen\'s own calls prove contact: its drone stays registered once, and still after the queen restarts on its file store', async t => {
	const dataDir = temporaryDirectory(t);
	// The drone's silence limit (2.5 intervals: 5 s) is longer than a restart and the first sweep take.
	const heartbeats = {...fastHeartbeats, heartbeatIntervalMs: 2000};
	const first = await startLarve({port: 0, store: 'file', dataDir, ...heartbeats, mode: 'queen'}, {log: silent, graceMs: 500});
	t.after(async () => first.stop());
	const drone = await startDrone(t, first, {allowExec: true});
	const port = Number(first.address.split(':')[1]);
	for (const queen of [first, undefined]) {
		// eslint-disable-next-line no-await-in-loop
		const current = queen ?? await startQueen(t, {port, store: 'file', dataDir, ...heartbeats});
		const seen: HiveEvent[] = [];
		const unsubscribe = current.hive!.subscribe(event => seen.push(event));
		// Three sweeps: longer than the drone's silence limit.
		// eslint-disable-next-line no-await-in-loop
		await waitFor(() => seen.filter(event => event.type === 'heartbeat.sweep').length >= 3, 'three heartbeat sweeps', 20_000);
		unsubscribe();
		assert.deepEqual(seen.filter(event => event.type === 'drone.registered'), [], 'the drone registered again: the queen\'s calls did not count as contact');
		// eslint-disable-next-line no-await-in-loop
		const task = await request(`${current.url}/submit_task?wait=true`, {body: {command: 'echo here'}});
		assert.equal(task.body.task.state, 'succeeded');
		assert.equal(task.body.task.drone, drone.name);
		if (queen) {
			// eslint-disable-next-line no-await-in-loop
			await queen.stop();
		}
	}
});

test('a drone\'s /healthz shows who it is but never its contact key, and a wrong key is not contact', async t => {
	const queen = await startQueen(t);
	const drone = await startDrone(t, queen, {allowExec: true, slots: 2, labels: {zone: 'a'}});
	const plain = await request(`${drone.url}/healthz`);
	assert.equal(plain.status, 200);
	assert.equal(plain.body.name, drone.name);
	assert.equal(plain.body.slots, 2);
	assert.equal(plain.body.allowExec, true);
	assert.deepEqual(plain.body.labels, {zone: 'a'});
	assert.match(plain.body.bootId, /^[\w-]{8,}$/);
	assert.equal('contactKey' in plain.body, false);
	assert.equal('contactKeyMatches' in plain.body, false, 'without a key, nothing is said about keys');
	const guess = await request(`${drone.url}/healthz`, {headers: {'x-hive-contact-key': 'a-guess-at-the-key-0123456789abcdef'}});
	assert.equal(guess.body.contactKeyMatches, false);
});

test('one drone is one member of the hive, whatever address it is registered under', async t => {
	const queen = await startQueen(t);
	const drone = await startDrone(t, queen, {allowExec: true, slots: 1});
	const port = drone.address.split(':')[1]!;
	for (const alias of [`127.1:${port}`, `127.000.000.001:${port}`, `0x7f.0.0.1:${port}`]) {
		// eslint-disable-next-line no-await-in-loop
		const answer = await request(`${queen.url}/register`, {body: {address: alias}});
		assert.equal(answer.status, 200, `${alias}: ${JSON.stringify(answer.body)}`);
		assert.equal(answer.body.name, drone.name, alias);
	}

	// Another name for the same machine is not an IP literal: the drone's boot id shows it is the same drone.
	const other = await request(`${queen.url}/register`, {body: {address: `localhost:${port}`}});
	assert.equal(other.status, 409, JSON.stringify(other.body));
	assert.equal(other.body.error, `localhost:${port} is ${drone.name}, already registered at ${drone.address} (the same drone process: the same boot id)`);
	assert.deepEqual((await request(`${queen.url}/healthz`)).body.drones, {[drone.address]: drone.name});
	const {drones} = (await request(`${queen.url}/drones`)).body;
	assert.equal(drones.length, 1);
	// A command placed now runs on the drone and ends: no task is stranded on an alias.
	for (let index = 0; index < 3; index++) {
		// eslint-disable-next-line no-await-in-loop
		const answer = await request(`${queen.url}/submit_task?wait=true`, {body: {command: `echo ${index}`}});
		assert.equal(answer.body.task.state, 'succeeded', JSON.stringify(answer.body));
		assert.equal(answer.body.task.drone, drone.name);
	}
});

test('a registration cannot rename or strip a live drone: what the drone says of itself decides', async t => {
	const queen = await startQueen(t);
	const drone = await startDrone(t, queen, {allowExec: true, slots: 2, labels: {zone: 'a'}});
	const claims: Array<[Record<string, unknown>, RegExp]> = [
		[{name: 'renamed'}, new RegExp(`is named ${drone.name}, not renamed`)],
		[{slots: 1}, /says its slots are 2, not 1/],
		[{allowExec: false}, /says it runs commands \(allowExec true\), not false/],
		[{labels: {zone: 'b'}}, /says its labels are \{"zone":"a"\}, not \{"zone":"b"\}/],
		[{bootId: 'forged-boot-id'}, /says its boot id is [\w-]+, not forged-boot-id/],
		[{contactKey: 'a-guess-at-the-key-0123456789abcdef'}, /does not hold the contact key of this registration/],
	];
	for (const [claim, message] of claims) {
		// eslint-disable-next-line no-await-in-loop
		const answer = await request(`${queen.url}/register`, {body: {address: drone.address, ...claim}});
		assert.equal(answer.status, 409, `${JSON.stringify(claim)}: ${JSON.stringify(answer.body)}`);
		assert.match(answer.body.error, message);
		assert.ok(answer.body.error.startsWith(`the drone at ${drone.address} `), answer.body.error);
	}

	// The seed's body, and a body that agrees with the drone, are accepted and change nothing.
	for (const body of [{address: drone.address}, {address: drone.address, name: drone.name, slots: 2, allowExec: true, labels: {zone: 'a'}}]) {
		// eslint-disable-next-line no-await-in-loop
		const answer = await request(`${queen.url}/register`, {body});
		assert.equal(answer.status, 200, JSON.stringify(answer.body));
		assert.equal(answer.body.name, drone.name);
		assert.equal('contactKey' in answer.body, false);
	}

	const {drones} = (await request(`${queen.url}/drones`)).body;
	assert.deepEqual(drones.map(({name, address, slots, allowExec, labels}: Record<string, unknown>) => ({name, address, slots, allowExec, labels})), [{name: drone.name, address: drone.address, slots: 2, allowExec: true, labels: {zone: 'a'}}]);
	const answer = await request(`${queen.url}/submit_task?wait=true`, {body: {command: 'echo still mine', selector: {zone: 'a'}}});
	assert.equal(answer.body.task.state, 'succeeded', JSON.stringify(answer.body));
	assert.equal(answer.body.task.drone, drone.name);
});

test('a drone too slow to answer the registration\'s callback is told to try again (504, Retry-After), not refused', async t => {
	const queen = await startQueen(t, {heartbeatTimeoutMs: 200});
	const slow = await fakeDrone(t);
	slow.hang();
	const answer = await request(`${queen.url}/register`, {body: {address: slow.address}});
	assert.equal(answer.status, 504, JSON.stringify(answer.body));
	assert.equal(answer.headers.get('retry-after'), '1');
	assert.equal(answer.body.error, `the drone at ${slow.address} did not answer in time: GET http://${slow.address}/healthz: timed out`);
	slow.release(500);
});

test('a contact key shows nowhere but in the store: not in logs (even at trace level), answers or events', async t => {
	const dataDir = temporaryDirectory(t);
	const queen = spawnLarve(t, ['--queen', '--port', '0', '--data-dir', dataDir, '--log-level', 'trace', '--heartbeat-interval', '0.1']);
	const queenUrl = await queen.url();
	const events = await followEvents(t, queenUrl);
	const drone = spawnLarve(t, ['--queen-host', queenUrl.replace('http://', ''), '--port', '0', '--log-level', 'trace', '--allow-exec']);
	await drone.url();
	await events.waitFor(event => event.type === 'heartbeat.sweep', 'a heartbeat sweep after the registration');
	const submitted = await request(`${queenUrl}/submit_task?wait=true`, {body: {command: 'echo done'}});
	assert.equal(submitted.body.task.state, 'succeeded');
	const answers = JSON.stringify([await request(`${queenUrl}/drones`), await request(`${queenUrl}/healthz`), await request(`${(await drone.url())}/healthz`)].map(answer => answer.body));
	for (const larve of [queen, drone]) {
		larve.child.kill('SIGTERM');
		// eslint-disable-next-line no-await-in-loop
		await larve.exited;
	}

	const files = readdirSync(dataDir, {recursive: true, encoding: 'utf8'}).map(file => path.join(dataDir, file)).filter(file => statSync(file).isFile());
	const stored = files.map(file => readFileSync(file, 'utf8')).join('\n');
	const keys = [...stored.matchAll(/"contactKey":"([\w-]+)"/g)].map(match => match[1]!);
	assert.ok(keys.length > 0, 'the store keeps the drone\'s contact key');
	for (const key of keys) {
		assert.ok(!queen.stderr.includes(key), 'the key is in the queen\'s log');
		assert.ok(!drone.stderr.includes(key), 'the key is in the drone\'s log');
		assert.ok(!answers.includes(key), 'the key is in an answer');
		assert.ok(!JSON.stringify(events.events).includes(key), 'the key is in an event');
	}
});

test('a registration that names a live drone at another address is refused, and the drone\'s contact key never goes there', async t => {
	const queen = await startQueen(t);
	const drone = await startDrone(t, queen);
	// A server that says only that it is a drone: no boot id, no name, no key of its own.
	const keysSeen: string[] = [];
	const impostor = http.createServer((request, response) => {
		const key = request.headers['x-hive-contact-key'];
		if (typeof key === 'string') {
			keysSeen.push(key);
		}

		response.writeHead(200, {'content-type': 'application/json'}).end('{"status":"Status.READY","mode":"Mode.DRONE","version":"x"}');
	});
	impostor.listen(0, '127.0.0.1');
	await once(impostor, 'listening');
	t.after(() => impostor.close());
	const address = `127.0.0.1:${(impostor.address() as AddressInfo).port}`;
	const answer = await request(`${queen.url}/register`, {body: {address, name: drone.name}});
	assert.equal(answer.status, 409);
	assert.match(answer.body.error, new RegExp(`${drone.name} is registered at ${drone.address}; only ${drone.name} itself can move its record`));
	const {body} = await request(`${queen.url}/drones`);
	assert.deepEqual(body.drones.map((each: {name: string; address: string}) => [each.name, each.address]), [[drone.name, drone.address]]);
	// Sweeps go by: the impostor is not in the hive, so no call (and no key) reaches it.
	let sweeps = 0;
	const unsubscribe = queen.hive!.subscribe(event => {
		sweeps += event.type === 'heartbeat.sweep' ? 1 : 0;
	});
	await waitFor(() => sweeps >= 3, 'three heartbeat sweeps');
	unsubscribe();
	assert.deepEqual(keysSeen, []);
});
