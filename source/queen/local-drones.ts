import {spawn, type ChildProcess} from 'node:child_process';
import {once} from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import {newToken} from '../http/auth.js';
import type {Logger} from '../log.js';
import {defaultDataDir, type LogLevel} from '../options.js';
import type {Runtime} from '../model.js';

/**
What the queen's own drone flags say of its local drones: `npm start -- --allow-exec` makes a local hive
that runs commands. Each drone gets them all (they share the machine: `--slots` is per drone).
*/
export type LocalDroneSpec = {
	/** `--allow-exec`. @default false */
	readonly allowExec?: boolean;
	readonly runtime?: Runtime | undefined;
	/** `--slots`. @default the drone's own (the CPU count) */
	readonly slots?: number;
	/** `--label KEY=VALUE`, each. @default none */
	readonly labels?: Readonly<Record<string, string>>;
	/** `--task-timeout`, in ms; 0: never. @default 0 */
	readonly taskTimeoutMs?: number;
};

export type LocalDronesOptions = {
	readonly count: number;
	/** `host:port` of the queen they register with. */
	readonly queenAddress: string;
	/** The `hive-larve` entry point to run (the same binary as the queen). */
	readonly cliPath: string;
	readonly logLevel: LogLevel;
	/** How each drone runs tasks (the queen's `--allow-exec`, `--slots`, `--label`, `--task-timeout`). */
	readonly drone?: LocalDroneSpec;
	/** The hive's token, handed over in the environment (not argv, which `ps` shows). */
	readonly token?: string | undefined;
	/**
	Where their output goes. `inherit`: the queen's own stdout and stderr. `{logFile}` (the dashboard owns
	the screen): logs appended to the log file, and each drone's stdout — what its tasks print — to
	`<logFile>.<n>.out` next to it.
	*/
	readonly output: 'inherit' | {readonly logFile: string};
	/** How long a drone may take to leave after SIGTERM before it is killed. @default 5000 */
	readonly stopGraceMs?: number;
};

export type LocalDrones = {
	readonly pids: readonly number[];
	/** Where each drone's stdout goes, when it is a file. */
	readonly outputFiles: readonly string[];
	/** SIGTERM (they leave the queen), then SIGKILL for any still there after the grace period. */
	stop(): Promise<void>;
};

/**
Starts `count` drones on this machine as child processes of the same binary: the one-command local hive.
Each has an IPC channel to the queen's process, so a drone whose queen dies without stopping it exits too.
*/
export function startLocalDrones(options: LocalDronesOptions, log: Logger): LocalDrones {
	const children: ChildProcess[] = [];
	const outputFiles: string[] = [];
	const files: number[] = [];
	for (let index = 0; index < options.count; index++) {
		let stdio: Array<'inherit' | 'ignore' | 'ipc' | number>;
		if (options.output === 'inherit') {
			stdio = ['ignore', 'inherit', 'inherit', 'ipc'];
		} else {
			fs.mkdirSync(path.dirname(path.resolve(options.output.logFile)), {recursive: true});
			const outputFile = `${options.output.logFile}.${index}.out`;
			const out = fs.openSync(outputFile, 'a');
			const err = fs.openSync(options.output.logFile, 'a');
			files.push(out, err);
			outputFiles.push(outputFile);
			stdio = ['ignore', out, err, 'ipc'];
		}

		// Named for their place (`local-0`...): a queen restarted on its store finds the same drones again.
		const args = [options.cliPath, '--queen-host', options.queenAddress, '--port', '0', '--name', `local-${index}`, '--log-level', options.logLevel, ...droneFlags(options.drone ?? {})];
		if (options.drone?.runtime !== undefined) {
			// Its containers' directory, its own and not another local hive's `local-0` (queens on two ports).
			const queenPort = options.queenAddress.slice(options.queenAddress.lastIndexOf(':') + 1);
			args.push('--data-dir', defaultDataDir(0, 'drone', `local-${index}-of-${queenPort}`));
		}

		const child = spawn(process.execPath, args, {stdio, env: options.token === undefined ? process.env : {...process.env, HIVE_TOKEN: options.token}});
		child.on('error', error => {
			log.error({err: error}, 'could not start a local drone');
		});
		child.on('exit', (code, signal) => {
			log.info({pid: child.pid, code, signal}, 'local drone exited');
		});
		children.push(child);
	}

	// The children hold their own copies of the descriptors.
	for (const fd of files) {
		fs.closeSync(fd);
	}

	const pids = children.map(child => child.pid).filter((pid): pid is number => pid !== undefined);
	log.info({pids, outputFiles}, `started ${options.count} local drone(s)`);
	return {
		pids,
		outputFiles,
		async stop() {
			const running = children.filter(child => child.exitCode === null && child.signalCode === null);
			await Promise.all(running.map(async child => {
				const exited = once(child, 'exit');
				child.kill('SIGTERM');
				const timer = setTimeout(() => child.kill('SIGKILL'), options.stopGraceMs ?? 5000);
				await exited;
				clearTimeout(timer);
			}));
			log.info({pids}, 'local drones stopped');
		},
	};
}

/** The command-line flags of a local drone that say how it runs tasks. */
export function droneFlags(spec: LocalDroneSpec): string[] {
	const flags: string[] = [];
	if (spec.allowExec) {
		flags.push('--allow-exec');
	}

	if (spec.runtime !== undefined) {
		flags.push('--runtime', spec.runtime);
	}

	if (spec.slots !== undefined) {
		flags.push('--slots', String(spec.slots));
	}

	for (const [key, value] of Object.entries(spec.labels ?? {})) {
		flags.push('--label', `${key}=${value}`);
	}

	if (spec.taskTimeoutMs) {
		flags.push('--task-timeout', String(spec.taskTimeoutMs / 1000));
	}

	return flags;
}

/**
The token of a one-command local hive (`--local-drones` and no `--token`), made once and kept in the
queen's data directory (`token`, mode 0600): the hive started again on its store keeps it, so a second
dashboard, curl or a `--token-file` given it go on working. Without a directory (`--store memory`, etcd),
a new one each start.
*/
export function localHiveToken(dataDir: string | undefined): string {
	if (dataDir === undefined) {
		return newToken();
	}

	const file = path.join(dataDir, 'token');
	try {
		const kept = fs.readFileSync(file, 'utf8').split('\n')[0]!.trim();
		if (kept !== '') {
			return kept;
		}
	} catch (error: unknown) {
		if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
			throw error;
		}
	}

	const token = newToken();
	fs.mkdirSync(dataDir, {recursive: true, mode: 0o700});
	fs.writeFileSync(file, `${token}\n`, {mode: 0o600});
	return token;
}
