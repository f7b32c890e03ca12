import {spawn, type ChildProcessByStdio} from 'node:child_process';
import type {Readable, Writable} from 'node:stream';
import type {ResultReport} from '../http/schemas.js';
import type {Sandbox} from './sandbox.js';

/** What one output stream of a command keeps: the first 64 KiB, the cut marked. */
export const outputLimit = 64 * 1024;

/** A command's end, as the drone reports it (less its own name). */
export type CommandResult = Omit<ResultReport, 'drone'>;

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
	readonly #running = new Map<string, {kill(): void; done: Promise<CommandResult>}>();

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

	/** Starts a command; resolves with its result when it ends. Throws when that task id runs already. */
	async run(id: string, command: string): Promise<CommandResult> {
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
			return {succeeded: false, exitCode: null, signal: null, stdout: '', stderr: '', durationMs: Math.round(performance.now() - started), timedOut: false, error: `could not start: ${error instanceof Error ? error.message : String(error)}`};
		}

		const stdout = new Capture();
		const stderr = new Capture();
		child.stdout.on('data', (chunk: Buffer) => stdout.add(chunk));
		child.stderr.on('data', (chunk: Buffer) => stderr.add(chunk));
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
		const done = new Promise<CommandResult>(resolve => {
			let spawnError: string | undefined;
			child.on('error', error => {
				spawnError = error.message;
			});
			child.on('close', (exitCode, signal) => {
				clearTimeout(timer);
				this.#running.delete(id);
				resolve({
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
		this.#running.set(id, {kill: killGroup, done});
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
