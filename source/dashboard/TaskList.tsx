import {memo} from 'react';
import {Box, Text} from 'ink';
import type {TaskView} from '../client/queen-client.js';
import {clip, columnsOf, fit, sortMark} from './format.js';
import {describeContainer, shortId} from '../model.js';
import {clockTime} from './hive-store.js';
import type {Sort} from './rows.js';

type Props = {
	/** The tasks to show (already filtered and sorted). */
	readonly tasks: readonly TaskView[];
	/** All tasks known, before the filter: the title counts them. */
	readonly total: number;
	readonly width: number;
	/** Data rows available (the title and column header come on top). */
	readonly rows: number;
	readonly offset: number;
	/** Index into `tasks` of the selected task (inverse while the list has the focus). */
	readonly selected: number | undefined;
	readonly focused: boolean;
	readonly filter: string;
	readonly filtering: boolean;
	readonly sort: Sort;
	/** The queen is not connected: every row grey, no state colours. */
	readonly stale: boolean;
};

const stateColor: Record<string, string> = {
	pending: 'gray',
	dispatched: 'cyan',
	running: 'blue',
	succeeded: 'green',
	failed: 'red',
	lost: 'magenta',
	cancelled: 'gray',
};

/** What a task asks for as the prompt takes it: its text, `$ ` and its command, or `$[rootfs limits] ` and its container's command. */
export function taskAsTyped(task: TaskView): string {
	if (task.container) {
		return describeContainer(task.container);
	}

	return task.text ?? (task.command === undefined || task.command === null ? '' : `$ ${task.command}`);
}

/** How it went: the error, why it waits, or the exit code. */
export function taskOutcome(task: TaskView): string {
	if (task.error) {
		return task.error;
	}

	if (task.reason) {
		return task.reason;
	}

	const exitCode = task.result?.exitCode;
	return exitCode === undefined || exitCode === null ? '' : `exit ${exitCode}`;
}

/** The DRONE column: as wide as the longest drone name in the list, within these bounds. */
const droneBounds = [5, 16] as const;
const fixedWidths = {time: 8, id: 8, state: 10} as const;

/**
The tasks, newest first unless sorted otherwise: time, id, text or command, drone, state and outcome. A
filter shows in the title with how many match; while the queen is not connected every row is grey.
*/
export const TaskList = memo(function TaskList({tasks, total, width, rows, offset, selected, focused, filter, filtering, sort, stale}: Props) {
	const shown = tasks.slice(offset, offset + rows);
	let droneWidth: number = droneBounds[0];
	for (const task of tasks) {
		droneWidth = Math.max(droneWidth, columnsOf(task.drone ?? '-'));
	}

	droneWidth = Math.min(droneWidth, droneBounds[1]);
	const flexible = Math.max(0, width - fixedWidths.time - fixedWidths.id - droneWidth - fixedWidths.state - 5);
	const whatWidth = Math.ceil(flexible * 0.6);
	const outcomeWidth = flexible - whatWidth;
	const line = (time: string, id: string, what: string, drone: string, state: string, outcome: string) =>
		[fit(time, fixedWidths.time), fit(id, fixedWidths.id), fit(what, whatWidth), fit(drone, droneWidth), fit(state, fixedWidths.state), fit(outcome, outcomeWidth)];
	const range = shown.length === 0 ? '' : `  ${offset + 1}-${offset + shown.length} of ${tasks.length}`;
	const filterText = filtering || filter ? `  /${filter}${filtering ? '▏' : ''} (${tasks.length} of ${total} match)` : '';
	const title = `Tasks ${total}${filterText}${range}`;
	const titles = line(`TIME${sortMark(sort, 'time')}`, `ID${sortMark(sort, 'id')}`, `TASK${sortMark(sort, 'what')}`, `DRONE${sortMark(sort, 'drone')}`, `STATE${sortMark(sort, 'state')}`, 'OUTCOME');
	let empty: string | undefined;
	if (!stale && total === 0) {
		empty = 'no tasks yet: type one at the prompt and press Enter';
	} else if (total > 0 && tasks.length === 0) {
		empty = `no task matches /${filter}`;
	}

	return (
		<Box flexDirection="column" height={rows + 2} width={width}>
			<Text wrap="truncate" bold inverse={focused}>{(focused ? fit : clip)(title, width)}</Text>
			<Text wrap="truncate" dimColor>{clip(titles.join(' '), width)}</Text>
			{shown.map((task, index) => {
				const cells = line(clockTime(task.submittedAt), shortId(task.id), taskAsTyped(task), task.drone ?? '-', task.state, taskOutcome(task));
				const isSelected = focused && selected === offset + index;
				// The selected row is inverse to the end; others need no trailing blanks.
				const outcome = isSelected ? cells[5]! : cells[5]!.trimEnd();
				return (
					<Text key={task.id} wrap="truncate" inverse={isSelected} dimColor={stale}>
						{cells.slice(0, 4).join(' ')} <Text color={stale ? undefined : stateColor[task.state]}>{cells[4]}</Text>{outcome === '' ? undefined : <>{' '}<Text color={task.error && !stale ? 'red' : undefined}>{outcome}</Text></>}
					</Text>
				);
			})}
			{empty === undefined ? undefined : <Text dimColor>{clip(empty, width)}</Text>}
		</Box>
	);
});
