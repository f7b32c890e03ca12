import stringWidth from 'string-width';

/** Space between two columns, as kubectl leaves. */
const gap = '   ';

const graphemes = new Intl.Segmenter(undefined, {granularity: 'grapheme'});

/**
A table as `kubectl get` prints it: a header row in capitals, columns aligned to their widest cell (in
terminal columns: a CJK character or an emoji takes two), no borders. Given `maxWidth` (a terminal's),
each row is cut to it, so that a long command does not wrap and break the columns.
*/
export function renderTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>, maxWidth?: number): string {
	const all = [header.map(title => title.toUpperCase()), ...rows.map(row => row.map(cell => oneLine(cell)))];
	const widths = header.map((_, column) => Math.max(...all.map(row => stringWidth(row[column] ?? ''))));
	const lines = all.map(row => row.map((cell, column) => (column === row.length - 1 ? cell : pad(cell, widths[column]!))).join(gap).trimEnd());
	return lines.map(line => (maxWidth === undefined ? line : cutToWidth(line, maxWidth))).join('\n') + '\n';
}

/**
Rows with fixed column widths, for lines printed one at a time (`events --follow`, as `kubectl get -w`):
the widths cannot wait for the rows to come. A cell wider than its column pushes the rest of its row.
*/
export function renderRow(cells: readonly string[], widths: readonly number[], maxWidth?: number): string {
	const line = cells.map((cell, column) => {
		const text = oneLine(cell);
		return column === cells.length - 1 ? text : pad(text, widths[column] ?? 0);
	}).join(gap).trimEnd();
	return (maxWidth === undefined ? line : cutToWidth(line, maxWidth)) + '\n';
}

/**
The start of `text` that fits in `width` terminal columns; a cut line ends with `…`. Whole graphemes
only: an emoji, a character and its accents, a wide character that would straddle the edge are kept
or dropped whole.
*/
export function cutToWidth(text: string, width: number): string {
	if (stringWidth(text) <= width) {
		return text;
	}

	if (width <= 0) {
		return '';
	}

	let kept = '';
	let used = 0;
	for (const {segment} of graphemes.segment(text)) {
		const segmentWidth = stringWidth(segment);
		// Room is left for the ellipsis, which takes one column.
		if (used + segmentWidth > width - 1) {
			break;
		}

		kept += segment;
		used += segmentWidth;
	}

	return `${kept}…`;
}

/**
A cell on one line, safe to print: newlines and tabs become spaces, other control characters (an escape
sequence in a task's text would drive the terminal) are dropped.
*/
export function oneLine(text: string): string {
	return text.replaceAll(/[\n\r\t]+/g, ' ').replaceAll(/[\u0000-\u001F\u007F-\u009F]/g, '');
}

function pad(text: string, width: number): string {
	return text + ' '.repeat(Math.max(0, width - stringWidth(text)));
}

/**
How long ago, as kubectl's AGE column says it: `5s`, `3m`, `2h`, `4d` (seconds up to two minutes,
minutes up to two hours, hours up to two days). A time in the future (another machine's clock) is `0s`.
*/
export function age(ms: number): string {
	const seconds = Math.max(0, Math.floor(ms / 1000));
	if (seconds < 120) {
		return `${seconds}s`;
	}

	const minutes = Math.floor(seconds / 60);
	if (minutes < 120) {
		return `${minutes}m`;
	}

	const hours = Math.floor(minutes / 60);
	return hours < 48 ? `${hours}h` : `${Math.floor(hours / 24)}d`;
}

/** `age` of an ISO time, from `now`; `<unknown>` for a missing or bad time (as kubectl prints). */
export function ageOf(iso: string | null | undefined, now: number): string {
	const time = iso ? Date.parse(iso) : Number.NaN;
	return Number.isNaN(time) ? '<unknown>' : age(now - time);
}

