import {spawn, type ChildProcess} from 'node:child_process';
import {cliPath} from './binary.js';

/** How `hive-larve COMMAND ...` ended: its status (or signal) and all it printed. */
export type Run = {readonly status: number | string; readonly stdout: string; readonly stderr: string};

/** A running `hive-larve COMMAND ...`: what it printed so far, and its end. */
export type Running = {readonly child: ChildProcess; stdout: string; stderr: string; readonly done: Promise<Run>};

/** Environment of the client: nothing of the test runner's own HIVE_ variables. */
export function clientEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
	const env = {...process.env};
	delete env.HIVE_QUEEN;
	delete env.HIVE_TOKEN;
	delete env.COLUMNS;
	return {...env, ...extra};
}

/** The built client as a shell runs it: its arguments as given, in `clientEnv(env)`. */
export function startCtl(args: readonly string[], env: NodeJS.ProcessEnv): Running {
	const child = spawn(process.execPath, [cliPath, ...args], {env: clientEnv(env), stdio: ['ignore', 'pipe', 'pipe']});
	const running: Running = {
		child,
		stdout: '',
		stderr: '',
		// 'close', not 'exit': all it printed has been read.
		done: new Promise(resolve => {
			child.on('close', (code, signal) => {
				resolve({status: code ?? signal ?? -1, stdout: running.stdout, stderr: running.stderr});
			});
		}),
	};
	child.stdout.on('data', (chunk: Buffer) => {
		running.stdout += chunk.toString();
	});
	child.stderr.on('data', (chunk: Buffer) => {
		running.stderr += chunk.toString();
	});
	return running;
}
