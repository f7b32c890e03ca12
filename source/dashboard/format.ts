import stringWidth from 'string-width';

/**
Text helpers for fixed-width rows: every row is cut or padded to its column, so frames are exact.
Widths are terminal columns (`string-width`: a CJK character or an emoji takes two), and nothing a
task or a drone sent reaches the terminal as a control sequence.
*/

/** Escape sequences (CSI, OSC, DCS and the like, 7- and 8-bit) and every other control or bidi-override character. */
const escapeSequence = /\u001B(?:\[[0-?]*[ -/]*[@-~]|[\]PX^_][^\u0007\u001B\u009C]*(?:\u0007|\u001B\\|\u009C)?|[ -/]*[0-~])?|\u009B[0-?]*[ -/]*[@-~]|[\u009D\u0090\u0098\u009E\u009F][^\u0007\u001B\u009C]*(?:\u0007|\u001B\\|\u009C)?/g;
const blank = /[\t\n\r\v\f]+/g;
const control = /[\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/g;
const plainAscii = /^[\u0020-\u007E]*$/;
const graphemes = new Intl.Segmenter();

/**
What a terminal may be given of a text from outside: escape sequences dropped (a task's text must not
retitle the terminal or make it blink), line breaks and tabs as one space, other controls dropped.
*/
export function printable(text: string): string {
	return plainAscii.test(text) ? text : text.replaceAll(escapeSequence, '').replaceAll(blank, ' ').replaceAll(control, '');
}

/** Pads or cuts `text` to exactly `width` columns, marking a cut with '…'. */
export function fit(text: string, width: number): string {
	if (width <= 0) {
		return '';
	}

	const flat = printable(text);
	if (plainAscii.test(flat)) {
		return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat.padEnd(width);
	}

	const columns = stringWidth(flat);
	if (columns <= width) {
		return flat + ' '.repeat(width - columns);
	}

	// Whole characters (a wide one is not split), up to one column short, then '…' and padding.
	let kept = '';
	let used = 0;
	for (const {segment} of graphemes.segment(flat)) {
		const each = stringWidth(segment);
		if (used + each > width - 1) {
			break;
		}

		kept += segment;
		used += each;
	}

	return `${kept}…${' '.repeat(width - 1 - used)}`;
}

/**
Like `fit`, without the padding: for the end of a line that has no background (inverse), where blanks
look the same as nothing. Ink styles every character it is given, each frame; padding is wasted there.
*/
export function clip(text: string, width: number): string {
	const fitted = fit(text, width);
	return fitted.length > 0 && fitted.endsWith(' ') ? fitted.trimEnd() : fitted;
}

/** Like `fit`, aligned right. */
export function fitRight(text: string, width: number): string {
	const flat = printable(text);
	const columns = stringWidth(flat);
	return columns > width ? fit(flat, width) : ' '.repeat(width - columns) + flat;
}

/** A short age: `0.4s`, `12s`, `3m05s`, `2h04m`, `-` when unknown. */
export function age(ms: number | undefined): string {
	if (ms === undefined || !Number.isFinite(ms)) {
		return '-';
	}

	const clamped = Math.max(0, ms);
	if (clamped < 10_000) {
		return `${(clamped / 1000).toFixed(1)}s`;
	}

	const seconds = Math.floor(clamped / 1000);
	if (seconds < 60) {
		return `${seconds}s`;
	}

	const minutes = Math.floor(seconds / 60);
	if (minutes < 60) {
		return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
	}

	return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** A window of `rows` rows over `count` items that keeps `selected` in view, starting near `offset`. */
export function scrollWindow(count: number, rows: number, selected: number, offset: number): number {
	const maxOffset = Math.max(0, count - rows);
	let start = Math.min(Math.max(0, offset), maxOffset);
	if (selected < start) {
		start = selected;
	} else if (selected >= start + rows) {
		start = selected - rows + 1;
	}

	return Math.min(Math.max(0, start), maxOffset);
}

/** What a failed call says, as people read it (`errorText` of its message). */
export function errorMessage(error: unknown): string {
	return errorText(error instanceof Error ? error.message : String(error));
}

/**
An error as people read it: without the request line the HTTP client puts first (`GET http://…: `),
also where the error is quoted inside another (`3 heartbeats failed in a row: GET http://…: ECONNREFUSED`).
The cause is what a narrow column must show.
*/
export function errorText(message: string): string {
	return message.replace(/^[A-Z]+ \S+: /, '').replaceAll(/\b(?:GET|POST|PUT|PATCH|DELETE|HEAD) https?:\/\/\S+: /g, '');
}

/**
`text` cut into lines of at most `width` columns, at blanks where it can (a word longer than a line is
cut between characters): what must be read whole (an error, a meaning in the help) rather than cut with
'…'. Always at least one line.
*/
export function wrap(text: string, width: number): string[] {
	if (width <= 0) {
		return [''];
	}

	const lines: string[] = [];
	let line = '';
	let used = 0;
	const add = (piece: string, columns: number) => {
		// A continuation line starts at a word, not at the blank before it.
		if (used === 0 && lines.length > 0 && piece.trim() === '') {
			return;
		}

		line += piece;
		used += columns;
	};

	const push = () => {
		lines.push(line.trimEnd());
		line = '';
		used = 0;
	};

	// Words with the blank after them: the blank that ends a line may hang past its edge.
	for (const word of printable(text).split(/(?<= )/)) {
		const visible = stringWidth(word.trimEnd());
		if (used > 0 && used + visible > width) {
			push();
		}

		if (visible <= width) {
			add(word, stringWidth(word));
			continue;
		}

		for (const {segment} of graphemes.segment(word)) {
			const columns = stringWidth(segment);
			if (used > 0 && used + columns > width && segment !== ' ') {
				push();
			}

			add(segment, columns);
		}
	}

	if (line !== '' || lines.length === 0) {
		push();
	}

	return lines;
}

/** A search as a pattern: the text as typed (no regular expression), any case. */
export function searchPattern(search: string): RegExp {
	return new RegExp(search.replaceAll(/[.*+?^${}()|[\]\\]/g, String.raw`\$&`), 'giu');
}

/** Where `search` occurs in `text`, any case: [start, end) indexes into `text`, in order, not overlapping; none for ''. */
export function matchRanges(text: string, search: string | RegExp): Array<readonly [number, number]> {
	if (search === '') {
		return [];
	}

	const pattern = typeof search === 'string' ? searchPattern(search) : search;
	return [...text.matchAll(pattern)].map(match => [match.index, match.index + match[0].length] as const);
}

/** The mark after a sorted column's title: '↑' ascending, '↓' descending, '' for the other columns. */
export function sortMark(sort: {readonly column: string; readonly descending: boolean} | undefined, column: string | undefined): string {
	if (sort === undefined || column === undefined || sort.column !== column) {
		return '';
	}

	return sort.descending ? '↓' : '↑';
}

/** Columns `text` takes on a terminal, as printed (`printable`). */
export function columnsOf(text: string): number {
	return stringWidth(printable(text));
}
