import {memo} from 'react';
import {Box, Text} from 'ink';
import type {TaskView} from '../client/queen-client.js';
import {clip, fit} from './format.js';
import {clockTime, shortId} from './hive-store.js';

type Props = {
	/** Newest first. */
	readonly tasks: readonly TaskView[];
	readonly width: number;
	/** Data rows available (the title and column header come on top). */
	readonly rows: number;
	readonly offset: number;
	/** Index of the selected task, when the list has the focus. */
	readonly selected: number | undefined;
	readonly focused: boolean;
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

/** What a task asks for: its text, or the command it runs. */
export function taskWhat(task: TaskView): string {
	return task.text ?? (task.command === undefined ? '' : `$ ${task.command}`);
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

/** The dispatched tasks, newest first: time, text, drone, state and outcome. */
export const TaskList = memo(function TaskList({tasks, width, rows, offset, selected, focused}: Props) {
	const shown = tasks.slice(offset, offset + rows);
	const flexible = Math.max(0, width - 43);
	const whatWidth = Math.ceil(flexible * 0.6);
	const outcomeWidth = flexible - whatWidth;
	const line = (time: string, id: string, what: string, drone: string, state: string, outcome: string) =>
		[fit(time, 8), fit(id, 8), fit(what, whatWidth), fit(drone, 12), fit(state, 10), fit(outcome, outcomeWidth)];
	const range = tasks.length === 0 ? '' : `  ${offset + 1}-${offset + shown.length} of ${tasks.length}`;
	return (
		<Box flexDirection="column" height={rows + 2} width={width}>
			<Text wrap="truncate" bold inverse={focused}>{(focused ? fit : clip)(`Tasks${range}${focused ? '  (Enter: details)' : ''}`, width)}</Text>
			<Text wrap="truncate" dimColor>{clip(line('TIME', 'ID', 'TASK', 'DRONE', 'STATE', 'OUTCOME').join(' '), width)}</Text>
			{shown.map((task, index) => {
				const cells = line(clockTime(task.submittedAt), shortId(task.id), taskWhat(task), task.drone ?? '-', task.state, taskOutcome(task));
				const isSelected = selected === offset + index;
				// The selected row is inverse to the end; others need no trailing blanks.
				const outcome = isSelected ? cells[5]! : cells[5]!.trimEnd();
				return (
					<Text key={task.id} wrap="truncate" inverse={isSelected}>
						{cells.slice(0, 4).join(' ')} <Text color={stateColor[task.state]}>{cells[4]}</Text>{outcome === '' ? undefined : <>{' '}<Text color={task.error ? 'red' : undefined}>{outcome}</Text></>}
					</Text>
				);
			})}
			{tasks.length === 0 ? <Text dimColor>{fit('no tasks yet: type one at the prompt and press Enter', width)}</Text> : undefined}
		</Box>
	);
});
