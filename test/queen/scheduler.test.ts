import assert from 'node:assert/strict';
import {test} from 'node:test';
import type {Drone} from '../../source/queen/hive.js';
import {pickDrone} from '../../source/queen/scheduler.js';

function drone(name: string, state: Drone['state'] = 'ready'): Drone {
	return {name, address: `127.0.0.1:${5000 + name.length}`, state, registeredAt: 0, lastSeen: 0, failedAttempts: 0, tasksDone: 0, lastError: undefined};
}

const none = new Set<string>();

test('no drone, no pick', () => {
	assert.equal(pickDrone([], {exclude: none, random: Math.random}), undefined);
});

test('suspect drones and drones already tried are filtered out', () => {
	const drones = [drone('a', 'suspect'), drone('b'), drone('c')];
	assert.equal(pickDrone(drones, {exclude: new Set(['b']), random: () => 0})?.name, 'c');
	assert.equal(pickDrone(drones, {exclude: new Set(['b', 'c']), random: () => 0}), undefined);
});

test('ties are broken by the random source, uniformly', () => {
	const drones = [drone('a'), drone('b'), drone('c')];
	// random() * k < 1 replaces the choice: always with 0, never with 0.99.
	assert.equal(pickDrone(drones, {exclude: none, random: () => 0})?.name, 'c');
	assert.equal(pickDrone(drones, {exclude: none, random: () => 0.99})?.name, 'a');
	const counts = new Map<string, number>();
	for (let index = 0; index < 3000; index++) {
		const name = pickDrone(drones, {exclude: none, random: Math.random})!.name;
		counts.set(name, (counts.get(name) ?? 0) + 1);
	}

	for (const name of ['a', 'b', 'c']) {
		assert.ok(counts.get(name)! > 800, `${name} picked ${counts.get(name)} times of 3000`);
	}
});

test('a higher score wins over a tie', () => {
	const drones = [drone('a'), drone('bb'), drone('c')];
	assert.equal(pickDrone(drones, {exclude: none, random: () => 0}, undefined, candidate => candidate.name.length)?.name, 'bb');
});
