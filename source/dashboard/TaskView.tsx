import {memo} from 'react';
import {Box, Text} from 'ink';
import stringWidth from 'string-width';
import {clip, columnsOf, fit, matchRanges, printable} from './format.js';
import {shortId} from '../model.js';
import type {ViewLine} from './task-lines.js';

type Props = {
	readonly id: string;
	readonly lines: readonly ViewLine[];
	readonly width: number;
	/** Rows in all: the title, then `rows - 1` lines. */
	readonly rows: number;
	/** First line shown (App clamps it). */
	readonly scroll: number;
	/** The output is followed live: new lines keep the view at the bottom. */
	readonly following: boolean;
	readonly search: string;
	/** The search is being typed. */
	readonly searching: boolean;
	/** Indexes of the lines that match the search (`findMatches`). */
	readonly matches: readonly number[];
	/** Which of `matches` is the current one. */
	readonly match: number | undefined;
	readonly state: string | undefined;
	/** Where the record is at: still loading, or why it could not be read. */
	readonly note?: string;
};

const graphemes = new Intl.Segmenter();

/**
What a row shows of `text` (printable) so that the first match of `search` is in view: a line longer
than the row whose match lies past its edge starts at the match, marked '…' (a long line of output
would hide what was searched for).
*/
function visiblePart(text: string, search: string, width: number): string {
	const flat = printable(text);
	const [first] = matchRanges(flat, search);
	if (first === undefined || stringWidth(flat.slice(0, first[1])) <= width - 1) {
		return flat;
	}

	// Keep a little of what comes before the match, as room allows.
	const before = [...graphemes.segment(flat.slice(0, first[0]))].map(({segment}) => segment);
	const matched = flat.slice(first[0], first[1]);
	let start = before.length;
	let used = 1 + stringWidth(matched);
	while (start > 0 && used + stringWidth(before[start - 1]!) <= Math.floor(width / 2)) {
		start--;
		used += stringWidth(before[start]!);
	}

	return `…${before.slice(start).join('')}${flat.slice(first[0])}`;
}

type RowProps = {
	readonly line: ViewLine;
	readonly width: number;
	/** Matches of it shown highlighted. */
	readonly search?: string;
	/** The current match: its matches inverse (the others yellow). */
	readonly current?: boolean;
};

/** The colours of a tone (a `ViewLine`). */
function toneStyle(tone: ViewLine['tone']): {color?: string; dimColor?: boolean; bold?: boolean} {
	switch (tone) {
		case 'stderr':
		case 'error': {
			return {color: 'red'};
		}

		case 'meta': {
			return {dimColor: true};
		}

		case 'heading': {
			return {bold: true};
		}

		case undefined: {
			return {};
		}
	}
}

/** One line of a scrolling view, cut to the width, in its tone, with the matches of a search highlighted. */
export const ViewRow = memo(function ViewRow({line, width, search = '', current = false}: RowProps) {
	// An empty line is a blank, not nothing: Ink gives an empty text no row, and the lines below would move up.
	const shown = clip(visiblePart(line.text, search, width), width) || ' ';
	const ranges = matchRanges(shown, search);
	const style = toneStyle(line.tone);
	if (ranges.length === 0) {
		return <Text wrap="truncate" {...style}>{shown}</Text>;
	}

	const pieces = [];
	let at = 0;
	for (const [start, end] of ranges) {
		pieces.push(shown.slice(at, start));
		pieces.push(current
			? <Text key={start} inverse>{shown.slice(start, end)}</Text>
			: <Text key={start} backgroundColor="yellow" color="black">{shown.slice(start, end)}</Text>);
		at = end;
	}

	pieces.push(shown.slice(at));
	return <Text wrap="truncate" {...style}>{pieces}</Text>;
});

/** `lines 1-18 of 500`: where the view is in its lines. */
export function linesRange(scroll: number, shown: number, total: number): string {
	return total === 0 ? 'no lines' : `lines ${scroll + 1}-${scroll + shown} of ${total}`;
}

/** The first line a view of `body` rows over `total` lines may show from `scroll`: the last page at most. */
export function clampScroll(scroll: number, body: number, total: number): number {
	return Math.max(0, Math.min(scroll, total - body));
}

/** The search in a title: `/err 2 of 7`, `/err▏ no match` while it is typed; '' without one. */
function searchText({search, searching, matches, match}: Props): string {
	if (!searching && search === '') {
		return '';
	}

	let count = '';
	if (search !== '') {
		if (matches.length === 0) {
			count = ' no match';
		} else {
			count = match === undefined ? ` ${matches.length} ${matches.length === 1 ? 'match' : 'matches'}` : ` ${match + 1} of ${matches.length}`;
		}
	}

	return `  /${search}${searching ? '▏' : ''}${count}`;
}

/**
One task: its record, then its output, scrolled; a running command's output followed live; `/` searches
it (matches highlighted, the current one inverse). Stderr is red, rules and notes dim.
*/
export const TaskView = memo(function TaskView(props: Props) {
	const {id, lines, width, rows, following, matches, match, search, state, note} = props;
	const body = Math.max(0, rows - 1);
	const scroll = clampScroll(props.scroll, body, lines.length);
	const shown = lines.slice(scroll, scroll + body);
	const current = match === undefined ? undefined : matches[match];
	const matching = new Set(matches);
	const title = `Task ${shortId(id)}${state ? `  ${state}` : ''}  ${linesRange(scroll, shown.length, lines.length)}${following ? '  following' : ''}${searchText(props)}${note ? `  ${note}` : ''}`;
	// `(Esc back)` gives way first on a narrow terminal: where the view is and the search matter more.
	const back = `${title}  (Esc back)`;
	return (
		<Box flexDirection="column" height={rows} width={width}>
			<Text wrap="truncate" bold inverse>{fit(columnsOf(back) <= width ? back : title, width)}</Text>
			{shown.map((line, index) => {
				const at = scroll + index;
				return <ViewRow key={at} line={line} width={width} search={matching.has(at) ? search : ''} current={at === current}/>;
			})}
		</Box>
	);
});
