import type {StreamEvent} from '../client/event-stream.js';
import type {DroneView, TaskView} from '../client/queen-client.js';
import {containerLimits, shellQuote, shortId, taskWhat, type ContainerSpec} from '../model.js';
import {age, ageOf, oneLine} from './table.js';

/** What people read of the API's answers: rows of tables, one-line statuses, a task described. Pure. */

export const taskColumns = ['id', 'state', 'drone', 'age', 'kind', 'task'] as const;

/** A row of `tasks`: the id's first 8 characters, as the dashboard shows them (and any unique prefix works). */
export function taskRow(task: TaskView, now: number): string[] {
	return [shortId(task.id), task.state, task.drone ?? '-', ageOf(task.submittedAt, now), task.kind, taskWhat(task)];
}


export const droneColumns = ['name', 'status', 'address', 'running', 'done', 'exec', 'labels', 'age'] as const;

/** `droneColumns` with RUNTIMES after EXEC: for a hive where a drone runs containers (others read as before, in less width). */
export const droneColumnsWithRuntimes = ['name', 'status', 'address', 'running', 'done', 'exec', 'runtimes', 'labels', 'age'] as const;

export function hasRuntimes(drones: readonly DroneView[]): boolean {
	return drones.some(drone => (drone.runtimes?.length ?? 0) > 0);
}

/**
A row of `drones`; STATUS says `cordoned` or `draining` after the state, as kubectl's `SchedulingDisabled`.
`withRuntimes`: a RUNTIMES cell after EXEC (`runc`, or `-`), for `droneColumnsWithRuntimes`.
*/
export function droneRow(drone: DroneView, now: number, withRuntimes = false): string[] {
	const labels = Object.entries(drone.labels).map(([key, value]) => `${key}=${value}`).join(',');
	const runtimes = withRuntimes ? [drone.runtimes?.join(',') || '-'] : [];
	return [drone.name, droneStatus(drone), drone.address, `${drone.running}/${drone.slots}`, String(drone.tasksDone), drone.allowExec ? 'yes' : 'no', ...runtimes, labels || '-', ageOf(drone.registeredAt, now)];
}

function droneStatus(drone: DroneView): string {
	if (drone.drain) {
		return `${drone.state},draining`;
	}

	return drone.cordoned ? `${drone.state},cordoned` : drone.state;
}

/** Drones in name order, `drone-2` before `drone-10`. */
export function byName(a: DroneView, b: DroneView): number {
	return a.name.localeCompare(b.name, 'en', {numeric: true});
}

/**
One line saying where a task stands: `task ID succeeded on drone-1 (exit 0, 1.2s)`, `task ID pending: no
drone has zone=b`, `task ID cancelled by alice@laptop`. The whole id: it is what a submit answers.
*/
export function taskStatusLine(task: TaskView): string {
	let line = `task ${task.id} ${task.state}`;
	if (task.drone) {
		line += ` on ${task.drone}`;
	}

	if (task.state === 'cancelled' && task.cancelled) {
		line += ` by ${task.cancelled.by}`;
	}

	const why = task.state === 'failed' || task.state === 'lost' ? task.error : task.state === 'pending' ? task.reason : null;
	if (task.result) {
		// A failure's error says how it exited already ("exited with 2").
		line += why ? ` (${duration(task.result.durationMs)})` : ` (${exitText(task.result)}, ${duration(task.result.durationMs)})`;
	}

	if (why) {
		line += `: ${why}`;
	}

	return oneLine(line);
}

function exitText(result: NonNullable<TaskView['result']>): string {
	if (result.timedOut) {
		return 'timed out';
	}

	return result.signal ? `killed by ${result.signal}` : `exit ${result.exitCode ?? '?'}`;
}

/** `850ms`, `1.2s`, `3m4s`. */
export function duration(ms: number): string {
	if (ms < 1000) {
		return `${Math.round(ms)}ms`;
	}

	if (ms < 60_000) {
		return `${(ms / 1000).toFixed(1)}s`;
	}

	const seconds = Math.round(ms / 1000);
	return `${Math.floor(seconds / 60)}m${seconds % 60}s`;
}

/** `task ID` as `kubectl describe` shows one thing: a field a line, then the command's output, indented. */
export function describeTask(task: TaskView, now: number): string {
	const fields: Array<[string, string | null | undefined]> = [
		['ID', task.id],
		['Kind', task.kind],
		...whatFields(task),
		['Selector', Object.entries(task.selector).map(([key, value]) => `${key}=${value}`).join(',') || '-'],
		['State', task.state],
		['Drone', task.drone ?? '-'],
		['Submitted', `${task.submittedAt} (${ageOf(task.submittedAt, now)} ago)`],
		['Updated', `${task.updatedAt} (${ageOf(task.updatedAt, now)} ago)`],
		['Attempts', String(task.attempts)],
		['Retries', String(task.retries)],
		['Reason', task.reason],
		['Error', task.error],
		['Cancelled', task.cancelled ? `by ${task.cancelled.by} at ${task.cancelled.at} (${ageOf(task.cancelled.at, now)} ago)` : null],
	];
	if (task.result) {
		const {exitCode, signal, timedOut} = task.result;
		fields.push(['Exit code', exitCode === null ? null : String(exitCode)], ['Signal', signal], ['Timed out', timedOut ? 'yes' : null], ['Duration', duration(task.result.durationMs)]);
	}

	const shown = fields.filter((field): field is [string, string] => field[1] !== null && field[1] !== undefined);
	const width = Math.max(...shown.map(([name]) => name.length)) + 2;
	let text = shown.map(([name, value]) => `${`${name}:`.padEnd(width)}${oneLine(value)}\n`).join('');
	for (const [name, output] of [['Stdout', task.result?.stdout], ['Stderr', task.result?.stderr]] as const) {
		if (output) {
			text += `${name}:\n${indent(printable(output))}`;
		}
	}

	return text;
}

/** What the task does: its text, its command, or its container's root, command, environment and limits. */
function whatFields(task: TaskView): Array<[string, string | null | undefined]> {
	if (task.kind === 'container' && task.container) {
		return containerFields(task.container);
	}

	return [task.kind === 'command' ? ['Command', task.command] : ['Text', task.text]];
}

function containerFields(container: ContainerSpec): Array<[string, string | undefined]> {
	const {rootfs, command, env, workdir} = container;
	const limits = containerLimits(container);
	const variables = Object.entries(env ?? {}).map(([name, value]) => `${name}=${shellQuote(value)}`);
	return [
		['Rootfs', rootfs],
		// As a shell would read it back: the arguments stay apart (`sh -c 'echo hi'`).
		['Command', command.map(arg => shellQuote(arg)).join(' ')],
		['Env', variables.length === 0 ? undefined : variables.join(' ')],
		['Workdir', workdir],
		['Limits', limits.length === 0 ? 'none' : limits.join(' ')],
	];
}

function indent(text: string): string {
	return text.split('\n').map((line, index, lines) => (index === lines.length - 1 && line === '' ? '' : `  ${line}\n`)).join('');
}

/** Output shown inside a description: lines and tabs kept, other control characters (escape sequences) dropped. */
export function printable(text: string): string {
	return text.replaceAll(/[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g, '');
}

export const eventColumns = ['age', 'type', 'object', 'message'] as const;

/** Widths of `events --follow`'s columns (rows come one at a time): as wide as the usual cells. */
export const eventWidths = [4, 18, 22] as const;

/** Events of the heartbeat monitor's turns: a measure, shown by metrics and the dashboard, not news. */
export function isNoise(event: StreamEvent): boolean {
	return event.type === 'heartbeat.sweep';
}

/** A row of `events`: how long ago, the type, what it is about (`drone/NAME`, `task/ID`), what happened. */
export function eventRow(event: StreamEvent, now: number): string[] {
	return [ageOf(event.time, now), event.type, eventObject(event), eventMessage(event, now)];
}

function eventObject(event: StreamEvent): string {
	const task = taskOf(event);
	if (task) {
		return `task/${shortId(task.id)}`;
	}

	if (typeof event.task === 'string') {
		return `task/${shortId(event.task)}`;
	}

	return typeof event.drone === 'string' ? `drone/${event.drone}` : '-';
}

function eventMessage(event: StreamEvent, now: number): string {
	const text = (key: string) => (typeof event[key] === 'string' || typeof event[key] === 'number' ? String(event[key]) : '');
	const by = text('by') ? `by ${text('by')}` : '';
	switch (event.type) {
		case 'drone.registered': {
			return `registered${event.again === true ? ' again' : ''} at ${text('address')}`;
		}

		case 'drone.left': {
			return `left (${text('address')})`;
		}

		case 'drone.evicted': {
			return `evicted: ${text('reason')}`;
		}

		case 'drone.cordoned':
		case 'drone.uncordoned': {
			return [event.type.slice('drone.'.length), by].filter(Boolean).join(' ');
		}

		case 'drone.draining': {
			const deadline = text('deadline');
			const left = deadline && !Number.isNaN(Date.parse(deadline)) ? `deadline in ${age(Date.parse(deadline) - now)}` : '';
			return ['draining', by, left].filter(Boolean).join(' ');
		}

		case 'drone.drained': {
			return 'drained: nothing runs there';
		}

		case 'heartbeat.failed': {
			return `heartbeat failed ${text('attempt')}/${text('maxRetry')}: ${text('error')}`;
		}

		case 'heartbeat.recovered': {
			return 'answers heartbeats again';
		}

		case 'heartbeat.sweep': {
			return `checked ${text('checked')}, ${text('failed')} failed, ${text('durationMs')}ms`;
		}

		default: {
			const task = taskOf(event);
			if (event.type === 'task.cancelled') {
				return ['cancelled', by || (task?.cancelled ? `by ${task.cancelled.by}` : '')].filter(Boolean).join(' ');
			}

			if (!task) {
				return '';
			}

			if (event.type === 'task.submitted') {
				return `${task.kind}: ${taskWhat(task)}`;
			}

			const where = task.drone ? ` on ${task.drone}` : '';
			const why = text('reason') || (task.state === 'failed' || task.state === 'lost' ? task.error : task.state === 'pending' ? task.reason : null);
			return `${task.state}${where}${why ? `: ${why}` : ''}`;
		}
	}
}

function taskOf(event: StreamEvent): TaskView | undefined {
	const task = event.task as TaskView | undefined;
	return typeof task === 'object' && task !== null && typeof task.id === 'string' ? task : undefined;
}
