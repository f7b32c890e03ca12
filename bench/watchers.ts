import http from 'node:http';
import type {BenchContext, ScenarioOutcome} from './context.js';
import {closedLoop} from './loadgen.js';
import {cpuMeter, spawnDrone, spawnQueen} from './procs.js';
import {round} from './stats.js';

/**
What `GET /events` clients cost the queen: its CPU per task at 16 connections of submits to two drones,
with 0 and with 200 clients watching the events (each reading every frame). The figures, before
frames were made once per event: 588 µs per task with none, 14,092 µs with 200.
*/

type Row = {readonly watchers: number; readonly tasksPerS: number; readonly cpuUsPerTask: number; readonly framesSeen: number};

export async function runWatchers(context: BenchContext): Promise<ScenarioOutcome<{readonly rows: readonly Row[]}>> {
	const rows: Row[] = [];
	for (const watchers of [0, 200]) {
		context.progress(`watchers: ${watchers} clients of /events`);
		// eslint-disable-next-line no-await-in-loop
		rows.push(await measure(context, watchers));
	}

	const [none, many] = rows;
	return {
		data: {rows},
		tables: [{
			title: 'Queen CPU per task with clients of /events (16 connections of submits, two drones, --store memory)',
			columns: ['watchers', 'tasks/s', 'queen CPU µs/task', 'bytes each watcher read'],
			rows: rows.map(row => [row.watchers, round(row.tasksPerS, 0), round(row.cpuUsPerTask, 0), row.framesSeen]),
			notes: none && many ? [`200 watchers cost ${round(many.cpuUsPerTask / none.cpuUsPerTask, 1)}× the CPU per task of none`] : [],
		}],
	};
}

async function measure(context: BenchContext, count: number): Promise<Row> {
	const queen = await spawnQueen('queen', ['--store', 'memory']);
	const drones = await Promise.all([spawnDrone(queen, 'drone-a'), spawnDrone(queen, 'drone-b')]);
	const agent = new http.Agent({keepAlive: true, maxSockets: count + 1});
	let bytes = 0;
	const requests: http.ClientRequest[] = [];
	try {
		await Promise.all(Array.from({length: count}, async () => new Promise<void>((resolve, reject) => {
			const request = http.get(`${queen.url}/events`, {agent}, response => {
				if (response.statusCode !== 200) {
					reject(new Error(`GET /events answered ${response.statusCode}`));
				}

				response.on('data', (chunk: Buffer) => {
					bytes += chunk.length;
				});
				response.on('error', () => undefined);
				resolve();
			});
			request.on('error', () => undefined);
			requests.push(request);
		})));
		const body = JSON.stringify({text: 'hello'});
		await closedLoop({url: `${queen.url}/submit_task`, body, connections: 16, durationS: context.warmupS});
		bytes = 0;
		const meter = cpuMeter(queen.pid);
		const load = await closedLoop({url: `${queen.url}/submit_task`, body, connections: 16, durationS: context.durationS});
		const cpu = meter.stop();
		return {watchers: count, tasksPerS: load.ok / load.durationS, cpuUsPerTask: (cpu.cpuSeconds / Math.max(1, load.ok)) * 1e6, framesSeen: count === 0 ? 0 : Math.round(bytes / count)};
	} finally {
		for (const request of requests) {
			request.destroy();
		}

		agent.destroy();
		await Promise.all([...drones.map(async drone => drone.stop()), queen.stop()]);
	}
}
