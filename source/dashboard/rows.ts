import type {TaskView} from '../client/queen-client.js';
import {droneState, labelText} from './DroneTable.js';
import type {DroneRow, LogEntry} from './hive-store.js';
import {taskOutcome, taskAsTyped} from './TaskList.js';

/**
Which rows the tables show, in which order: the filters and sorts of the dashboard, as pure functions
(App.tsx applies them to the store's snapshot; the key reducer only counts what they give).
*/

/** The column a table is sorted by; pressed again, the order turns round. */
export type Sort = {readonly column: string; readonly descending: boolean};

/** Drones: by name (drone-2 before drone-10). */
export const defaultDroneSort: Sort = {column: 'name', descending: false};
/** Tasks: the newest first. */
export const defaultTaskSort: Sort = {column: 'time', descending: true};

/** The sort keys (an uppercase letter) of each table, as the help lists them. */
export const droneSortKeys: Readonly<Record<string, string>> = {N: 'name', A: 'address', S: 'state', L: 'seen', F: 'failed', T: 'tasks', R: 'running'};
export const taskSortKeys: Readonly<Record<string, string>> = {T: 'time', I: 'id', W: 'what', D: 'drone', S: 'state'};

const collator = new Intl.Collator('en', {numeric: true});
type Key = string | number;

function compareKeys(a: Key, b: Key): number {
	return typeof a === 'number' && typeof b === 'number' ? a - b : collator.compare(String(a), String(b));
}

/** Sorted by `sort`, then by `tieBreak` (the default order), stable. */
function sortBy<T>(rows: readonly T[], sort: Sort, keys: Readonly<Record<string, (row: T) => Key>>, tieBreak: (a: T, b: T) => number): readonly T[] {
	const key = keys[sort.column];
	if (!key) {
		return rows;
	}

	const sign = sort.descending ? -1 : 1;
	return [...rows].sort((a, b) => (sign * compareKeys(key(a), key(b))) || tieBreak(a, b));
}

const droneKeys: Readonly<Record<string, (drone: DroneRow) => Key>> = {
	name: drone => drone.name,
	address: drone => drone.address,
	state: droneState,
	// The longest silence first when descending: a drone never seen counts as the longest.
	seen: drone => -(drone.lastSeenAt ?? Number.NEGATIVE_INFINITY),
	failed: drone => drone.failedAttempts,
	tasks: drone => drone.tasksDone,
	running: drone => drone.running ?? 0,
};

const taskKeys: Readonly<Record<string, (task: TaskView) => Key>> = {
	time: task => Date.parse(task.submittedAt) || 0,
	id: task => task.id,
	what: taskAsTyped,
	drone: task => task.drone ?? '',
	state: task => task.state,
};

export function sortDrones(drones: readonly DroneRow[], sort: Sort): readonly DroneRow[] {
	// The store keeps them by name already.
	return sort.column === 'name' && !sort.descending ? drones : sortBy(drones, sort, droneKeys, (a, b) => collator.compare(a.name, b.name));
}

export function sortTasks(tasks: readonly TaskView[], sort: Sort): readonly TaskView[] {
	// The store keeps them newest first already (in the order the queen took them).
	if (sort.column === 'time') {
		return sort.descending ? tasks : [...tasks].reverse();
	}

	const order = new Map(tasks.map((task, index) => [task.id, index]));
	return sortBy(tasks, sort, taskKeys, (a, b) => order.get(a.id)! - order.get(b.id)!);
}

/** A filter as typed: words that must all match; `key:value` a field, `k=v` a label, others the row's text. */
type Word = {readonly field?: string; readonly label?: readonly [string, string]; readonly text: string};

function words(filter: string): Word[] {
	return filter.toLowerCase().split(/\s+/).filter(Boolean).map(word => {
		const colon = word.indexOf(':');
		if (colon > 0 && /^[a-z]+$/.test(word.slice(0, colon))) {
			return {field: word.slice(0, colon), text: word.slice(colon + 1)};
		}

		const equals = word.indexOf('=');
		return equals > 0 ? {label: [word.slice(0, equals), word.slice(equals + 1)] as const, text: word} : {text: word};
	});
}

const droneFields: Readonly<Record<string, (drone: DroneRow) => string>> = {
	name: drone => drone.name,
	state: droneState,
	address: drone => drone.address,
	addr: drone => drone.address,
	label: labelText,
	labels: labelText,
};

/**
Drones that match every word of `filter`: its name, state or labels contain it; its address only when
the word looks like one (has a `.` or a `:`), so that `/1` does not match every 127.0.0.1. `k=v` needs
that label, `state:suspect` that state.
*/
export function filterDrones(drones: readonly DroneRow[], filter: string): readonly DroneRow[] {
	const wanted = words(filter);
	if (wanted.length === 0) {
		return drones;
	}

	return drones.filter(drone => wanted.every(word => {
		if (word.field !== undefined) {
			const field = droneFields[word.field];
			return field ? field(drone).toLowerCase().includes(word.text) : false;
		}

		if (word.label) {
			const [key, value] = word.label;
			return Object.entries(drone.labels ?? {}).some(([name, each]) => name.toLowerCase() === key && each.toLowerCase().includes(value));
		}

		const text = `${drone.name} ${droneState(drone)} ${labelText(drone)}${/[.:]/.test(word.text) ? ` ${drone.address}` : ''}`;
		return text.toLowerCase().includes(word.text);
	}));
}

const taskFields: Readonly<Record<string, (task: TaskView) => string>> = {
	state: task => task.state,
	drone: task => task.drone ?? '',
	id: task => task.id,
	kind: task => task.kind,
	text: taskAsTyped,
	command: task => task.command ?? task.container?.command.join(' ') ?? '',
};

/** Tasks that match every word of `filter`: `state:failed`, `drone:local-1`, `id:3f2a`, or text in the id, task, drone, state or outcome. */
export function filterTasks(tasks: readonly TaskView[], filter: string): readonly TaskView[] {
	const wanted = words(filter);
	if (wanted.length === 0) {
		return tasks;
	}

	return tasks.filter(task => wanted.every(word => {
		if (word.field !== undefined) {
			const field = taskFields[word.field];
			if (!field) {
				return false;
			}

			// A state or an id by its start (`state:fail`, `id:3f2a`), the rest anywhere.
			const value = field(task).toLowerCase();
			return word.field === 'state' || word.field === 'id' ? value.startsWith(word.text) : value.includes(word.text);
		}

		return `${task.id} ${taskAsTyped(task)} ${task.drone ?? ''} ${task.state} ${taskOutcome(task)}`.toLowerCase().includes(word.text);
	}));
}

/** Event log lines that contain every word of `filter`. */
export function filterEvents(entries: readonly LogEntry[], filter: string): readonly LogEntry[] {
	const wanted = words(filter).map(word => (word.field === undefined ? word.text : `${word.field}:${word.text}`));
	return wanted.length === 0 ? entries : entries.filter(entry => wanted.every(word => entry.text.toLowerCase().includes(word)));
}
