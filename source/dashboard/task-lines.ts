import type {TaskView} from '../client/queen-client.js';
import {containerLimits, shellQuote} from '../model.js';

import {printable, searchPattern, wrap} from './format.js';
import type {TaskOutputSnapshot} from './task-output.js';

/**
The lines of a scrolling view (a task, a drone, the help), pure so that what a view holds can be tested
without drawing it, and searched: the view scrolls over them, one line a row.
*/
export type ViewLine = {
	readonly text: string;
	/** `stderr` red, `error` red (what went wrong), `meta` dim (rules, notes), `heading` bold (a section). */
	readonly tone?: 'stderr' | 'meta' | 'error' | 'heading';
};

/** Labels of the record's lines, padded: values start in one column. */
const labelWidth = 10;
const indent = ' '.repeat(labelWidth + 1);

/**
`label      value`, the lines of a record (a task's, a drone's): a value of several lines, or wider than
`width`, goes on under the first, aligned and whole.
*/
export function field(label: string, value: string, width = Number.POSITIVE_INFINITY, tone?: ViewLine['tone']): ViewLine[] {
	const [first = '', ...rest] = value.split(/\r\n|\r|\n/).flatMap(line => (Number.isFinite(width) ? wrap(line, Math.max(10, width - indent.length)) : [line]));
	return [{text: `${label.padEnd(labelWidth)} ${first}`, tone}, ...rest.map(line => ({text: `${indent}${line}`, tone}))];
}

/** Every line no wider than `width`: a longer one goes on over the next rows (the task view's `w`). */
export function wrapLines(lines: readonly ViewLine[], width: number): ViewLine[] {
	return lines.flatMap(line => wrap(line.text, width).map(text => ({text, tone: line.tone})));
}

/** The record's lines: what was asked, where it ran, how it went. */
function recordLines(task: TaskView, width: number): ViewLine[] {
	const lines: ViewLine[] = [];
	const add = (label: string, value: string | number | null | undefined, tone?: ViewLine['tone']) => {
		if (value !== undefined && value !== null && value !== '') {
			lines.push(...field(label, String(value), width, tone));
		}
	};

	add('id', task.id);
	add('kind', task.kind);
	add('text', task.text);
	add('command', task.command);
	if (task.container) {
		const {rootfs, command, env, workdir} = task.container;
		add('rootfs', rootfs);
		// As a shell would read it back: where each argument starts and ends shows.
		add('command', command.map(arg => shellQuote(arg)).join(' '));
		add('env', Object.entries(env ?? {}).map(([name, value]) => `${name}=${shellQuote(value)}`).join(' '));
		add('workdir', workdir);
		add('limits', containerLimits(task.container).join(' ') || 'none');
	}

	add('selector', Object.entries(task.selector ?? {}).map(([key, value]) => `${key}=${value}`).join(','));
	add('state', task.state);
	add('reason', task.reason);
	add('drone', task.drone);
	add('submitted', task.submittedAt);
	add('updated', task.updatedAt);
	add('attempts', task.attempts);
	add('error', task.error, 'error');
	const result = task.result;
	if (result) {
		add('exit code', result.exitCode);
		add('signal', result.signal);
		add('timed out', result.timedOut ? 'yes' : undefined);
		add('duration', result.durationMs === undefined ? undefined : `${result.durationMs} ms`);
	}

	if (task.cancelled) {
		add('cancelled', `by ${task.cancelled.by} at ${task.cancelled.at}`);
	}

	return lines;
}

type End = NonNullable<TaskOutputSnapshot['end']>;

/** `── ended: failed, exit code 2 ──`: dim when it went as asked (or was stopped on purpose), red otherwise. */
function endLine(end: End): ViewLine {
	const parts = [end.state];
	if (end.exitCode !== null) {
		parts.push(`exit code ${end.exitCode}`);
	}

	if (end.signal !== null) {
		parts.push(`killed by ${end.signal}`);
	}

	if (end.error !== null) {
		parts.push(end.error);
	}

	return {text: `── ended: ${parts.join(', ')} ──`, tone: end.state === 'succeeded' || end.state === 'cancelled' ? 'meta' : 'error'};
}

/** Splits a captured stream into its lines (a last newline ends the last line, not a new empty one). */
function streamLines(text: string): string[] {
	return text === '' ? [] : text.replace(/\r?\n$/, '').split(/\r?\n/);
}

const rule: ViewLine = {text: '── output ──', tone: 'meta'};

/**
The record's lines (id, kind, text/command/container, selector, state, reason, drone, times, attempts, error, exit
code, duration, cancelled by), a rule, then the output lines (stderr tone 'stderr'), then how it ended.
The output followed live (`output`) when there is one; else what the whole record carries (stdout, then
stderr: the record does not say how they interleaved). The record's values wrap at `width`; the output's
lines are as printed.
*/
export function taskViewLines(task: TaskView | undefined, output: TaskOutputSnapshot | undefined, width = Number.POSITIVE_INFINITY): ViewLine[] {
	const lines = task === undefined ? [] : recordLines(task, width);
	if (output !== undefined) {
		lines.push(rule);
		if (output.dropped > 0) {
			lines.push({text: `… ${output.dropped} earlier lines dropped`, tone: 'meta'});
		}

		for (const line of output.lines) {
			lines.push(line.stream === 'stderr' ? {text: line.text, tone: 'stderr'} : {text: line.text});
		}

		if (output.error !== undefined) {
			lines.push({text: `output: ${output.error}`, tone: 'error'});
		}

		if (output.lines.length === 0 && !output.following && output.error === undefined) {
			lines.push({text: '(no output)', tone: 'meta'});
		}

		if (output.end !== undefined) {
			lines.push(endLine(output.end));
		}

		return lines;
	}

	const result = task?.result;
	const stdout = streamLines(result?.stdout ?? '');
	const stderr = streamLines(result?.stderr ?? '');
	if (stdout.length > 0 || stderr.length > 0) {
		lines.push(rule, ...stdout.map(text => ({text})), ...stderr.map(text => ({text, tone: 'stderr' as const})));
	}

	return lines;
}

/** Indexes of the lines containing `search` (any case), as they are shown; [] for ''. */
export function findMatches(lines: readonly ViewLine[], search: string): number[] {
	if (search === '') {
		return [];
	}

	const pattern = searchPattern(search);
	const found: number[] = [];
	for (const [index, line] of lines.entries()) {
		pattern.lastIndex = 0;
		if (pattern.test(printable(line.text))) {
			found.push(index);
		}
	}

	return found;
}
