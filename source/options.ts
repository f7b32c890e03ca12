/**
The options of one larve, their defaults and their validation: the one place that knows them.
The CLI turns flags into a `LarveInput`; tests build one directly. `resolveOptions` fills defaults and
throws an `OptionError` naming the option and the bad value.
*/

import {readFileSync} from 'node:fs';
import {availableParallelism} from 'node:os';
import {getHeapStatistics} from 'node:v8';
import path from 'node:path';
import envPaths from 'env-paths';
import {runtimes, schedulerNames, type Runtime, type SchedulerName} from './model.js';
import {formatHostPort, isValidName, labelKeyPattern, maxLabelValueLength, nameRule, parseHostPort} from './names.js';

export {formatHostPort, isValidName, parseHostPort, type HostPort} from './names.js';

export type Mode = 'queen' | 'drone';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export const logLevels: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export type LarveOptions = {
	readonly mode: Mode;
	/** Address to bind. @default '127.0.0.1' */
	readonly host: string;
	/** Port to listen on; 0 picks a free one. @default 8080 */
	readonly port: number;
	/**
	Drone (and an attached dashboard): the queen to register with, `host:port`, or several queens of one
	hive, `a:8080,b:8080,c:8080` (the next is tried when one stops answering). Required for a drone.
	*/
	readonly queenHost: string | undefined;
	/** The address others should call: a drone's, for its queen; a queen's, for the other queens. @default the bound host:port */
	readonly advertise: string | undefined;
	/** Drone: a stable name. @default assigned by the queen */
	readonly name: string | undefined;
	/** Queen: how often each drone is checked (once an interval, at its own phase), in ms. @default 2000 */
	readonly heartbeatIntervalMs: number;
	/** Queen: failed attempts in a row before a drone is evicted. @default 3 */
	readonly maxRetry: number;
	/** Queen: pause between two attempts on one drone, in ms. @default 500 */
	readonly retryDelayMs: number;
	/** Queen: time limit of one heartbeat attempt, in ms. @default 1000 */
	readonly heartbeatTimeoutMs: number;
	/** Queen: heartbeat checks in flight at once. @default 256 */
	readonly heartbeatConcurrency: number;
	/** Queen: time limit of one `/do_task` call to a drone, in ms. @default 2000 */
	readonly dispatchTimeoutMs: number;
	/** Queen: finished tasks kept in memory. @default 10000 */
	readonly taskHistory: number;
	/** Queen: what the finished tasks kept may weigh in all, in bytes; the oldest go first. @default 256 MiB, or a quarter of the heap limit if that is less */
	readonly taskHistoryBytes: number;
	/** Connections this larve's server keeps open; past it, idle ones are closed first. @default half of `ulimit -n` */
	readonly maxConnections: number;
	/** How long a keep-alive connection may sit idle between two requests, in ms. @default 30000 */
	readonly idleTimeoutMs: number;
	/** How long a client has to send a request's headers (from connecting, or from the request's first byte), in ms. @default 10000 */
	readonly headersTimeoutMs: number;
	/** Queen: clients of `GET /events` at once; one more is answered 503. @default 256 */
	readonly maxWatchers: number;
	/** Queen: tasks waiting for a drone, at most; beyond, `/submit_task` answers 429. @default 10000 */
	readonly maxPending: number;
	/** Queen: what the tasks waiting for a drone may weigh in all, in bytes; a submit that would pass it is answered 429. @default 256 MiB, or an eighth of the heap limit if that is less */
	readonly maxPendingBytes: number;
	/** Queen: times a task is placed again after its drone is lost. @default 2 */
	readonly taskRetries: number;
	/** Queen: how drones are chosen. @default 'least-loaded' */
	readonly scheduler: SchedulerName;
	/** Drone: command tasks run at once. @default the CPU count */
	readonly slots: number;
	/** Drone: run command tasks (`/bin/sh -c`). @default false */
	readonly allowExec: boolean;
	/** Drone: the container runtime it runs container tasks with (`--runtime runc`); undefined: none. */
	readonly runtime: Runtime | undefined;
	/** Drone: kill a command or container task after this long, in ms; 0: never. @default 0 */
	readonly taskTimeoutMs: number;
	/** Drone: labels a task's selector can match. @default {} */
	readonly labels: Readonly<Record<string, string>>;
	/** Drone: how long to keep trying to register at start, in ms. @default 30000 */
	readonly registerTimeoutMs: number;
	/** Queen: drones to start on this machine as child processes. @default 0 */
	readonly localDrones: number;
	/** Queen: show the dashboard. @default false */
	readonly tui: boolean;
	/** The hive's join secret (`--token` or `HIVE_TOKEN`); undefined: an open hive. */
	readonly token: string | undefined;
	readonly logLevel: LogLevel;
	/** Where logs go while the dashboard is shown. @default 'hive-larve.log' */
	readonly logFile: string | undefined;
	/** Queen: where it keeps its state: a log in `dataDir`, nothing (`memory`), or an etcd cluster shared by several queens (`etcd`). @default 'file' */
	readonly store: StoreKind;
	/** Queen: the etcd members of `--store etcd://h1:2379,h2:2379` (as `http://h1:2379`); empty for the other stores. */
	readonly etcdEndpoints: readonly string[];
	/** Queen: the prefix of every key the hive keeps in etcd. @default 'hive/' */
	readonly etcdPrefix: string;
	/** Queen: the lease of the leader of several queens, in ms: a leader that cannot renew it in time steps down, and another takes over. @default 5000 */
	readonly leaderLeaseMs: number;
	/**
	A queen's store; a drone's containers (runc's state, their bundles, unpacked tar files). @default
	`<the platform's data directory>/hive/queen-<port>`, or a drone's `drone-<name>` (`drone-<port>` unnamed)
	*/
	readonly dataDir: string;
	/** `GET /metrics` without the token (for a Prometheus that scrapes without one). @default false */
	readonly metricsOpen: boolean;
};

export type StoreKind = 'file' | 'memory' | 'etcd';

/**
Parses `--store`: `file`, `memory`, or `etcd://h1:2379,h2:2379` (the etcd members, host:port each).
Throws an `OptionError` for anything else.
*/
export function parseStore(value: string): {readonly store: StoreKind; readonly etcdEndpoints: readonly string[]} {
	if (value === 'file' || value === 'memory') {
		return {store: value, etcdEndpoints: []};
	}

	if (value.startsWith('etcd://')) {
		const members = value.slice('etcd://'.length).split(',');
		const endpoints = members.map(member => {
			const hostPort = parseHostPort(member.trim());
			if (!hostPort) {
				throw new OptionError(`--store etcd:// takes HOST:PORT of each etcd member, separated by commas (etcd://h1:2379,h2:2379), got '${member}' in '${value}'`);
			}

			return `http://${formatHostPort(hostPort.host, hostPort.port)}`;
		});
		return {store: 'etcd', etcdEndpoints: endpoints};
	}

	throw new OptionError(`--store must be file, memory or etcd://HOST:PORT[,HOST:PORT...], got '${value}'`);
}

/** The queens of `--queen-host a:8080,b:8080`, in order; undefined when one of them is not HOST:PORT. */
export function parseQueenHosts(value: string): string[] | undefined {
	const hosts = value.split(',').map(each => each.trim());
	return hosts.every(host => parseHostPort(host) !== undefined) ? hosts : undefined;
}

/**
The directory of a queen's store (the platform's data directory), or of a drone's containers
(`/var/lib/hive`, as containerd's `/var/lib/containerd`: a drone runs containers as root, and their
root filesystems must be reachable by a container's unprivileged user, which a home directory is
not): one per port, a drone's per name when it has one, so that two larves on one machine do not
share one.
*/
export function defaultDataDir(port: number, mode: Mode = 'queen', name?: string): string {
	return mode === 'drone'
		? path.join('/var/lib/hive', `drone-${name ?? port}`)
		: path.join(envPaths('hive', {suffix: ''}).data, `queen-${port}`);
}

/** What a larve is started with: options left out take their defaults; `store` may be `--store`'s text (`etcd://h1:2379`). */
export type LarveInput = Partial<Omit<LarveOptions, 'store'>> & {readonly mode: Mode; readonly store?: string | undefined};

export function defaultMaxConnections(): number {
	const limit = openFileLimit();
	return limit === undefined ? 4096 : Math.max(64, Math.floor(limit / 2));
}

/**
The soft limit on open files (`ulimit -n`) on Linux; undefined elsewhere. Half of it is for incoming
connections by default: the rest is for the larve's own calls (a queen's to its drones), its store and logs.
*/
function openFileLimit(): number | undefined {
	try {
		const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find(each => each.startsWith('Max open files'));
		const soft = Number(line?.replace('Max open files', '').trim().split(/\s+/)[0]);
		return Number.isSafeInteger(soft) && soft > 0 ? soft : undefined;
	} catch {
		return undefined;
	}
}

/**
What finished tasks may weigh by default: 256 MiB, or a quarter of the heap this process may grow to
(`--max-old-space-size`) if that is less, so that a queen on a small heap keeps a history that fits it.
*/
export function defaultTaskHistoryBytes(): number {
	return Math.min(256 * 1024 * 1024, Math.floor(getHeapStatistics().heap_size_limit / 4));
}

/**
What the tasks waiting for a drone may weigh by default: 256 MiB, or an eighth of the heap limit if
that is less. Not a quarter, as the history: the file store holds a second copy of what is kept (its
JSON) while it writes a snapshot, and a restart the snapshot's text while it parses it; on a 128 MiB
heap, a queue of a quarter killed a queen on its file store about one time in two, one of an eighth
did not (test/queen/pending-bytes.test.ts).
*/
export function defaultMaxPendingBytes(): number {
	return Math.min(256 * 1024 * 1024, Math.floor(getHeapStatistics().heap_size_limit / 8));
}

export const defaults = {
	host: '127.0.0.1',
	port: 8080,
	heartbeatIntervalMs: 2000,
	maxRetry: 3,
	retryDelayMs: 500,
	heartbeatTimeoutMs: 1000,
	heartbeatConcurrency: 256,
	dispatchTimeoutMs: 2000,
	taskHistory: 10_000,
	maxPending: 10_000,
	maxWatchers: 256,
	idleTimeoutMs: 30_000,
	headersTimeoutMs: 10_000,
	taskRetries: 2,
	scheduler: 'least-loaded',
	allowExec: false,
	taskTimeoutMs: 0,
	registerTimeoutMs: 30_000,
	localDrones: 0,
	tui: false,
	logLevel: 'info',
	store: 'file',
	etcdPrefix: 'hive/',
	leaderLeaseMs: 5000,
	metricsOpen: false,
} as const satisfies Partial<LarveOptions>;

/** Where logs go while the dashboard is shown, unless `--log-file` says otherwise. */
export const defaultLogFile = 'hive-larve.log';

/** A bad option: the CLI prints its message on one line and exits with status 2. */
export class OptionError extends TypeError {
	override readonly name = 'OptionError';
	readonly code = 'ERR_HIVE_BAD_OPTION';
}

/** The token in `--token-file PATH`: the file's first line, trimmed; an `OptionError` when it cannot be read or is empty. */
export function readTokenFile(file: string): string {
	let text: string;
	try {
		text = readFileSync(file, 'utf8');
	} catch (error: unknown) {
		throw new OptionError(`--token-file ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
	}

	const token = text.split('\n')[0]!.trim();
	if (token === '') {
		throw new OptionError(`--token-file ${file}: the file is empty`);
	}

	return token;
}

/** Parses `--label key=value` flags (or another flag's, as `--selector`) into labels. */
export function parseLabels(values: readonly string[], flag = '--label'): Record<string, string> {
	const labels: Record<string, string> = {};
	for (const value of values) {
		const separator = value.indexOf('=');
		const key = value.slice(0, Math.max(0, separator));
		const labelValue = value.slice(separator + 1);
		if (separator < 0 || !labelKeyPattern.test(key) || labelValue.length > maxLabelValueLength) {
			throw new OptionError(`${flag} must be KEY=VALUE (letters, digits, . _ / - in the key), got '${value}'`);
		}

		labels[key] = labelValue;
	}

	return labels;
}

function check(condition: boolean, message: string): void {
	if (!condition) {
		throw new OptionError(message);
	}
}

export function resolveOptions(input: LarveInput): LarveOptions {
	const options: LarveOptions = {
		...defaults,
		queenHost: undefined,
		advertise: undefined,
		name: undefined,
		logFile: undefined,
		token: undefined,
		runtime: undefined,
		dataDir: defaultDataDir(input.port ?? defaults.port, input.mode, input.name),
		taskHistoryBytes: defaultTaskHistoryBytes(),
		maxPendingBytes: defaultMaxPendingBytes(),
		maxConnections: defaultMaxConnections(),
		slots: availableParallelism(),
		labels: {},
		etcdEndpoints: [],
		...stripUndefined({...input, store: undefined}),
		...(input.store === undefined ? {} : storeOf(input)),
		mode: input.mode,
	};

	check(options.mode === 'queen' || options.mode === 'drone', `mode must be queen or drone, got ${String(options.mode)}`);
	check(Number.isInteger(options.port) && options.port >= 0 && options.port <= 65_535, `--port must be a whole number from 0 to 65535, got ${options.port}`);
	check(options.host.length > 0, '--host must not be empty');
	checkDuration('--heartbeat-interval', options.heartbeatIntervalMs, 1);
	checkDuration('--retry-delay', options.retryDelayMs, 0);
	checkDuration('--heartbeat-timeout', options.heartbeatTimeoutMs, 1);
	checkDuration('dispatch timeout', options.dispatchTimeoutMs, 1);
	checkDuration('--register-timeout', options.registerTimeoutMs, 0);
	checkCount('--max-retry', options.maxRetry, 1);
	checkCount('heartbeat concurrency', options.heartbeatConcurrency, 1);
	checkCount('--task-history', options.taskHistory, 0);
	check(Number.isSafeInteger(options.taskHistoryBytes) && options.taskHistoryBytes >= 0, `--task-history-bytes must be a whole number of bytes (or with KiB, MiB, GiB), got ${options.taskHistoryBytes}`);
	checkCount('--max-pending', options.maxPending, 0);
	check(Number.isSafeInteger(options.maxPendingBytes) && options.maxPendingBytes >= 0, `--max-pending-bytes must be a whole number of bytes (or with KiB, MiB, GiB), got ${options.maxPendingBytes}`);
	checkCount('--max-watchers', options.maxWatchers, 0);
	checkCount('--max-connections', options.maxConnections, 1);
	checkDuration('--idle-timeout', options.idleTimeoutMs, 1);
	checkDuration('headers timeout', options.headersTimeoutMs, 1);
	checkCount('--task-retries', options.taskRetries, 0);
	checkCount('--slots', options.slots, 1);
	checkDuration('--task-timeout', options.taskTimeoutMs, 0);
	check(schedulerNames.includes(options.scheduler), `--scheduler must be one of ${schedulerNames.join(', ')}, got ${options.scheduler}`);
	checkCount('--local-drones', options.localDrones, 0);
	check(options.token === undefined || /^\S{1,512}$/.test(options.token), '--token must be 1 to 512 characters without spaces');
	check(options.store !== 'etcd' || options.etcdEndpoints.length > 0, '--store etcd:// needs at least one etcd member (etcd://HOST:PORT)');
	check(/^[\w./-]{1,128}$/.test(options.etcdPrefix), `--etcd-prefix must be 1 to 128 letters, digits, . _ / -, got '${options.etcdPrefix}'`);
	check(Number.isFinite(options.leaderLeaseMs) && options.leaderLeaseMs >= 1000 && options.leaderLeaseMs <= 3_600_000, `--leader-lease must be a number of seconds from 1 to 3600, got ${options.leaderLeaseMs / 1000}`);
	check(options.dataDir.trim() !== '', '--data-dir must not be empty');
	check(logLevels.includes(options.logLevel), `--log-level must be one of ${logLevels.join(', ')}, got ${options.logLevel}`);

	if (options.tui && options.mode === 'drone') {
		// `--tui --queen-host HOST:PORT` attaches a dashboard to that queen; it is no drone.
		check(options.queenHost !== undefined, '--tui needs --queen, or --queen-host HOST:PORT to attach to a running queen');
	}

	check(options.advertise === undefined || parseHostPort(options.advertise) !== undefined, `--advertise must be HOST:PORT, got ${options.advertise}`);
	if (options.mode === 'drone') {
		check(options.queenHost !== undefined, 'a drone needs --queen-host HOST:PORT (or start a queen with --queen)');
		check(parseQueenHosts(options.queenHost!) !== undefined, `--queen-host must be HOST:PORT, or several separated by commas (a:8080,b:8080), got ${options.queenHost}`);
		check(options.name === undefined || isValidName(options.name), `--name must be ${nameRule}, got ${options.name}`);
		check(options.localDrones === 0, '--local-drones needs --queen');
	}

	check(options.runtime === undefined || runtimes.includes(options.runtime), `--runtime must be one of ${runtimes.join(', ')}, got '${String(options.runtime)}'`);

	return options;
}

/** The store of an input whose `store` may be `--store`'s text; explicit `etcdEndpoints` win. */
function storeOf(input: LarveInput): {readonly store: StoreKind; readonly etcdEndpoints: readonly string[]} {
	const parsed = input.store === 'etcd' ? {store: 'etcd' as const, etcdEndpoints: []} : parseStore(input.store!);
	return {store: parsed.store, etcdEndpoints: input.etcdEndpoints ?? parsed.etcdEndpoints};
}

function checkDuration(flag: string, ms: number, minimum: number): void {
	check(Number.isFinite(ms) && ms >= minimum && ms <= 86_400_000, `${flag} must be a number of seconds${minimum > 0 ? ' above 0' : ''}, got ${ms / 1000}`);
}

function checkCount(flag: string, value: number, minimum: number): void {
	check(Number.isInteger(value) && value >= minimum && value <= 1_000_000, `${flag} must be a whole number of at least ${minimum}, got ${value}`);
}

function stripUndefined<T extends object>(value: T): Partial<T> {
	return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
