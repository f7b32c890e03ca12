import {memo} from 'react';
import {Text} from 'ink';
import {age, clip, columnsOf, errorText, fit, wrap} from './format.js';
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
not connected, the panes keep the hive as it was when the queen was lost: the header says when that was,
how old the last news is, and why.
*/
export function link(hive: HiveSnapshot): Link {
	const {queen} = hive;
	if (hive.connected) {
		if (!queen) {
			return {text: `● connected to ${hive.queenHost}`, color: 'green'};
		}

		const epoch = queen.epoch === null ? '' : `  epoch ${queen.epoch}`;
		const leads = queen.role === 'follower' ? `via ${queen.address} → leader ${queen.leader ?? '?'}` : `leader ${queen.address}`;
		return {text: `● ${leads}${epoch}${uptime(hive)}`, color: 'green'};
	}

	const since = hive.staleSince === undefined ? undefined : clockTime(new Date(hive.staleSince).toISOString());
	if (queen?.leader === null) {
		return {text: `◌ no leader${since === undefined ? '' : ` since ${since}`} (via ${queen.address})`, color: 'yellow'};
	}

	const lost = since === undefined ? '' : `lost at ${since}`;
	const updated = hive.lastUpdateAt === undefined || since === undefined ? '' : ` · last update ${age(hive.now - hive.lastUpdateAt)} ago`;
	if (hive.error !== undefined) {
		return {text: `○ ${lost}${updated}${lost === '' ? '' : ': '}${errorText(hive.error)}`, color: 'red'};
	}

	return {text: lost === '' ? `○ connecting to ${hive.queenHost}…` : `○ ${lost}${updated}`, color: 'red'};
}

/** `  up 3m05s`: how long the queen read has run (its own `startedAt`, not the dashboard's); '' when it does not say. */
function uptime(hive: HiveSnapshot): string {
	const startedAt = hive.queen?.startedAt === undefined ? Number.NaN : Date.parse(hive.queen.startedAt);
	return Number.isNaN(startedAt) ? '' : `  up ${age(hive.now - startedAt)}`;
}

/**
Two lines: the dashboard and the queen it reads (who leads and since when it runs, or why it cannot be
read); then what the hive holds and does. A reason too long for line 1 goes on over line 2, in place of
the counts (stale then anyway): at 80 columns it is read whole.
*/
export const Header = memo(function Header({hive, version, width}: Props) {
	const {text, color} = link(hive);
	const head = `Hive v${hive.queenVersion ?? version}  `;
	const headWidth = Math.min(columnsOf(head), width);
	const room = Math.max(0, width - headWidth);
	const sweep = hive.lastSweep ? `  heartbeats ${hive.lastSweep.checked}, ${hive.lastSweep.failed} failed, max ${hive.lastSweep.durationMs}ms` : '';
	// Ready is health; a cordoned drone is ready and takes nothing new: the count says so.
	const cordoned = hive.drones.filter(drone => drone.cordoned).length;
	const counts = `drones ${hive.readyDrones}/${hive.drones.length} ready${cordoned > 0 ? ` (${cordoned} cordoned)` : ''}  tasks ${hive.dispatched} dispatched, ${hive.dispatchRate.toFixed(1)}/s${sweep}`;
	let first = text;
	let second: {text: string; color: string | undefined} = {text: counts, color: undefined};
	if (!hive.connected && columnsOf(text) > room && room > 0) {
		const [start = '', ...rest] = wrap(text, room);
		first = start;
		second = {text: rest.join(' '), color};
	}

	return (
		<>
			<Text wrap="truncate">
				<Text bold color="yellow">{fit(head, headWidth)}</Text>
				<Text color={color}>{clip(first, room)}</Text>
			</Text>
			<Text wrap="truncate" color={second.color} dimColor={!hive.connected && second.color === undefined}>{clip(second.text, width)}</Text>
		</>
	);
});
