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
import {taskViewLines} from '../../source/dashboard/task-lines.js';
import {TaskView} from '../../source/dashboard/TaskView.js';
import {TaskList} from '../../source/dashboard/TaskList.js';
import {clip, fit} from '../../source/dashboard/format.js';
import {drone, event, t0, task} from './fixtures.js';
import {plain} from './frame.js';
import {rawFrame} from './render.js';
import stringWidth from 'string-width';

process.env.TZ = 'UTC';

/** What `node` shows, as the eye sees it, on a terminal `columns` wide. */
function frame(node: ReactNode, columns = 100): string {
	return plain(rawFrame(<Box flexDirection="column">{node}</Box>, columns));
}

function headerStore() {
	let now = t0;
	const store = new HiveStore({queenHost: '127.0.0.1:8081,127.0.0.1:8082', now: () => now, flushMs: 60_000});
	const advance = (ms: number) => {
		now += ms;
	};

	return {store, advance};
}

/**
The header's frame; its colours are not in it (Ink writes none off a terminal): `link` says them.
`lastUpdateAt` is given here, not left to the store: what the header makes of it is tested, not when the store sets it.
*/
function header(store: HiveStore, width = 80, lastUpdateAt?: number): {text: string} {
	return {text: frame(<Header hive={{...store.getSnapshot(), lastUpdateAt}} version="9.9.9" width={width}/>, width)};
}

const leaderA = {address: '127.0.0.1:8081', version: '0.1.0', role: 'leader', leader: '127.0.0.1:8081', epoch: 12} as const;

test('Header: version, the queen that leads and its own uptime; drones ready/total, tasks dispatched and rate, last sweep', () => {
	const {store, advance} = headerStore();
	store.setDrones({drones: [drone(0), drone(1, {state: 'suspect', failedAttempts: 2})], maxRetry: 3, heartbeatIntervalMs: 1000}, t0);
	store.pushEvent(event('heartbeat.sweep', {checked: 2, failed: 1, durationMs: 4}));
	store.pushEvent(event('task.dispatched', {task: task('a')}));
	// The queen started 10 minutes before the dashboard: its uptime, not the dashboard's.
	store.setQueen({...leaderA, startedAt: new Date(t0 - 600_000).toISOString()});
	store.setStatus(true);
	advance(65_000);
	store.flush();
	const {text} = header(store);
	assert.equal(text, [
		'Hive v0.1.0  ● leader 127.0.0.1:8081  epoch 12  up 11m05s',
		'drones 1/2 ready  tasks 1 dispatched, 0.0/s  heartbeats 2, 1 failed, max 4ms',
	].join('\n'));
	assert.equal(link(store.getSnapshot()).color, 'green');

	// A queen alone (no shared store) leads itself and has no epoch; one too old to say its start has no uptime.
	store.setQueen({address: '127.0.0.1:8080', version: '0.1.0', role: 'leader', leader: '127.0.0.1:8080', epoch: null, startedAt: new Date(t0 + 5000).toISOString()});
	store.flush();
	assert.equal(header(store).text.split('\n')[0], 'Hive v0.1.0  ● leader 127.0.0.1:8080  up 1m00s');
	store.setQueen({address: '127.0.0.1:8080', version: '0.0.9', role: undefined, leader: '127.0.0.1:8080', epoch: null});
	store.flush();
	assert.equal(header(store).text.split('\n')[0], 'Hive v0.0.9  ● leader 127.0.0.1:8080');
	store.close();
});

test('Header: read through a follower, it names both, and fits 80 columns; narrower, it is cut with an ellipsis', () => {
	const {store} = headerStore();
	store.setQueen({address: '127.0.0.1:8082', version: '0.1.0', role: 'follower', leader: '127.0.0.1:8081', epoch: 12, startedAt: new Date(t0).toISOString()});
	store.setStatus(true);
	store.flush();
	const {text} = header(store);
	assert.equal(text.split('\n')[0], 'Hive v0.1.0  ● via 127.0.0.1:8082 → leader 127.0.0.1:8081  epoch 12  up 0.0s');
	assert.ok(stringWidth(text.split('\n')[0]!) <= 80);
	assert.equal(link(store.getSnapshot()).color, 'green');
	assert.equal(header(store, 60).text.split('\n')[0], 'Hive v0.1.0  ● via 127.0.0.1:8082 → leader 127.0.0.1:8081  …');
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
	assert.equal(text.split('\n')[0], 'Hive v0.1.0  ◌ no leader since 12:00:05 (via 127.0.0.1:8082)');
	assert.equal(link(store.getSnapshot()).color, 'yellow');
	assert.equal(store.getSnapshot().staleSince, t0 + 5000);

	// The next leader: connected again, nothing stale.
	store.setQueen({address: '127.0.0.1:8082', version: '0.1.0', role: 'follower', leader: '127.0.0.1:8083', epoch: 13});
	store.setStatus(true);
	store.flush();
	assert.equal(header(store).text.split('\n')[0], 'Hive v0.1.0  ● via 127.0.0.1:8082 → leader 127.0.0.1:8083  epoch 13');
	assert.equal(store.getSnapshot().staleSince, undefined);
	store.close();
});

test('Header: no queen answers (red): when it was lost, how old the last update is, and why; before any answered, where it is connecting', () => {
	const {store, advance} = headerStore();
	assert.equal(header(store).text.split('\n')[0], 'Hive v9.9.9  ○ connecting to 127.0.0.1:8081,127.0.0.1:8082…');
	store.setQueen({...leaderA, startedAt: new Date(t0).toISOString()});
	store.setStatus(true);
	store.flush();
	advance(2000);
	store.setStatus(false, 'GET http://127.0.0.1:8081/events: ECONNREFUSED');
	store.flush();
	advance(12_000);
	store.tick();
	store.flush();
	assert.equal(header(store, 80, t0 + 1500).text, [
		'Hive v0.1.0  ○ lost at 12:00:02 · last update 12s ago: ECONNREFUSED',
		'drones 0/0 ready  tasks 0 dispatched, 0.0/s',
	].join('\n'));
	assert.equal(link(store.getSnapshot()).color, 'red');

	// A reason too long for line 1 goes on over line 2 (in place of the counts, stale anyway): read whole at 80 columns.
	store.setStatus(false, 'the queen refused the token (401): give the hive\'s token (HIVE_TOKEN, --token-file)');
	store.flush();
	assert.equal(header(store, 80, t0 + 1500).text, [
		'Hive v0.1.0  ○ lost at 12:00:02 · last update 12s ago: the queen refused the',
		'token (401): give the hive\'s token (HIVE_TOKEN, --token-file)',
	].join('\n'));
	assert.equal(header(store, 200, t0 + 1500).text, [
		'Hive v0.1.0  ○ lost at 12:00:02 · last update 12s ago: the queen refused the token (401): give the hive\'s token (HIVE_TOKEN, --token-file)',
		'drones 0/0 ready  tasks 0 dispatched, 0.0/s',
	].join('\n'));
	store.close();
});

test('Header: a wrong token from the start says so plainly, whole at 80 columns', () => {
	const {store} = headerStore();
	store.setStatus(false, 'the queen refused the token (401): give the hive\'s token (HIVE_TOKEN, --token-file)');
	store.flush();
	assert.equal(header(store).text, [
		'Hive v9.9.9  ○ the queen refused the token (401): give the hive\'s token',
		'(HIVE_TOKEN, --token-file)',
	].join('\n'));
	store.close();
});

const byName = {column: 'name', descending: false} as const;
const newestFirst = {column: 'time', descending: true} as const;

/** The table's props that most tests leave as they are. */
const table = {selected: undefined, focused: false, filter: '', filtering: false, sort: byName, stale: false} as const;

test('DroneTable: state as a word (colour is extra), heartbeat age, failed attempts as n/m, last error', () => {
	const drones = [
		drone(0),
		drone(1, {state: 'suspect', failedAttempts: 2, lastError: 'ECONNREFUSED'}),
		drone(2, {cordoned: true}),
		drone(3, {cordoned: true, drain: {startedAt: '2026-01-01T12:00:00.000Z', deadline: null}}),
		drone(4, {state: 'suspect', cordoned: true}),
	];
	assert.equal(frame(<DroneTable {...table} drones={drones} total={5} maxRetry={3} now={t0 + 1500} width={80} rows={5} offset={0}/>), [
		'Drones 5  1-5 of 5',
		'NAME↑   ADDRESS        STATE     SEEN FAILED TASKS LAST ERROR',
		'drone-0 127.0.0.1:5000 ready     1.5s    0/3     0',
		'drone-1 127.0.0.1:5001 suspect   1.5s    2/3     0 ECONNREFUSED',
		'drone-2 127.0.0.1:5002 cordoned  1.5s    0/3     0',
		'drone-3 127.0.0.1:5003 draining  1.5s    0/3     0',
		'drone-4 127.0.0.1:5004 suspect   1.5s    0/3     0',
	].join('\n'));
});

test('DroneTable: with hundreds of drones it shows a window of rows and the title still counts them all', () => {
	const many = Array.from({length: 300}, (_, index) => drone(index));
	assert.equal(frame(<DroneTable {...table} drones={many} total={300} maxRetry={3} now={t0 + 12_000} width={66} rows={3} offset={297} focused/>), [
		'Drones 300  298-300 of 300',
		'NAME↑     ADDRESS        STATE     SEEN FAILED TASKS LAST ERROR',
		'drone-297 127.0.0.1:5297 ready      12s    0/3     0',
		'drone-298 127.0.0.1:5298 ready      12s    0/3     0',
		'drone-299 127.0.0.1:5299 ready      12s    0/3     0',
	].join('\n'));
});

test('DroneTable: a filter says how many match of how many; slots and labels show only when drones have them', () => {
	const drones = [drone(7, {slots: 4, running: 1, labels: {zone: 'a'}})];
	assert.equal(frame(<DroneTable {...table} drones={drones} total={12} maxRetry={3} now={t0} width={100} rows={1} offset={0} filter="7" filtering/>), [
		'Drones 12  /7▏ (1 of 12 match)  1-1 of 1',
		'NAME↑   ADDRESS        STATE     SEEN FAILED TASKS RUN LABELS LAST ERROR',
		'drone-7 127.0.0.1:5007 ready     0.0s    0/3     0 1/4 zone=a',
	].join('\n'));
	assert.equal(frame(<DroneTable {...table} drones={[]} total={12} maxRetry={3} now={t0} width={100} rows={1} offset={0} filter="nothing"/>), [
		'Drones 12  /nothing (0 of 12 match)',
		'NAME↑ ADDRESS STATE     SEEN FAILED TASKS LAST ERROR',
		'no drone matches /nothing',
	].join('\n'));
});

test('DroneTable: the sorted column\'s title carries ↑ or ↓ (a column as wide as its title grows by one)', () => {
	const drones = [drone(1), drone(2)];
	const titles = (column: string, descending: boolean) =>
		frame(<DroneTable {...table} drones={drones} total={2} maxRetry={3} now={t0} width={80} rows={2} offset={0} sort={{column, descending}}/>).split('\n')[1];
	assert.equal(titles('name', true), 'NAME↓   ADDRESS        STATE     SEEN FAILED TASKS LAST ERROR');
	assert.equal(titles('address', false), 'NAME    ADDRESS↑       STATE     SEEN FAILED TASKS LAST ERROR');
	assert.equal(titles('seen', true), 'NAME    ADDRESS        STATE    SEEN↓ FAILED TASKS LAST ERROR');
	assert.equal(titles('failed', true), 'NAME    ADDRESS        STATE     SEEN FAILED↓ TASKS LAST ERROR');
	assert.equal(titles('tasks', false), 'NAME    ADDRESS        STATE     SEEN FAILED TASKS↑ LAST ERROR');
});

test('DroneTable: no "no drones yet" while the queen is not connected (the hive is not known, not empty)', () => {
	assert.equal(frame(<DroneTable {...table} drones={[]} total={0} maxRetry={3} now={t0} width={80} rows={1} offset={0}/>), [
		'Drones 0',
		'NAME↑ ADDRESS STATE     SEEN FAILED TASKS LAST ERROR',
		'no drones yet: start one with  hive-larve --queen-host <this queen>',
	].join('\n'));
	assert.equal(frame(<DroneTable {...table} drones={[]} total={0} maxRetry={3} now={t0} width={80} rows={1} offset={0} stale/>), [
		'Drones 0',
		'NAME↑ ADDRESS STATE     SEEN FAILED TASKS LAST ERROR',
		'',
	].join('\n'));
});

test('DroneTable: NAME and ADDRESS are as wide as their longest value, and give way to the last error: its cause shows at 80 columns', () => {
	const drones = [
		drone(1, {name: 'a-drone-with-a-very-long-name', slots: 4, running: 0}),
		drone(2, {name: 'local-2', slots: 4, running: 2, state: 'suspect', failedAttempts: 1, lastError: 'GET http://127.0.0.1:5002/healthz: connect ECONNREFUSED 127.0.0.1:5002'}),
	];
	assert.equal(frame(<DroneTable {...table} drones={drones} total={2} maxRetry={3} now={t0} width={80} rows={2} offset={0}/>), [
		'Drones 2  1-2 of 2',
		'NAME↑        ADDRESS        STATE     SEEN FAILED TASKS RUN LAST ERROR',
		'a-drone-wit… 127.0.0.1:5001 ready     0.0s    0/3     0 0/4',
		'local-2      127.0.0.1:5002 suspect   0.0s    1/3     0 2/4 connect ECONNREFUSE…',
	].join('\n'));
});

test('TaskList: time, id, text (or command), drone, state and outcome; a filter in the title with how many match', () => {
	const tasks = [
		task('0123456789ab', {text: 'hello', state: 'succeeded'}),
		task('fedcba9876', {kind: 'command', text: null, command: 'uname -a', state: 'failed', drone: null, error: 'no drone'}),
	];
	assert.equal(frame(<TaskList {...table} tasks={tasks} total={2} width={80} rows={2} offset={0} selected={1} focused sort={newestFirst}/>), [
		'Tasks 2  1-2 of 2',
		'TIME↓    ID       TASK                       DRONE   STATE      OUTCOME',
		'12:00:00 01234567 hello                      drone-0 succeeded',
		'12:00:00 fedcba98 $ uname -a                 -       failed     no drone',
	].join('\n'));
	assert.equal(frame(<TaskList {...table} tasks={tasks.slice(1)} total={12} width={80} rows={1} offset={0} filter="state:failed" sort={{column: 'what', descending: false}}/>), [
		'Tasks 12  /state:failed (1 of 12 match)  1-1 of 1',
		'TIME     ID       TASK↑                       DRONE STATE      OUTCOME',
		'12:00:00 fedcba98 $ uname -a                  -     failed     no drone',
	].join('\n'));
	assert.equal(frame(<TaskList {...table} tasks={[]} total={12} width={80} rows={2} offset={0} filter="xyz" filtering sort={newestFirst}/>).split('\n')[2], 'no task matches /xyz');
	// Nothing known while the queen is not connected: not "no tasks yet".
	assert.equal(frame(<TaskList {...table} tasks={[]} total={0} width={80} rows={1} offset={0} sort={newestFirst} stale/>), [
		'Tasks 0',
		'TIME↓    ID       TASK                        DRONE STATE      OUTCOME',
		'',
	].join('\n'));
});

test('EventLog: the newest lines that fit, or from an offset (scrolled); a filter in the title', () => {
	const entries = [1, 2, 3].map(id => ({id, time: '12:00:0' + id, tone: 'info' as const, text: `line ${id}`}));
	assert.equal(frame(<EventLog entries={entries} width={40} rows={2}/>), 'Events  2-3 of 3\n12:00:02 line 2\n12:00:03 line 3');
	assert.equal(frame(<EventLog entries={entries} width={40} rows={2} offset={0}/>), 'Events  1-2 of 3\n12:00:01 line 1\n12:00:02 line 2');
	assert.equal(frame(<EventLog entries={entries.slice(2)} total={entries.length} width={40} rows={1} filter="3" filtering focused/>), 'Events  /3▏ (1 of 3 match)  1-1 of 1\n12:00:03 line 3');
});

test('Prompt: the sigil and the line being typed, then the outcome of the last task or the hint', () => {
	const hint = 'Enter submit  Esc leave  ? keys';
	assert.equal(frame(<Prompt value="hello" cursor={5} focused width={80} outcome={undefined} sigil="›" hint={hint}/>), `› hello\n${hint}`);
	assert.equal(frame(<Prompt value="" cursor={0} focused width={80} outcome={{tone: 'bad', text: '✗ "hi": no drone registered'}} sigil="›" hint={hint}/>), '›\n✗ "hi": no drone registered');
	assert.equal(frame(<Prompt value="drones" cursor={6} focused width={80} outcome={undefined} sigil=":" hint={hint}/>), `: drones\n${hint}`);
	assert.equal(frame(<Prompt value="" cursor={0} focused={false} width={80} outcome={undefined} sigil="›" hint={hint}/>), `› (i: type a task)\n${hint}`);
	assert.equal(frame(<Prompt value="x" cursor={1} focused width={80} outcome={undefined} sigil="›" hint={hint} question="cancel task 01234567? y/N"/>), `cancel task 01234567? y/N\n${hint}`);
});

test('Prompt: a multi-line paste shows its newlines as ⏎; a long line keeps the cursor in view, cut with …', () => {
	const hint = '';
	assert.equal(frame(<Prompt value={'$ echo a\necho b'} cursor={15} focused width={80} outcome={undefined} sigil="›" hint={hint}/>), '› $ echo a⏎echo b');
	const long = Array.from({length: 20}, (_, index) => `word${index}`).join(' ');
	assert.equal(frame(<Prompt value={long} cursor={long.length} focused width={40} outcome={undefined} sigil="›" hint={hint}/>), '› …4 word15 word16 word17 word18 word19');
	assert.equal(frame(<Prompt value={long} cursor={0} focused width={40} outcome={undefined} sigil="›" hint={hint}/>), '› word0 word1 word2 word3 word4 word5 w…');
	assert.equal(frame(<Prompt value={long} cursor={long.indexOf('word10')} focused width={40} outcome={undefined} sigil="›" hint={hint}/>), '› …ord4 word5 word6 word7 word8 word9 w…');
});

test('TaskView: the record, then the output of a command task (taskViewLines from the whole record)', () => {
	const record = task('abc', {kind: 'command', text: null, command: 'echo hi', state: 'succeeded', result: {exitCode: 0, stdout: 'hi\nthere\n', stderr: 'warn\n', durationMs: 12, signal: null, timedOut: false}});
	const lines = taskViewLines(record, undefined);
	assert.equal(frame(<TaskView id="abc" lines={lines} width={60} rows={15} scroll={0} following={false} search="" searching={false} matches={[]} match={undefined} state="succeeded"/>), [
		'Task abc  succeeded  lines 1-14 of 14  (Esc back)',
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
		'── output ──',
		'hi',
		'there',
		'warn',
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
	const {lastFrame, unmount} = render(<TaskList {...table} tasks={tasks} total={1} width={100} rows={1} offset={0} sort={newestFirst}/>);
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
	const {lastFrame, unmount} = render(<TaskList {...table} tasks={tasks} total={3} width={80} rows={3} offset={0} sort={newestFirst}/>);
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
