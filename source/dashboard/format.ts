/** Text helpers for fixed-width rows: every row is cut or padded to its column, so frames are exact. */

/** Pads or cuts `text` to exactly `width` characters, marking a cut with '…'. */
export function fit(text: string, width: number): string {
	if (width <= 0) {
		return '';
	}

	const flat = text.replaceAll(/[\r\n\t]/g, ' ');
	return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat.padEnd(width);
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
	return text.length > width ? fit(text, width) : text.padStart(width);
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

/** An error as people read it: without the request line the HTTP client puts first (`GET http://…: `). */
export function errorText(message: string): string {
	return message.replace(/^[A-Z]+ \S+: /, '');
}
