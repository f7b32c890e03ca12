import {Box, useApp, useInput} from 'ink';
import {useEffect, useMemo, useRef, useState} from 'react';
import type {QueenClient} from '../client/queen-client.js';
import {finalTaskStates, shortId, type TaskState} from '../model.js';
import {DroneTable} from './DroneTable.js';
import {droneViewLines, DroneView} from './DroneView.js';
import {EventLog} from './EventLog.js';
import {errorMessage, scrollWindow} from './format.js';
import {Header} from './Header.js';
import {helpLines, HelpOverlay} from './HelpOverlay.js';
import type {HiveStore} from './hive-store.js';
import {layout} from './layout.js';
import {describeTaskLine} from './prompt-syntax.js';
import {Prompt, type Outcome} from './Prompt.js';
import {filterDrones, filterEvents, filterTasks, sortDrones, sortTasks} from './rows.js';
import {findMatches, taskViewLines, wrapLines, type ViewLine} from './task-lines.js';
import {TaskList, taskAsTyped} from './TaskList.js';
import {TaskView as TaskPageView} from './TaskView.js';
import {TextPage} from './TextPage.js';
import {initialUiState, reduceKey, resetView, type Action, type Effect, type UiState, type View} from './ui-state.js';
import {useHive} from './use-hive.js';
import {useTaskPage} from './use-task-page.js';
import {useTerminalSize} from './use-terminal-size.js';

/** What the dashboard calls: the queen's own API, as any client would. */
export type DashboardClient = Pick<QueenClient, 'submitTask' | 'task' | 'openTaskLogs' | 'cancelTask' | 'cordon' | 'uncordon' | 'drain'>;

type Props = {
	readonly store: HiveStore;
	readonly client: DashboardClient;
	readonly version: string;
	/** The hive's token, shown by `:token` (the dashboard has it to read the queen). */
	readonly token?: string;
	/** Who acts (`X-Hive-User`): `alice@laptop`. */
	readonly user?: string;
	/** A fixed size (tests); by default the terminal's, following resizes. */
	readonly width?: number;
	readonly height?: number;
};

const isFinal = (state: string): boolean => finalTaskStates.has(state as TaskState);

/** The whole dashboard: header, drones, tasks, events, prompt; views over them; keys as in HelpOverlay. */
export function App({store, client, version, token, user, width: fixedWidth, height: fixedHeight}: Props) {
	const hive = useHive(store);
	const {width, height: terminalHeight} = useTerminalSize({width: fixedWidth, height: fixedHeight});
	// One row fewer than the terminal: a full-height frame makes Ink clear the screen on every render.
	const height = fixedHeight ?? Math.max(1, terminalHeight - 1);
	const {exit} = useApp();
	const [ui, setUi] = useState<UiState>(initialUiState);
	const uiRef = useRef(ui);
	const [outcome, setOutcome] = useState<Outcome>();

	// Each time the dashboard (re)connects, or its hive is replaced: an open task page reads it again.
	const attachment = useRef({count: 0, connected: hive.connected, generation: hive.generation});
	if (hive.connected !== attachment.current.connected || hive.generation !== attachment.current.generation) {
		attachment.current = {count: attachment.current.count + (hive.connected ? 1 : 0), connected: hive.connected, generation: hive.generation};
	}

	// A new leader or a restarted queen: what was selected and scrolled to may not exist there.
	const generation = useRef(hive.generation);
	useEffect(() => {
		if (generation.current !== hive.generation) {
			generation.current = hive.generation;
			uiRef.current = resetView(uiRef.current);
			setUi(uiRef.current);
		}
	}, [hive.generation]);

	const drones = useMemo(() => sortDrones(filterDrones(hive.drones, ui.filters.drones), ui.sorts.drones), [hive.drones, ui.filters.drones, ui.sorts.drones]);
	const tasks = useMemo(() => sortTasks(filterTasks(hive.tasks, ui.filters.tasks), ui.sorts.tasks), [hive.tasks, ui.filters.tasks, ui.sorts.tasks]);
	const events = useMemo(() => filterEvents(hive.log, ui.filters.events), [hive.log, ui.filters.events]);

	const sizes = layout(width, height);
	const {bodyRows} = sizes;
	const rows = {
		drones: ui.screen === 'drones' ? sizes.alone.droneRows : (ui.screen === 'hive' ? sizes.droneRows : 0),
		tasks: ui.screen === 'tasks' ? sizes.alone.taskRows : (ui.screen === 'hive' ? sizes.taskRows : 0),
		events: ui.screen === 'events' ? sizes.alone.logRows : (ui.screen === 'hive' ? sizes.logRows : 0),
		page: Math.max(0, bodyRows - 1),
	};

	const page = ui.pages.at(-1);
	const taskPage = useTaskPage(client, page?.kind === 'task' ? page.id : undefined, hive.tasks, attachment.current.count);
	// A task page's lines (up to 10,000 of output) and its matches are made again only when they change,
	// not at each flush of the hive or each scroll.
	const onTask = page?.kind === 'task';
	const wrap = page?.kind === 'task' && page.wrap;
	const search = page?.kind === 'task' ? page.search : '';
	const taskLines = useMemo(() => {
		if (!onTask) {
			return [];
		}

		const lines = taskViewLines(taskPage.task, taskPage.output, width);
		return wrap ? wrapLines(lines, width) : lines;
	}, [onTask, wrap, taskPage.task, taskPage.output, width]);
	const matches = useMemo(() => findMatches(taskLines, search), [taskLines, search]);
	let pageLines: readonly ViewLine[] = [];
	if (page?.kind === 'task') {
		pageLines = taskLines;
	} else if (page?.kind === 'drone') {
		pageLines = droneViewLines(hive.drones.find(each => each.name === page.name), hive.tasks, hive.log, hive.maxRetry, hive.now, width);
	} else if (page?.kind === 'help') {
		pageLines = helpLines(width);
	} else if (page?.kind === 'token') {
		pageLines = wrapLines(tokenLines(token, hive.queen?.leader ?? hive.queenHost), width);
	}

	const maxScroll = Math.max(0, pageLines.length - rows.page);

	const view: View = {
		droneNames: drones.map(drone => drone.name),
		taskIds: tasks.map(task => task.id),
		eventCount: events.length,
		rows,
		pageLines: pageLines.length,
		matches,
		task(id) {
			// A whole id, or the start of one as `:task 3f2a` takes it (when only one task has it).
			const starting = hive.tasks.filter(each => each.id.startsWith(id));
			const task = hive.tasks.find(each => each.id === id) ?? (starting.length === 1 ? starting[0] : undefined) ?? (page?.kind === 'task' && page.id === id ? taskPage.task : undefined);
			return task ? {what: taskAsTyped(task), state: task.state, final: isFinal(task.state)} : undefined;
		},
	};

	// Keys are read with what the last render showed: Ink subscribes a new key handler only after the
	// render's effects run, and keys typed fast arrive before that.
	const viewRef = useRef(view);
	viewRef.current = view;

	const say = (tone: Outcome['tone'], text: string): void => {
		setOutcome({tone, text});
	};

	const act = (action: Action): void => {
		const failed = (error: unknown) => {
			say('bad', `✗ ${action.kind} ${'id' in action ? shortId(action.id) : action.name}: ${errorMessage(error)}`);
		};

		const requester = {user};
		switch (action.kind) {
			case 'cancel': {
				say('info', `cancelling task ${shortId(action.id)}…`);
				client.cancelTask(action.id, requester).then(answer => {
					say('good', `✓ task ${shortId(answer.task.id)} cancelled`);
				}, failed);
				break;
			}

			case 'cordon':
			case 'uncordon': {
				client[action.kind](action.name, requester).then(() => {
					say('good', action.kind === 'cordon' ? `✓ ${action.name} cordoned: it takes no new tasks (u: uncordon)` : `✓ ${action.name} uncordoned: it takes tasks again`);
				}, failed);
				break;
			}

			case 'drain': {
				client.drain(action.name, requester).then(() => {
					say('good', `✓ ${action.name} draining: no new tasks; it is drained once nothing runs there`);
				}, failed);
				break;
			}
		}
	};

	const run = (effect: Effect): void => {
		switch (effect.kind) {
			case 'quit': {
				exit();
				break;
			}

			case 'say': {
				say(effect.tone, effect.text);
				break;
			}

			case 'act': {
				act(effect.action);
				break;
			}

			case 'submit': {
				const what = describeTaskLine(effect.task);
				say('info', `submitting "${what}"…`);
				client.submitTask(effect.task).then(answer => {
					const {task} = answer;
					// What happened first, the task's text last: at 80 columns a long command is what gets cut.
					say(task.drone ? 'good' : 'info', task.drone
						? `✓ task ${shortId(task.id)} → ${task.drone}: "${what}"`
						: `… task ${shortId(task.id)} ${task.state}${task.reason ? ` (${task.reason})` : ''}: "${what}"`);
				}, (error: unknown) => {
					say('bad', `✗ "${what}": ${errorMessage(error)}`);
				});
				break;
			}
		}
	};

	useInput((input, key) => {
		const before = uiRef.current;
		const result = reduceKey(before, input, key, viewRef.current);
		uiRef.current = result.state;
		setUi(result.state);
		const {state} = result;
		if (!result.effects?.length && (state.focus !== before.focus || state.pages !== before.pages || state.input !== before.input || state.screen !== before.screen)) {
			// Another place, other keys: the hint says them, not the last outcome.
			setOutcome(undefined);
		}

		for (const effect of result.effects ?? []) {
			run(effect);
		}
	});

	const stale = !hive.connected;
	const selectedIndex = (ids: readonly string[], id: string | undefined) => (id === undefined ? 0 : Math.max(0, ids.indexOf(id)));
	const droneSelected = selectedIndex(view.droneNames, ui.selected.drones);
	const taskSelected = selectedIndex(view.taskIds, ui.selected.tasks);
	const droneOffset = scrollWindow(drones.length, rows.drones, droneSelected, ui.offsets.drones);
	const taskOffset = scrollWindow(tasks.length, rows.tasks, taskSelected, ui.offsets.tasks);
	const filtering = (pane: 'drones' | 'tasks' | 'events') => ui.input?.kind === 'filter' && ui.input.pane === pane;

	const droneTable = (
		<DroneTable
			drones={drones}
			total={hive.drones.length}
			maxRetry={hive.maxRetry}
			now={hive.now}
			width={width}
			rows={rows.drones}
			offset={droneOffset}
			selected={ui.focus === 'drones' ? droneSelected : undefined}
			focused={ui.focus === 'drones'}
			filter={ui.filters.drones}
			filtering={filtering('drones')}
			sort={ui.sorts.drones}
			stale={stale}
		/>
	);
	const taskList = (
		<TaskList
			tasks={tasks}
			total={hive.tasks.length}
			width={ui.screen === 'hive' ? sizes.taskWidth : width}
			rows={rows.tasks}
			offset={taskOffset}
			selected={ui.focus === 'tasks' ? taskSelected : undefined}
			focused={ui.focus === 'tasks'}
			filter={ui.filters.tasks}
			filtering={filtering('tasks')}
			sort={ui.sorts.tasks}
			stale={stale}
		/>
	);
	const eventLog = (
		<EventLog
			entries={events}
			total={hive.log.length}
			width={ui.screen === 'hive' ? sizes.logWidth : width}
			rows={rows.events}
			offset={ui.offsets.events}
			filter={ui.filters.events}
			filtering={filtering('events')}
			focused={ui.focus === 'events'}
			stale={stale}
		/>
	);

	let body;
	if (page?.kind === 'task') {
		const scroll = page.follow ? maxScroll : Math.min(page.scroll, maxScroll);
		body = (
			<TaskPageView
				id={taskPage.task?.id ?? page.id}
				lines={pageLines}
				width={width}
				rows={bodyRows}
				scroll={scroll}
				following={page.follow && taskPage.output?.following === true}
				search={page.search}
				searching={ui.input?.kind === 'search'}
				matches={matches}
				match={page.match}
				state={taskPage.task?.state}
				note={taskPage.note}
			/>
		);
	} else if (page?.kind === 'drone') {
		body = <DroneView name={page.name} lines={pageLines} width={width} rows={bodyRows} scroll={Math.min(page.scroll, maxScroll)}/>;
	} else if (page?.kind === 'help') {
		body = <HelpOverlay width={width} rows={bodyRows} scroll={Math.min(page.scroll, maxScroll)}/>;
	} else if (page?.kind === 'token') {
		body = <TextPage title="The hive's token" lines={pageLines} width={width} rows={bodyRows} scroll={Math.min(page.scroll, maxScroll)}/>;
	} else if (ui.screen === 'drones') {
		body = droneTable;
	} else if (ui.screen === 'tasks') {
		body = taskList;
	} else if (ui.screen === 'events') {
		body = eventLog;
	} else {
		body = (
			<>
				{droneTable}
				{sizes.sideBySide
					? <Box flexDirection="row" gap={1}>{taskList}{eventLog}</Box>
					: <>{taskList}{eventLog}</>}
			</>
		);
	}

	const {input} = ui;
	const bottom = input === undefined || input.kind === 'confirm'
		? {value: ui.prompt.value, cursor: ui.prompt.cursor, sigil: '›', focused: ui.focus === 'prompt' && page === undefined && input === undefined}
		: {value: ui.line.value, cursor: ui.line.cursor, sigil: input.kind === 'command' ? ':' : '/', focused: true};
	return (
		<Box flexDirection="column" width={width} height={height} overflowY="hidden">
			<Header hive={hive} version={version} width={width}/>
			<Box flexDirection="column" height={bodyRows} overflowY="hidden">{body}</Box>
			<Prompt
				value={bottom.value}
				cursor={bottom.cursor}
				focused={bottom.focused}
				width={width}
				outcome={outcome}
				sigil={bottom.sigil}
				hint={hintFor(ui)}
				question={input?.kind === 'confirm' ? input.question : undefined}
			/>
		</Box>
	);
}

/** The keys of where the keys go now, on the line under the prompt. */
function hintFor(ui: UiState): string {
	const {input} = ui;
	if (input) {
		switch (input.kind) {
			case 'confirm': {
				return 'y: yes   any other key: no';
			}

			case 'command': {
				return 'drones tasks events hive  task ID  drone NAME  token  q   Enter run  Esc cancel';
			}

			case 'filter': {
				return input.pane === 'drones'
					? 'words in name, state, labels  state:suspect  zone=a   Enter keep  Esc clear'
					: (input.pane === 'tasks' ? 'words in id, task, drone, state  state:failed  drone:x   Enter keep  Esc clear' : 'words the lines must contain   Enter keep  Esc clear');
			}

			case 'search': {
				return 'what to find   Enter: go to it (then n N: next, previous)   Esc clear';
			}
		}
	}

	switch (ui.pages.at(-1)?.kind) {
		case 'task': {
			return '↑↓ PgUp PgDn Home End  f follow  w wrap  / search  n N next  x cancel  Esc back';
		}

		case 'drone': {
			return 'c cordon  u uncordon  d drain  ↑↓ PgUp PgDn scroll  Esc back  ? keys';
		}

		case 'help':
		case 'token': {
			return '↑↓ PgUp PgDn scroll   Esc back';
		}

		case undefined: {
			break;
		}
	}

	switch (ui.focus) {
		case 'prompt': {
			return 'Enter submit  $ cmd  @zone=a  ↑↓ history  Esc: out of the prompt (? keys, :q)';
		}

		case 'drones': {
			return 'Enter describe  c cordon  u uncordon  d drain  / filter  ? keys  i prompt';
		}

		case 'tasks': {
			return 'Enter open  x cancel  / filter  Shift+T I W D S sort  ? keys  i prompt';
		}

		case 'events': {
			return '↑↓ PgUp PgDn Home End scroll  / filter  : command  ? keys  i prompt';
		}
	}
}

/** The `:token` page: the token, and the commands that join this hive with it. */
function tokenLines(token: string | undefined, queenHost: string): ViewLine[] {
	if (token === undefined) {
		return [
			{text: 'This hive has no token: anyone who can reach the queen can register drones and submit tasks.'},
			{text: ''},
			{text: 'A second dashboard:', tone: 'meta'},
			{text: `  hive-larve --tui --queen-host ${queenHost}`},
		];
	}

	// One command a line, each short enough for 80 columns: they are there to be copied whole.
	return [
		{text: 'The hive\'s token. Keep it secret: whoever has it can register drones, submit tasks and run commands.'},
		{text: ''},
		{text: `  export HIVE_TOKEN=${token}`},
		{text: ''},
		{text: 'then a second dashboard:', tone: 'meta'},
		{text: `  hive-larve --tui --queen-host ${queenHost}`},
		{text: 'a drone on another machine (it must reach the queen\'s address):', tone: 'meta'},
		{text: `  hive-larve --queen-host ${queenHost} --port 5001`},
		{text: 'the command-line client:', tone: 'meta'},
		{text: `  hive-larve tasks --queen-host ${queenHost}`},
	];
}


