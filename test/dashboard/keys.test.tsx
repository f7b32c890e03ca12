import assert from 'node:assert/strict';
import {test} from 'node:test';
import type {Key} from 'ink';
import {render} from 'ink-testing-library';
import {createHttpClient} from '../../source/client/http.js';
import {createQueenClient} from '../../source/client/queen-client.js';
import {App, type DashboardClient} from '../../source/dashboard/App.js';
import {HiveStore} from '../../source/dashboard/hive-store.js';
import {initialUiState, reduceKey, type Effect, type UiState, type View} from '../../source/dashboard/ui-state.js';
import {request, startDrone, startQueen} from '../helpers/larves.js';
import {waitFor} from '../helpers/wait.js';
import {drone, t0, task} from './fixtures.js';
import {plain} from './frame.js';

const tasks: Record<string, {what: string; state: string; final: boolean}> = {
	a: {what: '$ sleep 100', state: 'running', final: false},
	b: {what: 'hello', state: 'succeeded', final: true},
	c: {what: 'x', state: 'pending', final: false},
};

const baseView: View = {
	droneNames: Array.from({length: 100}, (_, index) => `drone-${index}`),
	taskIds: ['a', 'b', 'c'],
	eventCount: 50,
	rows: {drones: 10, tasks: 2, events: 5, page: 10},
	pageLines: 100,
	matches: [],
	task: id => tasks[id],
};

type Press = string | Partial<Key>;

function press(state: UiState, keys: readonly Press[], view: View = baseView) {
	let current = state;
	const effects: Effect[] = [];
	for (const key of keys) {
		const result = typeof key === 'string' ? reduceKey(current, key, {}, view) : reduceKey(current, '', key, view);
		current = result.state;
		effects.push(...result.effects ?? []);
	}

	return {state: current, effects};
}

const enter = {return: true};
const escape = {escape: true};
const tab = {tab: true};
const up = {upArrow: true};
const down = {downArrow: true};

test('Enter submits the line; Up and Down recall earlier tasks, then the line being typed', () => {
	const {state, effects} = press(initialUiState, ['one', enter, 'two', enter, 'thr']);
	assert.deepEqual(effects, [{kind: 'submit', task: {text: 'one'}, line: 'one'}, {kind: 'submit', task: {text: 'two'}, line: 'two'}]);
	assert.equal(press(state, [up]).state.prompt.value, 'two');
	assert.equal(press(state, [up, up, up]).state.prompt.value, 'one');
	assert.equal(press(state, [up, up, down, down]).state.prompt.value, 'thr');
});

test('the prompt takes every printable key: a task may start with / ? or :, and nothing opens', () => {
	const {state, effects} = press(initialUiState, ['/', 'tmp ok', enter, '?', 'why', enter, ':', 'q', enter]);
	assert.deepEqual(effects.map(effect => effect.kind === 'submit' ? effect.line : effect.kind), ['/tmp ok', '?why', ':q']);
	assert.deepEqual(state.pages, []);
	assert.equal(state.input, undefined);
});

test('the task syntax: $ runs a command, @k=v picks drones, a leading \\ sends the rest as text; a bad line stays, with why', () => {
	const {effects} = press(initialUiState, ['$ uname -a', enter, '@zone=a,disk=ssd $ df -h', enter, '@zone=b hello', enter, '\\$5 off', enter]);
	assert.deepEqual(effects.map(effect => effect.kind === 'submit' ? effect.task : effect), [
		{command: 'uname -a'},
		{command: 'df -h', selector: {zone: 'a', disk: 'ssd'}},
		{text: 'hello', selector: {zone: 'b'}},
		{text: '$5 off'},
	]);
	const bad = press(initialUiState, ['@zone $ ls', enter]);
	assert.equal(bad.state.prompt.value, '@zone $ ls');
	assert.equal(bad.effects[0]?.kind, 'say');
	assert.match((bad.effects[0] as {text: string}).text, /a selector is @key=value/);
});

test('keys typed fast arrive in one chunk: each newline in it is an Enter', () => {
	const {state, effects} = press(initialUiState, ['hello\rnext']);
	assert.deepEqual(effects, [{kind: 'submit', task: {text: 'hello'}, line: 'hello'}]);
	assert.equal(state.prompt.value, 'next');
	assert.deepEqual(press(initialUiState, ['one\rtwo\r']).effects.map(effect => (effect as {line: string}).line), ['one', 'two']);
});

test('a bracketed paste keeps its newlines: Enter sends the lines as one task', () => {
	const {state, effects} = press(initialUiState, ['$ ', '[200~', 'echo one\recho two', enter, 'echo three', '[201~']);
	assert.deepEqual(effects, []);
	assert.equal(state.prompt.value, '$ echo one\necho two\necho three');
	assert.equal(state.pasting, false);
	assert.deepEqual(press(state, [enter]).effects, [{kind: 'submit', task: {command: 'echo one\necho two\necho three'}, line: '$ echo one\necho two\necho three'}]);
});

test('the cursor moves over a wide character or an emoji whole, and Backspace erases it whole', () => {
	const typed = press(initialUiState, ['a漢👍🏽b', {leftArrow: true}, {leftArrow: true}]).state;
	assert.equal(typed.prompt.cursor, 2);
	const erased = press(typed, [{rightArrow: true}, {backspace: true}]).state;
	assert.equal(erased.prompt.value, 'a漢b');
	assert.equal(erased.prompt.cursor, 2);
});

test('Esc leaves the prompt and keeps the line, and never leads back into it: Esc Esc :q quits; Tab goes round, i goes to the prompt', () => {
	const left = press(initialUiState, ['half a task', escape]).state;
	assert.equal(left.focus, 'drones');
	assert.equal(left.prompt.value, 'half a task');
	assert.equal(press(left, [escape, escape]).state.focus, 'drones');
	assert.deepEqual(press(initialUiState, [escape, escape, escape, ':', 'q', enter]).effects, [{kind: 'quit'}]);
	assert.equal(press(left, [tab]).state.focus, 'tasks');
	assert.equal(press(left, [tab, tab]).state.focus, 'events');
	assert.equal(press(left, [tab, tab, tab]).state.focus, 'prompt');
	assert.equal(press(left, ['i']).state.focus, 'prompt');
	const onPage = press(left, [enter]).state;
	assert.equal(onPage.pages.length, 1);
	assert.deepEqual([press(onPage, ['i']).state.focus, press(onPage, ['i']).state.pages.length], ['prompt', 0]);
	const alone = press(left, [':', 'tasks', enter]).state;
	assert.equal(alone.screen, 'tasks');
	assert.equal(press(alone, [escape]).state.screen, 'hive', 'Esc on a pane shown alone: the three again');
});

test('keys read in one go outside the prompt are each a key: ":q" and Enter quits, "dy" drains; Esc read with the next key is both', () => {
	const onDrones = press(initialUiState, [escape]).state;
	assert.deepEqual(press(onDrones, [':q\r']).effects, [{kind: 'quit'}]);
	assert.deepEqual(press(onDrones, ['dy']).effects, [{kind: 'act', action: {kind: 'drain', name: 'drone-0'}}]);
	const escaped = reduceKey(initialUiState, ':', {meta: true}, baseView).state;
	assert.equal(escaped.focus, 'drones');
	assert.equal(escaped.input?.kind, 'command');
	assert.equal(escaped.prompt.value, '');
	const chunked = press(initialUiState, [escape, '\t\r']).state;
	assert.deepEqual([chunked.focus, chunked.pages[0]?.kind], ['tasks', 'task'], 'Tab and Enter read as one chunk are both keys');
	const tabbed = press(initialUiState, [{meta: true, tab: true}, enter]).state;
	assert.deepEqual([tabbed.focus, tabbed.pages[0]?.kind], ['tasks', 'task'], 'Esc, Tab read as one, then Enter: the task opens');
	assert.equal(press(initialUiState, ['two words', {meta: true, backspace: true}]).state.prompt.value, 'two ', 'Alt-Backspace on the prompt erases a word');
});

test('Ctrl-C quits from anywhere', () => {
	for (const state of [initialUiState, press(initialUiState, [escape, '?']).state, press(initialUiState, [escape, ':']).state]) {
		assert.deepEqual(reduceKey(state, 'c', {ctrl: true}, baseView).effects, [{kind: 'quit'}]);
	}
});

test('drones: a selected row moves and pages; Enter describes it; c and u act at once, d asks first', () => {
	const onDrones = press(initialUiState, [escape]).state;
	const paged = press(onDrones, [{pageDown: true}, {pageDown: true}, down]).state;
	assert.equal(paged.selected.drones, 'drone-21');
	assert.equal(paged.offsets.drones, 12);
	assert.equal(press(onDrones, [{end: true}]).state.selected.drones, 'drone-99');
	const described = press(paged, [enter]).state;
	assert.deepEqual(described.pages, [{kind: 'drone', name: 'drone-21', scroll: 0}]);
	assert.deepEqual(press(paged, ['c']).effects, [{kind: 'act', action: {kind: 'cordon', name: 'drone-21'}}]);
	assert.deepEqual(press(described, ['u']).effects, [{kind: 'act', action: {kind: 'uncordon', name: 'drone-21'}}]);
	const asked = press(paged, ['d']);
	assert.deepEqual(asked.effects, []);
	assert.equal(asked.state.input?.kind, 'confirm');
	assert.deepEqual(press(asked.state, ['y']).effects, [{kind: 'act', action: {kind: 'drain', name: 'drone-21'}}]);
	const declined = press(asked.state, ['n']);
	assert.equal(declined.state.input, undefined);
	assert.deepEqual(declined.effects, [{kind: 'say', tone: 'info', text: 'nothing done'}]);
});

test('tasks: Enter opens one, x asks before cancelling, and an ended task is not offered', () => {
	const onTasks = press(initialUiState, [tab, tab]).state;
	const opened = press(onTasks, [enter]).state;
	assert.deepEqual(opened.pages, [{kind: 'task', id: 'a', scroll: 0, follow: true, search: '', match: undefined, wrap: false}]);
	const second = press(onTasks, [down, enter]).state;
	assert.equal((second.pages[0] as {follow: boolean}).follow, false, 'an ended task opens at its top');
	const asked = press(onTasks, ['x']);
	assert.match((asked.state.input as {question: string}).question, /^Cancel task a\? y\/N  \(running: \$ sleep 100\)/);
	assert.deepEqual(press(asked.state, ['y']).effects, [{kind: 'act', action: {kind: 'cancel', id: 'a'}}]);
	const ended = press(onTasks, [down, 'x']);
	assert.equal(ended.state.input, undefined);
	assert.match((ended.effects[0] as {text: string}).text, /has ended \(succeeded\): nothing to cancel/);
});

test('uppercase letters sort the table with the focus; the same letter again turns the order round', () => {
	const onDrones = press(initialUiState, [escape]).state;
	assert.deepEqual(press(onDrones, ['S']).state.sorts.drones, {column: 'state', descending: false});
	assert.deepEqual(press(onDrones, ['S', 'S']).state.sorts.drones, {column: 'state', descending: true});
	const onTasks = press(initialUiState, [tab, tab]).state;
	assert.deepEqual(press(onTasks, ['T']).state.sorts.tasks, {column: 'time', descending: false}, 'newest first is the default: T turns it');
	assert.deepEqual(press(onTasks, ['D']).state.sorts.tasks, {column: 'drone', descending: false});
});

test('/ filters the table with the focus as it is typed; Enter keeps the filter, Esc clears it', () => {
	const onTasks = press(initialUiState, [tab, tab]).state;
	const typing = press(onTasks, ['/', 'state:f']).state;
	assert.equal(typing.filters.tasks, 'state:f');
	assert.equal(typing.input?.kind, 'filter');
	const kept = press(typing, [enter]).state;
	assert.equal(kept.input, undefined);
	assert.equal(kept.filters.tasks, 'state:f');
	assert.equal(press(kept, [escape]).state.filters.tasks, '', 'Esc on the table drops the filter first');
	assert.equal(press(typing, [escape]).state.filters.tasks, '');
	assert.equal(press(onTasks, ['/', 'x', escape]).state.focus, 'tasks');
});

test(': runs a command: a pane alone, the hive again, a task by id, the token, quit; an unknown one says what there is', () => {
	const command = (line: string) => press(initialUiState, [escape, ':', line, enter]);
	assert.equal(command('drones').state.screen, 'drones');
	assert.equal(command('tasks').state.focus, 'tasks');
	assert.equal(command('ev').state.screen, 'events');
	assert.equal(press(command('drones').state, [':', 'hive', enter]).state.screen, 'hive');
	assert.deepEqual(command('task 3f2a').state.pages, [{kind: 'task', id: '3f2a', scroll: 0, follow: false, search: '', match: undefined, wrap: false}]);
	assert.deepEqual(command('drone local-1').state.pages, [{kind: 'drone', name: 'local-1', scroll: 0}]);
	assert.equal(command('token').state.pages[0]?.kind, 'token');
	assert.deepEqual(command('q').effects, [{kind: 'quit'}]);
	assert.match((command('bogus').effects[0] as {text: string}).text, /:bogus: no such command \(:drones :tasks :events/);
	assert.equal(press(initialUiState, [escape, ':', 'dro', escape]).state.screen, 'hive');
});

test('a task page scrolls, follows from End, and finds: / types, Enter goes to the first match below, n and N go round', () => {
	const opened = press(initialUiState, [tab, tab, enter]).state;
	const view = {...baseView, matches: [5, 40, 80]};
	const up2 = press(opened, [up, up], view).state.pages[0] as {scroll: number; follow: boolean};
	assert.deepEqual([up2.scroll, up2.follow], [88, false], 'following, the view was at the end (100 lines, 10 rows): up leaves it');
	const top = press(opened, [{home: true}], view).state;
	assert.equal((top.pages[0] as {scroll: number}).scroll, 0);
	assert.equal((press(top, [{end: true}], view).state.pages[0] as {follow: boolean}).follow, true);
	const searching = press(top, [{pageDown: true}, '/', 'err'], view).state;
	assert.equal(searching.input?.kind, 'search');
	assert.equal((searching.pages[0] as {search: string}).search, 'err');
	const found = press(searching, [enter], view).state.pages[0] as {match: number; scroll: number};
	assert.deepEqual([found.match, found.scroll], [1, 37], 'the first match at or below line 10, a third of the page down');
	const next = press({...searching, input: undefined, pages: [{...found, kind: 'task', id: 'a', follow: false, search: 'err', wrap: false}]}, ['n'], view).state.pages[0] as {match: number};
	assert.equal(next.match, 2);
	const back = press(press(searching, [enter], view).state, ['N', 'N'], view).state.pages[0] as {match: number};
	assert.equal(back.match, 2, 'N goes round backwards');
	const cleared = press(press(searching, [enter], view).state, [escape], view).state;
	assert.equal((cleared.pages[0] as {search: string}).search, '', 'Esc drops the search first');
	assert.equal(press(cleared, [escape], view).state.pages.length, 0);
	const again = press(press(searching, [enter], view).state, ['/'], view).state;
	assert.equal((again.pages[0] as {search: string}).search, '', '/ starts a new search, as in less');
	assert.equal((press(again, [escape, 'w'], view).state.pages[0] as {wrap: boolean}).wrap, true, 'w wraps long lines');
});

test('App: a task typed at the prompt goes to the queen\'s API and its outcome shows, or its error; x on a task cancels it after y', async () => {
	const store = new HiveStore({queenHost: '127.0.0.1:8080', flushMs: 10, now: () => t0});
	store.setDrones({drones: [drone(0)], maxRetry: 3, heartbeatIntervalMs: 1000}, t0);
	store.setTasks([task('0123456789', {state: 'running', kind: 'command', text: null, command: 'sleep 100'})]);
	store.flush();
	const submitted: unknown[] = [];
	const cancelled: Array<{id: string; user?: string}> = [];
	const client = {
		async submitTask(line: unknown) {
			submitted.push(line);
			if ((line as {text?: string}).text === 'fail') {
				throw new Error('POST http://127.0.0.1:8080/submit_task: no drone accepted the task');
			}

			return {result: 'OK', task: task('0123456789', line as {text: string})};
		},
		async task(id: string) {
			return {task: task(id)};
		},
		async cancelTask(id: string, who?: {user?: string}) {
			cancelled.push({id, user: who?.user});
			return {result: 'OK', task: task(id, {state: 'cancelled'})};
		},
	} as unknown as DashboardClient;
	const {stdin, lastFrame, unmount} = render(<App store={store} client={client} version="0.1.0" user="alice@laptop" width={80} height={24}/>);
	const frame = () => plain(lastFrame());
	await waitFor(() => /drone-0 +127\.0\.0\.1:5000/.test(frame()), 'the drone table');
	stdin.write('hello');
	await waitFor(() => frame().includes('› hello'), 'the typed task');
	stdin.write('\r');
	await waitFor(() => frame().includes('✓ task 01234567 → drone-0: "hello"'), `the outcome (${frame()})`);
	stdin.write('fail');
	await waitFor(() => frame().includes('› fail'), 'the typed task');
	stdin.write('\r');
	await waitFor(() => frame().includes('✗ "fail": no drone accepted the task'), 'the error');
	assert.deepEqual(submitted, [{text: 'hello'}, {text: 'fail'}]);

	stdin.write('\t');
	stdin.write('\t');
	await waitFor(() => frame().includes('x cancel'), `the tasks' keys (${frame()})`);
	stdin.write('x');
	await waitFor(() => frame().includes('Cancel task 01234567? y/N  (running: $ sleep 100)'), `the question (${frame()})`);
	stdin.write('y');
	await waitFor(() => frame().includes('✓ task 01234567 cancelled'), `the cancel's outcome (${frame()})`);
	assert.deepEqual(cancelled, [{id: '0123456789', user: 'alice@laptop'}]);
	const lines = frame().split('\n');
	assert.equal(lines.length, 24);
	unmount();
	store.close();
});

test('App: a container typed at the prompt ($[rootfs limits] script) reaches a real queen as one; the queen\'s 400 shows as it says it', async t => {
	const queen = await startQueen(t);
	await startDrone(t, queen);
	const http = createHttpClient({userAgent: 'hive-dashboard/test', timeoutMs: 5000, maxSockets: 2});
	t.after(() => {
		http.close();
	});
	const store = new HiveStore({queenHost: queen.address, flushMs: 10});
	t.after(() => {
		store.close();
	});
	const {stdin, lastFrame, unmount} = render(<App store={store} client={createQueenClient(queen.address, http)} version="0.1.0" user="alice@laptop" width={200} height={24}/>);
	t.after(unmount);
	const frame = () => plain(lastFrame());
	stdin.write('@pool=x $[/srv/bb memory=64M] echo hi');
	await waitFor(() => frame().includes('› @pool=x $[/srv/bb memory=64M] echo hi'), 'the typed task');
	stdin.write('\r');
	await waitFor(() => /… task [\da-f]{8} pending \(.*\): "\$\[\/srv\/bb memory=64M\] echo hi @pool=x"/.test(frame()), `the outcome (${frame()})`);
	const {tasks} = (await request(`${queen.url}/tasks`)).body;
	assert.deepEqual(tasks.map((each: {kind: string; container: unknown; selector: unknown}) => [each.kind, each.container, each.selector]), [['container', {rootfs: '/srv/bb', command: ['sh', '-c', 'echo hi'], memory: '64M'}, {pool: 'x'}]]);

	stdin.write('$[srv/bb memory=lots] echo hi');
	await waitFor(() => frame().includes('› $[srv/bb memory=lots] echo hi'), 'the typed task');
	stdin.write('\r');
	await waitFor(() => frame().includes('✗ "$[srv/bb memory=lots] echo hi": container.rootfs must be an absolute path'), `the queen's error (${frame()})`);
});
