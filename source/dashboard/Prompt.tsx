import {memo} from 'react';
import {Text} from 'ink';
import {clip, fit, printable} from './format.js';

export type Outcome = {readonly tone: 'good' | 'bad' | 'info'; readonly text: string};

type Props = {
	readonly value: string;
	/** Cursor position in `value`. */
	readonly cursor: number;
	readonly focused: boolean;
	readonly width: number;
	/** What the last submit came to, or a hint. */
	readonly outcome: Outcome | undefined;
};

const toneColor = {good: 'green', bad: 'red', info: undefined} as const;
const hint = 'Enter submit  ↑↓ history  Tab focus  / filter  ? keys  Ctrl-C quit';

/** The task prompt (one line, the cursor shown inverse when it has the focus) and the last outcome. */
export const Prompt = memo(function Prompt({value, cursor, focused, width, outcome}: Props) {
	const room = Math.max(1, width - 2);
	// Keep the cursor in view on a long line.
	const start = Math.max(0, cursor - room + 1);
	const visible = value.slice(start, start + room);
	const at = cursor - start;
	const before = printable(visible.slice(0, at));
	const under = printable(visible[at] ?? ' ') || ' ';
	const after = visible.slice(at + 1);
	return (
		<>
			<Text wrap="truncate">
				<Text color={focused ? 'cyan' : 'gray'} bold>{'› '}</Text>
				{focused ? <>{before}<Text inverse>{under}</Text>{fit(after, Math.max(0, room - before.length - 1))}</> : <Text dimColor>{fit(value === '' ? '(Tab to type a task)' : value, room)}</Text>}
			</Text>
			<Text wrap="truncate" color={outcome ? toneColor[outcome.tone] : 'gray'}>{clip(outcome?.text ?? hint, width)}</Text>
		</>
	);
});
