import {mkdirSync, readdirSync, rmSync} from 'node:fs';
import path from 'node:path';
import type {BenchContext, ScenarioOutcome, Table} from './context.js';
import {load, startHive} from './dispatch.js';
import {cpuMeter, farmPath, followEvents, spawnProc, spawnQueen, waitFor} from './procs.js';
import {readProfile, summarizeProfile, type ProfileSummary} from './profile.js';
import {round} from './stats.js';

/**
Profile: the dispatch load (16 connections) with the queen under `node --cpu-prof`. The queen is
stopped with SIGTERM so that V8 writes its profile; self time is then aggregated by function, module
and category (bench/profile.ts), and divided by the tasks dispatched: CPU µs per task.
*/

export type ProfileData = {
	readonly heartbeat?: HeartbeatProfile;
	readonly profilePath: string;
	readonly tasks: number;
	readonly tasksPerSecond: number;
	readonly activeUsPerTask: number;
	readonly summary: ProfileSummary;
};

export async function runProfile(context: BenchContext): Promise<ScenarioOutcome<ProfileData>> {
	const dir = path.join(context.resultsDir, 'profile');
	rmSync(dir, {recursive: true, force: true});
	mkdirSync(dir, {recursive: true});
	context.progress(`profile: queen under --cpu-prof, 16 connections for ${context.durationS} s`);
	const hive = await startHive(['--cpu-prof', '--cpu-prof-dir', dir]);
	let tasks = 0;
	let tasksPerSecond = 0;
	try {
		const result = await load(hive.queenUrl, 16, context.durationS);
		tasks = result['2xx'];
		tasksPerSecond = tasks / result.duration;
	} finally {
		await hive.stop();
	}

	const file = readdirSync(dir).find(name => name.endsWith('.cpuprofile'));
	if (!file) {
		throw new Error(`the queen wrote no .cpuprofile in ${dir}`);
	}

	const profilePath = path.join(dir, file);
	const summary = summarizeProfile(readProfile(profilePath), 30);
	const activeUsPerTask = tasks > 0 ? (summary.activeMs * 1000) / tasks : 0;
	const perTask = (ms: number) => (tasks > 0 ? round((ms * 1000) / tasks, 1) : undefined);
	const percent = (share: number) => `${round(share * 100, 1)}%`;
	const relative = path.relative(process.cwd(), profilePath);
	const tables: Table[] = [
		{
			title: `Profile: where the queen's CPU goes (node --cpu-prof, 16 connections, ${Math.round(tasksPerSecond)} tasks/s under the profiler)`,
			columns: ['category', 'self ms', 'share', 'µs/task'],
			rows: summary.byCategory.map(entry => [entry.name, round(entry.selfMs, 0), percent(entry.share), perTask(entry.selfMs)]),
			notes: [
				`${tasks} tasks; queen busy ${round(summary.activeMs, 0)} ms of ${round(summary.totalMs, 0)} ms profiled (the rest idle) = ${round(activeUsPerTask, 1)} µs of CPU per task (startup included).`,
				`profile: ${relative} (open in Chrome DevTools → Performance, or speedscope).`,
			],
		},
		{
			title: 'Profile: top modules by self time',
			columns: ['module', 'self ms', 'share', 'µs/task'],
			rows: summary.byModule.slice(0, 15).map(entry => [entry.name, round(entry.selfMs, 0), percent(entry.share), perTask(entry.selfMs)]),
		},
		{
			title: 'Profile: top functions by self time',
			columns: ['function', 'self ms', 'share'],
			rows: summary.byFunction.slice(0, 20).map(entry => [entry.name, round(entry.selfMs, 0), percent(entry.share)]),
		},
	];
	const heartbeat = await profileHeartbeats(context);
	tables.push(heartbeat.table);
	return {data: {heartbeat: heartbeat.data, profilePath: relative, tasks, tasksPerSecond: round(tasksPerSecond, 0)!, activeUsPerTask: round(activeUsPerTask, 1)!, summary}, tables};
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
