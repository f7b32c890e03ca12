import assert from 'node:assert/strict';
import {test} from 'node:test';
import type {Drone} from '../../source/model.js';
import {anyDrone, explainNoFit, pickDrone} from '../../source/queen/scheduler.js';

function drone(name: string, state: Drone['state'] = 'ready'): Drone {
	return {name, address: `127.0.0.1:${5000 + name.length}`, state, registeredAt: 0, lastSeen: 0, failedAttempts: 0, tasksDone: 0, lastError: undefined, slots: 2, running: 0, allowExec: false, labels: {}, bootId: undefined};
}

const none = new Set<string>();
const textTask = {kind: 'text', selector: {}} as const;

test('no drone, no pick', () => {
	assert.equal(pickDrone([], {task: textTask, exclude: none, random: Math.random}), undefined);
});

test('suspect drones and drones already tried are filtered out', () => {
	const drones = [drone('a', 'suspect'), drone('b'), drone('c')];
	assert.equal(pickDrone(drones, {task: textTask, exclude: new Set(['b']), random: () => 0})?.name, 'c');
	assert.equal(pickDrone(drones, {task: textTask, exclude: new Set(['b', 'c']), random: () => 0}), undefined);
});

test('ties are broken by the random source, uniformly', () => {
	const drones = [drone('a'), drone('b'), drone('c')];
	// random() * k < 1 replaces the choice: always with 0, never with 0.99.
	assert.equal(pickDrone(drones, {task: textTask, exclude: none, random: () => 0})?.name, 'c');
	assert.equal(pickDrone(drones, {task: textTask, exclude: none, random: () => 0.99})?.name, 'a');
	const counts = new Map<string, number>();
	for (let index = 0; index < 3000; index++) {
		const name = pickDrone(drones, {task: textTask, exclude: none, random: Math.random})!.name;
		counts.set(name, (counts.get(name) ?? 0) + 1);
	}

	for (const name of ['a', 'b', 'c']) {
		assert.ok(counts.get(name)! > 800, `${name} picked ${counts.get(name)} times of 3000`);
	}
});

test('a higher score wins over a tie', () => {
	const drones = [drone('a'), drone('bb'), drone('c')];
	assert.equal(pickDrone(drones, {task: textTask, exclude: none, random: () => 0}, candidate => candidate.name.length)?.name, 'bb');
});

const commandTask = {kind: 'command', selector: {}} as const;

test('command tasks go only to drones that allow exec and have a free slot', () => {
	const drones = [
		{...drone('no-exec'), allowExec: false},
		{...drone('full'), allowExec: true, slots: 1, running: 1},
		{...drone('free'), allowExec: true, slots: 2, running: 1},
	];
	assert.equal(pickDrone(drones, {task: commandTask, exclude: none, random: () => 0})?.name, 'free');
	// Text tasks take no slot and need no exec.
	assert.equal(pickDrone([drones[1]!], {task: textTask, exclude: none, random: () => 0})?.name, 'full');
});

test('a selector keeps a task to drones with all of its labels', () => {
	const drones: Drone[] = [{...drone('a'), labels: {zone: 'a', disk: 'ssd'}}, {...drone('b'), labels: {zone: 'b'}}];
	const task = {kind: 'text', selector: {zone: 'a', disk: 'ssd'}} as const;
	assert.equal(pickDrone(drones, {task, exclude: none, random: () => 0})?.name, 'a');
	assert.equal(pickDrone(drones, {task: {kind: 'text', selector: {zone: 'c'}}, exclude: none, random: () => 0}), undefined);
});

test('least-loaded prefers the fewest running tasks per slot; random ignores load', () => {
	const drones = [{...drone('busy'), slots: 2, running: 1}, {...drone('idle'), slots: 4, running: 1}];
	assert.equal(pickDrone(drones, {task: textTask, exclude: none, random: () => 0.99})?.name, 'idle');
	assert.equal(pickDrone(drones, {task: textTask, exclude: none, random: () => 0}, anyDrone)?.name, 'idle');
	assert.equal(pickDrone(drones, {task: textTask, exclude: none, random: () => 0.99}, anyDrone)?.name, 'busy');
});

test('when nothing fits, the reason counts drones by the first filter they fail', () => {
	const drones = [{...drone('a'), allowExec: false}, {...drone('b'), state: 'suspect' as const}, {...drone('c'), allowExec: true, slots: 1, running: 1}];
	assert.equal(explainNoFit(drones, {task: commandTask, exclude: none, random: Math.random}), '0/3 drones can take it: 1 do not run commands (no --allow-exec), 1 not ready, 1 have no free slot');
	assert.equal(explainNoFit([], {task: commandTask, exclude: none, random: Math.random}), 'no drone is registered');
});
