/**
What a raw frame (with Ink's SGR sequences) says about each character: its colour, background, and
whether it is inverse, dim or bold. Tests read the styles of the characters they mean, not the bytes.
*/
export type Style = {readonly color?: number; readonly background?: number; readonly inverse: boolean; readonly dim: boolean; readonly bold: boolean};
export type StyledChar = {readonly char: string; readonly style: Style};

const sgr = /\u001B\[([\d;]*)m/y;

/** One line of a raw frame as characters with their styles (SGR sequences applied, not kept). */
export function styledLine(raw: string): StyledChar[] {
	const chars: StyledChar[] = [];
	let style: Style = {inverse: false, dim: false, bold: false};
	let at = 0;
	while (at < raw.length) {
		sgr.lastIndex = at;
		const match = sgr.exec(raw);
		if (match) {
			for (const part of (match[1] || '0').split(';').map(Number)) {
				style = apply(style, part);
			}

			at = sgr.lastIndex;
			continue;
		}

		const char = String.fromCodePoint(raw.codePointAt(at)!);
		chars.push({char, style});
		at += char.length;
	}

	return chars;
}

function apply(style: Style, code: number): Style {
	if (code === 0) {
		return {inverse: false, dim: false, bold: false};
	}

	if (code === 1) {
		return {...style, bold: true};
	}

	if (code === 2) {
		return {...style, dim: true};
	}

	if (code === 22) {
		return {...style, bold: false, dim: false};
	}

	if (code === 7) {
		return {...style, inverse: true};
	}

	if (code === 27) {
		return {...style, inverse: false};
	}

	if ((code >= 30 && code <= 37) || (code >= 90 && code <= 97)) {
		return {...style, color: code};
	}

	if (code === 39) {
		const {color: _, ...rest} = style;
		return rest;
	}

	if ((code >= 40 && code <= 47) || (code >= 100 && code <= 107)) {
		return {...style, background: code};
	}

	if (code === 49) {
		const {background: _, ...rest} = style;
		return rest;
	}

	return style;
}

/** The styles of the characters of `text` where it first occurs on the line (undefined: not on it). */
export function stylesOf(line: readonly StyledChar[], text: string): Style[] | undefined {
	const plain = line.map(char => char.char).join('');
	const index = plain.indexOf(text);
	if (index === -1) {
		return undefined;
	}

	// Characters, not UTF-16 units: count the characters before the index.
	const start = [...plain.slice(0, index)].length;
	return line.slice(start, start + [...text].length).map(char => char.style);
}

/** ANSI colour codes by name, as chalk writes them (16 colours). */
export const ansi = {red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90, black: 30, bgYellow: 43} as const;
