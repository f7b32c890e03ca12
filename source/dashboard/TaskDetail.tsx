import {Box, Text} from 'ink';
import type {TaskView} from '../client/queen-client.js';
import {fit} from './format.js';

type Props = {
	readonly task: TaskView;
	readonly width: number;
	/** Lines available. */
	readonly rows: number;
	/** Where the queen's record came from: still loading, or why it could not be read. */
	readonly note?: string;
};

/** The lines of a task's record, then its output (if any). */
export function detailLines(task: TaskView): string[] {
	const lines: string[] = [`id         ${task.id}`];
	const add = (label: string, value: unknown) => {
		if (value !== undefined && value !== null && value !== '') {
			lines.push(`${label.padEnd(10)} ${typeof value === 'string' ? value : JSON.stringify(value)}`);
		}
	};

	add('kind', task.kind);
	add('text', task.text);
	add('command', task.command);
	add('state', task.state);
	add('reason', task.reason);
	add('drone', task.drone);
	add('submitted', task.submittedAt);
	add('updated', task.updatedAt);
	add('attempts', task.attempts);
	add('error', task.error);
	const result = task.result;
	if (result) {
		add('exit code', result.exitCode);
		add('duration', result.durationMs === undefined ? undefined : `${result.durationMs} ms`);
		for (const stream of ['stdout', 'stderr'] as const) {
			const output = result[stream];
			if (typeof output === 'string' && output.length > 0) {
				lines.push(`── ${stream} ──`, ...output.replace(/\n$/, '').split('\n'));
			}
		}
	}

	return lines;
}

/** One task's whole record and output; Esc goes back to the list. */
export function TaskDetail({task, width, rows, note}: Props) {
	const lines = detailLines(task).slice(0, Math.max(0, rows - 1));
	return (
		<Box flexDirection="column" height={rows} width={width}>
			<Text wrap="truncate" bold inverse>{fit(`Task ${task.id}  (Esc: back)${note ? `  ${note}` : ''}`, width)}</Text>
			{lines.map((line, index) => (
				<Text key={index} wrap="truncate">{fit(line, width)}</Text>
			))}
		</Box>
	);
}
