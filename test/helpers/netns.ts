import {execFile, spawn, spawnSync, type ChildProcess, type SpawnOptions} from 'node:child_process';
import {randomBytes, randomInt} from 'node:crypto';
import {readdirSync, readlinkSync, statSync} from 'node:fs';
import type {TestContext} from 'node:test';
import {promisify} from 'node:util';
import {spawnLarve, type Spawned} from './binary.js';
import type {EtcdPlace} from './etcd.js';

const execFileAsync = promisify(execFile);

/** Every namespace this module makes is named `hive-<pid>-<run>-<host>`: the pid tells a leftover of a dead run from a live one. */
const prefix = 'hive-';

/**
A host's name becomes part of a namespace's name and of an interface's name in the switch (`v-<host>`,
at most 15 characters): short, lowercase letters and digits.
*/
const hostName = /^[a-z][a-z\d]{0,11}$/;

/** What a command run inside a host answered. */
export type Executed = {readonly status: number; readonly stdout: string; readonly stderr: string};

/** What an HTTP request sent from inside a host answered (as `request` in larves.ts). */
export type NetnsAnswer = {readonly status: number; readonly body: any};

/**
Machines of a test, each a network namespace with its own address on one private /24, joined by a
bridge in a namespace of its own (the switch). The namespaces have no default route and the root
namespace has no address and no link on that network: traffic goes only between them.
*/
export type Hosts = {
	/** The hosts' names, as given. */
	readonly names: readonly string[];
	/** The network, `10.A.B.0/24` (A and B random per run). */
	readonly network: string;
	/** The host's address on the network (no port). */
	address(host: string): string;
	/** The network namespace's name, for `ip netns exec` or `ip -n`. */
	namespace(host: string): string;
	/** The words to put before a command to run it inside the host: `ip netns exec NAME`. */
	prefix(host: string): readonly string[];
	/** Runs `argv` inside the host to its end; never throws on a non-zero status (the caller asserts). */
	exec(host: string, argv: readonly string[]): Promise<Executed>;
	/** Starts `argv` inside the host. `ip netns exec` execs the command, so the child's pid is the command's. */
	spawn(host: string, argv: readonly string[], options?: SpawnOptions): ChildProcess;
	/** The real `hive-larve` binary inside the host (`spawnLarve` of binary.ts: killed when the test ends). */
	larve(t: TestContext | undefined, host: string, args: readonly string[], env?: NodeJS.ProcessEnv): Spawned;
	/** An HTTP request from inside the host (a node process run there): the root namespace sends nothing. */
	request(host: string, url: string, init?: {readonly method?: string; readonly body?: unknown; readonly timeoutMs?: number}): Promise<NetnsAnswer>;
	/** Where an etcd member runs in the host, for `startEtcd({places})` (etcd.ts); its health is asked from `from` (default: the host itself). */
	etcdPlace(host: string, from?: string): EtcdPlace;
	/** Takes the host's cable out of the switch (its port on the bridge goes down): a partition. */
	cut(host: string): Promise<void>;
	/** Puts the cable back. */
	mend(host: string): Promise<void>;
	/** The pids of the processes inside any of these namespaces (the switch's too), read from /proc. */
	processesInside(): number[];
	/** Deletes every namespace (and with it every link) it made. Safe to call twice. */
	remove(): Promise<void>;
};

/** Why this machine cannot make network namespaces (not root, no `ip`, `ip netns add` refused), or undefined. */
export function netnsMissing(): string | undefined {
	if (process.platform !== 'linux') {
		return `network namespaces are a Linux thing (this is ${process.platform})`;
	}

	if (process.getuid?.() !== 0) {
		return 'making network namespaces needs root';
	}

	const version = spawnSync('ip', ['-V'], {encoding: 'utf8'});
	if (version.error ?? version.status !== 0) {
		return 'no `ip` command (apt-get install iproute2)';
	}

	const probe = `${prefix}${process.pid}-probe`;
	const added = spawnSync('ip', ['netns', 'add', probe], {encoding: 'utf8'});
	if (added.status !== 0) {
		return `\`ip netns add\` fails here: ${added.stderr.trim() || `status ${added.status}`}`;
	}

	try {
		const bridge = spawnSync('ip', ['-n', probe, 'link', 'add', 'br0', 'type', 'bridge'], {encoding: 'utf8'});
		if (bridge.status !== 0) {
			return `no Linux bridge in a network namespace here: ${bridge.stderr.trim()}`;
		}

		const veth = spawnSync('ip', ['-n', probe, 'link', 'add', 'a0', 'type', 'veth', 'peer', 'name', 'b0'], {encoding: 'utf8'});
		if (veth.status !== 0) {
			return `no veth pair in a network namespace here: ${veth.stderr.trim()}`;
		}
	} finally {
		spawnSync('ip', ['netns', 'delete', probe]);
	}

	return undefined;
}

async function ip(...args: string[]): Promise<string> {
	try {
		const {stdout} = await execFileAsync('ip', args, {encoding: 'utf8'});
		return stdout;
	} catch (error: unknown) {
		const stderr = (error as {stderr?: string}).stderr?.trim();
		throw new Error(`ip ${args.join(' ')} failed: ${stderr ?? (error instanceof Error ? error.message : String(error))}`);
	}
}

/** The namespaces of this module on the machine now (of every run, `own`: of this process only). */
export function namespacesMade(own = false): string[] {
	const listed = spawnSync('ip', ['netns', 'list'], {encoding: 'utf8'});
	const start = own ? `${prefix}${process.pid}-` : prefix;
	return listed.stdout.split('\n').map(line => line.split(' ')[0]!).filter(name => name.startsWith(start));
}

function alive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (error: unknown) {
		return (error as NodeJS.ErrnoException).code === 'EPERM';
	}
}

/** Deletes the namespaces a killed run left (its pid is gone): a SIGKILL gives no process a chance to clean up. */
function sweepLeftovers(): void {
	for (const name of namespacesMade()) {
		const pid = Number(/^hive-(\d+)-/.exec(name)?.[1]);
		if (Number.isInteger(pid) && pid !== process.pid && !alive(pid)) {
			spawnSync('ip', ['netns', 'delete', name]);
		}
	}
}

/** The sets of namespaces not yet removed, deleted at exit if a test did not get to it. */
const live = new Set<readonly string[]>();
let exitHookSet = false;

function removeAtExit(namespaces: readonly string[]): void {
	live.add(namespaces);
	if (!exitHookSet) {
		exitHookSet = true;
		process.once('exit', () => {
			for (const each of live) {
				for (const name of each) {
					spawnSync('ip', ['netns', 'delete', name]);
				}
			}
		});
	}
}

/** The script a host runs to make one HTTP request: answers `{status, text}` on stdout, or fails. */
const requestScript = `
const [url, method, body, timeoutMs] = process.argv.slice(1);
const response = await fetch(url, {method, headers: body ? {'content-type': 'application/json'} : {}, body: body || undefined, signal: AbortSignal.timeout(Number(timeoutMs))});
process.stdout.write(JSON.stringify({status: response.status, text: await response.text()}));
`;

/**
Makes one network namespace per host, a switch namespace with a bridge, a veth pair from each host's
`eth0` to the bridge, and an address `10.A.B.N/24` on each (N from 2, in the order of `names`).
With `t`, removes them when the test ends; in any case when the process exits. If building fails
half way, what was built is removed before the error is thrown.
*/
export async function makeHosts(names: readonly string[], t?: TestContext): Promise<Hosts> {
	for (const name of names) {
		if (!hostName.test(name) || name === 'switch') {
			throw new TypeError(`a host's name must be 1-12 lowercase letters or digits, starting with a letter, not "switch": ${JSON.stringify(name)}`);
		}
	}

	if (new Set(names).size !== names.length || names.length === 0 || names.length > 250) {
		throw new TypeError(`host names must be 1 to 250 distinct names: ${names.join(',')}`);
	}

	sweepLeftovers();
	const run = `${prefix}${process.pid}-${randomBytes(3).toString('hex')}`;
	const subnet = `10.${randomInt(256)}.${randomInt(256)}`;
	const switchNamespace = `${run}-switch`;
	const namespaces = new Map(names.map(name => [name, `${run}-${name}`]));
	const addresses = new Map(names.map((name, index) => [name, `${subnet}.${index + 2}`]));
	const made: string[] = [];
	removeAtExit(made);
	const inodes = new Set<number>();

	const known = <T>(map: ReadonlyMap<string, T>, host: string): T => {
		const value = map.get(host);
		if (value === undefined) {
			throw new TypeError(`no host ${JSON.stringify(host)} (the hosts: ${names.join(', ')})`);
		}

		return value;
	};

	/** The host's port on the bridge, in the switch's namespace. */
	const switchPort = (host: string): string => `v-${known(namespaces, host) && host}`;

	async function addNamespace(name: string): Promise<void> {
		await ip('netns', 'add', name);
		made.push(name);
		inodes.add(statSync(`/run/netns/${name}`).ino);
		await ip('-n', name, 'link', 'set', 'dev', 'lo', 'up');
	}

	let removed = false;
	async function remove(): Promise<void> {
		if (removed) {
			return;
		}

		removed = true;
		const failures: string[] = [];
		for (const name of [...made].reverse()) {
			try {
				// eslint-disable-next-line no-await-in-loop -- one at a time: a failure names its namespace
				await ip('netns', 'delete', name);
			} catch (error: unknown) {
				failures.push(error instanceof Error ? error.message : String(error));
			}
		}

		live.delete(made);
		if (failures.length > 0) {
			throw new Error(failures.join('; '));
		}
	}

	t?.after(remove);
	try {
		await addNamespace(switchNamespace);
		await ip('-n', switchNamespace, 'link', 'add', 'br0', 'type', 'bridge');
		await ip('-n', switchNamespace, 'link', 'set', 'dev', 'br0', 'up');
		for (const name of names) {
			const namespace = namespaces.get(name)!;
			const port = switchPort(name);
			/* eslint-disable no-await-in-loop -- one host after another: `ip` is quick, and an error names its step */
			await addNamespace(namespace);
			// Both ends are made in their namespaces: no link of this network exists in the root namespace, even for a moment.
			await ip('-n', namespace, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', port, 'netns', switchNamespace);
			await ip('-n', switchNamespace, 'link', 'set', 'dev', port, 'master', 'br0');
			await ip('-n', switchNamespace, 'link', 'set', 'dev', port, 'up');
			await ip('-n', namespace, 'address', 'add', `${addresses.get(name)!}/24`, 'dev', 'eth0');
			await ip('-n', namespace, 'link', 'set', 'dev', 'eth0', 'up');
			/* eslint-enable no-await-in-loop */
		}
	} catch (error: unknown) {
		await remove().catch(() => undefined);
		throw error;
	}

	const hosts: Hosts = {
		names,
		network: `${subnet}.0/24`,
		address: host => known(addresses, host),
		namespace: host => known(namespaces, host),
		prefix: host => ['ip', 'netns', 'exec', known(namespaces, host)],
		async exec(host, argv) {
			const [command, ...rest] = [...hosts.prefix(host), ...argv];
			return new Promise((resolve, reject) => {
				execFile(command!, rest, {encoding: 'utf8'}, (error, stdout, stderr) => {
					const status = error ? (error as {code?: unknown}).code : 0;
					if (typeof status === 'number') {
						resolve({status, stdout, stderr});
					} else {
						reject(error ?? new Error(`${argv.join(' ')} did not run`));
					}
				});
			});
		},
		spawn(host, argv, options = {}) {
			const [command, ...rest] = [...hosts.prefix(host), ...argv];
			return spawn(command!, rest, options);
		},
		larve: (t, host, args, env = {}) => spawnLarve(t, args, env, undefined, hosts.prefix(host)),
		async request(host, url, init = {}) {
			const body = init.body === undefined ? '' : JSON.stringify(init.body);
			const method = init.method ?? (body ? 'POST' : 'GET');
			const answer = await hosts.exec(host, [process.execPath, '--input-type=module', '-e', requestScript, url, method, body, String(init.timeoutMs ?? 5000)]);
			if (answer.status !== 0) {
				throw new Error(`${method} ${url} from ${host}: ${answer.stderr.trim().split('\n').findLast(line => line.includes('Error')) ?? answer.stderr.trim()}`);
			}

			const {status, text} = JSON.parse(answer.stdout) as {status: number; text: string};
			let parsed: unknown = text;
			try {
				parsed = JSON.parse(text);
			} catch {}

			return {status, body: parsed};
		},
		etcdPlace: (host, from = host) => ({
			host: hosts.address(host),
			spawn: (command, args, options) => hosts.spawn(host, [command, ...args], options),
			get: async url => (await hosts.request(from, url, {timeoutMs: 1000})).body as unknown,
		}),
		async cut(host) {
			await ip('-n', switchNamespace, 'link', 'set', 'dev', switchPort(host), 'down');
		},
		async mend(host) {
			await ip('-n', switchNamespace, 'link', 'set', 'dev', switchPort(host), 'up');
		},
		processesInside() {
			const inside: number[] = [];
			for (const entry of readdirSync('/proc')) {
				if (!/^\d+$/.test(entry)) {
					continue;
				}

				try {
					const link = readlinkSync(`/proc/${entry}/ns/net`);
					if (inodes.has(Number(/\[(\d+)]/.exec(link)?.[1]))) {
						inside.push(Number(entry));
					}
				} catch {
					// Gone while read.
				}
			}

			return inside;
		},
		remove,
	};
	return hosts;
}
