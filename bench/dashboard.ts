import {execFileSync, spawnSync} from 'node:child_process';
import path from 'node:path';
import type {BenchContext, ScenarioOutcome} from './context.js';
import {load} from './dispatch.js';
import {cliPath, cpuMeter, farmPath, followEvents, onExit, requestJson, sleep, spawnProc, spawnQueen, waitFor} from './procs.js';
import {round} from './stats.js';

/**
Dashboard: a queen with a 1,000-drone farm and a flood of ~1,000 events a second (tasks submitted at
the rate that makes them, to the farm's fast drones), and the dashboard attached to it
(`hive-larve --tui --queen-host HOST:PORT`) in a real pseudo-terminal (tmux, 200×60). Measured: the
dashboard process's CPU over the window. Skipped when this build has no dashboard.
*/

export const dashboardDrones = 1000;
export const targetEventsPerSecond = 1000;

export type DashboardData = {
	readonly skipped?: string;
	readonly drones?: number;
	readonly eventsPerSecond?: number;
	readonly tasksPerSecond?: number;
	readonly dashboardCores?: number;
	readonly queenCores?: number;
	readonly windowS?: number;
};

/** Why this build cannot show a dashboard, or undefined when `--tui` is a known flag. */
export function dashboardUnsupported(): string | undefined {
	if (spawnSync('tmux', ['-V'], {stdio: 'ignore'}).status !== 0) {
		return 'skipped: tmux not installed (needed for a real pseudo-terminal)';
	}

	// Without a TTY a build with a dashboard refuses `--tui` with "needs a TTY"; an older one calls it unknown.
	const probe = spawnSync(process.execPath, [cliPath, '--tui', '--queen-host', '127.0.0.1:9'], {encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'pipe']});
	const said = `${probe.stdout}${probe.stderr}`;
	return /unknown flag --tui/i.test(said) ? 'skipped: no dashboard in this build (--tui is an unknown flag)' : undefined;
}

function tmux(socket: string, args: readonly string[]): string {
	return execFileSync('tmux', ['-L', socket, ...args], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']});
}

/** Dashboards in real pseudo-terminals: tmux sessions of 200×60 on a tmux server of the bench's own. */
export type TmuxDashboards = {
	/** Each dashboard's process (the pane's). */
	readonly pids: readonly number[];
	/** Ctrl-C to each (a dashboard under --cpu-prof writes its profile as it quits), and waits until they are gone. */
	quit(): Promise<void>;
	/** Kills the tmux server and what runs in it. */
	close(): void;
};

/**
Starts `count` dashboards (`hive-larve --tui --queen-host`) attached to the queen at `queenAddress`, and
waits until each shows the queen's drones. `profileDir`: each runs under --cpu-prof and writes its
profile there when it quits.
*/
export async function startDashboards(options: {readonly queenAddress: string; readonly count: number; readonly name: string; readonly logDir: string; readonly profileDir?: string}): Promise<TmuxDashboards> {
	const socket = `hive-bench-${process.pid}-${options.name}`;
	const close = () => {
		spawnSync('tmux', ['-L', socket, 'kill-server'], {stdio: 'ignore'});
	};

	const removeHook = onExit(close);
	const profileFlags = options.profileDir ? `--cpu-prof --cpu-prof-dir=${JSON.stringify(path.resolve(options.profileDir))} ` : '';
	const pids: number[] = [];
	try {
		for (let index = 0; index < options.count; index++) {
			const session = `dashboard-${index}`;
			const logFile = path.join(options.logDir, options.count === 1 ? `${options.name}.log` : `${options.name}-${index}.log`);
			const command = `exec ${JSON.stringify(process.execPath)} ${profileFlags}${JSON.stringify(cliPath)} --tui --queen-host ${options.queenAddress} --log-file ${JSON.stringify(logFile)}`;
			tmux(socket, ['new-session', '-d', '-s', session, '-x', '200', '-y', '60', command]);
			pids.push(Number(tmux(socket, ['list-panes', '-t', session, '-F', '#{pane_pid}']).trim()));
		}

		// A dashboard is up when it has drawn the queen's drones.
		await Promise.all(pids.map(async (_pid, index) => waitFor(() => {
			const screen = tmux(socket, ['capture-pane', '-p', '-t', `dashboard-${index}`]);
			return /drone-\d+/.test(screen) || /1000|1,000/.test(screen);
		}, `dashboard ${index} to show the drones`, 30_000, {pollMs: 200})));
	} catch (error: unknown) {
		close();
		removeHook();
		throw error;
	}

	return {
		pids,
		async quit() {
			for (let index = 0; index < pids.length; index++) {
				tmux(socket, ['send-keys', '-t', `dashboard-${index}`, 'C-c']);
			}

			await Promise.all(pids.map(async pid => waitFor(() => spawnSync('kill', ['-0', String(pid)]).status !== 0, `dashboard ${pid} to quit`, 10_000, {pollMs: 100})));
		},
		close() {
			close();
			removeHook();
		},
	};
}

export async function runDashboard(context: BenchContext): Promise<ScenarioOutcome<DashboardData>> {
	const skipped = dashboardUnsupported();
	if (skipped) {
		context.progress(`dashboard: ${skipped}`);
		return {data: {skipped}, tables: [{title: 'Dashboard: CPU at 1,000 drones and 1,000 events/s', columns: ['result'], rows: [[skipped]]}]};
	}

	const windowS = context.quick ? 5 : 10;
	const queen = await spawnQueen('queen (dashboard)');
	const farm = spawnProc(process.execPath, [farmPath, '--count', String(dashboardDrones), '--queen', queen.address], {label: 'farm (dashboard)', stdout: 'keep'});
	const events = await followEvents(queen.url, () => false);
	let dashboards: TmuxDashboards | undefined;
	try {
		await waitFor(() => {
			if (!farm.alive) {
				throw new Error(`the farm exited: ${farm.stderrTail()}`);
			}

			return farm.jsonLines.some(line => line.type === 'registered');
		}, `${dashboardDrones} farm drones to register`, 60_000, {rethrow: true, pollMs: 100});

		// Calibrate: how many events one task makes, so that the flood is ~1,000 events/s.
		const before = [...events.counts.values()].reduce((a, b) => a + b, 0);
		for (let index = 0; index < 20; index++) {
			// eslint-disable-next-line no-await-in-loop
			await requestJson('POST', `${queen.url}/submit_task`, {text: 'calibrate'});
		}

		await waitFor(() => [...events.counts.values()].reduce((a, b) => a + b, 0) - before >= 20, 'the calibration events');
		const eventsPerTask = ([...events.counts.values()].reduce((a, b) => a + b, 0) - before) / 20;
		const rate = Math.max(1, Math.round(targetEventsPerSecond / eventsPerTask));

		// HIVE_BENCH_DASHBOARD_PROF=<dir>: the dashboard runs under --cpu-prof and is quit with Ctrl-C at the end, so that it writes its profile there.
		const profileDir = process.env.HIVE_BENCH_DASHBOARD_PROF;
		dashboards = await startDashboards({queenAddress: queen.address, count: 1, name: 'dashboard', logDir: context.resultsDir, ...(profileDir ? {profileDir} : {})});
		const [pid] = dashboards.pids as [number];
		context.progress(`dashboard: pid ${pid} in tmux; flooding ${rate} tasks/s (${eventsPerTask} events per task)`);

		const flood = load(queen.url, 8, windowS + context.warmupS + 2, {overallRate: rate});
		await sleep(context.warmupS * 1000);
		const eventsBefore = [...events.counts.values()].reduce((a, b) => a + b, 0);
		const tasksBefore = events.counts.get('task.submitted') ?? 0;
		const dashboardMeter = cpuMeter(pid);
		const queenMeter = cpuMeter(queen.pid);
		await sleep(windowS * 1000);
		const dashboard = dashboardMeter.stop();
		const queenCpu = queenMeter.stop();
		const eventsPerSecond = ([...events.counts.values()].reduce((a, b) => a + b, 0) - eventsBefore) / (dashboard.wallMs / 1000);
		const tasksPerSecond = ((events.counts.get('task.submitted') ?? 0) - tasksBefore) / (dashboard.wallMs / 1000);
		flood.stop();
		await flood;
		if (profileDir) {
			await dashboards.quit();
		}

		const data: DashboardData = {drones: dashboardDrones, eventsPerSecond: round(eventsPerSecond, 0), tasksPerSecond: round(tasksPerSecond, 0), dashboardCores: round(dashboard.cores, 3), queenCores: round(queenCpu.cores, 2), windowS};
		return {
			data,
			tables: [{
				title: 'Dashboard: hive-larve --tui --queen-host in tmux (200×60), 1,000 drones, event flood',
				columns: ['drones', 'events/s', 'tasks/s', 'dashboard cores', 'queen cores'],
				rows: [[data.drones, data.eventsPerSecond, data.tasksPerSecond, data.dashboardCores, data.queenCores]],
				notes: ['events/s as seen on GET /events by the bench; cores from /proc/<pid>/stat over the window.'],
			}],
		};
	} finally {
		dashboards?.close();
		events.close();
		await farm.stop(2000);
		await queen.stop();
	}
}
