import {Box, Text} from 'ink';
import {clip, fit} from './format.js';
import type {ViewLine} from './task-lines.js';

type Props = {
	readonly title: string;
	readonly lines: readonly ViewLine[];
	readonly width: number;
	/** Rows, the title's included. */
	readonly rows: number;
	/** First line shown. */
	readonly scroll: number;
};

const toneColor = {stderr: 'red', error: 'red', meta: undefined, heading: undefined} as const;

/** A page of text over the screen (the hive's token): a title, then the lines from `scroll`. */
export function TextPage({title, lines, width, rows, scroll}: Props) {
	const shown = lines.slice(scroll, scroll + Math.max(0, rows - 1));
	return (
		<Box flexDirection="column" height={rows} width={width}>
			<Text wrap="truncate" bold inverse>{fit(`${title}  (Esc: back)`, width)}</Text>
			{shown.map((line, index) => (
				<Text key={index} wrap="truncate" color={line.tone ? toneColor[line.tone] : undefined} dimColor={line.tone === 'meta'} bold={line.tone === 'heading'}>{clip(line.text, width) || ' '}</Text>
			))}
		</Box>
	);
}
