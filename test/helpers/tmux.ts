import {execFileSync} from 'node:child_process';
import {randomUUID} from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type {TestContext} from 'node:test';
import {cliPath, withOwnStore} from './binary.js';
import {waitFor} from './wait.js';

export const hasTmux = (() => {
	try {
		execFileSync('tmux', ['-V'], {stdio: 'ignore'});
		return true;
	} catch {
		return false;
	}
})();

export type Terminal = {
	readonly dir: string;
	readonly logFile: string;
	/** What the larve wrote on standard error (kept in a file: the pane closes when the larve exits). */
	stderr(): string;
	/** What the terminal shows now. */
	screen(): string;
	/** The same, with the escape sequences of its colours and attributes (`capture-pane -e`). */
	screenWithColours(): string;
	/** The same, rows the terminal wrapped joined again (`capture-pane -J`): a row wider than the terminal shows as one. */
	screenJoined(): string;
	/** Waits until the screen shows `text` (or matches it), returns the screen. */
	waitForScreen(text: string | RegExp, timeoutMs?: number): Promise<string>;
	/** Types text as it is (no key names). */
	type(text: string): void;
	/** Presses keys by tmux name: Enter, Tab, Escape, C-c... */
	press(...keys: string[]): void;
	/** Pastes text as a terminal does (`paste-buffer -p`: bracketed when the program asked for it). */
	paste(text: string): void;
	/** The log file's JSON lines. */
	logs(): Array<Record<string, unknown>>;
	/** The queen's URL, from its listening line in the log file. */
	queenUrl(): Promise<string>;
	/** Resolves with the exit status of the larve, once it has exited. */
	exited(timeoutMs?: number): Promise<number>;
};

/** Runs `hive-larve args` in a real terminal (a detached tmux session of the given size), killed when the test ends. */
export function runInTerminal(t: TestContext, args: readonly string[], size = {width: 120, height: 40}): Terminal {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hive-tui-'));
	const logFile = path.join(dir, 'hive.log');
	const exitFile = path.join(dir, 'exit-status');
	const stderrFile = path.join(dir, 'stderr');
	const session = `hive-test-${randomUUID().slice(0, 8)}`;
	const quote = (value: string) => `'${value.replaceAll('\'', '\'\\\'\'')}'`;
	// CI=true as on a CI machine, where Ink would draw nothing until exit if the dashboard let it see that.
	const command = `CI=true ${[process.execPath, cliPath, ...withOwnStore(t, args), '--log-file', logFile].map(quote).join(' ')} 2> ${quote(stderrFile)}; echo $? > ${quote(exitFile)}`;
	execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', String(size.width), '-y', String(size.height), 'sh', '-c', command]);
	t.after(() => {
		try {
			execFileSync('tmux', ['kill-session', '-t', session], {stdio: 'ignore'});
		} catch {}

		fs.rmSync(dir, {recursive: true, force: true});
	});
	const terminal: Terminal = {
		dir,
		logFile,
		stderr() {
			return fs.existsSync(stderrFile) ? fs.readFileSync(stderrFile, 'utf8') : '';
		},
		screen() {
			try {
				return execFileSync('tmux', ['capture-pane', '-p', '-t', session], {encoding: 'utf8'});
			} catch {
				return '';
			}
		},
		screenJoined() {
			try {
				return execFileSync('tmux', ['capture-pane', '-p', '-J', '-t', session], {encoding: 'utf8'}).split('\n').map(line => line.trimEnd()).join('\n');
			} catch {
				return '';
			}
		},
		screenWithColours() {
			try {
				return execFileSync('tmux', ['capture-pane', '-p', '-e', '-t', session], {encoding: 'utf8'});
			} catch {
				return '';
			}
		},
		async waitForScreen(text, timeoutMs = 30_000) {
			let last = '';
			try {
				return await waitFor(() => {
					last = terminal.screen();
					return (typeof text === 'string' ? last.includes(text) : text.test(last)) ? last : undefined;
				}, `the screen to show ${String(text)}`, timeoutMs);
			} catch (error: unknown) {
				throw new Error(`${(error as Error).message}; the screen:\n${last}`);
			}
		},
		type(text) {
			execFileSync('tmux', ['send-keys', '-t', session, '-l', text]);
		},
		press(...keys) {
			for (const key of keys) {
				execFileSync('tmux', ['send-keys', '-t', session, key]);
			}
		},
		paste(text) {
			execFileSync('tmux', ['set-buffer', '-b', session, text]);
			execFileSync('tmux', ['paste-buffer', '-p', '-d', '-b', session, '-t', session]);
		},
		logs() {
			const text = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
			return text.split('\n').filter(line => line.startsWith('{')).map(line => JSON.parse(line) as Record<string, unknown>);
		},
		async queenUrl() {
			const line = await waitFor(() => terminal.logs().find(entry => entry.mode === 'queen' && typeof entry.url === 'string'), `the queen's listening line in ${logFile}`);
			return line.url as string;
		},
		async exited(timeoutMs = 15_000) {
			const status = await waitFor(() => fs.existsSync(exitFile) && fs.readFileSync(exitFile, 'utf8').trim(), 'the larve to exit', timeoutMs);
			return Number(status);
		},
	};
	return terminal;
}

/** Whether a process is still there. */
export function isRunning(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
}
