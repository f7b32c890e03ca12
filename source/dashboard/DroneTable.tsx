import {memo} from 'react';
import {Box, Text} from 'ink';
import {age, clip, columnsOf, errorText, fit, fitRight, sortMark} from './format.js';
import type {DroneRow} from './hive-store.js';
import type {Sort} from './rows.js';

type Props = {
	/** The drones to show (already filtered and sorted). */
	readonly drones: readonly DroneRow[];
	/** All drones, filtered or not: the title counts them. */
	readonly total: number;
	readonly maxRetry: number | undefined;
	readonly now: number;
	readonly width: number;
	/** Data rows available (the title and column header come on top). */
	readonly rows: number;
	/** First drone shown. */
	readonly offset: number;
	/** Index into `drones` of the selected drone (inverse while the table has the focus). */
	readonly selected: number | undefined;
	readonly focused: boolean;
	readonly filter: string;
	readonly filtering: boolean;
	readonly sort: Sort;
	/** The queen is not connected: every row grey, no state colours (the hive as it was). */
	readonly stale: boolean;
};

const stateColor: Record<string, string> = {ready: 'green', suspect: 'yellow', cordoned: 'gray', draining: 'magenta'};

/** A drone's state as the table says it: its health first (a suspect drone is suspect, cordoned or not), then whether it takes tasks. */
export function droneState(drone: DroneRow): string {
	if (drone.state !== 'ready') {
		return drone.state;
	}

	if (drone.drain) {
		return 'draining';
	}

	return drone.cordoned ? 'cordoned' : drone.state;
}

/** A drone's labels as one cell: `zone=a,gpu=yes`. */
export function labelText(drone: DroneRow): string {
	return Object.entries(drone.labels ?? {}).map(([key, value]) => `${key}=${value}`).join(',');
}

type Column = {
	readonly title: string;
	/** The sort column it shows (rows.ts), if any. */
	readonly sortBy?: string;
	readonly width: number;
	readonly right?: boolean;
	readonly cell: (drone: DroneRow) => string;
};

/** Bounds of the columns sized by their longest value: NAME and ADDRESS never crowd out the last error. */
const nameBounds = [4, 20] as const;
const addressBounds = [7, 21] as const;
/** How far NAME and ADDRESS give way to the last error. */
const nameFloor = 12;
const addressFloor = 15;
/** What the last error keeps at least, when some drone has one: enough to read a cause (`ECONNREFUSED`). */
const errorMin = 20;
const labelsMin = 6;

/** As wide as the widest of `values` and the title (with its sort mark), within `bounds`. */
function widest(values: Iterable<string>, title: string, bounds: readonly [number, number]): number {
	let most = columnsOf(title);
	for (const value of values) {
		most = Math.max(most, columnsOf(value));
	}

	return Math.min(Math.max(most, bounds[0]), bounds[1]);
}

function columns(props: Props): {list: Column[]; errorWidth: number} {
	const {drones, sort, width} = props;
	const titled = (title: string, sortBy: string) => `${title}${sortMark(sort, sortBy)}`;
	const list: Column[] = [
		{title: titled('NAME', 'name'), sortBy: 'name', width: widest(drones.map(drone => drone.name), titled('NAME', 'name'), nameBounds), cell: drone => drone.name},
		{title: titled('ADDRESS', 'address'), sortBy: 'address', width: widest(drones.map(drone => drone.address), titled('ADDRESS', 'address'), addressBounds), cell: drone => drone.address},
		{title: titled('STATE', 'state'), sortBy: 'state', width: 8, cell: droneState},
		{title: titled('SEEN', 'seen'), sortBy: 'seen', width: 5, right: true, cell: drone => age(drone.lastSeenAt === undefined ? undefined : props.now - drone.lastSeenAt)},
		{title: titled('FAILED', 'failed'), sortBy: 'failed', width: 6 + sortMark(sort, 'failed').length, right: true, cell: drone => `${drone.failedAttempts}/${props.maxRetry ?? '?'}`},
		{title: titled('TASKS', 'tasks'), sortBy: 'tasks', width: widest(drones.map(drone => String(drone.tasksDone)), titled('TASKS', 'tasks'), [5, 9]), right: true, cell: drone => String(drone.tasksDone)},
	];
	if (drones.some(drone => drone.slots !== undefined)) {
		const running = (drone: DroneRow) => drone.slots === undefined ? '-' : `${drone.running ?? 0}/${drone.slots}`;
		list.push({title: titled('RUN', 'running'), sortBy: 'running', width: widest(drones.map(running), titled('RUN', 'running'), [3, 9]), right: true, cell: running});
	}

	const hasError = drones.some(drone => (drone.lastError ?? '') !== '');
	// A long name or address gives way (down to a floor) before the last error goes below what reads a cause.
	const shortfall = hasError ? errorMin - (width - list.reduce((sum, column) => sum + column.width + 1, 0) - 1) : 0;
	if (shortfall > 0) {
		const [name, address] = list as [Column, Column];
		const fromName = Math.min(shortfall, Math.max(0, name.width - nameFloor));
		const fromAddress = Math.min(shortfall - fromName, Math.max(0, address.width - addressFloor));
		list[0] = {...name, width: name.width - fromName};
		list[1] = {...address, width: address.width - fromAddress};
	}

	const fixed = list.reduce((sum, column) => sum + column.width + 1, 0);
	const labels = drones.some(drone => drone.labels !== undefined && Object.keys(drone.labels).length > 0) ? drones.map(labelText) : [];
	// Labels take what the last error does not need, and are left out rather than shown in a sliver.
	const labelRoom = width - fixed - 1 - (hasError ? errorMin : 'LAST ERROR'.length);
	if (labels.length > 0 && labelRoom >= labelsMin) {
		const labelWidth = Math.min(labelRoom, widest(labels, 'LABELS', [labelsMin, 40]));
		list.push({title: 'LABELS', width: labelWidth, cell: labelText});
	}

	const rest = width - list.reduce((sum, column) => sum + column.width + 1, 0);
	// The last error takes what is left, if that is enough to read one.
	return {list, errorWidth: rest >= 10 ? rest : 0};
}

type Piece = {text: string; color: string | undefined};

/**
The drone table: one row per drone, state by colour (and by word), failed attempts as n/m, the cause of
the last error; it scrolls, and a selected row is inverse while it has the focus. While the queen is
not connected every row is grey: the hive as it was, not as it is.
*/
export const DroneTable = memo(function DroneTable(props: Props) {
	const {drones, total, width, rows, offset, selected, focused, filter, filtering, stale} = props;
	const shown = drones.slice(offset, offset + rows);
	const {list: cols, errorWidth} = columns(props);
	const range = shown.length === 0 ? '' : `  ${offset + 1}-${offset + shown.length} of ${drones.length}`;
	const filterText = filtering || filter ? `  /${filter}${filtering ? '▏' : ''} (${drones.length} of ${total} match)` : '';
	const title = `Drones ${total}${filterText}${range}`;
	const cell = (column: Column, value: string) => column.right ? fitRight(value, column.width) : fit(value, column.width);
	let empty: string | undefined;
	if (!stale && total === 0) {
		empty = 'no drones yet: start one with  hive-larve --queen-host <this queen>';
	} else if (total > 0 && drones.length === 0) {
		empty = `no drone matches /${filter}`;
	}

	return (
		<Box flexDirection="column" height={rows + 2} width={width}>
			<Text wrap="truncate" bold inverse={focused}>{focused ? fit(title, width) : clip(title, width)}</Text>
			<Text wrap="truncate" dimColor>{clip(`${cols.map(column => cell(column, column.title)).join(' ')} ${fit('LAST ERROR', errorWidth)}`, width)}</Text>
			{shown.map((drone, index) => {
				const inverse = focused && selected === offset + index;
				const failedColor = drone.failedAttempts === 0 ? undefined : (props.maxRetry !== undefined && drone.failedAttempts >= props.maxRetry ? 'red' : 'yellow');
				// Neighbouring cells of one colour (or none) in one piece, and no coloured blanks after a drone
				// without an error: Ink styles every character of every line, each frame.
				const pieces: Piece[] = [];
				const add = (text: string, color: string | undefined) => {
					const last = pieces.at(-1);
					if (last !== undefined && last.color === color) {
						last.text += text;
					} else {
						pieces.push({text, color});
					}
				};

				for (const column of cols) {
					const color = stale ? undefined : (column.sortBy === 'state' ? stateColor[droneState(drone)] : (column.sortBy === 'failed' ? failedColor : undefined));
					add(`${cell(column, column.cell(drone))} `, color);
				}

				const lastError = errorText(drone.lastError ?? '');
				if (errorWidth > 0) {
					// A selected row is inverse to its end.
					add(inverse ? fit(lastError, errorWidth) : clip(lastError, errorWidth), stale || lastError === '' ? undefined : 'red');
				}

				return (
					<Text key={drone.name} wrap="truncate" inverse={inverse} dimColor={stale}>
						{pieces.map((piece, index) => <Text key={index} color={piece.color}>{piece.text}</Text>)}
					</Text>
				);
			})}
			{empty === undefined ? undefined : <Text dimColor>{clip(empty, width)}</Text>}
		</Box>
	);
});
