import {memo, type ReactNode} from 'react';
import {Text} from 'ink';
import stringWidth from 'string-width';
import {clip, columnsOf, fit, printable} from './format.js';

export type Outcome = {readonly tone: 'good' | 'bad' | 'info'; readonly text: string};

type Props = {
	readonly value: string;
	/** Cursor position in `value` (UTF-16, always at a grapheme boundary). */
	readonly cursor: number;
	readonly focused: boolean;
	readonly width: number;
	/** What the last submit came to. */
	readonly outcome: Outcome | undefined;
	/** '›' (a task), ':' (a command), '/' (a filter or search). */
	readonly sigil: string;
	/** Line 2 when there is no outcome: the keys that matter now. */
	readonly hint: string;
	/** A y/N question (a confirmation) shown on line 1 in place of the line, yellow. */
	readonly question?: string;
};

const toneColor = {good: 'green', bad: 'red', info: undefined} as const;
const graphemes = new Intl.Segmenter();

/** One character of the line as drawn: where it starts in `value`, what is shown, in how many columns. */
export type Cell = {readonly index: number; readonly text: string; readonly columns: number; readonly newline: boolean};

/** The line's characters as the terminal shows them: a wide one in two columns, a newline as `⏎`, controls as nothing (a tab as a blank). */
export function cells(value: string): Cell[] {
	const list: Cell[] = [];
	for (const {segment, index} of graphemes.segment(value)) {
		if (segment === '\n' || segment === '\r\n' || segment === '\r') {
			list.push({index, text: '⏎', columns: 1, newline: true});
		} else {
			const text = printable(segment);
			list.push({index, text, columns: stringWidth(text), newline: false});
		}
	}

	return list;
}

/**
The window of the line that fits `room` columns and shows the cursor (`at`: the cell under it, or
`list.length` at the end): the first and last cells shown, and whether a '…' marks text cut off on
either side (each takes a column).
*/
export function lineWindow(list: readonly Cell[], at: number, room: number): {start: number; end: number; left: boolean; right: boolean} {
	let total = at >= list.length ? 1 : 0;
	for (const cell of list) {
		total += cell.columns;
	}

	if (total <= room) {
		return {start: 0, end: list.length, left: false, right: false};
	}

	const under = Math.max(1, list[at]?.columns ?? 1);
	// Room for a '…' after the cursor when something follows it; none for marks on a line too narrow for them.
	const marks = room >= 3;
	const reserve = marks && at + 1 < list.length ? 1 : 0;
	let before = 0;
	for (let index = 0; index < at; index++) {
		before += list[index]!.columns;
	}

	let start = 0;
	let left = false;
	while (start < at && before + under + (left ? 1 : 0) + reserve > room) {
		before -= list[start]!.columns;
		start++;
		left = marks;
	}

	let used = before + under + (left ? 1 : 0);
	let end = Math.min(at + 1, list.length);
	while (end < list.length) {
		const last = end === list.length - 1;
		if (used + list[end]!.columns + (last || !marks ? 0 : 1) > room) {
			break;
		}

		used += list[end]!.columns;
		end++;
	}

	return {start, end, left, right: marks && end < list.length};
}

/** Cells as text, newlines dim. */
function draw(list: readonly Cell[]): ReactNode[] {
	const nodes: ReactNode[] = [];
	let run = '';
	for (const cell of list) {
		if (cell.newline) {
			if (run !== '') {
				nodes.push(run);
				run = '';
			}

			nodes.push(<Text key={cell.index} dimColor>{cell.text}</Text>);
		} else {
			run += cell.text;
		}
	}

	if (run !== '') {
		nodes.push(run);
	}

	return nodes;
}

/**
The prompt: the line being typed after its sigil (the cursor inverse while it has the focus; a wide
character takes its two columns, a newline of a paste shows as a dim `⏎`, and the window follows the
cursor on a long line), or a y/N question; then the last outcome, or a hint.
*/
export const Prompt = memo(function Prompt({value, cursor, focused, width, outcome, sigil, hint, question}: Props) {
	const head = `${sigil} `;
	const room = Math.max(1, width - columnsOf(head));
	let line: ReactNode;
	if (question !== undefined) {
		line = <Text color="yellow">{clip(question, width)}</Text>;
	} else {
		const list = cells(value);
		let at = list.findIndex(cell => cell.index >= cursor);
		at = !focused || at === -1 ? list.length : at;
		const {start, end, left, right} = lineWindow(list, focused ? at : 0, room);
		const cursorCell = list[at];
		const cut = <Text dimColor>…</Text>;
		line = (
			<>
				<Text color={focused ? 'cyan' : 'gray'} bold>{fit(head, Math.min(columnsOf(head), width))}</Text>
				{focused
					? (
						<>
							{left ? cut : undefined}
							{draw(list.slice(start, at))}
							<Text inverse dimColor={cursorCell?.newline}>{cursorCell === undefined || cursorCell.columns === 0 ? ' ' : cursorCell.text}</Text>
							{draw(list.slice(at + 1, end))}
							{right ? cut : undefined}
						</>
					)
					: <Text dimColor>{value === '' ? clip('(i: type a task)', room) : <>{draw(list.slice(start, end))}{right ? '…' : undefined}</>}</Text>}
			</>
		);
	}

	return (
		<>
			<Text wrap="truncate">{line}</Text>
			<Text wrap="truncate" color={outcome ? toneColor[outcome.tone] : 'gray'}>{clip(outcome?.text ?? hint, width)}</Text>
		</>
	);
});
