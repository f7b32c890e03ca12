import assert from 'node:assert/strict';
import {test} from 'node:test';
import {render} from 'ink-testing-library';
import {App} from '../../source/dashboard/App.js';
import {HiveStore} from '../../source/dashboard/hive-store.js';
import {initialUiState, reduceKey, type UiState} from '../../source/dashboard/ui-state.js';
import {waitFor} from '../helpers/wait.js';
import {drone, t0, task} from './fixtures.js';
import {plain} from './frame.js';

const view = {droneCount: 100, droneRows: 10, taskIds: ['a', 'b', 'c'], taskRows: 2};

function press(state: UiState, ...keys: Array<string | Record<string, boolean>>) {
	let current = state;
	const effects = [];
	for (const key of keys) {
		const result = typeof key === 'string' ? reduceKey(current, key, {}, view) : reduceKey(current, '', key, view);
		current = result.state;
		if (result.effect) {
			effects.push(result.effect);
		}
	}

	return {state: current, effects};
}

test('Enter submits the line; Up and Down recall earlier tasks, then the line being typed', () => {
	const {state, effects} = press(initialUiState, 'one', {return: true}, 'two', {return: true}, 'thr');
	assert.deepEqual(effects, [{kind: 'submit', text: 'one'}, {kind: 'submit', text: 'two'}]);
	assert.equal(press(state, {upArrow: true}).state.value, 'two');
	assert.equal(press(state, {upArrow: true}, {upArrow: true}, {upArrow: true}).state.value, 'one');
	assert.equal(press(state, {upArrow: true}, {upArrow: true}, {downArrow: true}, {downArrow: true}).state.value, 'thr');
});

test('keys typed fast arrive in one chunk: the Enter in it still submits', () => {
	const {state, effects} = press(initialUiState, 'hello\rnext');
	assert.deepEqual(effects, [{kind: 'submit', text: 'hello'}]);
	assert.equal(state.value, 'next');
});

test('Tab moves between the prompt, the drones and the tasks; Enter on a task opens it, Esc goes back', () => {
	const onTasks = press(initialUiState, {tab: true}, {tab: true});
	assert.equal(onTasks.state.focus, 'tasks');
	const opened = press(onTasks.state, {downArrow: true}, {return: true});
	assert.deepEqual(opened.effects, [{kind: 'open', id: 'b'}]);
	assert.equal(opened.state.detail, 'b');
	assert.equal(press(opened.state, {escape: true}).state.detail, undefined);
	assert.equal(press(initialUiState, {tab: true}, {pageDown: true}, {pageDown: true}).state.droneOffset, 20);
	assert.equal(press(initialUiState, {tab: true}, {end: true}).state.droneOffset, 90);
});

test('/ filters the drones and ? shows the keys, from the tables or an empty prompt; Ctrl-C quits', () => {
	const filtered = press(initialUiState, '/', 'd', 'r', {return: true});
	assert.equal(filtered.state.filter, 'dr');
	assert.equal(filtered.state.filtering, false);
	assert.equal(press(initialUiState, 'a', '/').state.value, 'a/');
	assert.equal(press(initialUiState, '?').state.help, true);
	assert.equal(press(initialUiState, '?', {escape: true}).state.help, false);
	assert.deepEqual(reduceKey(initialUiState, 'c', {ctrl: true}, view).effect, {kind: 'quit'});
});

test('App: a task typed at the prompt goes to the queen\'s API and its outcome shows, or its error', async () => {
	const store = new HiveStore({queenHost: '127.0.0.1:8080', flushMs: 10, now: () => t0});
	store.setDrones({drones: [drone(0)], maxRetry: 3, heartbeatIntervalMs: 1000}, t0);
	store.flush();
	const submitted: string[] = [];
	const client = {
		async submitTask(text: string) {
			submitted.push(text);
			if (text === 'fail') {
				throw new Error('POST http://127.0.0.1:8080/submit_task: no drone accepted the task');
			}

			return {result: 'OK', task: task('0123456789', {text})};
		},
		async task(id: string) {
			return {task: task(id)};
		},
	};
	const {stdin, lastFrame, unmount} = render(<App store={store} client={client} version="0.1.0" width={80} height={24}/>);
	await waitFor(() => plain(lastFrame()).includes('drone-0      127.0.0.1:5000'), 'the drone table');
	stdin.write('hello');
	await waitFor(() => plain(lastFrame()).includes('› hello'), 'the typed task');
	stdin.write('\r');
	await waitFor(() => plain(lastFrame()).includes('✓ "hello" → drone-0 (task 01234567)'), `the outcome (${plain(lastFrame())})`);
	stdin.write('fail');
	await waitFor(() => plain(lastFrame()).includes('› fail'), 'the typed task');
	stdin.write('\r');
	await waitFor(() => plain(lastFrame()).includes('✗ "fail": no drone accepted the task'), 'the error');
	assert.deepEqual(submitted, ['hello', 'fail']);
	const lines = plain(lastFrame()).split('\n');
	assert.equal(lines.length, 24);
	assert.ok(lines.every(line => line.length <= 80));
	unmount();
	store.close();
});
