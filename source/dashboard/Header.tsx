import {memo} from 'react';
import {Text} from 'ink';
import {age, clip, errorText, fit} from './format.js';
import {clockTime, type HiveSnapshot} from './hive-store.js';

type Props = {
	readonly hive: HiveSnapshot;
	/** The dashboard's own version (shown when the queen's is not known yet). */
	readonly version: string;
	readonly width: number;
};

type Link = {readonly text: string; readonly color: 'green' | 'yellow' | 'red'};

/**
Which queen is read and who leads, or why none is: `● leader A`, `● via B → leader A  epoch 12` (B
follows A, and passes the dashboard's calls on to it), `◌ no leader` while a failover is under way. While
not connected, the panes keep the hive as it was when the queen was lost: the header says when that was.
*/
export function link(hive: HiveSnapshot): Link {
	const {queen} = hive;
	if (hive.connected) {
		if (!queen) {
			return {text: `● connected to ${hive.queenHost}`, color: 'green'};
		}

		const epoch = queen.epoch === null ? '' : `  epoch ${queen.epoch}`;
		const leads = queen.role === 'follower' ? `via ${queen.address} → leader ${queen.leader ?? '?'}` : `leader ${queen.address}`;
		return {text: `● ${leads}${epoch}`, color: 'green'};
	}

	const since = hive.staleSince === undefined ? undefined : clockTime(new Date(hive.staleSince).toISOString());
	if (queen?.leader === null) {
		return {text: `◌ no leader${since === undefined ? '' : ` since ${since}`} (via ${queen.address})`, color: 'yellow'};
	}

	if (hive.error !== undefined) {
		return {text: `○ ${since === undefined ? '' : `lost at ${since}: `}${errorText(hive.error)}`, color: 'red'};
	}

	return {text: `○ connecting to ${hive.queenHost}…`, color: 'red'};
}

/** Two lines: the dashboard and the queen it reads (who leads, whether it answers); then what the hive holds and does. */
export const Header = memo(function Header({hive, version, width}: Props) {
	const {text, color} = link(hive);
	const first = `Hive  v${hive.queenVersion ?? version}  up ${age(hive.now - hive.startedAt)}  `;
	const sweep = hive.lastSweep ? `  heartbeats ${hive.lastSweep.checked}, ${hive.lastSweep.failed} failed, max ${hive.lastSweep.durationMs}ms` : '';
	const second = `drones ${hive.readyDrones}/${hive.drones.length} ready  tasks ${hive.dispatched} dispatched, ${hive.dispatchRate.toFixed(1)}/s${sweep}`;
	return (
		<>
			<Text wrap="truncate">
				<Text bold color="yellow">{fit(first, Math.min(first.length, width))}</Text>
				<Text color={color}>{clip(text, Math.max(0, width - first.length))}</Text>
			</Text>
			<Text wrap="truncate">{clip(second, width)}</Text>
		</>
	);
});
