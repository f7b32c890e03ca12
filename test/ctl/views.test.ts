import assert from 'node:assert/strict';
import {test} from 'node:test';
import type {DroneView, TaskView} from '../../source/client/queen-client.js';
import {describeTask, droneColumnsWithRuntimes, droneRow, duration, eventRow, hasRuntimes, taskRow, taskStatusLine} from '../../source/ctl/views.js';

const now = Date.parse('2030-01-01T12:00:00.000Z');
const ago = (ms: number) => new Date(now - ms).toISOString();

function task(change: Partial<TaskView> = {}): TaskView {
	return {
		id: '3f2a9c1e-0000-4000-8000-000000000001',
		kind: 'command',
		text: null,
		command: 'make test',
		selector: {},
		state: 'running',
		drone: 'drone-1',
		submittedAt: ago(5000),
		updatedAt: ago(4000),
		attempts: 1,
		retries: 0,
		reason: null,
		error: null,
		result: null,
		cancelled: null,
		...change,
	};
}

function drone(change: Partial<DroneView> = {}): DroneView {
	return {
		name: 'drone-1',
		address: '127.0.0.1:5001',
		state: 'ready',
		registeredAt: ago(3 * 3_600_000),
		lastSeen: ago(100),
		lastSeenAgoMs: 100,
		failedAttempts: 0,
		tasksDone: 12,
		lastError: null,
		slots: 4,
		running: 1,
		allowExec: true,
		labels: {zone: 'a', disk: 'ssd'},
		cordoned: false,
		drain: null,
		...change,
	};
}

test('a task row: 8 characters of the id, state, drone, age, kind, command', () => {
	assert.deepEqual(taskRow(task(), now), ['3f2a9c1e', 'running', 'drone-1', '5s', 'command', 'make test']);
	assert.deepEqual(taskRow(task({kind: 'text', text: 'hi', command: null, drone: null, state: 'pending'}), now), ['3f2a9c1e', 'pending', '-', '5s', 'text', 'hi']);
});

test('a task\'s status line says where it went and why it waits, failed or was cancelled', () => {
	const id = '3f2a9c1e-0000-4000-8000-000000000001';
	assert.equal(taskStatusLine(task({state: 'pending', drone: null, reason: 'drone-1 is cordoned'})), `task ${id} pending: drone-1 is cordoned`);
	assert.equal(taskStatusLine(task({state: 'succeeded', result: {exitCode: 0, signal: null, durationMs: 1234, timedOut: false}})), `task ${id} succeeded on drone-1 (exit 0, 1.2s)`);
	assert.equal(taskStatusLine(task({state: 'failed', error: 'boom', result: {exitCode: null, signal: 'SIGKILL', durationMs: 20, timedOut: false}})), `task ${id} failed on drone-1 (20ms): boom`);
	assert.equal(taskStatusLine(task({state: 'cancelled', cancelled: {by: 'alice@laptop', at: ago(0)}})), `task ${id} cancelled on drone-1 by alice@laptop`);
});

test('a described task has a field a line and its output indented, with escape sequences dropped', () => {
	const text = describeTask(task({state: 'succeeded', result: {exitCode: 0, signal: null, durationMs: 5, timedOut: false, stdout: 'one\n\u001B[2Jtwo\n', stderr: ''}}), now);
	assert.match(text, /^ID: +3f2a9c1e-0000-4000-8000-000000000001\n/);
	assert.match(text, /\nCommand: +make test\n/);
	assert.match(text, /\nSubmitted: +2030-01-01T11:59:55.000Z \(5s ago\)\n/);
	assert.match(text, /\nExit code: +0\n/);
	assert.ok(!text.includes('Signal'));
	assert.ok(text.endsWith('Stdout:\n  one\n  [2Jtwo\n'), text);
	assert.ok(!text.includes('Stderr'));
	assert.ok(!text.includes('Reason'), 'empty fields are left out');
});

const container = {rootfs: '/srv/busybox', command: ['sh', '-c', 'echo "hi there"'], env: {GREETING: 'hi there', PLAIN: 'x'}, workdir: '/tmp', memory: '64M', cpus: 0.5, pids: 32};

test('a container task: its row and its submitted event say its root, limits and command as a shell reads it back', () => {
	const row = taskRow(task({kind: 'container', command: null, container}), now);
	assert.deepEqual(row.slice(4), ['container', '$[/srv/busybox memory=64M cpus=0.5 pids=32] echo "hi there"']);
	assert.deepEqual(eventRow({time: ago(0), type: 'task.submitted', task: task({kind: 'container', command: null, container: {rootfs: '/r', command: ['true']}})}, now)[3], 'container: $[/r] true');
});

test('a described container task: its root, command, environment, workdir and limits, a field each', () => {
	const text = describeTask(task({kind: 'container', command: null, container}), now);
	assert.match(text, /\nKind: +container\nRootfs: +\/srv\/busybox\nCommand: +sh -c 'echo "hi there"'\nEnv: +GREETING='hi there' PLAIN=x\nWorkdir: +\/tmp\nLimits: +memory=64M cpus=0\.5 pids=32\nSelector:/);
	const bare = describeTask(task({kind: 'container', command: null, container: {rootfs: '/r', command: ['true']}}), now);
	assert.match(bare, /\nRootfs: +\/r\nCommand: +true\nLimits: +none\n/);
	assert.ok(!bare.includes('Env') && !bare.includes('Workdir'), bare);
});

test('a drone row: STATUS says cordoned or draining, RUNNING is running/slots', () => {
	assert.deepEqual(droneRow(drone(), now), ['drone-1', 'ready', '127.0.0.1:5001', '1/4', '12', 'yes', 'zone=a,disk=ssd', '3h']);
	assert.equal(droneRow(drone({cordoned: true}), now)[1], 'ready,cordoned');
	assert.equal(droneRow(drone({cordoned: true, drain: {startedAt: ago(0), deadline: null}}), now)[1], 'ready,draining');
	assert.equal(droneRow(drone({state: 'suspect', labels: {}}), now)[6], '-');
});

test('RUNTIMES, after EXEC, only for a hive where a drone has one', () => {
	assert.equal(hasRuntimes([drone(), drone({runtimes: []})]), false);
	assert.equal(hasRuntimes([drone(), drone({runtimes: ['runc']})]), true);
	assert.deepEqual(droneRow(drone({runtimes: ['runc']}), now, true), ['drone-1', 'ready', '127.0.0.1:5001', '1/4', '12', 'yes', 'runc', 'zone=a,disk=ssd', '3h']);
	assert.equal(droneRow(drone(), now, true)[6], '-');
	assert.equal(droneColumnsWithRuntimes.length, droneRow(drone(), now, true).length);
});

test('event rows name their object and say what happened, the new ones of issue #12 too', () => {
	const time = ago(7000);
	assert.deepEqual(eventRow({time, type: 'drone.cordoned', drone: 'drone-1', address: 'x', by: 'alice@laptop'}, now), ['7s', 'drone.cordoned', 'drone/drone-1', 'cordoned by alice@laptop']);
	assert.deepEqual(eventRow({time, type: 'drone.draining', drone: 'drone-1', address: 'x', by: 'bob@h', deadline: new Date(now + 3_600_000).toISOString()}, now), ['7s', 'drone.draining', 'drone/drone-1', 'draining by bob@h deadline in 60m']);
	assert.deepEqual(eventRow({time, type: 'drone.drained', drone: 'drone-1', address: 'x'}, now)[3], 'drained: nothing runs there');
	assert.deepEqual(eventRow({time, type: 'task.cancelled', task: task({state: 'cancelled'}), by: 'alice@laptop'}, now), ['7s', 'task.cancelled', 'task/3f2a9c1e', 'cancelled by alice@laptop']);
	assert.deepEqual(eventRow({time, type: 'task.failed', task: task({state: 'failed', error: 'exited with 2'})}, now)[3], 'failed on drone-1: exited with 2');
	assert.deepEqual(eventRow({time, type: 'task.requeued', task: task({state: 'pending', drone: null}), reason: 'drone-2 died taking it'}, now)[3], 'pending: drone-2 died taking it');
	assert.deepEqual(eventRow({time, type: 'task.submitted', task: task({state: 'pending', drone: null})}, now)[3], 'command: make test');
	assert.deepEqual(eventRow({time, type: 'something.new'}, now), ['7s', 'something.new', '-', '']);
});

test('durations read short', () => {
	assert.equal(duration(12), '12ms');
	assert.equal(duration(1234), '1.2s');
	assert.equal(duration(184_000), '3m4s');
});
