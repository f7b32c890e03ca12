import {mkdirSync, readdirSync, rmSync} from 'node:fs';
import path from 'node:path';
import type {BenchContext, ScenarioOutcome, Table} from './context.js';
import {chooseGenerator, startFloor, startHive, submitLoad, type LoadGenerator, type Target} from './dispatch.js';
import {cpuMeter, farmPath, followEvents, spawnProc, spawnQueen, waitFor} from './procs.js';
import {profileClockUs, readProfile, summarizeProfile, type ProfileSummary} from './profile.js';
import {round} from './stats.js';

/**
Profile: the dispatch load at 64 connections, by the dispatch scenario's generator, through the durable
queen under `node --cpu-prof`, then through the floor's relay under it, one after the other. Each is
stopped with SIGTERM so that V8 writes its profile; only the samples of the measured run count (its
warm-up and the process's start left out). Self time is aggregated by function, module and category
(bench/profile.ts) and divided by the tasks answered: CPU µs per task, the queen's beside the floor's,
category by category. What the queen spends beyond the floor is what its layers cost.
*/

export const profileConnections = 64;

export type ProfiledFront = {
	readonly profilePath: string;
	readonly tasks: number;
	readonly tasksPerSecond: number;
	/** Busy (not idle) µs of the front process's main thread per task, within the measured run. */
	readonly activeUsPerTask: number;
	readonly summary: ProfileSummary;
};

export type ProfileData = {
	readonly generator: LoadGenerator;
	readonly connections: number;
	readonly queen: ProfiledFront;
	readonly floor: ProfiledFront;
	readonly heartbeat?: HeartbeatProfile;
};

async function profileFront(start: (nodeFlags: readonly string[]) => Promise<Target & {stop(): Promise<void>}>, name: string, generator: LoadGenerator, context: BenchContext): Promise<ProfiledFront> {
	const dir = path.join(context.resultsDir, 'profile', name);
	rmSync(dir, {recursive: true, force: true});
	mkdirSync(dir, {recursive: true});
	context.progress(`profile: the ${name} under --cpu-prof, ${profileConnections} connections of ${generator}, ${context.warmupS} s warm-up and ${context.durationS} s measured`);
	const target = await start(['--cpu-prof', '--cpu-prof-dir', dir]);
	let tasks = 0;
	let seconds = 0;
	let window = {fromUs: 0, toUs: 0};
	try {
		await submitLoad(target.queenUrl, profileConnections, context.warmupS, generator);
		const fromUs = profileClockUs();
		const result = await submitLoad(target.queenUrl, profileConnections, context.durationS, generator);
		window = {fromUs, toUs: profileClockUs()};
		tasks = result.ok;
		seconds = result.durationS;
	} finally {
		await target.stop();
	}

	const file = readdirSync(dir).find(each => each.endsWith('.cpuprofile'));
	if (!file) {
		throw new Error(`the ${name} wrote no .cpuprofile in ${dir}`);
	}

	const profilePath = path.join(dir, file);
	const summary = summarizeProfile(readProfile(profilePath), 30, window);
	return {profilePath: path.relative(process.cwd(), profilePath), tasks, tasksPerSecond: round(tasks / seconds, 0)!, activeUsPerTask: round((summary.activeMs * 1000) / Math.max(1, tasks), 1)!, summary};
}

export async function runProfile(context: BenchContext): Promise<ScenarioOutcome<ProfileData>> {
	const {generator} = chooseGenerator();
	const queen = await profileFront(async flags => startHive(flags), 'queen', generator, context);
	const floor = await profileFront(async flags => startFloor(flags), 'floor', generator, context);
	const perTask = (front: ProfiledFront, ms: number | undefined) => (ms === undefined ? undefined : round((ms * 1000) / Math.max(1, front.tasks), 1));
	const percent = (share: number) => `${round(share * 100, 1)}%`;
	const categories = [...new Set([...queen.summary.byCategory, ...floor.summary.byCategory].map(entry => entry.name))];
	const selfMs = (front: ProfiledFront, category: string) => front.summary.byCategory.find(entry => entry.name === category)?.selfMs;
	const tables: Table[] = [
		{
			title: `Profile: where the CPU of a task goes, the durable queen beside the floor (node --cpu-prof, ${profileConnections} connections, ${generator}, the measured run only)`,
			columns: ['category', 'queen µs/task', 'floor µs/task', 'queen − floor', 'queen share'],
			rows: [
				...categories
					.map(category => ({category, queen: perTask(queen, selfMs(queen, category)), floor: perTask(floor, selfMs(floor, category))}))
					.sort((a, b) => (b.queen ?? 0) - (a.queen ?? 0))
					.map(row => [row.category, row.queen ?? 0, row.floor ?? 0, round((row.queen ?? 0) - (row.floor ?? 0), 1), percent((selfMs(queen, row.category) ?? 0) / Math.max(1e-9, queen.summary.activeMs))]),
				['all (busy)', queen.activeUsPerTask, floor.activeUsPerTask, round(queen.activeUsPerTask - floor.activeUsPerTask, 1), '100%'],
			],
			notes: [
				`queen: ${queen.tasks} tasks at ${queen.tasksPerSecond} tasks/s under the profiler, busy ${queen.activeUsPerTask} µs per task on its main thread; floor: ${floor.tasks} tasks at ${floor.tasksPerSecond} tasks/s, ${floor.activeUsPerTask} µs. The profiler slows both; the dispatch table's µs/task (no profiler, every thread) is the figure to compare with the budget.`,
				'socket syscalls are the writes of answers and of calls to drones (the kernel\'s loopback work is counted in them); the floor makes the same answers, so what the queen spends beyond it there is its larger answers and its store\'s writes.',
				`profiles: ${queen.profilePath}, ${floor.profilePath} (open in Chrome DevTools → Performance, or speedscope).`,
			],
		},
		{
			title: 'Profile: the queen\'s top functions by self time (the measured run)',
			columns: ['function', 'µs/task', 'share'],
			rows: queen.summary.byFunction.slice(0, 20).map(entry => [entry.name, perTask(queen, entry.selfMs), percent(entry.share)]),
		},
	];
	const heartbeat = await profileHeartbeats(context);
	tables.push(heartbeat.table);
	return {data: {generator, connections: profileConnections, queen, floor, heartbeat: heartbeat.data}, tables};
}

export type HeartbeatProfile = {
	readonly drones: number;
	readonly checks: number;
	readonly activeUsPerCheck: number;
	readonly summary: ProfileSummary;
};

/** The queen under `--cpu-prof` heartbeating a 1,000-drone farm at defaults: CPU µs per heartbeat check. */
async function profileHeartbeats(context: BenchContext): Promise<{data: HeartbeatProfile; table: Table}> {
	const drones = 1000;
	const dir = path.join(context.resultsDir, 'profile-heartbeat');
	rmSync(dir, {recursive: true, force: true});
	mkdirSync(dir, {recursive: true});
	const windowS = context.quick ? 5 : 10;
	context.progress(`profile: queen under --cpu-prof heartbeating ${drones} drones for ${windowS} s`);
	const queen = await spawnQueen('queen (heartbeat profile)', [], {nodeFlags: ['--cpu-prof', '--cpu-prof-dir', dir]});
	const farm = spawnProc(process.execPath, [farmPath, '--count', String(drones), '--queen', queen.address], {label: 'farm (profile)', stdout: 'keep'});
	const events = await followEvents(queen.url, type => type === 'heartbeat.sweep');
	let checks = 0;
	try {
		await waitFor(() => farm.jsonLines.some(line => line.type === 'registered'), 'the farm to register', 60_000, {pollMs: 100});
		const meter = cpuMeter(queen.pid);
		await waitFor(() => meter.stop().wallMs >= windowS * 1000, 'the profiling window', (windowS * 1000) + 5000, {pollMs: 100});
		checks = events.events.reduce((sum, event) => sum + Number(event.checked), 0);
	} finally {
		events.close();
		await farm.stop(2000);
		await queen.stop();
	}

	const file = readdirSync(dir).find(name => name.endsWith('.cpuprofile'));
	if (!file) {
		throw new Error(`the queen wrote no .cpuprofile in ${dir}`);
	}

	const summary = summarizeProfile(readProfile(path.join(dir, file)), 30);
	// Startup and registration are in the profile too; module loading is shown apart.
	const activeUsPerCheck = checks > 0 ? (summary.activeMs * 1000) / checks : 0;
	const perCheck = (ms: number) => (checks > 0 ? round((ms * 1000) / checks, 1) : undefined);
	return {
		data: {drones, checks, activeUsPerCheck: round(activeUsPerCheck, 1)!, summary},
		table: {
			title: `Profile: the queen heartbeating ${drones} drones (node --cpu-prof, defaults, ${checks} checks)`,
			columns: ['category', 'self ms', 'share', 'µs/check'],
			rows: summary.byCategory.map(entry => [entry.name, round(entry.selfMs, 0), `${round(entry.share * 100, 1)}%`, perCheck(entry.selfMs)]),
			notes: [
				`queen busy ${round(summary.activeMs, 0)} ms = ${round(activeUsPerCheck, 1)} µs per check (startup and ${drones} registrations included). Top functions: ${summary.byFunction.slice(0, 6).map(entry => `${entry.name} ${round(entry.share * 100, 1)}%`).join('; ')}.`,
				`profile: ${path.relative(process.cwd(), path.join(dir, file))}`,
			],
		},
	};
}
