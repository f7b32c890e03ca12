import type {Key} from 'ink';

/**
What the dashboard's keys change, as a pure function: (state, key, what is on screen) → state and at
most one thing to do. App.tsx does the doing (submit, open a task, quit); tests can drive this alone.
*/

export type Focus = 'prompt' | 'drones' | 'tasks';

export type UiState = {
	readonly focus: Focus;
	readonly value: string;
	readonly cursor: number;
	/** Tasks submitted, oldest first (at most 100). */
	readonly history: readonly string[];
	/** Which history entry the prompt shows; undefined: the line being typed. */
	readonly historyIndex: number | undefined;
	/** The line being typed, kept while browsing the history. */
	readonly draft: string;
	readonly filter: string;
	readonly filtering: boolean;
	readonly droneOffset: number;
	readonly taskSelected: number;
	/** The task whose details are shown. */
	readonly detail: string | undefined;
	readonly help: boolean;
};

export const initialUiState: UiState = {
	focus: 'prompt',
	value: '',
	cursor: 0,
	history: [],
	historyIndex: undefined,
	draft: '',
	filter: '',
	filtering: false,
	droneOffset: 0,
	taskSelected: 0,
	detail: undefined,
	help: false,
};

export type View = {
	/** Drones after the filter. */
	readonly droneCount: number;
	readonly droneRows: number;
	readonly taskIds: readonly string[];
	readonly taskRows: number;
};

export type Effect = {readonly kind: 'submit'; readonly text: string} | {readonly kind: 'open'; readonly id: string} | {readonly kind: 'quit'};

export type KeyResult = {readonly state: UiState; readonly effect?: Effect};

const focusOrder: readonly Focus[] = ['prompt', 'drones', 'tasks'];

export function reduceKey(state: UiState, input: string, key: Partial<Key>, view: View): KeyResult {
	if (key.ctrl && input === 'c') {
		return {state, effect: {kind: 'quit'}};
	}

	if (state.help) {
		return {state: key.escape || input === '?' || input === 'q' ? {...state, help: false} : state};
	}

	if (state.filtering) {
		return {state: editFilter(state, input, key)};
	}

	if (state.detail !== undefined) {
		return {state: key.escape || input === 'q' || key.leftArrow ? {...state, detail: undefined} : state};
	}

	if (key.tab) {
		const index = focusOrder.indexOf(state.focus);
		const next = focusOrder[(index + (key.shift ? focusOrder.length - 1 : 1)) % focusOrder.length]!;
		return {state: {...state, focus: next}};
	}

	const promptEmpty = state.value === '';
	if (input === '?' && (state.focus !== 'prompt' || promptEmpty)) {
		return {state: {...state, help: true}};
	}

	if (input === '/' && (state.focus !== 'prompt' || promptEmpty)) {
		return {state: {...state, filtering: true, droneOffset: 0}};
	}

	switch (state.focus) {
		case 'prompt': {
			return editPrompt(state, input, key);
		}

		case 'drones': {
			if (key.escape) {
				return {state: state.filter ? {...state, filter: '', droneOffset: 0} : {...state, focus: 'prompt'}};
			}

			const maxOffset = Math.max(0, view.droneCount - view.droneRows);
			const offset = move(state.droneOffset, key, view.droneRows, maxOffset);
			return {state: {...state, droneOffset: offset}};
		}

		case 'tasks': {
			if (key.escape) {
				return {state: {...state, focus: 'prompt'}};
			}

			const id = view.taskIds[state.taskSelected];
			if (key.return && id !== undefined) {
				return {state: {...state, detail: id}, effect: {kind: 'open', id}};
			}

			const selected = move(state.taskSelected, key, view.taskRows, Math.max(0, view.taskIds.length - 1));
			return {state: {...state, taskSelected: selected}};
		}
	}
}

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

function editFilter(state: UiState, input: string, key: Partial<Key>): UiState {
	if (key.escape) {
		return {...state, filtering: false, filter: ''};
	}

	if (key.return || key.tab) {
		return {...state, filtering: false};
	}

	if (key.backspace || key.delete) {
		return {...state, filter: state.filter.slice(0, -1), droneOffset: 0};
	}

	return isText(input, key) ? {...state, filter: state.filter + input, droneOffset: 0} : state;
}

function editPrompt(state: UiState, input: string, key: Partial<Key>): KeyResult {
	const {value, cursor, history} = state;
	if (key.return) {
		const text = value.trim();
		if (text === '') {
			return {state};
		}

		const nextHistory = history.at(-1) === text ? history : [...history, text].slice(-100);
		return {state: {...state, value: '', cursor: 0, draft: '', historyIndex: undefined, history: nextHistory}, effect: {kind: 'submit', text}};
	}

	if (key.upArrow || key.downArrow) {
		if (history.length === 0) {
			return {state};
		}

		const current = state.historyIndex ?? history.length;
		const index = Math.min(Math.max(0, current + (key.upArrow ? -1 : 1)), history.length);
		const draft = state.historyIndex === undefined ? value : state.draft;
		const line = index === history.length ? draft : history[index]!;
		return {state: {...state, historyIndex: index === history.length ? undefined : index, draft, value: line, cursor: line.length}};
	}

	if (key.escape) {
		return {state: {...state, value: '', cursor: 0, historyIndex: undefined}};
	}

	if (key.leftArrow) {
		return {state: {...state, cursor: Math.max(0, cursor - 1)}};
	}

	if (key.rightArrow) {
		return {state: {...state, cursor: Math.min(value.length, cursor + 1)}};
	}

	if (key.home || (key.ctrl && input === 'a')) {
		return {state: {...state, cursor: 0}};
	}

	if (key.end || (key.ctrl && input === 'e')) {
		return {state: {...state, cursor: value.length}};
	}

	if (key.ctrl && input === 'u') {
		return {state: {...state, value: value.slice(cursor), cursor: 0}};
	}

	if (key.backspace || key.delete) {
		return cursor === 0 ? {state} : {state: {...state, value: value.slice(0, cursor - 1) + value.slice(cursor), cursor: cursor - 1}};
	}

	if (isText(input, key) && /[\r\n]/.test(input)) {
		// Typed fast or pasted: the keys arrive in one chunk. The first line ends at its Enter.
		const [first = '', ...rest] = input.split(/\r\n|\r|\n/);
		const line = value.slice(0, cursor) + first + value.slice(cursor);
		const left = rest.join(' ');
		const submitted = editPrompt({...state, value: line, cursor: line.length}, '', {return: true});
		return {...submitted, state: {...submitted.state, value: left, cursor: left.length}};
	}

	if (isText(input, key)) {
		const text = input;
		return {state: {...state, value: value.slice(0, cursor) + text + value.slice(cursor), cursor: cursor + text.length}};
	}

	return {state};
}

function isText(input: string, key: Partial<Key>): boolean {
	return input.length > 0 && !key.ctrl && !key.meta && !key.escape && !/^[\u0000-\u001F\u007F]+$/.test(input) && !/[\u0000-\u0009\u000B\u000C\u000E-\u001F\u007F]/.test(input);
}
