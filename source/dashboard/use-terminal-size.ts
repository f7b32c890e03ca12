import {useStdout} from 'ink';
import {useEffect, useState} from 'react';

export type Size = {readonly width: number; readonly height: number};

/** The terminal's size, following its resizes; `fixed` wins (tests render at a chosen size). */
export function useTerminalSize(fixed?: Partial<Size>): Size {
	const {stdout} = useStdout();
	const read = (): Size => ({width: fixed?.width ?? (stdout.columns || 80), height: fixed?.height ?? (stdout.rows || 24)});
	const [size, setSize] = useState(read);
	useEffect(() => {
		const onResize = () => {
			setSize(read());
		};

		stdout.on('resize', onResize);
		return () => {
			stdout.off('resize', onResize);
		};
	}, [stdout, fixed?.width, fixed?.height]);
	return fixed?.width !== undefined && fixed.height !== undefined ? {width: fixed.width, height: fixed.height} : size;
}
