import {spawn, type ChildProcessByStdio} from 'node:child_process';
import type {Readable, Writable} from 'node:stream';
import type {ResultReport} from '../http/schemas.js';
import type {ContainerSpec, Runtime} from '../model.js';
import type {Sandbox} from './sandbox.js';

/** What one output stream of a command keeps: the first 64 KiB, the cut marked. */
export const outputLimit = 64 * 1024;

/** A command's end, as the drone reports it (less its own name). */
export type CommandResult = Omit<ResultReport, 'drone'>;

/** A command's end as the executor sees it: `cancelled` when its queen stopped it (then nothing is reported). */
export type CommandEnd = CommandResult & {readonly cancelled: boolean};

/** One piece of a running command's output, as it comes. */
export type OutputChunk = {readonly stream: 'stdout' | 'stderr'; readonly data: Buffer};

/** A running command's output: what it printed so far (kept, bounded), and what it prints next, as it comes. */
export type LiveOutput = {
	readonly stdout: string;
	readonly stderr: string;
	/** Hears every chunk from now on; returns the way to stop hearing. */
	follow(listener: (chunk: OutputChunk) => void): () => void;
	/** Settles when the command has ended. */
	readonly done: Promise<unknown>;
};

/** Cancelled ids a drone remembers, so that a task cancelled before it arrived never starts. */
const cancelledKept = 4096;

type Running = {
	/** Stops it for good (cancel, timeout, the drone stopping). */
	kill: () => void;
	done: Promise<CommandEnd>;
	readonly stdout: Capture;
	readonly stderr: Capture;
	readonly listeners: Set<(chunk: OutputChunk) => void>;
	cancelled: boolean;
};

/** What a drone runs for a task: a shell command, or a container. */
export type Work = {readonly command: string} | {readonly container: ContainerSpec};

/** The program a job runs, its arguments and its environment. */
export type Spawn = {readonly file: string; readonly args: readonly string[]; readonly env: NodeJS.ProcessEnv};

/** A task that could not start: its message is the task's error. */
export class JobError extends Error {
	override readonly name = 'JobError';
}

/**
How one task's process is started, stopped and cleaned up: a command's (through the sandbox) or a
container's (through its runtime).
*/
export type Job = {
	/** What to spawn; throws a `JobError` when the task cannot start. `signal`: stopped meanwhile, give up. */
	start(signal: AbortSignal): Promise<Spawn>;
	/** Stops what it started, for good; called again while its process lives on. @default kill its process group */
	stop?(): Promise<void>;
	/** Once its process has ended: cleans up after it, and says why it failed when its runtime can tell (an exceeded memory limit). */
	finish?(end: {readonly exitCode: number | null; readonly signal: string | null; readonly stopped: boolean}): Promise<string | undefined>;
};

/** What runs the drone's containers (`--runtime runc`). */
export type ContainerRuntime = {
	readonly name: Runtime;
	job(id: string, spec: ContainerSpec): Job;
};

/** How often a stop is tried again while the process lives on (a container still being created when first stopped). */
const stopRetryMs = 250;
/** Tries of a job's own stop before its process group is killed as well. */
const stopTriesAlone = 8;

/** The drone's environment less the hive's token: what every process a task starts gets (the token is the drone's, not its tasks'). */
export function withoutToken(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
	const {HIVE_TOKEN: _token, ...rest} = env;
	return rest;
}

export type ExecutorOptions = {
	readonly stdout: Writable;
	/** Kill a task after this long; 0: never. */
	readonly taskTimeoutMs: number;
	/** How commands run: contained (a pid namespace each) or not. */
	readonly sandbox: Sandbox;
	/** How containers run; undefined: this drone runs none. */
	readonly runtime?: ContainerRuntime | undefined;
};

/**
Does the work of a drone's tasks. A text task is printed, with a newline, on the drone's standard
output. A command task runs through `/bin/sh -c`, contained by the sandbox (so that all it started ends
with it), in a process group of its own (so that killing the group kills the task), its output
captured, bounded. A container task runs through the drone's container runtime, its output captured
the same way. A task id runs at most once at a time.
*/
export class Executor {
	readonly #stdout: Writable;
	readonly #taskTimeoutMs: number;
	readonly #sandbox: Sandbox;
	readonly #runtime: ContainerRuntime | undefined;
	readonly #running = new Map<string, Running>();
	readonly #cancelled = new Set<string>();

	constructor(options: ExecutorOptions) {
		this.#stdout = options.stdout;
		this.#taskTimeoutMs = options.taskTimeoutMs;
		this.#sandbox = options.sandbox;
		this.#runtime = options.runtime;
	}

	get running(): number {
		return this.#running.size;
	}

	print(text: string): void {
		this.#stdout.write(`${text}\n`);
	}

	/** Whether the queen cancelled this task id (before it came, or while it ran): it never starts again. */
	wasCancelled(id: string): boolean {
		return this.#cancelled.has(id);
	}

	/**
	Cancels a task: a running one is stopped (a command's whole process group, its pid namespace with it; a
	container, by its runtime) and resolves with what it printed; undefined when it does not run here.
	Either way the id never starts here again, unless `mayReturn` (a task moved off a drained drone may be
	placed here again later).
	*/
	async cancel(id: string, mayReturn = false): Promise<CommandEnd | undefined> {
		if (!mayReturn) {
			this.#cancelled.add(id);
			if (this.#cancelled.size > cancelledKept) {
				this.#cancelled.delete(this.#cancelled.values().next().value!);
			}
		}

		const running = this.#running.get(id);
		if (!running) {
			return undefined;
		}

		running.cancelled = true;
		running.kill();
		return running.done;
	}

	/** What a running task printed so far, and a way to hear the rest as it comes; undefined when it does not run here. */
	output(id: string): LiveOutput | undefined {
		const running = this.#running.get(id);
		if (!running) {
			return undefined;
		}

		return {
			stdout: running.stdout.text(),
			stderr: running.stderr.text(),
			follow(listener) {
				running.listeners.add(listener);
				return () => running.listeners.delete(listener);
			},
			done: running.done,
		};
	}

	/** Starts a command or a container; resolves with its result when it ends. Throws when that task id runs already. */
	async run(id: string, work: Work): Promise<CommandEnd> {
		if (this.#running.has(id)) {
			throw new Error(`task ${id} runs already`);
		}

		// Made first: a job that cannot even be made takes no slot.
		const job = this.#jobFor(id, work);
		const running: Running = {kill() {}, done: Promise.resolve(undefined as never), stdout: new Capture(), stderr: new Capture(), listeners: new Set(), cancelled: false};
		this.#running.set(id, running);
		running.done = this.#execute(id, job, running).finally(() => {
			this.#running.delete(id);
			running.listeners.clear();
		});
		return running.done;
	}

	/** Waits for running tasks at most `graceMs`, then stops what is left. */
	async stop(graceMs: number): Promise<void> {
		const all = Promise.all([...this.#running.values()].map(async each => each.done));
		let timer: NodeJS.Timeout | undefined;
		const waited = await Promise.race([all.then(() => true), new Promise<boolean>(resolve => {
			timer = setTimeout(() => resolve(false), graceMs);
		})]);
		clearTimeout(timer);
		if (!waited) {
			for (const each of this.#running.values()) {
				each.kill();
			}

			await all;
		}
	}

	#jobFor(id: string, work: Work): Job {
		if ('command' in work) {
			const {file, args} = this.#sandbox.argv(work.command);
			return {start: async () => ({file, args, env: withoutToken()})};
		}

		if (!this.#runtime) {
			return {
				async start() {
					throw new JobError('this drone runs no containers (start it with --runtime runc)');
				},
			};
		}

		return this.#runtime.job(id, work.container);
	}

	async #execute(id: string, job: Job, running: Running): Promise<CommandEnd> {
		const started = performance.now();
		const ended = (fields: Partial<CommandEnd> & {error: string}): CommandEnd => ({cancelled: running.cancelled, succeeded: false, exitCode: null, signal: null, stdout: running.stdout.text(), stderr: running.stderr.text(), durationMs: Math.round(performance.now() - started), timedOut: false, ...fields});
		const timeoutError = `timed out after ${this.#taskTimeoutMs / 1000} s`;
		let timedOut = false;
		let stopped = false;
		// Until it is spawned, a stop (a cancel, the timeout, the drone stopping) aborts its start (a tar being unpacked).
		const starting = new AbortController();
		running.kill = () => {
			stopped = true;
			starting.abort();
		};

		// The time limit counts from the task's arrival: making it ready (its rootfs) is part of it.
		const timer = this.#taskTimeoutMs > 0
			? setTimeout(() => {
				timedOut = true;
				running.kill();
			}, this.#taskTimeoutMs)
			: undefined;
		const gone = async (error: string): Promise<CommandEnd> => {
			clearTimeout(timer);
			await job.finish?.({exitCode: null, signal: null, stopped: true}).catch(() => undefined);
			return ended(timedOut ? {error: timeoutError, timedOut: true} : {error});
		};

		let spawned: Spawn;
		try {
			spawned = await job.start(starting.signal);
		} catch (error: unknown) {
			return gone(error instanceof JobError ? error.message : `could not start: ${error instanceof Error ? error.message : String(error)}`);
		}

		if (stopped) {
			return gone('stopped before it started');
		}

		let child: ChildProcessByStdio<null, Readable, Readable>;
		try {
			child = spawn(spawned.file, spawned.args, {detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: spawned.env});
		} catch (error: unknown) {
			// node:child_process throws at once for what cannot start at all (an argument the kernel refuses).
			return gone(`could not start: ${error instanceof Error ? error.message : String(error)}`);
		}

		const hear = (stream: 'stdout' | 'stderr', chunk: Buffer) => {
			running[stream].add(chunk);
			for (const listener of running.listeners) {
				listener({stream, data: chunk});
			}
		};

		child.stdout.on('data', (chunk: Buffer) => {
			hear('stdout', chunk);
		});
		child.stderr.on('data', (chunk: Buffer) => {
			hear('stderr', chunk);
		});
		let closed = false;
		const killGroup = async () => {
			try {
				process.kill(-child.pid!, 'SIGKILL');
			} catch {}
		};

		let retry: NodeJS.Timeout | undefined;
		running.kill = () => {
			if (stopped) {
				return;
			}

			stopped = true;
			// The job's own stop (a container's delete), tried again while its process lives on; past a few
			// tries, its process group is killed too, so that a stop always ends.
			const attempt = async (tries: number) => {
				await (job.stop && tries < stopTriesAlone ? job.stop() : Promise.all([job.stop?.(), killGroup()])).catch(() => undefined);
				if (!closed) {
					retry = setTimeout(() => void attempt(tries + 1), stopRetryMs);
				}
			};

			void attempt(0);
		};

		const {exitCode, signal, spawnError} = await new Promise<{exitCode: number | null; signal: string | null; spawnError: string | undefined}>(resolve => {
			let spawnError: string | undefined;
			child.on('error', error => {
				spawnError = error.message;
			});
			child.on('close', (exitCode, signal) => {
				resolve({exitCode, signal, spawnError});
			});
		});
		closed = true;
		clearTimeout(timer);
		clearTimeout(retry);
		const why = await job.finish?.({exitCode, signal, stopped}).catch((error: unknown) => `could not clean up after it: ${error instanceof Error ? error.message : String(error)}`);
		const error = timedOut ? timeoutError : (spawnError ?? why);
		return {
			cancelled: running.cancelled,
			succeeded: exitCode === 0 && !timedOut && spawnError === undefined,
			exitCode,
			signal,
			stdout: running.stdout.text(),
			stderr: running.stderr.text(),
			durationMs: Math.round(performance.now() - started),
			timedOut,
			...(error === undefined ? {} : {error}),
		};
	}
}

/** Keeps the first `outputLimit` bytes of a stream and counts the rest. */
class Capture {
	readonly #chunks: Buffer[] = [];
	#kept = 0;
	#cut = 0;

	add(chunk: Buffer): void {
		const room = outputLimit - this.#kept;
		if (room > 0) {
			const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
			this.#chunks.push(part);
			this.#kept += part.length;
		}

		this.#cut += Math.max(0, chunk.length - Math.max(0, room));
	}

	text(): string {
		const text = Buffer.concat(this.#chunks).toString('utf8');
		return this.#cut > 0 ? `${text}\n[… ${this.#cut} more bytes cut]` : text;
	}
}
