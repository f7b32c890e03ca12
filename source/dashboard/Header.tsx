import {memo} from 'react';
import {Text} from 'ink';
import {age, clip, fit} from './format.js';
import type {HiveSnapshot} from './hive-store.js';

type Props = {
	readonly hive: HiveSnapshot;
	/** The dashboard's own version (shown when the queen's is not known yet). */
	readonly version: string;
	readonly width: number;
};

/** Two lines: where the queen is and whether it answers; then what the hive holds and does. */
export const Header = memo(function Header({hive, version, width}: Props) {
	const link = hive.connected ? '● connected' : `○ ${hive.error ?? 'connecting…'}`;
	const first = `Hive  queen ${hive.queenUrl}  v${hive.queenVersion ?? version}  up ${age(hive.now - hive.startedAt)}  `;
	const sweep = hive.lastSweep ? `  sweep ${hive.lastSweep.checked} checked, ${hive.lastSweep.failed} failed, ${hive.lastSweep.durationMs}ms` : '';
	const second = `drones ${hive.readyDrones}/${hive.drones.length} ready  tasks ${hive.dispatched} dispatched, ${hive.dispatchRate.toFixed(1)}/s${sweep}`;
	return (
		<>
			<Text wrap="truncate">
				<Text bold color="yellow">{fit(first, Math.min(first.length, width))}</Text>
				<Text color={hive.connected ? 'green' : 'red'}>{clip(link, Math.max(0, width - first.length))}</Text>
			</Text>
			<Text wrap="truncate">{clip(second, width)}</Text>
		</>
	);
});
