import assert from 'node:assert/strict';
import {test} from 'node:test';
import {Box} from 'ink';
import type {ReactNode} from 'react';
import stringWidth from 'string-width';
import {DroneTable} from '../../source/dashboard/DroneTable.js';
import {DroneView, droneViewLines} from '../../source/dashboard/DroneView.js';
import {EventLog} from '../../source/dashboard/EventLog.js';
import {errorText, matchRanges, sortMark, wrap} from '../../source/dashboard/format.js';
import {Header} from '../../source/dashboard/Header.js';
import {HelpOverlay, helpLines, sections} from '../../source/dashboard/HelpOverlay.js';
import type {HiveSnapshot} from '../../source/dashboard/hive-store.js';
import {layout} from '../../source/dashboard/layout.js';
import {Prompt} from '../../source/dashboard/Prompt.js';
import {findMatches, taskViewLines, type ViewLine} from '../../source/dashboard/task-lines.js';
import {TaskList, taskAsTyped} from '../../source/dashboard/TaskList.js';
import {TaskView} from '../../source/dashboard/TaskView.js';
import {drone, t0, task} from './fixtures.js';
import {plain} from './frame.js';
import {rawFrame} from './render.js';
import {drones, hiveSnapshot, log, output, tasks} from './scenario.js';

process.env.TZ = 'UTC';

/**
Each component at the sizes of issue #13's tries: 80×24 and 200×60, with the rows `layout()` gives it,
over the scenario's 30 drones and command tasks. Frames are exact; every row fits the width.
*/

const small = {width: 80, ...layout(80, 24)};
const large = {width: 200, ...layout(200, 60)};

/** The frame of `node` on a terminal `width` wide, as the eye sees it; no row wider than `width`, and `height` rows when given. */
function frameAt(node: ReactNode, width: number, height?: number): string {
	const text = plain(rawFrame(<Box flexDirection="column">{node}</Box>, width));
	const rows = text.split('\n');
	for (const row of rows) {
		assert.ok(stringWidth(row) <= width, `wider than ${width}: ${row}`);
	}

	if (height !== undefined) {
		assert.equal(rows.length, height, `${rows.length} rows, not ${height}:\n${text}`);
	}

	return text;
}

const byName = {column: 'name', descending: false} as const;
const newestFirst = {column: 'time', descending: true} as const;
const blank = (count: number) => Array.from({length: count}, () => '');

/** A scenario drone's row as the table lays it out at any width (no labels, so no LABELS column). */
function droneRow(number: number): string {
	const drone = drones[number - 1]!;
	const seen = number === 4 ? '4.0s' : '0.5s';
	const cells = [drone.name.padEnd(8), drone.address, drone.state.padEnd(8), seen.padStart(5), `${drone.failedAttempts}/3`.padStart(6), String(drone.tasksDone).padStart(5), `${drone.running}/4`];
	return `${cells.join(' ')}${number === 4 ? ' ECONNREFUSED' : ''}`;
}

test('DroneTable at 80×24: the cause of the last error in view (the request line left out), the selected row', () => {
	assert.equal(frameAt(<DroneTable drones={drones} total={30} maxRetry={3} now={t0} width={80} rows={small.droneRows} offset={0} selected={3} focused filter="" filtering={false} sort={byName} stale={false}/>, 80, small.droneRows + 2), [
		'Drones 30  1-6 of 30',
		'NAME↑    ADDRESS         STATE     SEEN FAILED TASKS RUN LAST ERROR',
		'local-1  127.0.0.1:40101 ready     0.5s    0/3     7 1/4',
		'local-2  127.0.0.1:40102 ready     0.5s    0/3    14 2/4',
		'local-3  127.0.0.1:40103 ready     0.5s    0/3    21 0/4',
		'local-4  127.0.0.1:40104 suspect   4.0s    2/3    28 1/4 ECONNREFUSED',
		'local-5  127.0.0.1:40105 ready     0.5s    0/3    35 2/4',
		'local-6  127.0.0.1:40106 ready     0.5s    0/3    42 0/4',
	].join('\n'));
	assert.equal(droneRow(4), 'local-4  127.0.0.1:40104 suspect   4.0s    2/3    28 1/4 ECONNREFUSED');
});

test('DroneTable at 200×60: 24 rows of 30, sorted by name descending', () => {
	const reversed = [...drones].reverse();
	const rows = reversed.slice(0, large.droneRows).map(drone => droneRow(Number(drone.name.slice(6))));
	assert.equal(frameAt(<DroneTable drones={reversed} total={30} maxRetry={3} now={t0} width={200} rows={large.droneRows} offset={0} selected={undefined} focused={false} filter="" filtering={false} sort={{column: 'name', descending: true}} stale={false}/>, 200, large.droneRows + 2), [
		'Drones 30  1-24 of 30',
		'NAME↓    ADDRESS         STATE     SEEN FAILED TASKS RUN LAST ERROR',
		...rows,
	].join('\n'));
	assert.equal(rows[0], 'local-30 127.0.0.1:40130 ready     0.5s    0/3   210 0/4');
});

test('TaskList at 80×24 and in the 120 columns it has at 200×60', () => {
	const head = [
		'TIME↓    ID       TASK                       DRONE   STATE      OUTCOME',
		'12:00:00 0f2a1b4c $ seq 500; echo done >&2   local-1 running',
		'11:58:59 1f2a1b4c $ uname -a # 1             local-2 failed     exit code 2',
		'11:57:58 2f2a1b4c $ uname -a # 2             local-3 succeeded  exit 0',
		'11:56:57 3f2a1b4c $ uname -a # 3             local-4 succeeded  exit 0',
	];
	assert.equal(frameAt(<TaskList tasks={tasks} total={12} width={80} rows={small.taskRows} offset={0} selected={0} focused={false} filter="" filtering={false} sort={newestFirst} stale={false}/>, 80, small.taskRows + 2), [
		'Tasks 12  1-4 of 12',
		...head,
	].join('\n'));
	const wide = (time: string, id: string, what: string, drone: string, state: string, outcome: string) =>
		`${time} ${id} ${what.padEnd(50)} ${drone} ${state.padEnd(10)} ${outcome}`.trimEnd();
	assert.equal(frameAt(<TaskList tasks={tasks} total={12} width={large.taskWidth} rows={large.taskRows} offset={0} selected={0} focused={false} filter="" filtering={false} sort={newestFirst} stale={false}/>, 200, large.taskRows + 2), [
		'Tasks 12  1-12 of 12',
		wide('TIME↓   ', 'ID      ', 'TASK', 'DRONE  ', 'STATE', 'OUTCOME'),
		wide('12:00:00', '0f2a1b4c', '$ seq 500; echo done >&2', 'local-1', 'running', ''),
		wide('11:58:59', '1f2a1b4c', '$ uname -a # 1', 'local-2', 'failed', 'exit code 2'),
		wide('11:57:58', '2f2a1b4c', '$ uname -a # 2', 'local-3', 'succeeded', 'exit 0'),
		wide('11:56:57', '3f2a1b4c', '$ uname -a # 3', 'local-4', 'succeeded', 'exit 0'),
		wide('11:55:56', '4f2a1b4c', '$ uname -a # 4', 'local-5', 'succeeded', 'exit 0'),
		wide('11:54:55', '5f2a1b4c', '$ uname -a # 5', 'local-1', 'failed', 'exit code 2'),
		wide('11:53:54', '6f2a1b4c', '$ uname -a # 6', 'local-2', 'succeeded', 'exit 0'),
		wide('11:52:53', '7f2a1b4c', '$ uname -a # 7', 'local-3', 'succeeded', 'exit 0'),
		wide('11:51:52', '8f2a1b4c', '$ uname -a # 8', 'local-4', 'running', ''),
		wide('11:50:51', '9f2a1b4c', '$ uname -a # 9', 'local-5', 'failed', 'exit code 2'),
		wide('11:49:50', 'af2a1b4c', '$ uname -a # 10', 'local-1', 'succeeded', 'exit 0'),
		wide('11:48:49', 'bf2a1b4c', '$ uname -a # 11', 'local-2', 'succeeded', 'exit 0'),
		...blank(large.taskRows - 12),
	].join('\n'));
});

test('TaskList: the sorted column carries ↑ or ↓', () => {
	const titles = (column: string, descending: boolean) => frameAt(<TaskList tasks={tasks.slice(0, 1)} total={1} width={80} rows={1} offset={0} selected={undefined} focused={false} filter="" filtering={false} sort={{column, descending}} stale={false}/>, 80).split('\n')[1];
	assert.equal(titles('time', false), 'TIME↑    ID       TASK                       DRONE   STATE      OUTCOME');
	assert.equal(titles('id', true), 'TIME     ID↓      TASK                       DRONE   STATE      OUTCOME');
	assert.equal(titles('what', false), 'TIME     ID       TASK↑                      DRONE   STATE      OUTCOME');
	assert.equal(titles('drone', false), 'TIME     ID       TASK                       DRONE↑  STATE      OUTCOME');
	assert.equal(titles('state', true), 'TIME     ID       TASK                       DRONE   STATE↓     OUTCOME');
});

/** A scenario log line as the event log shows it. */
const logRow = (index: number) => `${log[index]!.time} ${log[index]!.text}`;

test('EventLog at 80×24 (the newest lines) and 200×60 (79 columns beside the tasks), and scrolled full height', () => {
	assert.equal(frameAt(<EventLog entries={log} width={80} rows={small.logRows}/>, 80, small.logRows + 1), [
		'Events  36-40 of 40',
		'12:03:30 local-6 answers heartbeats again',
		'12:03:36 local-7 heartbeat failed 1/3: ECONNREFUSED',
		'12:03:42 local-8 answers heartbeats again',
		'12:03:48 local-9 answers heartbeats again',
		'12:03:54 local-10 heartbeat failed 1/3: ECONNREFUSED',
	].join('\n'));
	assert.equal(frameAt(<EventLog entries={log} width={large.logWidth} rows={large.logRows}/>, 200, large.logRows + 1), [
		'Events  12-40 of 40',
		...log.slice(11).map((_, index) => logRow(index + 11)),
	].join('\n'));
	assert.equal(logRow(11), '12:01:06 local-2 answers heartbeats again');
	// `:events`, scrolled to the top: the rows of the body less the title.
	assert.equal(frameAt(<EventLog entries={log} width={80} rows={small.alone.logRows} offset={0} focused/>, 80, small.bodyRows), [
		'Events  1-19 of 40',
		...log.slice(0, 19).map((_, index) => logRow(index)),
	].join('\n'));
	assert.equal(logRow(0), '12:00:00 local-1 heartbeat failed 1/3: ECONNREFUSED');
});

/** A line of the scenario's output as the task view shows it. */
const outputRow = (number: number) => number % 50 === 0 ? `warning: ${number} is a round number` : String(number);

test('TaskView at 80×24 and 200×60: the window of a 500-line output at the second match of a search, following', () => {
	const lines = taskViewLines(tasks[0], output);
	const matches = findMatches(lines, 'WARN');
	assert.equal(matches.length, 10);
	// The record's 8 lines and the rule come first: line 100 of the output is line 109 of the view.
	assert.equal(matches[1], 108);
	assert.equal(lines[matches[1]]!.text, 'warning: 100 is a round number');
	const view = (size: typeof small) => <TaskView id={tasks[0]!.id} lines={lines} width={size.width} rows={size.bodyRows} scroll={matches[1]! - 3} following search="warn" searching={false} matches={matches} match={1} state="running"/>;
	const from = (first: number, count: number) => Array.from({length: count}, (_, index) => outputRow(first + index));
	// At 80 columns "(Esc back)" gives way to the search.
	assert.equal(frameAt(view(small), 80, small.bodyRows), [
		'Task 0f2a1b4c  running  lines 106-124 of 509  following  /warn 2 of 10',
		...from(97, 19),
	].join('\n'));
	assert.equal(frameAt(view(large), 200, large.bodyRows), [
		'Task 0f2a1b4c  running  lines 106-160 of 509  following  /warn 2 of 10  (Esc back)',
		...from(97, 55),
	].join('\n'));
});

test('TaskView: the top of a task, its record then the start of its output; a scroll past the end shows the last page', () => {
	const lines = taskViewLines(tasks[0], output);
	const top = frameAt(<TaskView id={tasks[0]!.id} lines={lines} width={80} rows={small.bodyRows} scroll={0} following={false} search="" searching={false} matches={[]} match={undefined} state="running"/>, 80, small.bodyRows);
	assert.equal(top, [
		'Task 0f2a1b4c  running  lines 1-19 of 509  (Esc back)',
		'id         0f2a1b4c-0000-4000-8000-000000000000',
		'kind       command',
		'command    seq 500; echo done >&2',
		'state      running',
		'drone      local-1',
		'submitted  2030-01-01T12:00:00.000Z',
		'updated    2030-01-01T12:00:00.000Z',
		'attempts   1',
		'── output ──',
		...Array.from({length: 10}, (_, index) => String(index + 1)),
	].join('\n'));
	const bottom = frameAt(<TaskView id={tasks[0]!.id} lines={lines} width={80} rows={5} scroll={10_000} following search="" searching matches={[]} match={undefined} state="running" note="loading…"/>, 80, 5);
	assert.equal(bottom, ['Task 0f2a1b4c  running  lines 506-509 of 509  following  /▏  loading…', '497', '498', '499', 'warning: 500 is a round number'].join('\n'));
});

test('TaskView: a match past the right edge of a long line is brought into view', () => {
	const lines: ViewLine[] = [{text: `${'x'.repeat(100)} needle here`}];
	assert.equal(frameAt(<TaskView id="abc" lines={lines} width={40} rows={2} scroll={0} following={false} search="needle" searching={false} matches={[0]} match={0} state={undefined}/>, 40, 2), [
		'Task abc  lines 1-1 of 1  /needle 1 of 1',
		'…xxxxxxxxxxxx needle here',
	].join('\n'));
});

test('DroneView at 80×24 and 200×60: the drone described, what runs there, the events that name it', () => {
	const now = t0 + 3_725_000;
	const expected = (width: number) => [
		`Drone local-4  lines 1-19 of 19  (Esc back)`,
		'name       local-4',
		'address    127.0.0.1:40104',
		'state      suspect',
		'registered 12:00:00 (1h02m ago)',
		'last seen  1h02m ago',
		'failed     2/3 heartbeats in a row',
		'last error GET http://127.0.0.1:40104/healthz: ECONNREFUSED',
		'slots      1 running of 4',
		'exec       allowed: runs command tasks',
		'runtimes   none: no container tasks',
		'labels     (none)',
		'tasks done 28',
		'── running here (1) ──',
		'8f2a1b4c  running    $ uname -a # 8',
		'── events (4) ──',
		'12:00:18 local-4 heartbeat failed 1/3: ECONNREFUSED',
		'12:01:18 local-4 answers heartbeats again',
		'12:02:18 local-4 answers heartbeats again',
		'12:03:18 local-4 heartbeat failed 1/3: ECONNREFUSED',
		...blank((width === 80 ? small : large).bodyRows - 20),
	].join('\n');
	for (const size of [small, large]) {
		const lines = droneViewLines(drones[3], tasks, log, 3, now, size.width);
		assert.equal(frameAt(<DroneView name="local-4" lines={lines} width={size.width} rows={size.bodyRows} scroll={0}/>, size.width, size.bodyRows), expected(size.width));
	}
});

test('droneViewLines: the last error whole, wrapped under its label; a cordon and a drain; a drone gone', () => {
	const error = 'GET http://127.0.0.1:40104/healthz: connect ECONNREFUSED 127.0.0.1:40104 (the drone stopped answering after it was asked to drain)';
	const draining = drone(1, {lastError: error, cordoned: true, drain: {startedAt: new Date(t0).toISOString(), deadline: new Date(t0 + 300_000).toISOString()}, slots: 2, running: 1, allowExec: false, runtimes: ['runc'], labels: {zone: 'a', gpu: 'yes'}});
	const lines = droneViewLines(draining, [], [], 3, t0, 50).map(line => line.text);
	assert.deepEqual(lines.slice(2, 13), [
		'state      draining, since 12:00:00, deadline',
		'           12:05:00',
		'registered 12:00:00 (0.0s ago)',
		'last seen  0.0s ago',
		'failed     0/3 heartbeats in a row',
		'last error GET http://127.0.0.1:40104/healthz:',
		'           connect ECONNREFUSED 127.0.0.1:40104',
		'           (the drone stopped answering after it',
		'           was asked to drain)',
		'slots      1 running of 2',
		'exec       not allowed: text tasks only',
	]);
	assert.equal(lines[13], 'runtimes   runc: runs container tasks');
	assert.equal(lines[14], 'labels     zone=a gpu=yes');
	// A queen older than containers does not say.
	assert.ok(droneViewLines(drone(2), [], [], 3, t0).some(line => line.text === 'runtimes   unknown (an older queen)'));
	assert.ok(lines.every(line => stringWidth(line) <= 50), lines.join('\n'));
	// Without a width, one line each.
	assert.ok(droneViewLines(draining, [], [], 3, t0).some(line => line.text === `last error ${error}`));
	assert.equal(droneViewLines(drone(2, {cordoned: true, state: 'suspect'}), [], [], 3, t0)[2]!.text, 'state      suspect, cordoned');
	assert.deepEqual(droneViewLines(undefined, [], [], 3, t0), [{text: 'not in the hive now: it left, or was evicted', tone: 'meta'}]);
});

test('droneViewLines: the events that name the drone as a word (drone-1 is not drone-10), newest last, failures red', () => {
	const entries = [
		{id: 1, time: '12:00:01', tone: 'good' as const, text: 'drone-1 registered at 127.0.0.1:5001'},
		{id: 2, time: '12:00:02', tone: 'info' as const, text: 'drone-10 left (127.0.0.1:5010)'},
		{id: 3, time: '12:00:03', tone: 'bad' as const, text: 'drone-1 evicted: 3 heartbeats failed in a row'},
		{id: 4, time: '12:00:04', tone: 'info' as const, text: 'my-drone-1 left (127.0.0.1:6001)'},
	];
	const lines = droneViewLines(drone(1), [task('t1', {drone: 'drone-1', state: 'running'}), task('t2', {drone: 'drone-10', state: 'running'}), task('t3', {drone: 'drone-1', state: 'succeeded'})], entries, 3, t0);
	const tail = lines.slice(lines.findIndex(line => line.text.startsWith('── running')));
	assert.deepEqual(tail, [
		{text: '── running here (1) ──', tone: 'meta'},
		{text: 't1        running    task t1'},
		{text: '── events (2) ──', tone: 'meta'},
		{text: '12:00:01 drone-1 registered at 127.0.0.1:5001', tone: undefined},
		{text: '12:00:03 drone-1 evicted: 3 heartbeats failed in a row', tone: 'error'},
	]);
});

test('HelpOverlay at 80×24 and 200×60: the first page, sections and the prompt\'s task syntax', () => {
	assert.equal(frameAt(<HelpOverlay width={80} rows={small.bodyRows} scroll={0}/>, 80, small.bodyRows), [
		'Keys  (Esc or ? to close)  lines 1-19 of 82',
		'Anywhere',
		'  Tab           move between the prompt, the drones, the tasks and the events',
		'                (Shift-Tab: back)',
		'  i             back to the prompt, from anywhere outside it',
		'  ?             this help (outside the prompt: there every key is text)',
		'  :             a command (see Commands)',
		'  Esc           on the prompt: leave it for the drones (the line is kept);',
		'                elsewhere: close what is open (help, a view, a search, a',
		'                filter), then a pane shown alone gives way to the three; never',
		'                back into the prompt',
		'  Ctrl-C        quit (a queen started here stops, with its local drones)',
		'',
		'Prompt',
		'  Enter         send the line as a task (POST /submit_task); the outcome shows',
		'                under it',
		'  hello world   a text task',
		'  $ uname -a    a command task: a shell runs it on a drone started with',
		'                --allow-exec',
		'  $[/bb] ls     a container task: sh -c runs it in the root filesystem /bb (a',
	].join('\n'));
	const page = frameAt(<HelpOverlay width={200} rows={large.bodyRows} scroll={0}/>, 200, large.bodyRows).split('\n');
	assert.equal(page[0], 'Keys  (Esc or ? to close)  lines 1-55 of 66');
	assert.equal(page[4], '  ?                 this help (outside the prompt: there every key is text)');
	assert.equal(page[6], '  Esc               on the prompt: leave it for the drones (the line is kept); elsewhere: close what is open (help, a view, a search, a filter), then a pane shown alone gives way to the three; never');
	// Scrolled to the end: the last page, the filters.
	const end = frameAt(<HelpOverlay width={200} rows={large.bodyRows} scroll={1000}/>, 200, large.bodyRows).split('\n');
	assert.equal(end[0], 'Keys  (Esc or ? to close)  lines 12-66 of 66');
	assert.equal(end.at(-1), '  other words       drones: name, state, labels (the address only with a . or : in the word); tasks: id, text or command, drone, state, outcome');
});

test('helpLines: every meaning whole at 80 columns (and at 40), wrapped, never cut; all the sections and commands', () => {
	for (const width of [80, 40]) {
		const lines = helpLines(width);
		assert.ok(lines.every(line => stringWidth(line.text) <= width), `a line wider than ${width}`);
		assert.ok(lines.every(line => !line.text.includes('…') || line.text.includes('name:…')), 'a line cut');
		const text = lines.map(line => line.text.trim()).join(' ').replaceAll(/\s+/g, ' ');
		for (const section of sections) {
			assert.ok(lines.some(line => line.text === section.title && line.tone === 'heading'), section.title);
			for (const [key, meaning] of section.keys) {
				assert.ok(text.includes(`${key} ${meaning}`), `${width}: ${key} ${meaning}`);
			}
		}
	}

	const titles = sections.map(section => section.title);
	assert.deepEqual(titles.map(title => title.split(' ')[0]), ['Anywhere', 'Prompt', 'Tables', 'Task', 'Drone', 'Commands', 'Sort', 'Filters']);
	const keys = sections.flatMap(section => section.keys.map(([key]) => key));
	for (const key of ['$ uname -a', '$[/bb] ls', '@zone=a hi', '\\$5 off', ':drones', ':tasks', ':events', ':hive', ':task ID', ':drone NAME', ':token', ':help', ':q']) {
		assert.ok(keys.includes(key), key);
	}
});

test('Prompt at 80 and 200 columns: a multi-line task with wide characters, the cursor inside it', () => {
	const value = '@zone=a $ uname -a\necho 你好 🐝';
	const hint = 'Enter submit  Esc leave  Tab focus';
	for (const width of [80, 200]) {
		assert.equal(frameAt(<Prompt value={value} cursor={5} focused width={width} outcome={undefined} sigil="›" hint={hint}/>, width, 2), `› @zone=a $ uname -a⏎echo 你好 🐝\n${hint}`);
	}

	// 20 columns: the window follows the cursor, wide characters whole.
	const wide = '你好世界你好世界你好世界';
	assert.equal(frameAt(<Prompt value={wide} cursor={wide.length} focused width={20} outcome={undefined} sigil="›" hint=""/>, 20), '› …你好世界你好世界');
	assert.equal(frameAt(<Prompt value={wide} cursor={0} focused width={20} outcome={undefined} sigil="›" hint=""/>, 20), '› 你好世界你好世界…');
});

function snapshot(change: Partial<HiveSnapshot>): HiveSnapshot {
	return hiveSnapshot(change, {ageMs: 185_000, withDrones: true});
}

test('Header at 80 and 200 columns: the queen\'s uptime and role; lost, with the last update\'s age and the reason', () => {
	for (const width of [80, 200]) {
		assert.equal(frameAt(<Header hive={snapshot({})} version="0.1.0" width={width}/>, width, 2), [
			'Hive v0.1.0  ● leader 127.0.0.1:8080  up 3m05s',
			'drones 29/30 ready  tasks 0 dispatched, 0.0/s',
		].join('\n'));
	}

	const lost = snapshot({connected: false, staleSince: t0 + 173_000, lastUpdateAt: t0 + 172_500, error: 'GET http://127.0.0.1:8080/events: ECONNREFUSED'});
	assert.equal(frameAt(<Header hive={lost} version="0.1.0" width={80}/>, 80, 2), [
		'Hive v0.1.0  ○ lost at 12:02:53 · last update 12s ago: ECONNREFUSED',
		'drones 29/30 ready  tasks 0 dispatched, 0.0/s',
	].join('\n'));
	const refused = {...lost, error: 'the queen refused the token (401): give the hive\'s token (HIVE_TOKEN, --token-file)'};
	assert.equal(frameAt(<Header hive={refused} version="0.1.0" width={200}/>, 200, 2), [
		'Hive v0.1.0  ○ lost at 12:02:53 · last update 12s ago: the queen refused the token (401): give the hive\'s token (HIVE_TOKEN, --token-file)',
		'drones 29/30 ready  tasks 0 dispatched, 0.0/s',
	].join('\n'));
});

test('No row is wider than the terminal, with CJK and emoji in names, labels, errors, tasks, output, events and the prompt', () => {
	const cjk = '你好世界，这是一个很长的文本🐝🐝🐝 bees 🐝 über naïve';
	const wideDrones = drones.map((each, index) => ({...each, labels: {zone: index % 2 === 0 ? '东京' : 'a', emoji: '🐝🐝'}, lastError: index % 3 === 0 ? `GET http://x/: ${cjk}` : null}));
	const wideTasks = tasks.map(each => ({...each, command: cjk, error: each.error === null ? null : cjk, drone: '东京-1'}));
	const wideLog = log.map(entry => ({...entry, text: `${entry.text} ${cjk}`}));
	const wideOutput = {...output, lines: output.lines.map(line => ({...line, text: `${line.text} ${cjk.repeat(3)}`}))};
	for (const width of [80, 200, 57, 41]) {
		const {droneRows, taskRows, logRows, bodyRows} = layout(width, 24);
		frameAt(<DroneTable drones={wideDrones} total={30} maxRetry={3} now={t0} width={width} rows={droneRows} offset={0} selected={0} focused filter={cjk} filtering sort={byName} stale={false}/>, width, droneRows + 2);
		frameAt(<TaskList tasks={wideTasks} total={12} width={width} rows={taskRows} offset={0} selected={0} focused filter={cjk} filtering={false} sort={newestFirst} stale={false}/>, width, taskRows + 2);
		frameAt(<EventLog entries={wideLog} width={width} rows={logRows} filter={cjk}/>, width, logRows + 1);
		const lines = taskViewLines({...wideTasks[0]!, text: cjk}, wideOutput);
		const matches = findMatches(lines, '🐝');
		frameAt(<TaskView id={tasks[0]!.id} lines={lines} width={width} rows={bodyRows} scroll={0} following search="🐝" searching matches={matches} match={0} state="running" note={cjk}/>, width, bodyRows);
		frameAt(<DroneView name="local-1" lines={droneViewLines(wideDrones[0], wideTasks, wideLog, 3, t0, width)} width={width} rows={bodyRows} scroll={0}/>, width, bodyRows);
		frameAt(<HelpOverlay width={width} rows={bodyRows} scroll={3}/>, width, bodyRows);
		frameAt(<Header hive={snapshot({connected: false, staleSince: t0, lastUpdateAt: t0, error: cjk.repeat(4)})} version="0.1.0" width={width}/>, width, 2);
		for (const cursor of [0, 3, 14, cjk.length]) {
			frameAt(<Prompt value={`${cjk}\n${cjk}`} cursor={cursor} focused width={width} outcome={{tone: 'bad', text: cjk.repeat(3)}} sigil="›" hint=""/>, width, 2);
		}
	}
});

test('taskViewLines: the record, a rule, the output (stderr in its tone, dropped lines said), how it ended', () => {
	const record = task('abc', {kind: 'command', text: null, command: 'make\nmake test', state: 'failed', error: 'exit code 2', selector: {zone: 'a'}, result: {exitCode: 2, signal: null, durationMs: 1500, timedOut: false}, cancelled: null});
	const ended = {id: 'abc', lines: [{stream: 'stdout' as const, text: 'building'}, {stream: 'stderr' as const, text: 'error: no rule'}], following: false, end: {state: 'failed', exitCode: 2, signal: null, error: null}, error: undefined, dropped: 120};
	assert.deepEqual(taskViewLines(record, ended), [
		{text: 'id         abc', tone: undefined},
		{text: 'kind       command', tone: undefined},
		{text: 'command    make', tone: undefined},
		{text: '           make test', tone: undefined},
		{text: 'selector   zone=a', tone: undefined},
		{text: 'state      failed', tone: undefined},
		{text: 'drone      drone-0', tone: undefined},
		{text: 'submitted  2030-01-01T12:00:00.000Z', tone: undefined},
		{text: 'updated    2030-01-01T12:00:00.000Z', tone: undefined},
		{text: 'attempts   1', tone: undefined},
		{text: 'error      exit code 2', tone: 'error'},
		{text: 'exit code  2', tone: undefined},
		{text: 'duration   1500 ms', tone: undefined},
		{text: '── output ──', tone: 'meta'},
		{text: '… 120 earlier lines dropped', tone: 'meta'},
		{text: 'building'},
		{text: 'error: no rule', tone: 'stderr'},
		{text: '── ended: failed, exit code 2 ──', tone: 'error'},
	]);
	const cancelled = {id: 'abc', lines: [], following: false, end: {state: 'cancelled', exitCode: null, signal: 'SIGTERM', error: null}, error: 'the queen is out of reach', dropped: 0};
	assert.deepEqual(taskViewLines(undefined, cancelled), [
		{text: '── output ──', tone: 'meta'},
		{text: 'output: the queen is out of reach', tone: 'error'},
		{text: '── ended: cancelled, killed by SIGTERM ──', tone: 'meta'},
	]);
	assert.deepEqual(taskViewLines(undefined, {...cancelled, error: undefined, end: {state: 'succeeded', exitCode: 0, signal: null, error: null}}).slice(1), [
		{text: '(no output)', tone: 'meta'},
		{text: '── ended: succeeded, exit code 0 ──', tone: 'meta'},
	]);
	// Still running: no end yet, and no "(no output)" while output may come.
	assert.deepEqual(taskViewLines(undefined, {...cancelled, error: undefined, end: undefined, following: true}), [{text: '── output ──', tone: 'meta'}]);
	// A text task without output: the record alone, no rule.
	assert.equal(taskViewLines(task('t'), undefined).at(-1)!.text, 'attempts   1');
	assert.equal(taskViewLines(task('t', {cancelled: {by: 'alice@laptop', at: '2030-01-01T12:00:03.000Z'}}), undefined).at(-1)!.text, 'cancelled  by alice@laptop at 2030-01-01T12:00:03.000Z');
});

test('a container task: its record says its root, its command as a shell reads it back, its environment and limits; the list shows it as the prompt takes it', () => {
	const container = {rootfs: '/srv/busybox', command: ['sh', '-c', 'echo "hi there"'], env: {GREETING: 'hi there'}, workdir: '/tmp', memory: '64M', cpus: 0.5, pids: 32};
	const record = task('c0ffee12-0000-4000-8000-000000000000', {kind: 'container', text: null, command: null, container, state: 'pending', drone: null, attempts: 0, reason: '0/2 drones can take it: 2 have no container runtime'});
	assert.equal(frameAt(<TaskView id={record.id} lines={taskViewLines(record, undefined)} width={80} rows={13} scroll={0} following={false} search="" searching={false} matches={[]} match={undefined} state="pending"/>, 80, 13), [
		'Task c0ffee12  pending  lines 1-12 of 12  (Esc back)',
		'id         c0ffee12-0000-4000-8000-000000000000',
		'kind       container',
		'rootfs     /srv/busybox',
		'command    sh -c \'echo "hi there"\'',
		'env        GREETING=\'hi there\'',
		'workdir    /tmp',
		'limits     memory=64M cpus=0.5 pids=32',
		'state      pending',
		'reason     0/2 drones can take it: 2 have no container runtime',
		'submitted  2030-01-01T12:00:00.000Z',
		'updated    2030-01-01T12:00:00.000Z',
		'attempts   0',
	].join('\n'));
	assert.ok(taskViewLines(task('t', {kind: 'container', text: null, container: {rootfs: '/r', command: ['true']}}), undefined).some(line => line.text === 'limits     none'));
	assert.equal(taskAsTyped(record), '$[/srv/busybox memory=64M cpus=0.5 pids=32] echo "hi there"');
	assert.equal(taskAsTyped(task('t', {kind: 'container', text: null, container: {rootfs: '/r', command: ['echo', 'a b']}})), '$[/r] echo \'a b\'');
});

test('findMatches: the lines that contain the search in any case, as typed (not a pattern); none for an empty search', () => {
	const lines: ViewLine[] = [{text: 'Error: a.b'}, {text: 'axb'}, {text: 'no'}, {text: 'ERROR again', tone: 'stderr'}, {text: '🐝 bee'}];
	assert.deepEqual(findMatches(lines, 'error'), [0, 3]);
	assert.deepEqual(findMatches(lines, 'a.b'), [0]);
	assert.deepEqual(findMatches(lines, '🐝'), [4]);
	assert.deepEqual(findMatches(lines, '('), []);
	assert.deepEqual(findMatches(lines, ''), []);
});

test('format: wrap at blanks (a long word cut), errorText without request lines, matchRanges, sortMark', () => {
	assert.deepEqual(wrap('the queen refused the token (401)', 12), ['the queen', 'refused the', 'token (401)']);
	assert.deepEqual(wrap('abcdefghijklmnop qr', 6), ['abcdef', 'ghijkl', 'mnop', 'qr']);
	assert.deepEqual(wrap('你好世界你好', 5), ['你好', '世界', '你好']);
	assert.deepEqual(wrap('', 10), ['']);
	assert.equal(errorText('GET http://127.0.0.1:2591/healthz: ECONNREFUSED'), 'ECONNREFUSED');
	assert.equal(errorText('3 heartbeats failed in a row: GET http://127.0.0.1:2591/healthz: timed out'), '3 heartbeats failed in a row: timed out');
	assert.deepEqual(matchRanges('Warn warn WARN', 'warn'), [[0, 4], [5, 9], [10, 14]]);
	assert.equal(sortMark({column: 'name', descending: true}, 'name'), '↓');
	assert.equal(sortMark({column: 'name', descending: false}, 'name'), '↑');
	assert.equal(sortMark({column: 'name', descending: false}, 'state'), '');
});

test('layout: a pane alone takes the body less its title (and column header)', () => {
	assert.deepEqual(layout(80, 24).alone, {droneRows: 18, taskRows: 18, logRows: 19});
	assert.deepEqual(layout(200, 60).alone, {droneRows: 54, taskRows: 54, logRows: 55});
	assert.deepEqual(layout(80, 3).alone, {droneRows: 0, taskRows: 0, logRows: 0});
});
