import {memo} from 'react';
import {Box, Text} from 'ink';
import {age, clip, errorText, fit, fitRight} from './format.js';
import type {DroneRow} from './hive-store.js';

type Props = {
	/** The drones to show (already filtered). */
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
	readonly focused: boolean;
	readonly filter: string;
	readonly filtering: boolean;
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

type Column = {readonly title: string; readonly width: number; readonly right?: boolean; readonly cell: (drone: DroneRow) => string};

function columns(drones: readonly DroneRow[], props: Props): Column[] {
	const list: Column[] = [
		{title: 'NAME', width: 12, cell: drone => drone.name},
		{title: 'ADDRESS', width: 21, cell: drone => drone.address},
		{title: 'STATE', width: 8, cell: droneState},
		{title: 'SEEN', width: 6, right: true, cell: drone => age(drone.lastSeenAt === undefined ? undefined : props.now - drone.lastSeenAt)},
		{title: 'FAILED', width: 6, right: true, cell: drone => `${drone.failedAttempts}/${props.maxRetry ?? '?'}`},
		{title: 'TASKS', width: 6, right: true, cell: drone => String(drone.tasksDone)},
	];
	if (drones.some(drone => drone.slots !== undefined)) {
		list.push({title: 'RUN/SLOTS', width: 9, right: true, cell: drone => drone.slots === undefined ? '-' : `${drone.running ?? 0}/${drone.slots}`});
	}

	if (drones.some(drone => drone.labels !== undefined && Object.keys(drone.labels).length > 0)) {
		list.push({title: 'LABELS', width: 16, cell: drone => Object.entries(drone.labels ?? {}).map(([key, value]) => `${key}=${value}`).join(',')});
	}

	return list;
}

/** The drone table: one row per drone, state by colour (and by word), failed attempts as n/m; it scrolls. */
export const DroneTable = memo(function DroneTable(props: Props) {
	const {drones, total, width, rows, offset, focused, filter, filtering} = props;
	const shown = drones.slice(offset, offset + rows);
	const cols = columns(shown, props);
	const fixed = cols.reduce((sum, column) => sum + column.width + 1, 0);
	// The last error takes what is left, if that is enough to read one.
	const errorWidth = width - fixed >= 10 ? width - fixed : 0;
	const range = drones.length === 0 ? '' : `  ${offset + 1}-${offset + shown.length} of ${drones.length}`;
	const filterText = filtering || filter ? `  /${filter}${filtering ? '▏' : ''}  (${drones.length} of ${total} match)` : '';
	const title = `Drones ${total}${filterText}${range}`;
	const cell = (column: Column, value: string) => column.right ? fitRight(value, column.width) : fit(value, column.width);
	return (
		<Box flexDirection="column" height={rows + 2} width={width}>
			<Text wrap="truncate" bold inverse={focused}>{focused ? fit(title, width) : clip(title, width)}</Text>
			<Text wrap="truncate" dimColor>{clip(`${cols.map(column => cell(column, column.title)).join(' ')} ${fit('LAST ERROR', errorWidth)}`, width)}</Text>
			{shown.map(drone => {
				const failedColor = drone.failedAttempts === 0 ? undefined : (props.maxRetry !== undefined && drone.failedAttempts >= props.maxRetry ? 'red' : 'yellow');
				// Neighbouring cells of one colour (or none) in one piece, and no coloured blanks after a drone
				// without an error: Ink styles every character of every line, each frame.
				const pieces: Array<{text: string; color: string | undefined}> = [];
				for (const column of cols) {
					const value = `${cell(column, column.cell(drone))} `;
					const color = column.title === 'STATE' ? stateColor[droneState(drone)] : (column.title === 'FAILED' ? failedColor : undefined);
					const last = pieces.at(-1);
					if (last !== undefined && last.color === color) {
						last.text += value;
					} else {
						pieces.push({text: value, color});
					}
				}

				const lastError = errorText(drone.lastError ?? '');
				if (lastError !== '' && errorWidth > 0) {
					pieces.push({text: clip(lastError, errorWidth), color: 'red'});
				}

				return (
					<Text key={drone.name} wrap="truncate">
						{pieces.map((piece, index) => <Text key={index} color={piece.color}>{piece.text}</Text>)}
					</Text>
				);
			})}
			{total === 0 ? <Text dimColor>{fit('no drones yet: start one with  hive-larve --queen-host <this queen>', width)}</Text> : undefined}
		</Box>
	);
});
