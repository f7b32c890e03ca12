import {spawn} from 'node:child_process';

/**
How a drone runs a command task: `/bin/sh -c`, contained where the machine allows it.

Contained, each command gets a pid namespace of its own (util-linux's `unshare --pid --fork
--kill-child --mount-proc`): its shell is pid 1 there and sees only its own processes, under a /proc of
its own, so it can neither signal nor read its drone (its `$PPID` is 0) nor the queen that started the
drone. When the shell exits, or the drone kills it, the kernel kills every process left in the
namespace, however it detached itself (`setsid`, a double fork); `setpriv --pdeathsig KILL` ties the
namespace to the drone, so that it also ends when the drone is killed with -9.

Run as root, the shell keeps root's files but loses the capabilities that reach past its namespace
(mounting — `umount /proc` would show the machine's — ptrace, raw memory, kernel modules, file
handles, raw sockets and network administration); not root, it runs in a user namespace of its own as the drone's user, with no capability.
*/
export type Sandbox = {
	readonly contained: boolean;
	/** Why commands are not contained (the probe's error), when they are not. */
	readonly reason: string | undefined;
	/** The program and arguments that run `command` through `/bin/sh -c`. */
	argv(command: string): {readonly file: string; readonly args: readonly string[]};
};

/** The capabilities a root command loses: those that reach processes or memory outside its namespace. */
// net_raw and net_admin: a root command could otherwise capture loopback, and the queen's token with it.
const rootDrops = ['sys_admin', 'sys_ptrace', 'sys_rawio', 'sys_module', 'dac_read_search', 'bpf', 'perfmon', 'sys_boot', 'net_raw', 'net_admin'];

const shell = (command: string): string[] => ['/bin/sh', '-c', command];

/** Commands run as they are, in a process group of their own: what a drone does where it cannot contain them. */
export const uncontained = (reason: string): Sandbox => ({
	contained: false,
	reason,
	argv: command => ({file: '/bin/sh', args: ['-c', command]}),
});

/** The contained way to run a command, for a drone running as `uid`. */
export function containedSandbox(uid: number): Sandbox {
	const namespace = ['unshare', ...(uid === 0 ? [] : ['--user', '--map-current-user']), '--pid', '--fork', '--kill-child', '--mount-proc', '--'];
	const inside = uid === 0 ? ['setpriv', `--bounding-set=${rootDrops.map(cap => `-${cap}`).join(',')}`, '--'] : [];
	return {
		contained: true,
		reason: undefined,
		argv: command => ({file: 'setpriv', args: ['--pdeathsig', 'KILL', '--', ...namespace, ...inside, ...shell(command)]}),
	};
}

/**
Tries the contained way once (a drone does so as it starts): a shell that finds itself pid 1 of its own
namespace. Resolves with the way commands will run, and why not contained when they cannot be.
*/
export async function probeSandbox(): Promise<Sandbox> {
	if (process.platform !== 'linux') {
		return uncontained(`pid namespaces need Linux, this is ${process.platform}`);
	}

	const sandbox = containedSandbox(process.getuid?.() ?? 0);
	const {file, args} = sandbox.argv('echo $$');
	const outcome = await new Promise<{ok: boolean; why: string}>(resolve => {
		const child = spawn(file, args, {stdio: ['ignore', 'pipe', 'pipe']});
		let stdout = '';
		let stderr = '';
		child.stdout.on('data', (chunk: Buffer) => {
			stdout += chunk.toString();
		});
		child.stderr.on('data', (chunk: Buffer) => {
			stderr += chunk.toString();
		});
		const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
		child.on('error', error => {
			clearTimeout(timer);
			resolve({ok: false, why: `${error.message} (util-linux's setpriv and unshare are needed)`});
		});
		child.on('close', (code, signal) => {
			clearTimeout(timer);
			const firstLine = stderr.trim().split('\n')[0] ?? '';
			resolve(code === 0 && stdout.trim() === '1'
				? {ok: true, why: ''}
				: {ok: false, why: firstLine === '' ? `the contained shell ended with ${signal ?? code} and printed ${JSON.stringify(stdout.trim())}, not its pid 1` : firstLine});
		});
	});
	return outcome.ok ? sandbox : uncontained(outcome.why);
}
