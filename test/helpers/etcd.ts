import {spawn, spawnSync, type ChildProcess, type SpawnOptions} from 'node:child_process';
import {mkdtempSync, openSync, closeSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {waitFor} from './wait.js';
import {stablePort} from './ports.js';

/** Why etcd cannot run here (no `etcd` binary: `.ci/run` installs Debian's etcd-server), or undefined. */
export function etcdMissing(): string | undefined {
	const probe = spawnSync('etcd', ['--version'], {encoding: 'utf8'});
	return probe.status === 0 ? undefined : 'etcd is not installed (apt-get install etcd-server; .ci/run does it)';
}

/**
Where a member runs, when not on this namespace's loopback: a host of `makeHosts` (netns.ts gives one
with `hosts.etcdPlace(host)`), so that queens in network namespaces share an etcd of their own.
*/
export type EtcdPlace = {
	/** The address the member binds and advertises. */
	readonly host: string;
	/** Starts the member there. */
	spawn(command: string, args: readonly string[], options: SpawnOptions): ChildProcess;
	/** GETs `url` (a member's /health) from somewhere that reaches it, and answers the JSON body. */
	get(url: string): Promise<unknown>;
};

const loopback: EtcdPlace = {
	host: '127.0.0.1',
	spawn: (command, args, options) => spawn(command, args, options),
	async get(url) {
		const response = await fetch(url, {signal: AbortSignal.timeout(1000)});
		return response.json();
	},
};

export type EtcdCluster = {
	/** `http://HOST:PORT` of each member. */
	readonly endpoints: readonly string[];
	/** `--store` for a queen: `etcd://HOST1:P1,HOST2:P2`. */
	readonly storeFlag: string;
	/** Kills member `index` with SIGKILL (its data stays). */
	kill(index: number): Promise<void>;
	/** Stops member `index` with SIGSTOP (a member that hangs: connections open, no answers). */
	pause(index: number): void;
	/** SIGCONT for a paused member. */
	resume(index: number): void;
	/** Starts member `index` again on its data and ports; resolves when it is healthy. */
	restart(index: number): Promise<void>;
	/** Whether member `index` runs. */
	running(index: number): boolean;
	/** Stops every member and removes the data. */
	stop(): Promise<void>;
};

/**
Starts an etcd cluster of `members` on free loopback ports (or one member in each of `places`), each
with a temporary data directory, and waits until every member says it is healthy. Stop it with
`stop()` (a test's `after`).
*/
export async function startEtcd(options: {readonly members?: number; readonly places?: readonly EtcdPlace[]} = {}): Promise<EtcdCluster> {
	const count = options.places?.length ?? options.members ?? 1;
	const place = (index: number): EtcdPlace => options.places?.[index] ?? loopback;
	const dir = mkdtempSync(path.join(tmpdir(), 'hive-etcd-'));
	const members = await Promise.all(Array.from({length: count}, async (_, index) => ({name: `m${index}`, client: await stablePort(), peer: await stablePort(), index})));
	const initialCluster = members.map(member => `${member.name}=http://${place(member.index).host}:${member.peer}`).join(',');
	const processes: Array<ChildProcess | undefined> = members.map(() => undefined);
	const endpoints = members.map(member => `http://${place(member.index).host}:${member.client}`);

	function launch(index: number, state: 'new' | 'existing'): void {
		const member = members[index]!;
		const log = openSync(path.join(dir, `${member.name}.log`), 'a');
		const child = place(index).spawn('etcd', [
			'--name', member.name,
			'--data-dir', path.join(dir, member.name),
			'--listen-client-urls', endpoints[index]!,
			'--advertise-client-urls', endpoints[index]!,
			'--listen-peer-urls', `http://${place(index).host}:${member.peer}`,
			'--initial-advertise-peer-urls', `http://${place(index).host}:${member.peer}`,
			'--initial-cluster', initialCluster,
			'--initial-cluster-state', state,
			'--initial-cluster-token', path.basename(dir),
			'--logger', 'zap',
			'--log-level', 'warn',
		], {stdio: ['ignore', log, log]});
		closeSync(log);
		processes[index] = child;
		child.once('exit', () => {
			if (processes[index] === child) {
				processes[index] = undefined;
			}
		});
	}

	async function healthy(index: number): Promise<void> {
		await waitFor(async () => {
			try {
				const body = await place(index).get(`${endpoints[index]!}/health`) as {health?: string};
				return body.health === 'true';
			} catch {
				return false;
			}
		}, `etcd member ${index} to be healthy (its log: ${dir}/m${index}.log)`, 20_000, {pollMs: 50});
	}

	async function kill(index: number): Promise<void> {
		const child = processes[index];
		if (!child) {
			return;
		}

		const exited = new Promise(resolve => child.once('exit', resolve));
		child.kill('SIGKILL');
		await exited;
	}

	for (const member of members) {
		launch(member.index, 'new');
	}

	try {
		await Promise.all(members.map(async member => healthy(member.index)));
	} catch (error: unknown) {
		await Promise.all(members.map(async member => kill(member.index)));
		throw error;
	}

	return {
		endpoints,
		storeFlag: `etcd://${endpoints.map(endpoint => endpoint.replace('http://', '')).join(',')}`,
		kill,
		async restart(index) {
			if (!processes[index]) {
				launch(index, 'existing');
			}

			await healthy(index);
		},
		running: index => processes[index] !== undefined,
		pause(index) {
			processes[index]?.kill('SIGSTOP');
		},
		resume(index) {
			processes[index]?.kill('SIGCONT');
		},
		async stop() {
			await Promise.all(members.map(async member => kill(member.index)));
			rmSync(dir, {recursive: true, force: true});
		},
	};
}
