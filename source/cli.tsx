#!/usr/bin/env node
import meow from 'meow';
import {commandList, isCtlCommand, runCtlAndExit} from './ctl/index.js';
import type {Larve} from './larve.js';
import {createLogger} from './log.js';
import type {Runtime, SchedulerName} from './model.js';
import {defaultLogFile, OptionError, parseLabels, parseQueenHosts, readTokenFile, resolveOptions, type LarveInput, type LogLevel} from './options.js';
import {CorruptStoreError, StoreLockedError} from './queen/store/file-store.js';
import {RegistrationError} from './drone/registration.js';
import {loadDashboard} from './dashboard/load.js';
import {version} from './version.js';

// `hive-larve submit ...`, `hive-larve drones`...: the command-line client, not a larve.
if (isCtlCommand(process.argv[2])) {
	await runCtlAndExit(process.argv.slice(2));
}

const flags = {
	queen: {type: 'boolean', default: false},
	queenHost: {type: 'string'},
	port: {type: 'string'},
	host: {type: 'string'},
	advertise: {type: 'string'},
	name: {type: 'string'},
	heartbeatInterval: {type: 'string'},
	maxRetry: {type: 'string'},
	retryDelay: {type: 'string'},
	heartbeatTimeout: {type: 'string'},
	registerTimeout: {type: 'string'},
	scheduler: {type: 'string'},
	maxPending: {type: 'string'},
	maxPendingBytes: {type: 'string'},
	maxWatchers: {type: 'string'},
	maxConnections: {type: 'string'},
	idleTimeout: {type: 'string'},
	taskHistory: {type: 'string'},
	taskHistoryBytes: {type: 'string'},
	taskRetries: {type: 'string'},
	slots: {type: 'string'},
	allowExec: {type: 'boolean'},
	runtime: {type: 'string'},
	taskTimeout: {type: 'string'},
	label: {type: 'string', isMultiple: true},
	logLevel: {type: 'string'},
	logFile: {type: 'string'},
	token: {type: 'string'},
	tokenFile: {type: 'string'},
	tui: {type: 'boolean', default: false},
	localDrones: {type: 'string'},
	store: {type: 'string'},
	dataDir: {type: 'string'},
	leaderLease: {type: 'string'},
	etcdPrefix: {type: 'string'},
	metricsOpen: {type: 'boolean'},
} as const;

const cli = meow(`
	Usage
	  $ hive-larve --queen [--tui] [--local-drones N]      a queen (the control plane)
	  $ hive-larve --queen-host HOST:PORT [--port N]         a drone (a worker)
	  $ hive-larve --tui --queen-host HOST:PORT              the dashboard of a running queen
	  $ hive-larve --queen --store etcd://H:2379 --advertise HOST:PORT   one of several queens
	  $ hive-larve COMMAND [--queen-host HOST:PORT] [-o json]  ask a queen (hive-larve COMMAND --help)

	Commands
	  ${commandList().replaceAll('\n', '\n\t  ')}

	Options
	  --queen                     run as queen (default: drone)
	  --queen-host HOST:PORT      drone: the queen to register with (required); several queens of one
	                              hive as a,b,c (the next is tried when one stops answering)
	  --port N                    port to listen on; 0 picks a free port (default 8080)
	  --host ADDR                 address to bind (default 127.0.0.1)
	  --advertise HOST:PORT       the address others call: a drone's, for the queen; a queen's, for the
	                              other queens (default: the bound one)
	  --name NAME                 drone: a stable name (default: assigned by the queen)
	  --heartbeat-interval SECS   queen: each drone checked once an interval (default 2)
	  --max-retry N               queen: failed attempts in a row before eviction (default 3)
	  --retry-delay SECS          queen: pause between two attempts on one drone (default 0.5)
	  --heartbeat-timeout SECS    queen: time limit of one attempt (default 1)
	  --scheduler NAME            queen: least-loaded (default) or random (the seed's)
	  --max-pending N             queen: tasks waiting for a drone, at most (default 10000; then 429)
	  --max-pending-bytes SIZE    queen: what the tasks waiting for a drone may weigh in all; a task
	                              that would pass it gets a 429 (e.g. 64MiB; default 256MiB, or an
	                              eighth of the heap if less)
	  --max-watchers N            queen: clients of GET /events at once (default 256; then 503)
	  --task-history N            queen: finished tasks kept (default 10000)
	  --task-history-bytes SIZE   queen: what the finished tasks kept may weigh in all, oldest forgotten
	                              first (e.g. 64MiB; default 256MiB, or a quarter of the heap if less)
	  --task-retries N            queen: times a task is placed again after its drone is lost (default 2)
	  --data-dir DIR              queen: where it keeps its state (default: ~/.local/share/hive/queen-PORT
	                              on Linux, the platform's data directory elsewhere); drone: where it
	                              keeps its containers (default: .../hive/drone-NAME, or drone-PORT)
	  --store KIND                queen: file (default: a durable log in --data-dir), memory (keep
	                              nothing), or etcd://H1:2379,H2:2379 (an etcd cluster that several
	                              queens share: one leads, the others answer by asking it)
	  --leader-lease SECS         queen on etcd: the leader's lease; a leader that cannot renew it in
	                              time steps down and another takes over (default 5)
	  --etcd-prefix PREFIX        queen on etcd: the prefix of the hive's keys (default hive/)
	  --slots N                   drone: command tasks run at once (default: CPU count)
	  --allow-exec                drone: run command tasks through /bin/sh -c (default off); a queen's
	                              --local-drones get it
	  --runtime runc              drone: also run container tasks, with runc (needs root): a rootfs
	                              directory or tar file on the drone, its own namespaces, no network,
	                              a read-only root, limits enforced; a queen's --local-drones get it
	  --task-timeout SECS         drone: kill a command or container task after this long (default:
	                              never)
	  --label KEY=VALUE           drone: a label for task selectors (repeatable)
	  --register-timeout SECS     drone: how long to keep trying to register at start (default 30)
	  --token-file PATH           the hive's join secret, read from a file (or HIVE_TOKEN); needed by
	                              /register, /submit_task and the other queen endpoints, and by a
	                              drone's /do_task
	  --token TOKEN               the same, on the command line (every user of the machine can read it
	                              there: prefer HIVE_TOKEN or --token-file)
	  --max-connections N         connections kept open; past it idle ones are closed first, then
	                              503 (default: half of ulimit -n)
	  --idle-timeout SECS         close a keep-alive connection idle this long (default 30)
	  --metrics-open              serve GET /metrics without the token (default: it needs it)
	  --log-level LEVEL           fatal, error, warn, info, debug, trace (default info)
	  --tui                       show the live dashboard (needs a terminal); with --queen-host and
	                              no --queen, attach it to that queen
	  --local-drones N            queen: also start N drones on this machine (default 0), each with
	                              the queen's --allow-exec, --runtime, --slots, --label and
	                              --task-timeout
	  --log-file PATH             where logs go while the dashboard is shown (default hive-larve.log)
	  --version, --help

	Examples
	  $ hive-larve --queen
	  $ hive-larve --queen-host 127.0.0.1:8080 --port 5001
	  $ hive-larve --queen-host 127.0.0.1:8080 --port 5002 --allow-exec --label zone=a
	  $ curl -X POST localhost:8080/submit_task -d '{"command": "uname -a"}'
	  $ curl -X POST localhost:8080/submit_task -H 'Content-Type: application/json' -d '{"text": "hello"}'
`, {
	importMeta: import.meta,
	allowUnknownFlags: true,
	flags,
});

const knownFlags = new Set([...Object.keys(flags), 'help', 'version']);

function fail(message: string, code: number): never {
	process.stderr.write(`hive-larve: ${message}\n`);
	process.exit(code);
}

function integer(flag: string, value: string | undefined): number | undefined {
	if (value === undefined) {
		return undefined;
	}

	if (!/^\d+$/.test(value.trim())) {
		throw new OptionError(`${flag} must be a whole number, got '${value}'`);
	}

	return Number(value);
}

const sizeUnits: Record<string, number> = {'': 1, b: 1, k: 1024, kib: 1024, kb: 1024, m: 1024 ** 2, mib: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3, gb: 1024 ** 3};

/** A size in bytes: `1048576`, `512KiB`, `64MiB`, `1GiB` (K, M, G: powers of 1024). */
function size(flag: string, value: string | undefined): number | undefined {
	if (value === undefined) {
		return undefined;
	}

	const match = /^(\d+)\s*([a-z]*)$/i.exec(value.trim());
	const unit = match ? sizeUnits[match[2]!.toLowerCase()] : undefined;
	if (!match || unit === undefined) {
		throw new OptionError(`${flag} must be a size in bytes, e.g. 67108864 or 64MiB, got '${value}'`);
	}

	return Number(match[1]) * unit;
}

function seconds(flag: string, value: string | undefined): number | undefined {
	if (value === undefined) {
		return undefined;
	}

	const number = Number(value);
	if (value.trim() === '' || !Number.isFinite(number) || number < 0) {
		throw new OptionError(`${flag} must be a number of seconds (decimals allowed, e.g. 0.2), got '${value}'`);
	}

	return Math.round(number * 1000);
}

function toInput(flags: typeof cli.flags): LarveInput {
	for (const flag of Object.keys(cli.unnormalizedFlags)) {
		if (!knownFlags.has(flag)) {
			throw new OptionError(`unknown flag --${flag.replaceAll(/[A-Z]/g, letter => `-${letter.toLowerCase()}`)} (see --help)`);
		}
	}

	if (cli.input.length > 0) {
		const [first] = cli.input;
		throw new OptionError(isCtlCommand(first) ? `a command comes first: hive-larve ${first} [flags] (see hive-larve ${first} --help)` : `unknown command '${first}' (see --help)`);
	}

	return {
		mode: flags.queen ? 'queen' : 'drone',
		queenHost: flags.queenHost,
		port: integer('--port', flags.port),
		host: flags.host,
		advertise: flags.advertise,
		name: flags.name,
		heartbeatIntervalMs: seconds('--heartbeat-interval', flags.heartbeatInterval),
		maxRetry: integer('--max-retry', flags.maxRetry),
		retryDelayMs: seconds('--retry-delay', flags.retryDelay),
		heartbeatTimeoutMs: seconds('--heartbeat-timeout', flags.heartbeatTimeout),
		registerTimeoutMs: seconds('--register-timeout', flags.registerTimeout),
		scheduler: flags.scheduler as SchedulerName | undefined,
		maxPending: integer('--max-pending', flags.maxPending),
		maxPendingBytes: size('--max-pending-bytes', flags.maxPendingBytes),
		maxWatchers: integer('--max-watchers', flags.maxWatchers),
		maxConnections: integer('--max-connections', flags.maxConnections),
		idleTimeoutMs: seconds('--idle-timeout', flags.idleTimeout),
		taskHistory: integer('--task-history', flags.taskHistory),
		taskHistoryBytes: size('--task-history-bytes', flags.taskHistoryBytes),
		taskRetries: integer('--task-retries', flags.taskRetries),
		slots: integer('--slots', flags.slots),
		allowExec: flags.allowExec,
		runtime: flags.runtime as Runtime | undefined,
		taskTimeoutMs: seconds('--task-timeout', flags.taskTimeout),
		labels: flags.label === undefined ? undefined : parseLabels(flags.label),
		logLevel: flags.logLevel as LogLevel | undefined,
		logFile: flags.logFile,
		token: tokenFromFile(flags.tokenFile) ?? flags.token ?? (process.env.HIVE_TOKEN || undefined),
		tui: flags.tui,
		localDrones: integer('--local-drones', flags.localDrones),
		store: flags.store,
		dataDir: flags.dataDir,
		leaderLeaseMs: seconds('--leader-lease', flags.leaderLease),
		etcdPrefix: flags.etcdPrefix,
		metricsOpen: flags.metricsOpen,
	};
}

/** `--token-file PATH`: the file's first line. */
function tokenFromFile(file: string | undefined): string | undefined {
	if (file === undefined) {
		return undefined;
	}

	if (cli.flags.token !== undefined) {
		throw new OptionError('--token and --token-file: give one of them');
	}

	return readTokenFile(file);
}

async function main(): Promise<void> {
	let options;
	try {
		options = resolveOptions(toInput(cli.flags));
	} catch (error: unknown) {
		if (error instanceof OptionError) {
			fail(error.message, 2);
		}

		throw error;
	}

	if (options.tui && (!process.stdin.isTTY || !process.stdout.isTTY)) {
		fail('--tui needs a terminal (standard input and output must be a TTY)', 2);
	}

	// While the dashboard owns the screen, logs go to a file, never over it.
	const log = options.tui
		? createLogger(options.logLevel, {kind: 'file', path: options.logFile ?? defaultLogFile})
		: createLogger(options.logLevel, {kind: 'stderr'});
	if (cli.flags.token !== undefined) {
		log.warn('--token is readable by every user of this machine in the process list (ps, /proc/PID/cmdline); prefer HIVE_TOKEN or --token-file');
	}

	if (options.tui && options.mode === 'drone') {
		// `--tui --queen-host HOST:PORT`: the dashboard alone, attached to a queen that runs elsewhere.
		const {runDashboard} = await loadDashboard();
		await runDashboard({queenHosts: parseQueenHosts(options.queenHost!)!, version, token: options.token});
		process.exit(0);
	}

	let larve: Larve;
	try {
		// Loaded here, not at the top: the client's commands (above) need none of it, and it takes a third of a second.
		const {startLarve} = await import('./larve.js');
		larve = await startLarve(options, {
			log,
			onFatal() {
				// Logged already; a queen that cannot keep what it acknowledges must not answer.
				process.exit(1);
			},
		});
	} catch (error: unknown) {
		if (error instanceof RegistrationError) {
			log.error({err: error.message}, 'Could not register to queen');
			fail(error.message, 1);
		}

		if (error instanceof StoreLockedError || error instanceof CorruptStoreError) {
			log.error({err: error.message}, 'cannot open the store');
			fail(error.message, 1);
		}

		const code = (error as {code?: string}).code;
		if (code === 'ERR_HIVE_RUNTIME') {
			// --runtime runc where runc cannot run: the drone says why, and does not start.
			log.error({err: (error as Error).message}, 'cannot run containers');
			fail((error as Error).message, 1);
		}

		if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
			fail(`cannot listen on ${options.host}:${options.port}: ${code}`, 1);
		}

		throw error;
	}

	let stopping = false;
	const stop = (signal: NodeJS.Signals) => {
		if (stopping) {
			log.warn({signal}, 'second signal: exiting now');
			process.exit(1);
		}

		stopping = true;
		log.info({signal}, 'stopping');
		larve.stop().then(() => {
			process.exit(0);
		}, (error: unknown) => {
			log.error({err: error}, 'could not stop cleanly');
			process.exit(1);
		});
	};

	process.on('SIGINT', stop);
	process.on('SIGTERM', stop);
	// A local drone (`--local-drones`) has a channel to its queen's process: when that goes, so does it.
	process.on('disconnect', () => {
		stop('SIGTERM');
	});

	if (options.tui) {
		const {runDashboard} = await loadDashboard();
		await runDashboard({queenHosts: [new URL(larve.url).host], version, token: larve.token});
		stop('SIGINT');
	}
}

await main();
