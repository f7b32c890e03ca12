import http from 'node:http';
import {percentile, round} from './stats.js';

/**
A closed-loop load generator on `node:http`: `connections` loops, each sending the next request when the
last one is answered, for `durationS`. The dispatch bench's fallback when wrk is not installed, and then
it drives every system of the run (never one side of a ratio only). It copes with the seed's Flask dev
server, which answers `Connection: close` to every request (autocannon stalls on that: it waits for
its timeout before it reconnects), as node's agent simply opens a new connection.
*/

export type LoadResult = {
	readonly ok: number;
	readonly non2xx: number;
	readonly errors: number;
	readonly durationS: number;
	readonly latencyMs: {readonly p50: number; readonly p99: number; readonly max: number; readonly mean: number};
};

export async function closedLoop(options: {readonly url: string; readonly body: string; readonly connections: number; readonly durationS: number}): Promise<LoadResult> {
	const agent = new http.Agent({keepAlive: true, maxSockets: options.connections});
	const latencies: number[] = [];
	let ok = 0;
	let non2xx = 0;
	let errors = 0;
	const started = performance.now();
	const deadline = started + (options.durationS * 1000);
	const once = async () => new Promise<number>(resolve => {
		const request = http.request(options.url, {method: 'POST', agent, timeout: 10_000, headers: {'content-type': 'application/json', 'content-length': Buffer.byteLength(options.body)}}, response => {
			response.resume();
			response.on('end', () => resolve(response.statusCode ?? 0));
			response.on('error', () => resolve(0));
		});
		request.on('timeout', () => request.destroy(new Error('timed out')));
		request.on('error', () => resolve(0));
		request.end(options.body);
	});
	await Promise.all(Array.from({length: options.connections}, async () => {
		while (performance.now() < deadline) {
			const sent = performance.now();
			// eslint-disable-next-line no-await-in-loop
			const status = await once();
			latencies.push(performance.now() - sent);
			if (status === 0) {
				errors++;
			} else if (status >= 200 && status < 300) {
				ok++;
			} else {
				non2xx++;
			}
		}
	}));
	agent.destroy();
	const durationS = (performance.now() - started) / 1000;
	return {
		ok,
		non2xx,
		errors,
		durationS,
		latencyMs: {
			p50: round(percentile(latencies, 50), 1) ?? 0,
			p99: round(percentile(latencies, 99), 1) ?? 0,
			max: round(percentile(latencies, 100), 1) ?? 0,
			mean: round(latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length), 2) ?? 0,
		},
	};
}
