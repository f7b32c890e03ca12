import {stripVTControlCharacters} from 'node:util';

/** A frame as the eye sees it: colours off, trailing spaces off. */
export function plain(frame: string | undefined): string {
	return stripVTControlCharacters(frame ?? '').split('\n').map(line => line.trimEnd()).join('\n');
}
