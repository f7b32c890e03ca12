import assert from 'node:assert/strict';
import {test} from 'node:test';
import {Box} from 'ink';
import {render} from 'ink-testing-library';
import type {ReactNode} from 'react';
import {DroneTable} from '../../source/dashboard/DroneTable.js';
import {EventLog} from '../../source/dashboard/EventLog.js';
import {Header, link} from '../../source/dashboard/Header.js';
import {HiveStore} from '../../source/dashboard/hive-store.js';
import {Prompt} from '../../source/dashboard/Prompt.js';
import {TaskDetail} from '../../source/dashboard/TaskDetail.js';
import {TaskList} from '../../source/dashboard/TaskList.js';
import {clip, fit} from '../../source/dashboard/format.js';
import {drone, event, t0, task} from './fixtures.js';
import {plain} from './frame.js';
import stringWidth from 'string-width';

process.env.TZ = 'UTC';

function frame(node: ReactNode): string {
	const {lastFrame, unmount} = render(<Box flexDirection="column">{node}</Box>);
	const text = plain(lastFrame());
	unmount();
	return text;
}

function headerStore() {
	let now = t0;
	const store = new HiveStore({queenHost: '127.0.0.1:8081,127.0.0.1:8082', now: () => now, flushMs: 60_000});
	const advance = (ms: number) => {
		now += ms;
	};

	return {store, advance};
}

/** The header's frame; its colours are not in it (Ink writes none off a terminal): `link` says them. */
function header(store: HiveStore, width = 80): {text: string} {
	return {text: frame(<Header hive={store.getSnapshot()} version="9.9.9" width={width}/>)};
}

const leaderA = {address: '127.0.0.1:8081', version: '0.1.0', role: 'leader', leader: '127.0.0.1:8081', epoch: 12} as const;

test('Header: version, uptime and the queen that leads; drones ready/total, tasks dispatched and rate, last sweep', () => {
	const {store, advance} = headerStore();
	store.setDrones({drones: [drone(0), drone(1, {state: 'suspect', failedAttempts: 2})], maxRetry: 3, heartbeatIntervalMs: 1000}, t0);
	store.pushEvent(event('heartbeat.sweep', {checked: 2, failed: 1, durationMs: 4}));
	store.pushEvent(event('task.dispatched', {task: task('a')}));
	store.setQueen(leaderA);
	store.setStatus(true);
	advance(65_000);
	store.flush();
	const {text} = header(store);
	assert.equal(text, [
		'Hive  v0.1.0  up 1m05s  ● leader 127.0.0.1:8081  epoch 12',
		'drones 1/2 ready  tasks 1 dispatched, 0.0/s  heartbeats 2, 1 failed, max 4ms',
	].join('\n'));
	assert.equal(link(store.getSnapshot()).color, 'green');

	// A queen alone (no shared store) leads itself and has no epoch; one too old to say looks the same.
	store.setQueen({address: '127.0.0.1:8080', version: '0.1.0', role: 'leader', leader: '127.0.0.1:8080', epoch: null});
	store.flush();
	assert.equal(header(store).text.split('\n')[0], 'Hive  v0.1.0  up 1m05s  ● leader 127.0.0.1:8080');
	store.setQueen({address: '127.0.0.1:8080', version: '0.0.9', role: undefined, leader: '127.0.0.1:8080', epoch: null});
	store.flush();
	assert.equal(header(store).text.split('\n')[0], 'Hive  v0.0.9  up 1m05s  ● leader 127.0.0.1:8080');
	store.close();
});

test('Header: read through a follower, it names both, and fits 80 columns; narrower, it is cut with an ellipsis', () => {
	const {store} = headerStore();
	store.setQueen({address: '127.0.0.1:8082', version: '0.1.0', role: 'follower', leader: '127.0.0.1:8081', epoch: 12});
	store.setStatus(true);
	store.flush();
	const {text} = header(store);
	assert.equal(text.split('\n')[0], 'Hive  v0.1.0  up 0.0s  ● via 127.0.0.1:8082 → leader 127.0.0.1:8081  epoch 12');
	assert.ok(stringWidth(text.split('\n')[0]!) <= 80);
	assert.equal(link(store.getSnapshot()).color, 'green');
	assert.equal(header(store, 60).text.split('\n')[0], 'Hive  v0.1.0  up 0.0s  ● via 127.0.0.1:8082 → leader 127.0.…');
	store.close();
});

test('Header: no leader while a failover is under way (yellow), and since when the panes show the hive as it was', () => {
	const {store, advance} = headerStore();
	store.setQueen({...leaderA, address: '127.0.0.1:8082', role: 'follower'});
	store.setStatus(true);
	store.flush();
	advance(5000);
	store.setQueen({address: '127.0.0.1:8082', version: '0.1.0', role: 'follower', leader: null, epoch: null});
	store.setStatus(false, 'no leader (127.0.0.1:8082 says)');
	store.flush();
	const {text} = header(store);
	assert.equal(text.split('\n')[0], 'Hive  v0.1.0  up 5.0s  ◌ no leader since 12:00:05 (via 127.0.0.1:8082)');
	assert.equal(link(store.getSnapshot()).color, 'yellow');
	assert.equal(store.getSnapshot().staleSince, t0 + 5000);

	// The next leader: connected again, nothing stale.
	store.setQueen({address: '127.0.0.1:8082', version: '0.1.0', role: 'follower', leader: '127.0.0.1:8083', epoch: 13});
	store.setStatus(true);
	store.flush();
	assert.equal(header(store).text.split('\n')[0], 'Hive  v0.1.0  up 5.0s  ● via 127.0.0.1:8082 → leader 127.0.0.1:8083  epoch 13');
	assert.equal(store.getSnapshot().staleSince, undefined);
	store.close();
});

test('Header: no queen answers (red), with when it was lost; before any answered, where it is connecting', () => {
	const {store, advance} = headerStore();
	assert.equal(header(store).text.split('\n')[0], 'Hive  v9.9.9  up 0.0s  ○ connecting to 127.0.0.1:8081,127.0.0.1:8082…');
	store.setQueen(leaderA);
	store.setStatus(true);
	store.flush();
	advance(2000);
	store.setStatus(false, '127.0.0.1:8081, 127.0.0.1:8082: ECONNREFUSED');
	store.flush();
	const {text} = header(store);
	assert.equal(text.split('\n')[0], 'Hive  v0.1.0  up 2.0s  ○ lost at 12:00:02: 127.0.0.1:8081, 127.0.0.1:8082: ECON…');
	assert.equal(header(store, 100).text.split('\n')[0], 'Hive  v0.1.0  up 2.0s  ○ lost at 12:00:02: 127.0.0.1:8081, 127.0.0.1:8082: ECONNREFUSED');
	assert.equal(link(store.getSnapshot()).color, 'red');
	store.close();
});

test('DroneTable: state as a word (colour is extra), heartbeat age, failed attempts as n/m, last error', () => {
	const drones = [
		drone(0),
		drone(1, {state: 'suspect', failedAttempts: 2, lastError: 'ECONNREFUSED'}),
		drone(2, {cordoned: true}),
		drone(3, {cordoned: true, drain: {startedAt: '2026-01-01T12:00:00.000Z', deadline: null}}),
		drone(4, {state: 'suspect', cordoned: true}),
	];
	assert.equal(frame(<DroneTable drones={drones} total={5} maxRetry={3} now={t0 + 1500} width={80} rows={5} offset={0} focused={false} filter="" filtering={false}/>), [
		'Drones 5  1-5 of 5',
		'NAME         ADDRESS               STATE      SEEN FAILED  TASKS LAST ERROR',
		'drone-0      127.0.0.1:5000        ready      1.5s    0/3      0',
		'drone-1      127.0.0.1:5001        suspect    1.5s    2/3      0 ECONNREFUSED',
		'drone-2      127.0.0.1:5002        cordoned   1.5s    0/3      0',
		'drone-3      127.0.0.1:5003        draining   1.5s    0/3      0',
		'drone-4      127.0.0.1:5004        suspect    1.5s    0/3      0',
	].join('\n'));
});

test('DroneTable: with hundreds of drones it shows a window of rows and the title still counts them all', () => {
	const many = Array.from({length: 300}, (_, index) => drone(index));
	assert.equal(frame(<DroneTable drones={many} total={300} maxRetry={3} now={t0 + 12_000} width={66} rows={3} offset={297} focused filter="" filtering={false}/>), [
		'Drones 300  298-300 of 300',
		'NAME         ADDRESS               STATE      SEEN FAILED  TASKS',
		'drone-297    127.0.0.1:5297        ready       12s    0/3      0',
		'drone-298    127.0.0.1:5298        ready       12s    0/3      0',
		'drone-299    127.0.0.1:5299        ready       12s    0/3      0',
	].join('\n'));
});

test('DroneTable: a filter says how many match of how many; slots and labels show only when drones have them', () => {
	const drones = [drone(7, {slots: 4, running: 1, labels: {zone: 'a'}})];
	assert.equal(frame(<DroneTable drones={drones} total={12} maxRetry={3} now={t0} width={100} rows={1} offset={0} focused={false} filter="7" filtering/>), [
		'Drones 12  /7▏  (1 of 12 match)  1-1 of 1',
		'NAME         ADDRESS               STATE      SEEN FAILED  TASKS RUN/SLOTS LABELS',
		'drone-7      127.0.0.1:5007        ready      0.0s    0/3      0       1/4 zone=a',
	].join('\n'));
});

test('TaskList: time, id, text (or command), drone, state and outcome; the selected row can be shown', () => {
	const tasks = [
		task('0123456789ab', {text: 'hello', state: 'succeeded'}),
		{...task('fedcba9876', {command: 'uname -a', state: 'failed', drone: null, error: 'no drone'}), text: undefined as unknown as string},
	];
	const {lastFrame, unmount} = render(<TaskList tasks={tasks} width={80} rows={2} offset={0} selected={1} focused/>);
	assert.equal(plain(lastFrame()), [
		'Tasks  1-2 of 2  (Enter: details)',
		'TIME     ID       TASK                    DRONE        STATE      OUTCOME',
		'12:00:00 01234567 hello                   drone-0      succeeded',
		'12:00:00 fedcba98 $ uname -a              -            failed     no drone',
	].join('\n'));
	unmount();
});

test('EventLog: the newest lines that fit', () => {
	const entries = [1, 2, 3].map(id => ({id, time: '12:00:0' + id, tone: 'info' as const, text: `line ${id}`}));
	assert.equal(frame(<EventLog entries={entries} width={40} rows={2}/>), 'Events (last 2)\n12:00:02 line 2\n12:00:03 line 3');
});

test('Prompt: the line being typed, then the outcome of the last task or the keys', () => {
	assert.equal(frame(<Prompt value="hello" cursor={5} focused width={80} outcome={undefined}/>), '› hello\nEnter submit  ↑↓ history  Tab focus  / filter  ? keys  Ctrl-C quit');
	assert.equal(frame(<Prompt value="" cursor={0} focused width={80} outcome={{tone: 'bad', text: '✗ "hi": no drone registered'}}/>), '›\n✗ "hi": no drone registered');
});

test('TaskDetail: the record, then the output of a command task', () => {
	const record = {...task('abc', {kind: 'command', command: 'echo hi', state: 'succeeded', result: {exitCode: 0, stdout: 'hi\nthere\n', stderr: '', durationMs: 12, signal: null, timedOut: false}}), text: undefined as unknown as string};
	assert.equal(frame(<TaskDetail task={record} width={60} rows={14}/>), [
		'Task abc  (Esc: back)',
		'id         abc',
		'kind       command',
		'command    echo hi',
		'state      succeeded',
		'drone      drone-0',
		'submitted  2030-01-01T12:00:00.000Z',
		'updated    2030-01-01T12:00:00.000Z',
		'attempts   1',
		'exit code  0',
		'duration   12 ms',
		'── stdout ──',
		'hi',
		'there',
	].join('\n'));
});

test('clip cuts like fit, without padding (blanks at the end of a line cost Ink a styled character each)', () => {
	assert.equal(clip('drone-1 left', 20), 'drone-1 left');
	assert.equal(clip('drone-1 left   ', 20), 'drone-1 left');
	assert.equal(clip('drone-1 heartbeat failed', 10), 'drone-1 h…');
	assert.equal(clip('a\tb', 0), '');
	assert.equal(fit('drone-1', 9), 'drone-1  ');
});

test('What a task carries reaches no terminal as a control sequence: retitles, blinking, cursor moves and bells are stripped', () => {
	const hostile = '\u001B]2;PWNED\u0007\u001B[5mblink\u001B[25m\u001B[2J\u001B[Hok\u0008\u009B31mx\u202Eevil\r\nend';
	const tasks = [task('0123456789ab', {text: hostile, state: 'failed', error: `\u001B]0;ERR\u0007boom\u0007`})];
	const {lastFrame, unmount} = render(<TaskList tasks={tasks} width={100} rows={1} offset={0} selected={0} focused={false}/>);
	const raw = lastFrame() ?? '';
	unmount();
	// Ink's own colours are SGR sequences (`ESC [ … m`); nothing else may reach the terminal.
	const foreign = raw.replaceAll(/\u001B\[[\d;]*m/g, '');
	assert.doesNotMatch(foreign, /[\u0000-\u0009\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/);
	assert.doesNotMatch(raw, /\u001B\[5m/);
	assert.match(plain(raw), /blinkok ?x ?evil end/);
	assert.match(plain(raw), /boom/);
	assert.doesNotMatch(plain(raw), /PWNED|ERR/);
});

test('Wide characters (CJK, emoji) keep the columns aligned: every row is as wide as the terminal allows, no wider', () => {
	const tasks = [
		task('0123456789ab', {text: 'hello', state: 'succeeded'}),
		task('1123456789ab', {text: '你好世界，这是一个很长的任务文本', state: 'succeeded'}),
		task('2123456789ab', {text: '🐝🐝🐝 bees 🐝🐝🐝🐝🐝🐝🐝🐝🐝', state: 'succeeded'}),
	];
	const {lastFrame, unmount} = render(<TaskList tasks={tasks} width={80} rows={3} offset={0} selected={0} focused={false}/>);
	const lines = plain(lastFrame()).split('\n').slice(2);
	unmount();
	const droneColumn = (line: string) => stringWidth(line.slice(0, line.indexOf('drone-0')));
	assert.equal(lines.length, 3);
	for (const line of lines) {
		assert.ok(stringWidth(line) <= 80, `wider than 80: ${line}`);
		assert.equal(droneColumn(line), droneColumn(lines[0]!), `columns shifted: ${line}`);
	}

	assert.equal(stringWidth(fit('你好世界', 5)), 5);
	assert.equal(fit('你好世界', 5), '你好…');
	assert.equal(fit('🐝', 3), '🐝 ');
});
