import {Box, Text, useApp, useInput} from 'ink';
import {useMemo, useRef, useState} from 'react';
import type {QueenClient, TaskView} from '../client/queen-client.js';
import {DroneTable} from './DroneTable.js';
import {EventLog} from './EventLog.js';
import {errorText, fit} from './format.js';
import {Header} from './Header.js';
import {HelpOverlay} from './HelpOverlay.js';
import {withRecord, type DroneRow, type HiveStore} from './hive-store.js';
import {layout} from './layout.js';
import {Prompt, type Outcome} from './Prompt.js';
import {taskViewLines} from './task-lines.js';
import {TaskList} from './TaskList.js';
import {TaskView as TaskPane} from './TaskView.js';
import {initialUiState, reduceKey, type Effect, type UiState} from './ui-state.js';
import {useHive} from './use-hive.js';
import {useTerminalSize} from './use-terminal-size.js';

type Props = {
	readonly store: HiveStore;
	/** What the prompt and the task details call (the queen's own API). */
	readonly client: Pick<QueenClient, 'submitTask' | 'task'>;
	readonly version: string;
	/** A fixed size (tests); by default the terminal's, following resizes. */
	readonly width?: number;
	readonly height?: number;
};

/** The whole dashboard: header, drones, tasks, events, prompt; keys as in HelpOverlay. */
export function App({store, client, version, width: fixedWidth, height: fixedHeight}: Props) {
	const hive = useHive(store);
	const {width, height: terminalHeight} = useTerminalSize({width: fixedWidth, height: fixedHeight});
	// One row fewer than the terminal: a full-height frame makes Ink clear the screen on every render.
	const height = fixedHeight ?? Math.max(1, terminalHeight - 1);
	const {exit} = useApp();
	const [ui, setUi] = useState<UiState>(initialUiState);
	const uiRef = useRef(ui);
	const [outcome, setOutcome] = useState<Outcome>();
	const [fetched, setFetched] = useState<{id: string; task?: TaskView; note?: string}>();
	const sizes = layout(width, height);

	const drones = useMemo(() => filterDrones(hive.drones, ui.filter), [hive.drones, ui.filter]);

	const run = (effect: Effect): void => {
		switch (effect.kind) {
			case 'quit': {
				exit();
				break;
			}

			case 'submit': {
				setOutcome({tone: 'info', text: `submitting "${effect.text}"…`});
				client.submitTask(effect.text).then(answer => {
					const {task} = answer;
					setOutcome(task.drone
						? {tone: 'good', text: `✓ "${effect.text}" → ${task.drone} (task ${task.id.slice(0, 8)})`}
						: {tone: 'info', text: `… "${effect.text}" is ${task.state}${task.reason ? `: ${task.reason}` : ''} (task ${task.id.slice(0, 8)})`});
				}, (error: unknown) => {
					setOutcome({tone: 'bad', text: `✗ "${effect.text}": ${reason(error)}`});
				});
				break;
			}

			case 'open': {
				setFetched({id: effect.id, note: 'loading…'});
				client.task(effect.id).then(answer => {
					setFetched(current => current?.id === effect.id ? {id: effect.id, task: answer.task} : current);
				}, (error: unknown) => {
					setFetched(current => current?.id === effect.id ? {id: effect.id, note: reason(error)} : current);
				});
				break;
			}
		}
	};

	useInput((input, key) => {
		const result = reduceKey(uiRef.current, input, key, {
			droneCount: drones.length,
			droneRows: sizes.droneRows,
			taskIds: hive.tasks.map(task => task.id),
			taskRows: sizes.taskRows,
		});
		uiRef.current = result.state;
		setUi(result.state);
		if (result.effect) {
			run(result.effect);
		}
	});

	const droneOffset = Math.min(ui.droneOffset, Math.max(0, drones.length - sizes.droneRows));
	const taskSelected = Math.min(ui.taskSelected, Math.max(0, hive.tasks.length - 1));
	const taskOffset = sizes.taskRows > 0 ? Math.floor(taskSelected / sizes.taskRows) * sizes.taskRows : 0;
	const stale = !hive.connected;
	const tasks = (
		<TaskList
			tasks={hive.tasks}
			total={hive.tasks.length}
			width={sizes.taskWidth}
			rows={sizes.taskRows}
			offset={ui.focus === 'tasks' ? taskOffset : 0}
			selected={ui.focus === 'tasks' ? taskSelected : undefined}
			focused={ui.focus === 'tasks'}
			filter=""
			filtering={false}
			sort={{column: 'time', descending: true}}
			stale={stale}
		/>
	);
	const events = <EventLog entries={hive.log} width={sizes.logWidth} rows={sizes.logRows} stale={stale}/>;

	let body;
	if (ui.help) {
		body = <HelpOverlay width={width} rows={sizes.bodyRows} scroll={0}/>;
	} else if (ui.detail === undefined) {
		body = (
			<>
				<DroneTable
					drones={drones}
					total={hive.drones.length}
					maxRetry={hive.maxRetry}
					now={hive.now}
					width={width}
					rows={sizes.droneRows}
					offset={droneOffset}
					selected={undefined}
					focused={ui.focus === 'drones'}
					filter={ui.filter}
					filtering={ui.filtering}
					sort={{column: 'name', descending: false}}
					stale={stale}
				/>
				{sizes.sideBySide
					? <Box flexDirection="row" gap={1}>{tasks}{events}</Box>
					: <>{tasks}{events}</>}
			</>
		);
	} else {
		const known = hive.tasks.find(task => task.id === ui.detail);
		const loaded = fetched?.id === ui.detail ? fetched : undefined;
		const task = known && loaded?.task ? withRecord(known, loaded.task) : known ?? loaded?.task;
		body = task
			? <TaskPane id={task.id} lines={taskViewLines(task, undefined)} width={width} rows={sizes.bodyRows} scroll={0} following={false} search="" searching={false} matches={[]} match={undefined} state={task.state} note={loaded?.note}/>
			: <Box height={sizes.bodyRows}><Text>{fit(`Task ${ui.detail}: ${loaded?.note ?? 'not known'}  (Esc: back)`, width)}</Text></Box>;
	}

	return (
		<Box flexDirection="column" width={width} height={height} overflowY="hidden">
			<Header hive={hive} version={version} width={width}/>
			<Box flexDirection="column" height={sizes.bodyRows} overflowY="hidden">{body}</Box>
			<Prompt value={ui.value} cursor={ui.cursor} focused={ui.focus === 'prompt' && !ui.help && !ui.filtering && ui.detail === undefined} width={width} outcome={outcome} sigil="›" hint="Enter submit  ↑↓ history  Tab focus  / filter  ? keys  Ctrl-C quit"/>
		</Box>
	);
}

/** Drones whose name, address or state contains the filter (any case). */
export function filterDrones(drones: readonly DroneRow[], filter: string): readonly DroneRow[] {
	const needle = filter.trim().toLowerCase();
	return needle === '' ? drones : drones.filter(drone => `${drone.name} ${drone.address} ${drone.state}`.toLowerCase().includes(needle));
}

/** An error's message without the request line the client puts first. */
function reason(error: unknown): string {
	return errorText(error instanceof Error ? error.message : String(error));
}
