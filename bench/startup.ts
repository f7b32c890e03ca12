import type {BenchContext, ScenarioOutcome, Table} from './context.js';
import {benchDataDir, cliPath, freePort, isReady, spawnProc, spawnQueen, waitFor, type Proc} from './procs.js';
import {median, round} from './stats.js';

/**
Startup: time from spawning the binary to a 200 `Status.READY` on its `/healthz`, polled every 5 ms on a
port chosen beforehand, for a queen and for a drone (whose readiness includes registering with a
running queen). The median of several launches.
*/

export type StartupData = {
	readonly queenMs: readonly number[];
	readonly droneMs: readonly number[];
	readonly queenMedianMs: number | undefined;
	readonly droneMedianMs: number | undefined;
};

/**
Spawns the binary with `args` on `port` and polls its `/healthz` every 5 ms until it answers 200
`Status.READY`: the time from spawn to then, and the process, left running (killed if it never gets there).
*/
export async function spawnUntilReady(label: string, args: readonly string[], port: number, timeoutMs = 20_000): Promise<{readonly proc: Proc; readonly ms: number}> {
	const started = performance.now();
	const proc = spawnProc(process.execPath, [cliPath, ...args, '--port', String(port)], {label});
	try {
		await waitFor(async () => {
			if (!proc.alive) {
				throw new Error(`${label} exited: ${proc.stderrTail()}`);
			}

			return isReady(`http://127.0.0.1:${port}`);
		}, `${label} ready`, timeoutMs, {pollMs: 5});
	} catch (error: unknown) {
		await proc.kill();
		throw error;
	}

	return {proc, ms: performance.now() - started};
}

async function timeToReady(label: string, args: readonly string[], port: number): Promise<number> {
	const {proc, ms} = await spawnUntilReady(label, args, port);
	await proc.stop();
	return ms;
}

export async function runStartup(context: BenchContext): Promise<ScenarioOutcome<StartupData>> {
	const runs = context.quick ? 3 : 5;
	const queenMs: number[] = [];
	const droneMs: number[] = [];
	for (let index = 0; index < runs; index++) {
		// A store directory of its own (empty), not the user's default one per port.
		// eslint-disable-next-line no-await-in-loop
		queenMs.push(round(await timeToReady('queen (startup)', ['--queen', '--data-dir', benchDataDir()], await freePort()), 0)!);
	}

	context.progress(`startup: queen ${queenMs.join(', ')} ms`);
	const queen = await spawnQueen('queen (for drone startup)');
	try {
		for (let index = 0; index < runs; index++) {
			// eslint-disable-next-line no-await-in-loop
			droneMs.push(round(await timeToReady('drone (startup)', ['--queen-host', queen.address], await freePort()), 0)!);
		}
	} finally {
		await queen.stop();
	}

	const data = {queenMs, droneMs, queenMedianMs: median(queenMs), droneMedianMs: median(droneMs)};
	const table: Table = {
		title: `Startup: spawn → 200 Status.READY on /healthz (median of ${runs})`,
		columns: ['larve', 'median ms', 'all runs ms'],
		rows: [['queen', data.queenMedianMs, queenMs.join(', ')], ['drone (incl. registering)', data.droneMedianMs, droneMs.join(', ')]],
	};
	return {data, tables: [table]};
}
