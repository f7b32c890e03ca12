import {spawn, execFileSync, type ChildProcess, type SpawnOptions} from 'node:child_process';
import {mkdirSync, mkdtempSync, readFileSync, rmSync} from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {setTimeout as sleep} from 'node:timers/promises';
import {waitFor} from '../test/helpers/wait.js';

/** The built `hive-larve` entry point (dist/source/cli.js), as `npm install -g` would run it. */
export const cliPath = fileURLToPath(new URL('../source/cli.js', import.meta.url));
/** The built farm of lightweight drones (dist/bench/farm.js). */
export const farmPath = fileURLToPath(new URL('farm.js', import.meta.url));
/** The floor of the dispatch bench: a bare node:http relay (dist/bench/floor-relay.js). */
export const floorRelayPath = fileURLToPath(new URL('floor-relay.js', import.meta.url));
/** The seed's Python larve, reconstructed from the document (bench/seed/larve.py, not compiled). */
export const seedLarvePath = fileURLToPath(new URL('../../bench/seed/larve.py', import.meta.url));

// ---------------------------------------------------------------------------------------------------
// Every process the bench starts is tracked here, and killed when the bench ends, however it ends.

const children = new Set<ChildProcess>();
const exitHooks = new Set<() => void>();

/** Runs `hook` (synchronously) when the bench exits, after a Ctrl-C too. */
export function onExit(hook: () => void): () => void {
	exitHooks.add(hook);
	return () => exitHooks.delete(hook);
}

function killEverything(): void {
	for (const child of children) {
		if (child.exitCode === null && child.signalCode === null) {
			child.kill('SIGKILL');
		}
	}

	for (const hook of exitHooks) {
		try {
			hook();
		} catch {}
	}

	exitHooks.clear();
}

process.on('exit', killEverything);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
	process.on(signal, () => {
		process.stderr.write(`\nbench: ${signal}, stopping every process it started\n`);
		killEverything();
		process.exit(130);
	});
}

export type Proc = {
	readonly child: ChildProcess;
	readonly pid: number;
	readonly label: string;
	/** The last lines of standard error (for diagnostics; the rest is read and dropped). */
	stderrTail(): string;
	/** JSON lines seen on stdout or stderr, newest last (bounded). */
	readonly jsonLines: Array<Record<string, unknown>>;
	readonly exited: Promise<number | string>;
	readonly alive: boolean;
	/** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
	stop(graceMs?: number): Promise<void>;
	kill(): Promise<void>;
};

export type SpawnProcOptions = {
	readonly label: string;
	readonly env?: NodeJS.ProcessEnv;
	/** Keep stdout (JSON lines are parsed), or drop it (a drone prints every task). @default 'drop' */
	readonly stdout?: 'keep' | 'drop';
	/** Keep stderr JSON lines (a larve's logs). @default true */
	readonly parseStderr?: boolean;
};

/** Spawns a process whose output is always drained (a full pipe would stall it), tracked for cleanup. */
export function spawnProc(command: string, args: readonly string[], options: SpawnProcOptions): Proc {
	const spawnOptions: SpawnOptions = {
		env: {...process.env, ...options.env},
		stdio: ['ignore', options.stdout === 'keep' ? 'pipe' : 'ignore', 'pipe'],
	};
	const child = spawn(command, args, spawnOptions);
	children.add(child);
	let tail = '';
	const jsonLines: Array<Record<string, unknown>> = [];
	const parse = (stream: NodeJS.ReadableStream | null, keepTail: boolean) => {
		let buffer = '';
		stream?.on('data', (chunk: Buffer) => {
			const text = chunk.toString();
			if (keepTail) {
				tail = (tail + text).slice(-4000);
			}

			buffer += text;
			let end: number;
			while ((end = buffer.indexOf('\n')) >= 0) {
				const line = buffer.slice(0, end);
				buffer = buffer.slice(end + 1);
				if (line.startsWith('{') && (options.parseStderr ?? true)) {
					try {
						jsonLines.push(JSON.parse(line) as Record<string, unknown>);
						if (jsonLines.length > 200) {
							jsonLines.splice(0, 100);
						}
					} catch {}
				}
			}

			if (buffer.length > 100_000) {
				buffer = '';
			}
		});
	};

	parse(child.stderr, true);
	parse(child.stdout, false);
	const exited = new Promise<number | string>(resolve => {
		child.on('exit', (code, signal) => {
			children.delete(child);
			resolve(code ?? signal ?? -1);
		});
		child.on('error', error => {
			children.delete(child);
			tail += String(error);
			resolve(-1);
		});
	});
	const proc: Proc = {
		child,
		pid: child.pid ?? -1,
		label: options.label,
		stderrTail: () => tail,
		jsonLines,
		exited,
		get alive() {
			return child.exitCode === null && child.signalCode === null;
		},
		async stop(graceMs = 5000) {
			if (!proc.alive) {
				return;
			}

			child.kill('SIGTERM');
			const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
			await exited;
			clearTimeout(timer);
		},
		async kill() {
			if (proc.alive) {
				child.kill('SIGKILL');
			}

			await exited;
		},
	};
	return proc;
}

export type Larve = Proc & {
	/** `http://host:port`, from the larve's "listening" log line. */
	readonly url: string;
	/** `host:port`. */
	readonly address: string;
};

export type LarveSpawnOptions = {
	/** Extra `node` flags (e.g. `--cpu-prof`). */
	readonly nodeFlags?: readonly string[];
	readonly timeoutMs?: number;
};

/** Spawns the real `hive-larve` binary and waits for its "listening" log line. */
export async function spawnLarve(label: string, args: readonly string[], options: LarveSpawnOptions = {}): Promise<Larve> {
	const proc = spawnProc(process.execPath, [...(options.nodeFlags ?? []), cliPath, ...args], {label});
	const line = await waitFor(() => {
		if (!proc.alive) {
			throw new Error(`${label} exited: ${proc.stderrTail()}`);
		}

		return proc.jsonLines.find(entry => typeof entry.url === 'string' && String(entry.msg).includes('listening'));
	}, `${label} to listen`, options.timeoutMs ?? 30_000, {rethrow: true});
	const url = line.url as string;
	return Object.assign(proc, {url, address: url.replace(/^http:\/\//, '')});
}

/**
Spawns a queen on a free port. Its store is durable, as a user's is (the default, in a directory of its
own under bench/results/, on the project's disk, removed when the bench ends), unless `args` choose one.
*/
export async function spawnQueen(label = 'queen', args: readonly string[] = [], options: LarveSpawnOptions = {}): Promise<Larve> {
	const ownStore = args.includes('--store') || args.includes('--data-dir') ? [] : ['--data-dir', benchDataDir()];
	return spawnLarve(label, ['--queen', '--port', '0', ...ownStore, ...args], options);
}

/** A new directory for a queen's store, removed when the bench ends. */
export function benchDataDir(): string {
	const parent = fileURLToPath(new URL('../../bench/results/stores/', import.meta.url));
	mkdirSync(parent, {recursive: true});
	const dir = mkdtempSync(path.join(parent, 'queen-'));
	onExit(() => {
		rmSync(dir, {recursive: true, force: true});
	});
	return dir;
}

/** Spawns a drone of `queen` on a free port. */
export async function spawnDrone(queen: {readonly address: string}, label: string, args: readonly string[] = []): Promise<Larve> {
	return spawnLarve(label, ['--queen-host', queen.address, '--port', '0', ...args]);
}

// ---------------------------------------------------------------------------------------------------
// Waiting, without fixed sleeps: the tests' own helper.

export {waitFor};

/** A port that was free a moment ago (for programs that cannot take `--port 0`, like the seed). */
export async function freePort(): Promise<number> {
	const server = net.createServer();
	server.listen(0, '127.0.0.1');
	await new Promise(resolve => server.once('listening', resolve));
	const {port} = server.address() as net.AddressInfo;
	await new Promise(resolve => server.close(resolve));
	return port;
}

// ---------------------------------------------------------------------------------------------------
// Tiny HTTP helpers on node:http (no dependency on the code under test).

const agent = new http.Agent({keepAlive: true, maxSockets: 64});

export type JsonAnswer = {readonly status: number; readonly body: any; readonly ms: number};

export async function requestJson(method: string, url: string, body?: unknown, timeoutMs = 5000): Promise<JsonAnswer> {
	const started = performance.now();
	const payload = body === undefined ? undefined : JSON.stringify(body);
	return new Promise((resolve, reject) => {
		const request = http.request(url, {
			method,
			agent,
			timeout: timeoutMs,
			headers: payload === undefined ? {} : {'content-type': 'application/json', 'content-length': Buffer.byteLength(payload)},
		}, response => {
			let text = '';
			response.setEncoding('utf8');
			response.on('data', (chunk: string) => {
				text += chunk;
			});
			response.on('end', () => {
				let parsed: unknown = text;
				try {
					parsed = JSON.parse(text);
				} catch {}

				resolve({status: response.statusCode ?? 0, body: parsed, ms: performance.now() - started});
			});
			response.on('error', reject);
		});
		request.on('timeout', () => request.destroy(new Error('timed out')));
		request.on('error', reject);
		request.end(payload);
	});
}

/** True when `url/healthz` answers 200 with `Status.READY`. */
export async function isReady(url: string): Promise<boolean> {
	try {
		const answer = await requestJson('GET', `${url}/healthz`, undefined, 1000);
		return answer.status === 200 && answer.body?.status === 'Status.READY';
	} catch {
		return false;
	}
}

export function closeHttpAgent(): void {
	agent.destroy();
}

// ---------------------------------------------------------------------------------------------------
// The queen's event stream.

export type SeenEvent = {readonly type: string; readonly id?: number; readonly at: number; readonly [key: string]: any};

export type EventFollower = {
	readonly events: SeenEvent[];
	/** Events counted by type (also those dropped from `events` when `keep` is limited). */
	readonly counts: Map<string, number>;
	waitFor(predicate: (event: SeenEvent) => boolean, what: string, timeoutMs?: number): Promise<SeenEvent>;
	close(): void;
};

/**
Follows a queen's `GET /events` (Server-Sent Events). Each event gets `at`, the local `performance.now()`
when it arrived. `keep` filters which events are stored (all are counted).
*/
export async function followEvents(queenUrl: string, keep: (type: string) => boolean = () => true): Promise<EventFollower> {
	const events: SeenEvent[] = [];
	const counts = new Map<string, number>();
	let request: http.ClientRequest | undefined;
	await new Promise<void>((resolve, reject) => {
		request = http.get(`${queenUrl}/events`, response => {
			if (response.statusCode !== 200) {
				reject(new Error(`GET /events answered ${response.statusCode}`));
				return;
			}

			response.setEncoding('utf8');
			let buffer = '';
			response.on('data', (chunk: string) => {
				buffer += chunk;
				let end: number;
				while ((end = buffer.indexOf('\n\n')) >= 0) {
					const block = buffer.slice(0, end);
					buffer = buffer.slice(end + 2);
					for (const line of block.split('\n')) {
						if (line.startsWith('data: ')) {
							try {
								const event = {...JSON.parse(line.slice(6)), at: performance.now()} as SeenEvent;
								counts.set(event.type, (counts.get(event.type) ?? 0) + 1);
								if (keep(event.type)) {
									events.push(event);
								}
							} catch {}
						}
					}
				}
			});
			response.on('error', () => undefined);
			resolve();
		});
		request.on('error', reject);
	});
	return {
		events,
		counts,
		async waitFor(predicate, what, timeoutMs = 10_000) {
			return waitFor(() => events.find(event => predicate(event)), what, timeoutMs);
		},
		close() {
			request?.destroy();
		},
	};
}

// ---------------------------------------------------------------------------------------------------
// CPU use of a process, from /proc/<pid>/stat.

let clockTicks: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`, almost always 100). */
export function clockTicksPerSecond(): number {
	if (clockTicks === undefined) {
		try {
			clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).trim()) || 100;
		} catch {
			clockTicks = 100;
		}
	}

	return clockTicks;
}

/**
utime + stime (fields 14 and 15, in clock ticks) from the text of `/proc/<pid>/stat`. The command name
(field 2) is in parentheses and may hold spaces or parentheses: fields are counted after the last ')'.
*/
export function parseProcStat(text: string): {readonly utime: number; readonly stime: number} {
	const close = text.lastIndexOf(')');
	if (close < 0) {
		throw new Error('not a /proc/<pid>/stat line');
	}

	// After ')' come field 3 (state), 4, ...: utime is field 14, so index 11 here.
	const fields = text.slice(close + 2).trim().split(/\s+/);
	const utime = Number(fields[11]);
	const stime = Number(fields[12]);
	if (!Number.isFinite(utime) || !Number.isFinite(stime)) {
		throw new Error('no utime/stime in /proc/<pid>/stat line');
	}

	return {utime, stime};
}

/** CPU seconds a process has used so far (all its threads). */
export function cpuSeconds(pid: number): number {
	const {utime, stime} = parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
	return (utime + stime) / clockTicksPerSecond();
}

/** Cores used over a window: CPU seconds used ÷ wall seconds. */
export function coresUsed(cpuBefore: number, cpuAfter: number, wallMs: number): number {
	return wallMs <= 0 ? 0 : (cpuAfter - cpuBefore) / (wallMs / 1000);
}

export type CpuMeter = {
	/** Cores used since the meter started (CPU seconds ÷ wall seconds). */
	stop(): {readonly cores: number; readonly cpuSeconds: number; readonly wallMs: number};
};

/** Starts measuring the CPU use of `pid`. */
export function cpuMeter(pid: number): CpuMeter {
	const startCpu = cpuSeconds(pid);
	const startWall = performance.now();
	return {
		stop() {
			const wallMs = performance.now() - startWall;
			const cpu = cpuSeconds(pid) - startCpu;
			return {cores: coresUsed(0, cpu, wallMs), cpuSeconds: cpu, wallMs};
		},
	};
}

/** The soft limit on open files of this process (`ulimit -n`), from /proc/self/limits. */
export function openFileLimit(): {readonly soft: number; readonly hard: number} | undefined {
	try {
		const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find(l => l.startsWith('Max open files'));
		const [soft, hard] = line!.replace('Max open files', '').trim().split(/\s+/).map(Number);
		return {soft: soft!, hard: hard!};
	} catch {
		return undefined;
	}
}

export {sleep};
