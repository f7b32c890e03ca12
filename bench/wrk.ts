import {spawn, spawnSync} from 'node:child_process';
import {fileURLToPath} from 'node:url';
import type {LoadResult} from './loadgen.js';
import {onExit} from './procs.js';
import {round} from './stats.js';

/**
wrk (`apt-get install wrk`), the load generator of the dispatch bench when it is installed: a C
closed loop, cheap enough on two shared cores, that reconnects by itself after the seed's
`Connection: close`. Every request is `POST /submit_task {"text":"bench"}` (bench/wrk-submit.lua).
*/

/** The Lua script: method, path, body and Content-Type (bench/wrk-submit.lua, not compiled). */
export const wrkScriptPath = fileURLToPath(new URL('../../bench/wrk-submit.lua', import.meta.url));

/** wrk's threads: its default, the same for every system measured. */
export const wrkThreads = 2;

/** wrk's version line (e.g. `wrk debian/4.1.0-3+b2 [epoll]`), or undefined when wrk cannot run here. */
export function wrkVersion(): string | undefined {
	// `wrk --version` prints its banner and usage, and exits with status 1.
	const probe = spawnSync('wrk', ['--version'], {encoding: 'utf8', timeout: 10_000});
	if (probe.error) {
		return undefined;
	}

	const banner = `${probe.stdout}${probe.stderr}`.split('\n').find(line => line.startsWith('wrk '));
	return banner?.replace(/\s+Copyright.*$/, '').trim();
}

export type WrkResult = LoadResult & {
	/** Answers wrk read whole, whatever their status. */
	readonly requests: number;
	/** wrk's "Requests/sec" (every answer, 2xx or not). */
	readonly requestsPerSecond: number;
	readonly socketErrors: {readonly connect: number; readonly read: number; readonly write: number; readonly timeout: number};
	/** What wrk printed (runWrk only): a script's `done()` may add lines of its own. */
	readonly output?: string;
};

const msPerUnit: Record<string, number> = {ms: 1, s: 1000, m: 60_000, h: 3_600_000};

/** `1.48ms`, `985.00us`, `1.01s`, `2.00m` (wrk's format_time_us) → milliseconds. */
export function parseWrkTime(text: string): number {
	const match = /^(\d+(?:\.\d+)?)(us|ms|s|m|h)$/.exec(text.trim());
	if (!match) {
		throw new Error(`not a wrk time: ${JSON.stringify(text)}`);
	}

	const value = Number(match[1]);
	return match[2] === 'us' ? value / 1000 : value * msPerUnit[match[2]!]!;
}

/**
Reads what `wrk --latency` prints: the answers and run time ("N requests in 3.01s"), Requests/sec,
the latency distribution (50% and 99%), the mean and max latency (Thread Stats), socket errors, and
"Non-2xx or 3xx responses". wrk counts there only statuses of 400 and up (3xx count as answered;
neither queen sends one), so `ok` is the answers minus those.
*/
export function parseWrkOutput(text: string): WrkResult {
	const need = (pattern: RegExp, what: string): RegExpExecArray => {
		const match = pattern.exec(text);
		if (!match) {
			throw new Error(`wrk output without ${what}:\n${text}`);
		}

		return match;
	};

	const total = need(/^\s*(\d+) requests in (\S+),/m, '"N requests in T"');
	const requests = Number(total[1]);
	const durationS = parseWrkTime(total[2]!) / 1000;
	const requestsPerSecond = Number(need(/^Requests\/sec:\s+([\d.]+)/m, 'Requests/sec')[1]);
	const latency = need(/^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)\s+/m, 'the Latency line of Thread Stats');
	const distribution = need(/Latency Distribution\n((?:\s+\d+(?:\.\d+)?%\s+\S+\n?)+)/, 'a latency distribution (--latency)')[1]!;
	const percentiles = new Map<number, number>();
	for (const line of distribution.trim().split('\n')) {
		const [percent, time] = line.trim().split(/\s+/);
		percentiles.set(Number(percent!.replace('%', '')), parseWrkTime(time!));
	}

	const percentileMs = (p: number) => {
		const value = percentiles.get(p);
		if (value === undefined) {
			throw new Error(`wrk output without the ${p}% latency`);
		}

		return round(value, 2)!;
	};

	const sockets = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
	const socketErrors = {
		connect: Number(sockets?.[1] ?? 0),
		read: Number(sockets?.[2] ?? 0),
		write: Number(sockets?.[3] ?? 0),
		timeout: Number(sockets?.[4] ?? 0),
	};
	const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
	return {
		requests,
		requestsPerSecond,
		ok: requests - non2xx,
		non2xx,
		errors: socketErrors.connect + socketErrors.read + socketErrors.write + socketErrors.timeout,
		socketErrors,
		durationS,
		latencyMs: {
			p50: percentileMs(50),
			p99: percentileMs(99),
			max: round(parseWrkTime(latency[3]!), 2)!,
			mean: round(parseWrkTime(latency[1]!), 2)!,
		},
	};
}

/**
One wrk run of `POST /submit_task` against `url` (`http://host:port`). `script` replaces
bench/wrk-submit.lua (the same request, and a `done()` of its own); `threads` replaces wrkThreads (wrk
gives each thread connections ÷ threads, rounded down).
*/
export async function runWrk(options: {readonly url: string; readonly connections: number; readonly durationS: number; readonly timeoutS?: number; readonly script?: string; readonly threads?: number}): Promise<WrkResult> {
	const args = [
		'--threads', String(Math.min(options.threads ?? wrkThreads, options.connections)),
		'--connections', String(options.connections),
		'--duration', `${Math.max(1, Math.round(options.durationS))}s`,
		'--timeout', `${options.timeoutS ?? 10}s`,
		'--latency',
		'--script', options.script ?? wrkScriptPath,
		options.url,
	];
	const child = spawn('wrk', args, {stdio: ['ignore', 'pipe', 'pipe']});
	const forget = onExit(() => child.kill('SIGKILL'));
	let stdout = '';
	let stderr = '';
	child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
		stdout += chunk;
	});
	child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
		stderr += chunk;
	});
	const status = await new Promise<number | string>(resolve => {
		child.on('error', error => resolve(String(error)));
		child.on('exit', (code, signal) => resolve(code ?? signal ?? -1));
	});
	forget();
	if (status !== 0) {
		throw new Error(`wrk ${args.join(' ')} ended with ${status}: ${stderr}${stdout}`);
	}

	return {...parseWrkOutput(stdout), output: stdout};
}
