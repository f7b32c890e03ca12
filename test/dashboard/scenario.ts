import type {TaskView} from '../../source/client/queen-client.js';
import {HiveStore, type DroneRow, type HiveSnapshot, type LogEntry} from '../../source/dashboard/hive-store.js';
import type {TaskOutputSnapshot} from '../../source/dashboard/task-output.js';
import {drone, t0, task} from './fixtures.js';

/**
The hive a k9s user tries the dashboard with (issue #13): 30 local drones with four slots each, one of
them failing its heartbeats; command tasks; a command's 500 lines of output, stderr among them.
*/

export const drones: readonly DroneRow[] = Array.from({length: 30}, (_, index) => {
	const number = index + 1;
	const failing = number === 4;
	return drone(number, {
		name: `local-${number}`,
		address: `127.0.0.1:${40_100 + number}`,
		slots: 4,
		running: number % 3,
		tasksDone: number * 7,
		allowExec: true,
		runtimes: [],
		labels: {},
		lastSeenAt: t0 - (failing ? 4000 : 500),
		...(failing ? {state: 'suspect', failedAttempts: 2, lastError: `GET http://127.0.0.1:${40_100 + number}/healthz: ECONNREFUSED`} : {}),
	});
});

export const tasks: readonly TaskView[] = Array.from({length: 12}, (_, index) => task(`${index.toString(16)}f2a1b4c-0000-4000-8000-00000000000${index % 10}`, {
	kind: 'command',
	text: null,
	command: index === 0 ? 'seq 500; echo done >&2' : `uname -a # ${index}`,
	state: index === 0 || index === 8 ? 'running' : (index % 4 === 1 ? 'failed' : 'succeeded'),
	drone: `local-${(index % 5) + 1}`,
	submittedAt: new Date(t0 - (index * 61_000)).toISOString(),
	error: index % 4 === 1 ? 'exit code 2' : null,
	result: index === 0 || index === 8 || index % 4 === 1 ? null : {exitCode: 0, signal: null, durationMs: 12, timedOut: false},
}));

export const log: readonly LogEntry[] = Array.from({length: 40}, (_, index) => ({
	id: index + 1,
	time: `12:0${Math.floor(index / 10)}:${String((index * 6) % 60).padStart(2, '0')}`,
	tone: index % 3 === 0 ? 'warn' as const : 'good' as const,
	text: index % 3 === 0 ? `local-${(index % 10) + 1} heartbeat failed 1/3: ECONNREFUSED` : `local-${(index % 10) + 1} answers heartbeats again`,
}));

/** A command's output as it is followed: 500 lines, every 50th on stderr. */
export const output: TaskOutputSnapshot = {
	id: tasks[0]!.id,
	lines: Array.from({length: 500}, (_, index) => index % 50 === 49
		? {stream: 'stderr' as const, text: `warning: ${index + 1} is a round number`}
		: {stream: 'stdout' as const, text: String(index + 1)}),
	following: true,
	end: undefined,
	error: undefined,
	dropped: 0,
};

/**
The header's hive: a leader on 127.0.0.1:8080 started at t0, seen `ageMs` later, connected; with the
scenario's drones when `withDrones`; then `change` on top.
*/
export function hiveSnapshot(change: Partial<HiveSnapshot>, options: {readonly ageMs: number; readonly withDrones: boolean}): HiveSnapshot {
	const store = new HiveStore({queenHost: '127.0.0.1:8080', now: () => t0 + options.ageMs, flushMs: 60_000});
	if (options.withDrones) {
		store.setDrones({drones: drones.map(({lastSeenAt: _, ...rest}) => ({...rest, lastSeenAgoMs: 500, slots: 4, running: 1, allowExec: true, labels: {}})), maxRetry: 3, heartbeatIntervalMs: 1000}, t0);
	}

	store.setQueen({address: '127.0.0.1:8080', version: '0.1.0', role: 'leader', leader: '127.0.0.1:8080', epoch: null, startedAt: new Date(t0).toISOString()});
	store.setStatus(true);
	store.flush();
	const hive = store.getSnapshot();
	store.close();
	return {...hive, ...change};
}
