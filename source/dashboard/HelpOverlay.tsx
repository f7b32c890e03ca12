import {memo, useMemo} from 'react';
import {Box, Text} from 'ink';
import {columnsOf, fit, wrap} from './format.js';
import type {ViewLine} from './task-lines.js';
import {clampScroll, linesRange, ViewRow} from './TaskView.js';

type Props = {
	readonly width: number;
	/** Rows in all: the title, then `rows - 1` lines. */
	readonly rows: number;
	/** First line shown (App clamps it to `helpLines(width).length`). */
	readonly scroll: number;
};

type Section = {readonly title: string; readonly keys: ReadonlyArray<readonly [string, string]>};

/** The keys and the prompt's syntax, k9s style: what `?` and `:help` show. */
export const sections: readonly Section[] = [
	{title: 'Anywhere', keys: [
		['Tab', 'move between the prompt, the drones, the tasks and the events (Shift-Tab: back)'],
		['i', 'back to the prompt, from anywhere outside it'],
		['?', 'this help (outside the prompt: there every key is text)'],
		[':', 'a command (see Commands)'],
		['Esc', 'on the prompt: leave it for the drones (the line is kept); elsewhere: close what is open (help, a view, a search, a filter), then a pane shown alone gives way to the three; never back into the prompt'],
		['Ctrl-C', 'quit (a queen started here stops, with its local drones)'],
	]},
	{title: 'Prompt', keys: [
		['Enter', 'send the line as a task (POST /submit_task); the outcome shows under it'],
		['hello world', 'a text task'],
		['$ uname -a', 'a command task: a shell runs it on a drone started with --allow-exec'],
		['$[/bb] ls', 'a container task: sh -c runs it in the root filesystem /bb (a path on the drone) on a drone started with --runtime runc; limits in the brackets: $[/bb memory=64M cpus=0.5 pids=32] (the shell\'s own [ is $ [, with a blank)'],
		['@zone=a hi', 'a selector first: only drones with these labels (@k=v,k=v; several @ words; then a text, a $ command or a $[...] container)'],
		['\\$5 off', 'a leading \\ sends the rest as text, as typed (a task that starts with $ or @)'],
		['↑ ↓', 'earlier tasks'],
		['← → Home End', 'move in the line; Ctrl-U deletes up to the cursor'],
		['paste', 'a multi-line paste stays whole (shown ⏎): one task, a text or a script after $'],
	]},
	{title: 'Tables (drones, tasks, events)', keys: [
		['↑ ↓', 'move the selected row'],
		['PgUp PgDn', 'a page up or down'],
		['Home End', 'the first or the last row'],
		['/', 'filter the rows (see Filters); Enter keeps it, Esc clears it'],
		['Enter', 'drones: describe the drone; tasks: open the task (also l)'],
		['c u d', 'drones: cordon, uncordon, drain (asks y/N)'],
		['x', 'tasks: cancel the task (asks y/N)'],
	]},
	{title: 'Task view', keys: [
		['↑ ↓ PgUp PgDn', 'scroll the record and the output'],
		['Home End', 'the top, the bottom'],
		['End f', 'follow a running command\'s output live; any move up stops following'],
		['w', 'wrap long lines (again: cut them)'],
		['/', 'a new search of the output; Enter goes to the first match below'],
		['n N', 'the next, the previous match (matches highlighted, the current one inverse)'],
		['x', 'cancel the task (asks y/N)'],
		['Esc', 'back'],
	]},
	{title: 'Drone view', keys: [
		['↑ ↓ PgUp PgDn', 'scroll'],
		['Home End', 'the top, the bottom'],
		['c u d', 'cordon, uncordon, drain (asks y/N)'],
		['Esc', 'back'],
	]},
	{title: 'Commands (after :, then Enter)', keys: [
		[':drones', 'the drones alone, full height'],
		[':tasks', 'the tasks alone, full height'],
		[':events', 'the events alone, full height'],
		[':hive', 'the three panes again (also :all)'],
		[':task ID', 'open a task (the start of its id is enough)'],
		[':drone NAME', 'describe a drone'],
		[':token', 'the hive\'s token, and the commands that attach a second dashboard or a drone'],
		[':help', 'this help'],
		[':q', 'quit (also :quit)'],
	]},
	{title: 'Sort keys (uppercase; again: reverse)', keys: [
		['drones', 'N name, A address, S state, L last seen, F failed, T tasks done, R running'],
		['tasks', 'T time (the default: newest first), I id, W what (text or command), D drone, S state'],
	]},
	{title: 'Filters (/ on a table)', keys: [
		['words', 'all must match'],
		['key:value', 'a field: state:failed, drone:local-1, name:…'],
		['k=v', 'a drone\'s label'],
		['other words', 'drones: name, state, labels (the address only with a . or : in the word); tasks: id, text or command, drone, state, outcome'],
	]},
];

/** The key column: wide enough for the keys when the terminal is; a longer key puts its meaning on the next line. */
function keyWidth(width: number): number {
	return width >= 100 ? 18 : 14;
}

/** The help as lines: a section title, then each key and its meaning, wrapped to `width` (never cut). */
export function helpLines(width: number): ViewLine[] {
	const keys = keyWidth(width);
	const room = Math.max(10, width - keys - 2);
	const pad = ' '.repeat(keys + 2);
	const lines: ViewLine[] = [];
	for (const [index, section] of sections.entries()) {
		if (index > 0) {
			lines.push({text: ''});
		}

		lines.push({text: section.title, tone: 'heading'});
		for (const [key, meaning] of section.keys) {
			const wrapped = wrap(meaning, room);
			if (columnsOf(key) > keys) {
				lines.push({text: `  ${key}`});
			} else {
				lines.push({text: `  ${fit(key, keys)}${wrapped.shift() ?? ''}`});
			}

			lines.push(...wrapped.map(text => ({text: `${pad}${text}`})));
		}
	}

	return lines;
}

/** The help, scrolled (↑↓ PgUp PgDn Home End); Esc or ? closes it. */
export const HelpOverlay = memo(function HelpOverlay({width, rows, scroll: wanted}: Props) {
	const lines = useMemo(() => helpLines(width), [width]);
	const body = Math.max(0, rows - 1);
	const scroll = clampScroll(wanted, body, lines.length);
	const shown = lines.slice(scroll, scroll + body);
	return (
		<Box flexDirection="column" height={rows} width={width}>
			<Text wrap="truncate" bold inverse>{fit(`Keys  (Esc or ? to close)  ${linesRange(scroll, shown.length, lines.length)}`, width)}</Text>
			{shown.map((line, index) => <ViewRow key={scroll + index} line={line} width={width}/>)}
		</Box>
	);
});
