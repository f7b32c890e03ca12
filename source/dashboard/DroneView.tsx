import {memo} from 'react';
import {Box, Text} from 'ink';
import type {TaskView} from '../client/queen-client.js';
import {droneState, labelText} from './DroneTable.js';
import {age, fit} from './format.js';
import {shortId} from '../model.js';
import {clockTime, type DroneRow, type LogEntry} from './hive-store.js';
import {field, type ViewLine} from './task-lines.js';
import {taskAsTyped} from './TaskList.js';
import {clampScroll, linesRange, ViewRow} from './TaskView.js';

type Props = {
	readonly name: string;
	/** `droneViewLines`. */
	readonly lines: readonly ViewLine[];
	readonly width: number;
	/** Rows in all: the title, then `rows - 1` lines. */
	readonly rows: number;
	/** First line shown (App clamps it). */
	readonly scroll: number;
};

/** Whether a log line is about this drone: its name as a word (`drone-1` is not in `drone-10 left`). */
function names(text: string, name: string): boolean {
	let at = text.indexOf(name);
	while (at !== -1) {
		const before = text[at - 1];
		const after = text[at + name.length];
		if ((before === undefined || !/[\w.-]/.test(before)) && (after === undefined || !/[\w-]/.test(after))) {
			return true;
		}

		at = text.indexOf(name, at + 1);
	}

	return false;
}

/** `draining since 12:00:00, deadline 12:05:00`: the state as the table says it, and what it does not. */
function stateText(drone: DroneRow): string {
	const words = [droneState(drone)];
	if (drone.cordoned && words[0] !== 'cordoned' && !drone.drain) {
		words.push('cordoned');
	}

	if (drone.drain) {
		if (words[0] !== 'draining') {
			words.push('draining');
		}

		words.push(`since ${clockTime(drone.drain.startedAt)}`, drone.drain.deadline === null ? 'no deadline' : `deadline ${clockTime(drone.drain.deadline)}`);
	}

	return words.join(', ');
}

/** `runc: runs container tasks`, or why it runs none. */
function runtimesText(drone: DroneRow): string {
	if (drone.runtimes === undefined) {
		return 'unknown (an older queen)';
	}

	return drone.runtimes.length === 0 ? 'none: no container tasks' : `${drone.runtimes.join(', ')}: runs container tasks`;
}

/**
What describing a drone shows: name, address, state (and its cordon or drain), when it registered and
was last seen, failed heartbeats n/m, the last error whole, slots, exec, runtimes, labels; then the tasks running
there and the log lines that name it, newest last. `width` (the view's): long values wrap rather than
being cut; without it, they are one line each.
*/
export function droneViewLines(drone: DroneRow | undefined, tasks: readonly TaskView[], events: readonly LogEntry[], maxRetry: number | undefined, now: number, width = Number.POSITIVE_INFINITY): ViewLine[] {
	if (drone === undefined) {
		return [{text: 'not in the hive now: it left, or was evicted', tone: 'meta'}];
	}

	const registered = Date.parse(drone.registeredAt);
	const lines: ViewLine[] = [
		...field('name', drone.name, width),
		...field('address', drone.address, width),
		...field('state', stateText(drone), width),
		...field('registered', Number.isNaN(registered) ? drone.registeredAt : `${clockTime(drone.registeredAt)} (${age(now - registered)} ago)`, width),
		...field('last seen', drone.lastSeenAt === undefined ? 'never' : `${age(now - drone.lastSeenAt)} ago`, width),
		...field('failed', `${drone.failedAttempts}/${maxRetry ?? '?'} heartbeats in a row`, width),
	];
	if (drone.lastError) {
		lines.push(...field('last error', drone.lastError, width, 'error'));
	}

	lines.push(
		...field('slots', drone.slots === undefined ? 'unknown (an older queen)' : `${drone.running ?? 0} running of ${drone.slots}`, width),
		...field('exec', drone.allowExec === undefined ? 'unknown (an older queen)' : (drone.allowExec ? 'allowed: runs command tasks' : 'not allowed: text tasks only'), width),
		...field('runtimes', runtimesText(drone), width),
		...field('labels', labelText(drone).replaceAll(',', ' ') || '(none)', width),
		...field('tasks done', String(drone.tasksDone), width),
	);
	const running = tasks.filter(task => task.drone === drone.name && (task.state === 'dispatched' || task.state === 'running'));
	lines.push({text: `── running here (${running.length}) ──`, tone: 'meta'});
	for (const task of running) {
		lines.push({text: `${shortId(task.id).padEnd(8)}  ${task.state.padEnd(10)} ${taskAsTyped(task)}`});
	}

	const named = events.filter(entry => names(entry.text, drone.name));
	lines.push({text: `── events (${named.length}) ──`, tone: 'meta'});
	for (const entry of named) {
		lines.push({text: `${entry.time} ${entry.text}`, tone: entry.tone === 'bad' ? 'error' : undefined});
	}

	return lines;
}

/** One drone described (`droneViewLines`), scrolled; Esc goes back. */
export const DroneView = memo(function DroneView({name, lines, width, rows, scroll: wanted}: Props) {
	const body = Math.max(0, rows - 1);
	const scroll = clampScroll(wanted, body, lines.length);
	const shown = lines.slice(scroll, scroll + body);
	return (
		<Box flexDirection="column" height={rows} width={width}>
			<Text wrap="truncate" bold inverse>{fit(`Drone ${name}  ${linesRange(scroll, shown.length, lines.length)}  (Esc back)`, width)}</Text>
			{shown.map((line, index) => <ViewRow key={scroll + index} line={line} width={width}/>)}
		</Box>
	);
});
