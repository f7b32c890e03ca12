import {memo} from 'react';
import {Box, Text} from 'ink';
import {clip} from './format.js';
import type {LogEntry, LogTone} from './hive-store.js';

type Props = {
	readonly entries: readonly LogEntry[];
	readonly width: number;
	/** Lines available under the title. */
	readonly rows: number;
};

const toneColor: Record<LogTone, string | undefined> = {info: undefined, good: 'green', warn: 'yellow', bad: 'red'};

/** The newest lines of the hive's log: registrations, heartbeat failures, evictions, departures. */
export const EventLog = memo(function EventLog({entries, width, rows}: Props) {
	const shown = rows > 0 ? entries.slice(-rows) : [];
	return (
		<Box flexDirection="column" height={rows + 1} width={width}>
			<Text wrap="truncate" bold>{clip(`Events ${entries.length > 0 ? `(last ${shown.length})` : ''}`, width)}</Text>
			{shown.map(entry => (
				<Text key={entry.id} wrap="truncate">
					<Text dimColor>{entry.time} </Text>
					<Text color={toneColor[entry.tone]}>{clip(entry.text, width - 9)}</Text>
				</Text>
			))}
		</Box>
	);
});
