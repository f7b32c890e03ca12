import assert from 'node:assert/strict';
import {test} from 'node:test';
import {describeTaskLine, parseTaskLine} from '../../source/dashboard/prompt-syntax.js';
import {filterDrones, filterEvents, filterTasks, sortDrones, sortTasks} from '../../source/dashboard/rows.js';
import {drone, t0, task} from './fixtures.js';

test('the prompt\'s syntax: text, $ command, @selectors before either, \\ for text as typed; errors say the form', () => {
	assert.deepEqual(parseTaskLine('  hello world '), {task: {text: 'hello world'}});
	assert.deepEqual(parseTaskLine('$uname -a'), {task: {command: 'uname -a'}});
	assert.deepEqual(parseTaskLine('@zone=a @disk=ssd,gpu=no $ df -h'), {task: {command: 'df -h', selector: {zone: 'a', disk: 'ssd', gpu: 'no'}}});
	assert.deepEqual(parseTaskLine('@zone=a hi @there'), {task: {text: 'hi @there', selector: {zone: 'a'}}});
	assert.deepEqual(parseTaskLine('\\@home $ sweet'), {task: {text: '@home $ sweet'}});
	assert.deepEqual(parseTaskLine('$ echo a\necho b'), {task: {command: 'echo a\necho b'}});
	assert.match(parseTaskLine('@zone=a').error!, /no task after it/);
	assert.match(parseTaskLine('@=a x').error!, /@key=value/);
	assert.match(parseTaskLine('$  ').error!, /nothing after \$/);
	assert.equal(describeTaskLine({command: 'ls', selector: {zone: 'a', disk: 'ssd'}}), '$ ls @zone=a,disk=ssd');
});

test('the prompt\'s container syntax: $[rootfs limits] script, after selectors too; errors say the form; values are the queen\'s to judge', () => {
	assert.deepEqual(parseTaskLine('$[/srv/busybox] uname -a'), {task: {container: {rootfs: '/srv/busybox', command: ['sh', '-c', 'uname -a']}}});
	assert.deepEqual(parseTaskLine(' $[/srv/busybox  memory=64M cpus=0.5 pids=32 ]echo hi '), {task: {container: {rootfs: '/srv/busybox', command: ['sh', '-c', 'echo hi'], memory: '64M', cpus: 0.5, pids: 32}}});
	assert.deepEqual(parseTaskLine('@zone=a $[/srv/bb] echo hi'), {task: {container: {rootfs: '/srv/bb', command: ['sh', '-c', 'echo hi']}, selector: {zone: 'a'}}});
	assert.deepEqual(parseTaskLine('$[/srv/bb] echo a\necho [b]'), {task: {container: {rootfs: '/srv/bb', command: ['sh', '-c', 'echo a\necho [b]']}}});
	// Sent as typed: a relative rootfs, memory that does not parse, a fraction of a process are the queen's 400 to explain.
	assert.deepEqual(parseTaskLine('$[busybox memory=lots pids=1.5] true'), {task: {container: {rootfs: 'busybox', command: ['sh', '-c', 'true'], memory: 'lots', pids: 1.5}}});
	// The shell's own [ is still a command, with a blank after $.
	assert.deepEqual(parseTaskLine('$ [ -f /x ] && echo yes'), {task: {command: '[ -f /x ] && echo yes'}});
	assert.equal(parseTaskLine('$[/srv/bb echo hi').error, '$[ without ]: a container is $[/path/to/rootfs] command');
	assert.equal(parseTaskLine('$[] echo hi').error, '$[]: no rootfs: a container is $[/path/to/rootfs] command');
	assert.equal(parseTaskLine('$[memory=64M] echo hi').error, '$[memory=64M]: no rootfs: a container is $[/path/to/rootfs] command');
	assert.equal(parseTaskLine('$[/srv/bb disk=1G] echo hi').error, 'disk=1G in $[...]: the limits are memory=64M cpus=0.5 pids=32');
	assert.equal(parseTaskLine('$[/srv/bb memory=] echo hi').error, 'memory= in $[...]: the limits are memory=64M cpus=0.5 pids=32');
	assert.equal(parseTaskLine('$[/srv/bb cpus=half] echo hi').error, 'cpus=half: cpus is a number (cpus=0.5)');
	assert.equal(parseTaskLine('@zone=a $[/srv/bb]  ').error, 'nothing after $[/srv/bb] to run');
	assert.equal(describeTaskLine({container: {rootfs: '/srv/bb', command: ['sh', '-c', 'echo hi'], memory: '64M'}, selector: {zone: 'a'}}), '$[/srv/bb memory=64M] echo hi @zone=a');
	assert.equal(describeTaskLine({container: {rootfs: '/srv/bb', command: ['echo', 'hi there'], cpus: 0.5, pids: 8}}), '$[/srv/bb cpus=0.5 pids=8] echo \'hi there\'');
});

test('the drone filter: name, state and labels; the address only for a word that looks like one (/1 is not every 127.0.0.1)', () => {
	const drones = [
		drone(1, {labels: {zone: 'a'}}),
		drone(2, {state: 'suspect', labels: {zone: 'b'}}),
		drone(10, {cordoned: true}),
	];
	const names = (filter: string) => filterDrones(drones, filter).map(each => each.name);
	assert.deepEqual(names('1'), ['drone-1', 'drone-10']);
	assert.deepEqual(names('suspect'), ['drone-2']);
	assert.deepEqual(names('state:cordoned'), ['drone-10']);
	assert.deepEqual(names('zone=b'), ['drone-2']);
	assert.deepEqual(names('zone=a drone'), ['drone-1']);
	assert.deepEqual(names(':5002'), ['drone-2']);
	assert.deepEqual(names('127.0.0'), ['drone-1', 'drone-2', 'drone-10']);
	assert.deepEqual(names('nosuch:x'), []);
	assert.deepEqual(names(''), ['drone-1', 'drone-2', 'drone-10']);
});

test('the task filter: state: and drone: fields, other words anywhere in the row; events by their text', () => {
	const tasks = [
		task('aaa111', {state: 'failed', error: 'exit 3', drone: 'local-1'}),
		task('bbb222', {state: 'succeeded', text: 'say failed', drone: 'local-2'}),
		task('ccc333', {state: 'running', kind: 'command', text: null, command: 'sleep 9', drone: 'local-1'}),
		task('ddd444', {state: 'pending', kind: 'container', text: null, container: {rootfs: '/srv/bb', command: ['sh', '-c', 'sleep 9']}, drone: null}),
	];
	const ids = (filter: string) => filterTasks(tasks, filter).map(each => each.id);
	assert.deepEqual(ids('failed'), ['aaa111', 'bbb222']);
	assert.deepEqual(ids('state:fail'), ['aaa111']);
	assert.deepEqual(ids('drone:local-1 sleep'), ['ccc333']);
	assert.deepEqual(ids('sleep'), ['ccc333', 'ddd444']);
	assert.deepEqual(ids('/srv/bb'), ['ddd444']);
	assert.deepEqual(ids('command:sleep'), ['ccc333', 'ddd444']);
	assert.deepEqual(ids('kind:container'), ['ddd444']);
	assert.deepEqual(ids('id:bbb'), ['bbb222']);
	assert.deepEqual(filterEvents([{id: 1, time: '', tone: 'info', text: 'local-1 cordoned by me'}, {id: 2, time: '', tone: 'info', text: 'local-2 left'}], 'cordoned').map(entry => entry.id), [1]);
});

test('sorts: drones by any column, ties by name; tasks newest first by default, by state or drone on demand', () => {
	const drones = [drone(10, {failedAttempts: 1}), drone(2), drone(1, {failedAttempts: 1, state: 'suspect'})];
	assert.deepEqual(sortDrones(drones, {column: 'failed', descending: true}).map(each => each.name), ['drone-1', 'drone-10', 'drone-2']);
	assert.deepEqual(sortDrones(drones, {column: 'state', descending: false}).map(each => each.name), ['drone-2', 'drone-10', 'drone-1']);
	const tasks = [task('c', {state: 'running', submittedAt: new Date(t0 + 2).toISOString()}), task('b', {state: 'failed', drone: 'local-2'}), task('a', {state: 'running', drone: 'local-1'})];
	assert.deepEqual(sortTasks(tasks, {column: 'time', descending: true}).map(each => each.id), ['c', 'b', 'a']);
	assert.deepEqual(sortTasks(tasks, {column: 'time', descending: false}).map(each => each.id), ['a', 'b', 'c']);
	assert.deepEqual(sortTasks(tasks, {column: 'state', descending: false}).map(each => each.id), ['b', 'c', 'a']);
	assert.deepEqual(sortTasks(tasks, {column: 'drone', descending: true}).map(each => each.id), ['b', 'a', 'c']);
});
