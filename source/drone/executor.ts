import {spawn, type ChildProcessByStdio} from 'node:child_process';
import type {Readable, Writable} from 'node:stream';
import type {ResultReport} from '../http/schemas.js';
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
	readonly kill: () => void;
	readonly done: Promise<CommandEnd>;
	readonly stdout: Capture;
	readonly stderr: Capture;
	readonly listeners: Set<(chunk: OutputChunk) => void>;
	cancelled: boolean;
};

export type ExecutorOptions = {
	readonly stdout: Writable;
	/** Kill a command after this long; 0: never. */
	readonly taskTimeoutMs: number;
	/** How commands run: contained (a pid namespace each) or not. */
	readonly sandbox: Sandbox;
};

/**
Does the work of a drone's tasks. A text task is printed, with a newline, on the drone's standard
output. A command task runs through `/bin/sh -c`, contained by the sandbox (so that all it started ends
with it), in a process group of its own (so that killing the group kills the task), its output
captured, bounded. A task id runs at most once at a time.
*/
export class Executor {
	readonly #stdout: Writable;
	readonly #taskTimeoutMs: number;
	readonly #sandbox: Sandbox;
	readonly #running = new Map<string, Running>();
	readonly #cancelled = new Set<string>();

	constructor(options: ExecutorOptions) {
		this.#stdout = options.stdout;
		this.#taskTimeoutMs = options.taskTimeoutMs;
		this.#sandbox = options.sandbox;
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
	Cancels a task: a running command is killed (its whole process group, its pid namespace with it) and
	resolves with what it printed; undefined when it does not run here. Either way the id never starts here
	again, unless `mayReturn` (a task moved off a drained drone may be placed here again later).
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

	/** What a running command printed so far, and a way to hear the rest as it comes; undefined when it does not run here. */
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

	/** Starts a command; resolves with its result when it ends. Throws when that task id runs already. */
	async run(id: string, command: string): Promise<CommandEnd> {
		if (this.#running.has(id)) {
			throw new Error(`task ${id} runs already`);
		}

		const started = performance.now();
		// The hive's token is the drone's, not its tasks': a command never sees it.
		const {HIVE_TOKEN: _token, ...environment} = process.env;
		const {file, args} = this.#sandbox.argv(command);
		let child: ChildProcessByStdio<null, Readable, Readable>;
		try {
			child = spawn(file, args, {detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: environment});
		} catch (error: unknown) {
			// node:child_process throws at once for what cannot start at all (an argument the kernel refuses).
			return {cancelled: false, succeeded: false, exitCode: null, signal: null, stdout: '', stderr: '', durationMs: Math.round(performance.now() - started), timedOut: false, error: `could not start: ${error instanceof Error ? error.message : String(error)}`};
		}

		const stdout = new Capture();
		const stderr = new Capture();
		const listeners = new Set<(chunk: OutputChunk) => void>();
		const hear = (stream: 'stdout' | 'stderr', data: Buffer) => {
			for (const listener of listeners) {
				listener({stream, data});
			}
		};

		child.stdout.on('data', (chunk: Buffer) => {
			stdout.add(chunk);
			hear('stdout', chunk);
		});
		child.stderr.on('data', (chunk: Buffer) => {
			stderr.add(chunk);
			hear('stderr', chunk);
		});
		let timedOut = false;
		const killGroup = () => {
			try {
				process.kill(-child.pid!, 'SIGKILL');
			} catch {}
		};

		const timer = this.#taskTimeoutMs > 0
			? setTimeout(() => {
				timedOut = true;
				killGroup();
			}, this.#taskTimeoutMs)
			: undefined;
		const done = new Promise<CommandEnd>(resolve => {
			let spawnError: string | undefined;
			child.on('error', error => {
				spawnError = error.message;
			});
			child.on('close', (exitCode, signal) => {
				clearTimeout(timer);
				const {cancelled} = this.#running.get(id) ?? {cancelled: false};
				this.#running.delete(id);
				listeners.clear();
				resolve({
					cancelled,
					succeeded: exitCode === 0 && !timedOut,
					exitCode,
					signal,
					stdout: stdout.text(),
					stderr: stderr.text(),
					durationMs: Math.round(performance.now() - started),
					timedOut,
					...(timedOut ? {error: `timed out after ${this.#taskTimeoutMs / 1000} s`} : {}),
					...(spawnError === undefined ? {} : {error: spawnError}),
				});
			});
		});
		this.#running.set(id, {kill: killGroup, done, stdout, stderr, listeners, cancelled: false});
		return done;
	}

	/** Waits for running commands at most `graceMs`, then kills what is left. */
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
