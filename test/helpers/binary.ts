import {spawn, type ChildProcess} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import type {TestContext} from 'node:test';
import {waitFor} from './wait.js';

/** The built `hive-larve` entry point, as `npm install -g` would run it. */
export const cliPath = fileURLToPath(new URL('../../source/cli.js', import.meta.url));

export type Spawned = {
	readonly child: ChildProcess;
	stdout: string;
	stderr: string;
	/** The JSON log lines seen on standard error so far. */
	logs(): Array<Record<string, unknown>>;
	/** Resolves with the exit code (or signal name). */
	readonly exited: Promise<number | string>;
	/** The URL from the "listening" log line. */
	url(): Promise<string>;
};

/**
A queen's arguments with a store of the test's own: a `--data-dir` made for it (removed when the test
ends) unless the arguments choose one, so that no test writes to the user's data directory.
*/
export function withOwnStore(t: TestContext | undefined, args: readonly string[]): string[] {
	if (!args.includes('--queen') || args.includes('--data-dir') || args.includes('--store')) {
		return [...args];
	}

	return [...args, '--data-dir', temporaryDirectory(t)];
}

/** A new empty directory, removed when the test ends. */
export function temporaryDirectory(t: TestContext | undefined, prefix = 'hive-test-'): string {
	const dir = mkdtempSync(path.join(tmpdir(), prefix));
	t?.after(() => {
		rmSync(dir, {recursive: true, force: true});
	});
	return dir;
}

/**
Spawns the real binary (as another user with `as`, when the test runs as root; under `wrapper`, a
command that execs it, such as `ip netns exec NAME`); kills it when the test ends if it is still running.
*/
export function spawnLarve(t: TestContext | undefined, args: readonly string[], env: NodeJS.ProcessEnv = {}, as: {readonly uid: number; readonly gid: number} | undefined = undefined, wrapper: readonly string[] = []): Spawned {
	const [command, ...commandArgs] = [...wrapper, process.execPath, cliPath, ...withOwnStore(t, args)];
	const child = spawn(command!, commandArgs, {env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe'], ...as});
	const spawned: Spawned = {
		child,
		stdout: '',
		stderr: '',
		logs() {
			return this.stderr.split('\n').filter(line => line.startsWith('{')).map(line => JSON.parse(line) as Record<string, unknown>);
		},
		exited: new Promise(resolve => {
			child.on('exit', (code, signal) => {
				resolve(code ?? signal ?? -1);
			});
		}),
		async url() {
			const what = `hive-larve ${args.join(' ')}`;
			const tail = () => this.stderr.trim().split('\n').slice(-3).join(' | ');
			let line: Record<string, unknown>;
			try {
				line = await waitFor(() => {
					const found = this.logs().find(entry => typeof entry.url === 'string' && String(entry.msg).includes('listening'));
					if (!found && (child.exitCode !== null || child.signalCode !== null)) {
						throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before it listened; its stderr ends: ${tail()}`);
					}

					return found;
				}, `the listening line of ${what}`, 10_000, {rethrow: true});
			} catch (error: unknown) {
				// What it had said by then, not when the wait began.
				throw new Error(`${error instanceof Error ? error.message : String(error)} (stderr by then: ${tail() || 'nothing'})`);
			}

			return line.url as string;
		},
	};
	child.stdout.on('data', (chunk: Buffer) => {
		spawned.stdout += chunk.toString();
	});
	child.stderr.on('data', (chunk: Buffer) => {
		spawned.stderr += chunk.toString();
	});
	t?.after(async () => {
		if (child.exitCode === null && child.signalCode === null) {
			child.kill('SIGKILL');
			await spawned.exited;
		}
	});
	return spawned;
}
