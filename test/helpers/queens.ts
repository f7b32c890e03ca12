import type {TestContext} from 'node:test';
import {spawnLarve, type Spawned} from './binary.js';
import {stablePort} from './ports.js';
import {waitFor} from './wait.js';

export type Queen = {
	readonly port: number;
	/** `127.0.0.1:PORT`, the same across restarts. */
	readonly address: string;
	readonly url: string;
	/** The running process (a new one after `restart`). */
	process: Spawned | undefined;
	/** Every process it has been, first to last. */
	readonly processes: Spawned[];
	/** SIGKILL, and waits for the exit. */
	kill(): Promise<void>;
	/** Starts it again on its port. */
	restart(): Promise<void>;
};

export type Queens = {
	readonly queens: readonly Queen[];
	/** `--queen-host` for drones: every queen, comma separated. */
	readonly hosts: string;
	/** Waits until exactly one running queen says it leads and every other running queen names it; returns its index. */
	leader(timeoutMs?: number): Promise<number>;
};

export type Health = {role?: string; leader?: string | null; epoch?: number | null; status?: string};

export type Answer = {readonly status: number; readonly body: any};

/** One HTTP call from the test's side with a time limit (a queen may be paused or killed under it); undefined when no answer came. */
export async function call(url: string, init: {readonly method?: string; readonly body?: unknown; readonly headers?: Record<string, string>; readonly timeoutMs?: number} = {}): Promise<Answer | undefined> {
	try {
		const response = await fetch(url, {
			method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
			headers: {...(init.body === undefined ? {} : {'content-type': 'application/json'}), ...init.headers},
			body: init.body === undefined ? undefined : JSON.stringify(init.body),
			signal: AbortSignal.timeout(init.timeoutMs ?? 2000),
		});
		const text = await response.text();
		let body: unknown = text;
		try {
			body = JSON.parse(text);
		} catch {}

		return {status: response.status, body};
	} catch {
		return undefined;
	}
}

export async function health(queen: Queen): Promise<Health | undefined> {
	const answer = await call(`${queen.url}/healthz`, {timeoutMs: 1000});
	return answer?.status === 200 ? answer.body as Health : undefined;
}

/** Starts `count` queens of the real binary on one etcd (`storeFlag`), each on a fixed port of its own. */
export async function startQueens(t: TestContext, count: number, storeFlag: string, extra: readonly string[] = []): Promise<Queens> {
	const ports = await Promise.all(Array.from({length: count}, async () => stablePort()));
	const queens = ports.map((port): Queen => {
		const address = `127.0.0.1:${port}`;
		const queen: Queen = {
			port,
			address,
			url: `http://${address}`,
			process: undefined,
			processes: [],
			async kill() {
				const running = queen.process;
				if (running && running.child.exitCode === null && running.child.signalCode === null) {
					running.child.kill('SIGKILL');
					await running.exited;
				}
			},
			async restart() {
				queen.process = spawnLarve(t, ['--queen', '--port', String(port), '--advertise', address, '--store', storeFlag, ...extra]);
				queen.processes.push(queen.process);
				await queen.process.url();
			},
		};
		return queen;
	});
	await Promise.all(queens.map(async queen => queen.restart()));
	return {
		queens,
		hosts: queens.map(queen => queen.address).join(','),
		async leader(timeoutMs = 15_000) {
			return waitFor(async () => {
				const running = queens.filter(queen => queen.process?.child.exitCode === null && queen.process.child.signalCode === null);
				const seen = await Promise.all(running.map(async queen => health(queen)));
				const leaders = running.filter((_, index) => seen[index]?.role === 'leader' && seen[index]?.status === 'Status.READY');
				if (leaders.length !== 1 || !seen.every(each => each?.leader === leaders[0]!.address)) {
					return undefined;
				}

				return queens.indexOf(leaders[0]!) + 1;
			}, 'one queen to lead and the others to name it', timeoutMs, {pollMs: 50}).then(index => index - 1);
		},
	};
}
