import {memo} from 'react';
import {Box, Text} from 'ink';
import {clip, fit} from './format.js';
import type {LogEntry, LogTone} from './hive-store.js';

type Props = {
	/** Oldest first (already filtered). */
	/** The lines to show (after the filter). */
	readonly entries: readonly LogEntry[];
	/** Lines before the filter. @default entries.length */
	readonly total?: number;
	readonly width: number;
	/** Lines available under the title. */
	readonly rows: number;
	/** First entry shown; undefined: the newest that fit (the log follows what happens). */
	readonly offset?: number;
	readonly filter?: string;
	readonly filtering?: boolean;
	readonly focused?: boolean;
	/** The queen is not connected: every line grey. */
	readonly stale?: boolean;
};

const toneColor: Record<LogTone, string | undefined> = {info: undefined, good: 'green', warn: 'yellow', bad: 'red'};
/** `12:00:03 `: the time and its blank. */
const timeWidth = 9;

/**
The hive's log: registrations, heartbeat failures, evictions, departures, cordons. It shows the newest
lines unless scrolled (a full-height view); a filter shows in the title with how many lines match.
*/
export const EventLog = memo(function EventLog({entries, total = entries.length, width, rows, offset, filter = '', filtering = false, focused = false, stale = false}: Props) {
	const count = Math.max(0, rows);
	const start = offset === undefined ? Math.max(0, entries.length - count) : Math.min(Math.max(0, offset), Math.max(0, entries.length - 1));
	const shown = entries.slice(start, start + count);
	const filterText = filtering || filter ? `  /${filter}${filtering ? '▏' : ''} (${entries.length} of ${total} match)` : '';
	const range = shown.length === 0 ? '' : `  ${start + 1}-${start + shown.length} of ${entries.length}`;
	const title = `Events${filterText}${range}`;
	return (
		<Box flexDirection="column" height={rows + 1} width={width}>
			<Text wrap="truncate" bold inverse={focused}>{(focused ? fit : clip)(title, width)}</Text>
			{shown.map(entry => (
				<Text key={entry.id} wrap="truncate" dimColor={stale}>
					<Text dimColor>{fit(entry.time, Math.min(timeWidth, width))}</Text>
					<Text color={stale ? undefined : toneColor[entry.tone]}>{clip(entry.text, width - timeWidth)}</Text>
				</Text>
			))}
		</Box>
	);
});
