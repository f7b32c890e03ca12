import {EventEmitter} from 'node:events';
import {render} from 'ink';
import type {ReactNode} from 'react';

/** A terminal `columns` wide that keeps the last frame Ink wrote (ink-testing-library's is always 100 wide). */
class Terminal extends EventEmitter {
	frame = '';

	constructor(readonly columns: number) {
		super();
	}

	readonly write = (frame: string): boolean => {
		this.frame = frame;
		return true;
	};
}

/** The frame `node` draws on a terminal `columns` wide (raw: with Ink's colours, when it writes any). */
export function rawFrame(node: ReactNode, columns: number): string {
	const stdout = new Terminal(columns);
	const instance = render(node, {stdout: stdout as unknown as NodeJS.WriteStream, debug: true, exitOnCtrlC: false, patchConsole: false});
	// Read before unmounting: with CI set (as on CI machines), Ink's unmount writes a last, empty frame.
	const {frame} = stdout;
	instance.unmount();
	instance.cleanup();
	return frame;
}
