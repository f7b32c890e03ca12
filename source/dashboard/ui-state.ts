import type {Key} from 'ink';
import {shortId} from '../model.js';
import {parseTaskLine, type TaskLine} from './prompt-syntax.js';
import {defaultDroneSort, defaultTaskSort, droneSortKeys, taskSortKeys, type Sort} from './rows.js';
import {scrollWindow} from './format.js';

/**
What the dashboard's keys change, as a pure function: (state, key, what is on screen) → state and what
to do (submit, cancel, cordon, quit...). App.tsx does the doing; tests can drive this alone.

The prompt has the focus first, and while it has it every printable key is text: a task may start with
`/`, `?` or `:`. Esc leaves the prompt (the line is kept) for the tables, where the keys act: `?` help,
`:` a command (`:drones`, `:tasks`, `:events`, `:q`), `/` a filter, uppercase letters sort, Enter opens,
`c` `u` `d` cordon, uncordon and drain a drone, `x` cancels a task. Views opened over the screen (a
task, a drone, the help) stack: Esc closes the top one.
*/

export type Pane = 'drones' | 'tasks' | 'events';
/** What the body shows: the three panes (`hive`) or one of them, full height. */
export type Screen = 'hive' | Pane;
export type Focus = 'prompt' | Pane;

/** A view over the screen; Esc closes the top one. `scroll` is its first line shown. */
export type Page =
	| {readonly kind: 'task'; readonly id: string; readonly scroll: number; readonly follow: boolean; readonly search: string; readonly match: number | undefined; readonly wrap: boolean}
	| {readonly kind: 'drone'; readonly name: string; readonly scroll: number}
	| {readonly kind: 'help'; readonly scroll: number}
	| {readonly kind: 'token'; readonly scroll: number};

/** A line being edited: its text and the cursor (an index into it, at a character's boundary). */
export type Line = {readonly value: string; readonly cursor: number};

export type Action = {readonly kind: 'cancel'; readonly id: string} | {readonly kind: 'cordon' | 'uncordon' | 'drain'; readonly name: string};

/** What the bottom line is taking instead of a task: a filter, a command, a search, a y/N answer. */
export type Input =
	| {readonly kind: 'filter'; readonly pane: Pane}
	| {readonly kind: 'command'}
	| {readonly kind: 'search'}
	| {readonly kind: 'confirm'; readonly question: string; readonly action: Action};

export type UiState = {
	readonly screen: Screen;
	readonly focus: Focus;
	readonly prompt: Line;
	/** Tasks submitted, oldest first (at most 100). */
	readonly history: readonly string[];
	/** Which history entry the prompt shows; undefined: the line being typed. */
	readonly historyIndex: number | undefined;
	/** The line being typed, kept while browsing the history. */
	readonly draft: string;
	/** Inside a bracketed paste: newlines are text, not Enter. */
	readonly pasting: boolean;
	readonly input: Input | undefined;
	/** The filter, command or search being typed. */
	readonly line: Line;
	readonly filters: Readonly<Record<Pane, string>>;
	readonly sorts: {readonly drones: Sort; readonly tasks: Sort};
	/** The selected row of each table, by name or id (rows come and go under it). */
	readonly selected: {readonly drones: string | undefined; readonly tasks: string | undefined};
	/** First row shown of each pane; the events' undefined: the newest. */
	readonly offsets: {readonly drones: number; readonly tasks: number; readonly events: number | undefined};
	readonly pages: readonly Page[];
};

export const initialUiState: UiState = {
	screen: 'hive',
	focus: 'prompt',
	prompt: {value: '', cursor: 0},
	history: [],
	historyIndex: undefined,
	draft: '',
	pasting: false,
	input: undefined,
	line: {value: '', cursor: 0},
	filters: {drones: '', tasks: '', events: ''},
	sorts: {drones: defaultDroneSort, tasks: defaultTaskSort},
	selected: {drones: undefined, tasks: undefined},
	offsets: {drones: 0, tasks: 0, events: undefined},
	pages: [],
};

/** What a task is, for a question about it. */
export type TaskBrief = {readonly what: string; readonly state: string; readonly final: boolean};

/** What is on screen now: the rows after filters and sorts, and how many fit. */
export type View = {
	readonly droneNames: readonly string[];
	readonly taskIds: readonly string[];
	readonly eventCount: number;
	/** Data rows that fit in each pane as laid out now. */
	readonly rows: {readonly drones: number; readonly tasks: number; readonly events: number; readonly page: number};
	/** Lines of the page on top (a task's record and output, a drone's description, the help). */
	readonly pageLines: number;
	/** Lines of the task page that match its search. */
	readonly matches: readonly number[];
	task(id: string): TaskBrief | undefined;
};

export type Effect =
	| {readonly kind: 'submit'; readonly task: TaskLine; readonly line: string}
	| {readonly kind: 'act'; readonly action: Action}
	| {readonly kind: 'say'; readonly tone: 'good' | 'bad' | 'info'; readonly text: string}
	| {readonly kind: 'quit'};

export type KeyResult = {readonly state: UiState; readonly effects?: readonly Effect[]};

const pasteStart = '[200~';
const pasteEnd = '[201~';

/** The panes Tab goes through on each screen (the prompt first). */
function focusOrder(screen: Screen): readonly Focus[] {
	return screen === 'hive' ? ['prompt', 'drones', 'tasks', 'events'] : ['prompt', screen];
}

/** The pane keys go to when they leave the prompt. */
function firstPane(screen: Screen): Pane {
	return screen === 'hive' ? 'drones' : screen;
}

export function reduceKey(state: UiState, input: string, key: Partial<Key>, view: View): KeyResult {
	if (key.ctrl && input === 'c') {
		return {state, effects: [{kind: 'quit'}]};
	}

	if (input === pasteStart || input === pasteEnd) {
		return {state: {...state, pasting: input === pasteStart}};
	}

	if (key.meta && !key.escape && !key.ctrl && !state.pasting) {
		if ((key.backspace || key.delete) && state.focus === 'prompt' && state.pages.length === 0 && state.input === undefined) {
			// Alt-Backspace, as in a shell: the word before the cursor.
			return {state: withPrompt(state, editLine(state.prompt, 'w', {ctrl: true}))};
		}

		// Esc and the next key read in one go (a busy machine, a slow link) come as that key with meta, as
		// Alt sends it: both are meant, Esc first.
		return reduceKeys(state, [['', {escape: true}], [input, {...key, meta: false}]], view);
	}

	if (!state.pasting && isRawChunk(input, key) && /[\t\r\n\u007F\b]/.test(input)) {
		// Keys typed fast (or on a busy machine) come in one chunk, and only an escape sequence splits it:
		// Tab, Enter and Backspace in it are keys.
		return reduceKeys(state, splitChunk(input), view);
	}

	const editsPrompt = state.focus === 'prompt' && state.pages.length === 0 && state.input === undefined;
	if (!editsPrompt && !state.pasting && input.length > 1 && isText(input, key)) {
		// Outside the prompt, each character of a chunk is a key (`:q`, `dy`).
		return reduceKeys(state, [...graphemes.segment(input)].map(({segment}) => [segment, {}] as const), view);
	}

	if (state.input) {
		return editInput(state, state.input, input, key, view);
	}

	const page = state.pages.at(-1);
	if (page) {
		return pageKey(state, page, input, key, view);
	}

	if (state.focus === 'prompt') {
		return editPrompt(state, input, key);
	}

	return paneKey(state, state.focus, input, key, view);
}

function reduceKeys(state: UiState, keys: ReadonlyArray<readonly [string, Partial<Key>]>, view: View): KeyResult {
	let current = state;
	const effects: Effect[] = [];
	for (const [input, key] of keys) {
		const result = reduceKey(current, input, key, view);
		current = result.state;
		effects.push(...result.effects ?? []);
	}

	return {state: current, effects};
}

/** Back to the first row and to nothing selected: the hive shown was replaced (a new leader, a restarted queen). */
export function resetView(state: UiState): UiState {
	return {...state, selected: {drones: undefined, tasks: undefined}, offsets: {drones: 0, tasks: 0, events: undefined}};
}

// --- The prompt

function editPrompt(state: UiState, input: string, key: Partial<Key>): KeyResult {
	const {history} = state;
	if (state.pasting) {
		return {state: withPrompt(state, insert(state.prompt, pasted(input, key)))};
	}

	if (key.escape) {
		return {state: {...state, focus: firstPane(state.screen)}};
	}

	if (key.tab) {
		return {state: {...state, focus: nextFocus(state, key.shift === true)}};
	}

	if (key.return) {
		return submit(state);
	}

	if (key.upArrow || key.downArrow) {
		if (history.length === 0) {
			return {state};
		}

		const current = state.historyIndex ?? history.length;
		const index = Math.min(Math.max(0, current + (key.upArrow ? -1 : 1)), history.length);
		const draft = state.historyIndex === undefined ? state.prompt.value : state.draft;
		const value = index === history.length ? draft : history[index]!;
		return {state: {...state, historyIndex: index === history.length ? undefined : index, draft, prompt: {value, cursor: value.length}}};
	}

	const edited = editLine(state.prompt, input, key);
	return {state: edited === state.prompt ? state : withPrompt(state, edited)};
}

function withPrompt(state: UiState, prompt: Line): UiState {
	return {...state, prompt, historyIndex: undefined};
}

function submit(state: UiState): KeyResult {
	const line = state.prompt.value.trim();
	if (line === '') {
		return {state};
	}

	const parsed = parseTaskLine(line);
	if (parsed.error !== undefined) {
		// The line stays, to be mended.
		return {state, effects: [{kind: 'say', tone: 'bad', text: `✗ ${parsed.error}`}]};
	}

	const history = state.history.at(-1) === line ? state.history : [...state.history, line].slice(-100);
	return {
		state: {...state, prompt: {value: '', cursor: 0}, draft: '', historyIndex: undefined, history},
		effects: [{kind: 'submit', task: parsed.task, line}],
	};
}

function nextFocus(state: UiState, back: boolean): Focus {
	const order = focusOrder(state.screen);
	const index = Math.max(0, order.indexOf(state.focus));
	return order[(index + (back ? order.length - 1 : 1)) % order.length]!;
}

// --- Tables

function paneKey(state: UiState, pane: Pane, input: string, key: Partial<Key>, view: View): KeyResult {
	if (key.tab) {
		return {state: {...state, focus: nextFocus(state, key.shift === true)}};
	}

	if (key.escape) {
		// Back out, as in k9s: the filter first, then a pane shown alone gives way to the three. Never into
		// the prompt: Esc pressed a few times, then `:q`, must not send ":q" as a task.
		if (state.filters[pane] !== '') {
			return {state: setFilter(state, pane, '')};
		}

		return {state: state.screen === 'hive' ? state : {...state, screen: 'hive'}};
	}

	const common = globalKey(state, input);
	if (common) {
		return common;
	}

	if (input === '/') {
		return {state: {...state, input: {kind: 'filter', pane}, line: {value: state.filters[pane], cursor: state.filters[pane].length}}};
	}

	if (pane === 'events') {
		const rows = view.rows.events;
		const max = Math.max(0, view.eventCount - rows);
		const current = state.offsets.events ?? max;
		const next = move(current, key, rows, max);
		// At the bottom, the log follows the newest lines again.
		return {state: {...state, offsets: {...state.offsets, events: next >= max ? undefined : next}}};
	}

	const sortKeys = pane === 'drones' ? droneSortKeys : taskSortKeys;
	const column = /^[A-Z]$/.test(input) ? sortKeys[input] : undefined;
	if (column !== undefined) {
		const current = state.sorts[pane];
		const sort = current.column === column ? {column, descending: !current.descending} : {column, descending: pane === 'tasks' && column === 'time'};
		return {state: {...state, sorts: {...state.sorts, [pane]: sort}}};
	}

	const ids = pane === 'drones' ? view.droneNames : view.taskIds;
	const rows = pane === 'drones' ? view.rows.drones : view.rows.tasks;
	const index = Math.max(0, ids.indexOf(state.selected[pane] ?? ''));
	const id = ids[index];
	if (pane === 'drones' && id !== undefined) {
		if (key.return) {
			return {state: openPage(state, {kind: 'drone', name: id, scroll: 0})};
		}

		const action = droneAction(state, input, id);
		if (action) {
			return action;
		}
	}

	if (pane === 'tasks' && id !== undefined) {
		if (key.return || input === 'l') {
			return {state: openPage(state, taskPage(id, view))};
		}

		if (input === 'x') {
			return askCancel(state, id, view);
		}
	}

	if (ids.length === 0) {
		return {state};
	}

	const next = move(index, key, rows, ids.length - 1);
	const offset = scrollWindow(ids.length, rows, next, state.offsets[pane]);
	return {state: {...state, selected: {...state.selected, [pane]: ids[next]}, offsets: {...state.offsets, [pane]: offset}}};
}

/** `?`, `:` and `i` (to the prompt) wherever the prompt does not have the keys. */
function globalKey(state: UiState, input: string): KeyResult | undefined {
	if (input === 'i') {
		return {state: {...state, focus: 'prompt', pages: []}};
	}

	if (input === '?') {
		return {state: openPage(state, {kind: 'help', scroll: 0})};
	}

	if (input === ':') {
		return {state: {...state, input: {kind: 'command'}, line: {value: '', cursor: 0}}};
	}

	return undefined;
}

function droneAction(state: UiState, input: string, name: string): KeyResult | undefined {
	switch (input) {
		case 'c': {
			return {state, effects: [{kind: 'act', action: {kind: 'cordon', name}}]};
		}

		case 'u': {
			return {state, effects: [{kind: 'act', action: {kind: 'uncordon', name}}]};
		}

		case 'd': {
			const question = `Drain ${name}? y/N  (no new tasks; what runs there finishes, or moves elsewhere after 1h)`;
			return {state: {...state, input: {kind: 'confirm', question, action: {kind: 'drain', name}}}};
		}

		default: {
			return undefined;
		}
	}
}

function askCancel(state: UiState, id: string, view: View): KeyResult {
	const task = view.task(id);
	if (task?.final) {
		return {state, effects: [{kind: 'say', tone: 'info', text: `task ${shortId(id)} has ended (${task.state}): nothing to cancel`}]};
	}

	const question = `Cancel task ${shortId(id)}? y/N  (${task ? `${task.state}: ${task.what}` : 'a running command is killed'})`;
	return {state: {...state, input: {kind: 'confirm', question, action: {kind: 'cancel', id}}}};
}

function taskPage(id: string, view: View): Page {
	// A running command is followed at its newest line (as `kubectl logs -f`); an ended task opens at the top.
	const follow = view.task(id)?.final === false;
	return {kind: 'task', id, scroll: 0, follow, search: '', match: undefined, wrap: false};
}

function openPage(state: UiState, page: Page): UiState {
	return {...state, pages: [...state.pages, page]};
}

function setFilter(state: UiState, pane: Pane, filter: string): UiState {
	const offsets = pane === 'events' ? {...state.offsets, events: undefined} : {...state.offsets, [pane]: 0};
	return {...state, filters: {...state.filters, [pane]: filter}, offsets};
}

// --- Pages: a task, a drone, the help, the token

function pageKey(state: UiState, page: Page, input: string, key: Partial<Key>, view: View): KeyResult {
	if (key.escape || input === 'q' || (page.kind === 'help' && input === '?')) {
		if (page.kind === 'task' && page.search !== '' && key.escape) {
			// Esc first drops the search, as less does.
			return {state: replacePage(state, {...page, search: '', match: undefined})};
		}

		return {state: {...state, pages: state.pages.slice(0, -1)}};
	}

	const common = globalKey(state, input);
	if (common && !(page.kind === 'help' && input === '?')) {
		return common;
	}

	const rows = view.rows.page;
	const max = Math.max(0, view.pageLines - rows);
	switch (page.kind) {
		case 'task': {
			return taskPageKey(state, page, input, key, view, max);
		}

		case 'drone': {
			const action = droneAction(state, input, page.name);
			if (action) {
				return action;
			}

			return {state: replacePage(state, {...page, scroll: move(Math.min(page.scroll, max), key, rows, max)})};
		}

		case 'help':
		case 'token': {
			return {state: replacePage(state, {...page, scroll: move(Math.min(page.scroll, max), key, rows, max)})};
		}
	}
}

function taskPageKey(state: UiState, page: Page & {kind: 'task'}, input: string, key: Partial<Key>, view: View, max: number): KeyResult {
	const rows = view.rows.page;
	const scroll = page.follow ? max : Math.min(page.scroll, max);
	if (input === 'x') {
		return askCancel(state, page.id, view);
	}

	if (input === '/') {
		// A new search, as in less.
		return {state: replacePage({...state, input: {kind: 'search'}, line: {value: '', cursor: 0}}, {...page, search: '', match: undefined})};
	}

	if (input === 'w') {
		return {state: replacePage(state, {...page, wrap: !page.wrap})};
	}

	if (input === 'f' || key.end) {
		return {state: replacePage(state, {...page, follow: input === 'f' ? !page.follow : true, scroll: max})};
	}

	if ((input === 'n' || input === 'N') && view.matches.length > 0) {
		const count = view.matches.length;
		const current = page.match ?? (input === 'n' ? -1 : 0);
		const match = (current + (input === 'n' ? 1 : count - 1)) % count;
		return {state: replacePage(state, {...page, match, follow: false, scroll: toLine(view.matches[match]!, rows, max)})};
	}

	const next = move(scroll, key, rows, max);
	if (next === scroll && !key.home) {
		return {state};
	}

	return {state: replacePage(state, {...page, scroll: next, follow: false})};
}

/** The scroll that shows `line` a third of the way down (some context above it). */
function toLine(line: number, rows: number, max: number): number {
	return Math.min(max, Math.max(0, line - Math.floor(rows / 3)));
}

function replacePage(state: UiState, page: Page): UiState {
	return {...state, pages: [...state.pages.slice(0, -1), page]};
}

// --- The bottom line's other uses: a filter, a command, a search, a confirmation

function editInput(state: UiState, current: Input, input: string, key: Partial<Key>, view: View): KeyResult {
	if (current.kind === 'confirm') {
		const done = {...state, input: undefined};
		return input === 'y' || input === 'Y'
			? {state: done, effects: [{kind: 'act', action: current.action}]}
			: {state: done, effects: [{kind: 'say', tone: 'info', text: 'nothing done'}]};
	}

	if (key.escape) {
		const closed = {...state, input: undefined, line: {value: '', cursor: 0}};
		if (current.kind === 'filter') {
			return {state: setFilter(closed, current.pane, '')};
		}

		return {state: current.kind === 'search' ? withSearch(closed, '') : closed};
	}

	if (key.return || (key.tab && current.kind !== 'command')) {
		const done = {...state, input: undefined};
		if (current.kind === 'command') {
			return runCommand({...done, line: {value: '', cursor: 0}}, state.line.value.trim(), view);
		}

		if (current.kind === 'search') {
			// Enter goes to the first match below what is shown.
			const page = state.pages.at(-1);
			if (page?.kind === 'task' && view.matches.length > 0) {
				const firstShown = page.follow ? Math.max(0, view.pageLines - view.rows.page) : page.scroll;
				const found = view.matches.findIndex(line => line >= firstShown);
				const match = found === -1 ? 0 : found;
				return {state: replacePage(done, {...page, match, follow: false, scroll: toLine(view.matches[match]!, view.rows.page, Math.max(0, view.pageLines - view.rows.page))})};
			}
		}

		return {state: done};
	}

	const line = state.pasting ? insert(state.line, pasted(input, key).replaceAll('\n', ' ')) : editLine(state.line, input, key);
	if (line === state.line) {
		return {state};
	}

	const edited = {...state, line};
	if (current.kind === 'filter') {
		return {state: setFilter(edited, current.pane, line.value)};
	}

	return {state: current.kind === 'search' ? withSearch(edited, line.value) : edited};
}

function withSearch(state: UiState, search: string): UiState {
	const page = state.pages.at(-1);
	return page?.kind === 'task' ? replacePage(state, {...page, search, match: undefined}) : state;
}

/** The `:` commands, k9s style. */
export const commands: ReadonlyArray<readonly [string, string]> = [
	[':drones', 'the drones alone, full height (also :dr)'],
	[':tasks', 'the tasks alone (also :t)'],
	[':events', 'the event log alone, to scroll back (also :ev)'],
	[':hive', 'the three panes again (also :all)'],
	[':task ID', 'open a task by its id or the start of it'],
	[':drone NAME', 'describe a drone'],
	[':token', 'the hive\'s token, and how to attach a second dashboard'],
	[':help', 'the keys (also ?)'],
	[':q', 'quit (also :quit, Ctrl-C)'],
];

function runCommand(state: UiState, line: string, view: View): KeyResult {
	const [name = '', ...rest] = line.replace(/^:/, '').split(/\s+/);
	const argument = rest.join(' ');
	const show = (screen: Screen): KeyResult => ({state: {...state, screen, pages: [], focus: firstPane(screen)}});
	switch (name.toLowerCase()) {
		case '': {
			return {state};
		}

		case 'q':
		case 'q!':
		case 'quit':
		case 'exit': {
			return {state, effects: [{kind: 'quit'}]};
		}

		case 'dr':
		case 'drones':
		case 'no':
		case 'nodes': {
			return show('drones');
		}

		case 't':
		case 'tasks': {
			return argument === '' ? show('tasks') : {state: openPage(state, taskPage(argument, view))};
		}

		case 'task': {
			return argument === ''
				? {state, effects: [{kind: 'say', tone: 'bad', text: '✗ :task ID: which task? (its id or the start of it)'}]}
				: {state: openPage(state, taskPage(argument, view))};
		}

		case 'drone':
		case 'describe': {
			if (argument === '') {
				return {state, effects: [{kind: 'say', tone: 'bad', text: '✗ :drone NAME: which drone?'}]};
			}

			return {state: openPage(state, {kind: 'drone', name: argument, scroll: 0})};
		}

		case 'ev':
		case 'events': {
			return show('events');
		}

		case 'hive':
		case 'all':
		case 'home': {
			return show('hive');
		}

		case 'help':
		case '?': {
			return {state: openPage(state, {kind: 'help', scroll: 0})};
		}

		case 'token': {
			return {state: openPage(state, {kind: 'token', scroll: 0})};
		}

		default: {
			return {state, effects: [{kind: 'say', tone: 'bad', text: `✗ :${name}: no such command (${commands.map(([command]) => command.split(' ')[0]).join(' ')})`}]};
		}
	}
}

// --- Line editing, shared by the prompt and the bottom line's other uses

const graphemes = new Intl.Segmenter();

/** The cursor one character (a grapheme: an emoji, a letter and its accent) left or right. */
function step(value: string, cursor: number, direction: -1 | 1): number {
	if (direction === -1) {
		let previous = 0;
		for (const {index} of graphemes.segment(value)) {
			if (index >= cursor) {
				break;
			}

			previous = index;
		}

		return Math.min(previous, cursor);
	}

	for (const {index, segment} of graphemes.segment(value)) {
		if (index >= cursor) {
			return index + segment.length;
		}
	}

	return value.length;
}

function insert(line: Line, text: string): Line {
	return {value: line.value.slice(0, line.cursor) + text + line.value.slice(line.cursor), cursor: line.cursor + text.length};
}

/** A paste's text: newlines as `\n`, tabs kept; an Enter inside a paste is a newline. */
function pasted(input: string, key: Partial<Key>): string {
	if (key.return) {
		return '\n';
	}

	return input.replaceAll(/\r\n|\r/g, '\n').replaceAll(/[\u0000-\u0008\u000B-\u001F\u007F]/g, '');
}

/** The editing keys of a one-line field: moves, deletes, Ctrl-A/E/U/W/K, and text. Returns `line` itself when nothing changed. */
export function editLine(line: Line, input: string, key: Partial<Key>): Line {
	const {value, cursor} = line;
	if (key.leftArrow) {
		return {value, cursor: step(value, cursor, -1)};
	}

	if (key.rightArrow) {
		return {value, cursor: step(value, cursor, 1)};
	}

	if (key.home || (key.ctrl && input === 'a')) {
		return {value, cursor: 0};
	}

	if (key.end || (key.ctrl && input === 'e')) {
		return {value, cursor: value.length};
	}

	if (key.ctrl && input === 'u') {
		return {value: value.slice(cursor), cursor: 0};
	}

	if (key.ctrl && input === 'k') {
		return {value: value.slice(0, cursor), cursor};
	}

	if (key.ctrl && input === 'w') {
		const start = value.slice(0, cursor).replace(/\S+\s*$/, '').length;
		return {value: value.slice(0, start) + value.slice(cursor), cursor: start};
	}

	if (key.backspace || (key.delete && !key.ctrl)) {
		// Terminals send DEL (0x7f) for Backspace, which Ink names `delete`: both erase leftwards.
		if (cursor === 0) {
			return line;
		}

		const start = step(value, cursor, -1);
		return {value: value.slice(0, start) + value.slice(cursor), cursor: start};
	}

	if (isText(input, key)) {
		return insert(line, input);
	}

	return line;
}

/** Input that no key name was given to: typed text, or several keys read as one. */
function isRawChunk(input: string, key: Partial<Key>): boolean {
	return input.length > 0 && !key.ctrl && !key.meta && !key.escape && !key.return && !key.tab && !key.backspace && !key.delete
		&& !key.upArrow && !key.downArrow && !key.leftArrow && !key.rightArrow && !key.pageUp && !key.pageDown && !key.home && !key.end;
}

/** A chunk as keys: its runs of text, and Tab, Enter (a newline; CR LF is one) and Backspace between them. */
function splitChunk(input: string): Array<readonly [string, Partial<Key>]> {
	const keys: Array<readonly [string, Partial<Key>]> = [];
	for (const part of input.split(/(\r\n|[\t\r\n\u007F\b])/)) {
		if (part === '\t') {
			keys.push(['', {tab: true}]);
		} else if (part === '\r\n' || part === '\r' || part === '\n') {
			keys.push(['', {return: true}]);
		} else if (part === '\u007F' || part === '\b') {
			keys.push(['', {backspace: true}]);
		} else if (part !== '') {
			keys.push([part, {}]);
		}
	}

	return keys;
}

function isText(input: string, key: Partial<Key>): boolean {
	return input.length > 0 && !key.ctrl && !key.meta && !key.escape && !/^[\u0000-\u001F\u007F]+$/.test(input) && !/[\u0000-\u0009\u000B\u000C\u000E-\u001F\u007F]/.test(input);
}

/** A position moved by a key: ↑↓ one, PgUp PgDn a page, Home End the ends; within [0, max]. */
function move(position: number, key: Partial<Key>, page: number, max: number): number {
	let next = position;
	if (key.upArrow || key.pageUp) {
		next -= key.pageUp ? Math.max(1, page) : 1;
	} else if (key.downArrow || key.pageDown) {
		next += key.pageDown ? Math.max(1, page) : 1;
	} else if (key.home) {
		next = 0;
	} else if (key.end) {
		next = max;
	}

	return Math.min(Math.max(0, next), max);
}
