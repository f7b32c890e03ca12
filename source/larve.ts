import type {AddressInfo} from 'node:net';
import type {Writable} from 'node:stream';
import {randomUUID} from 'node:crypto';
import {fileURLToPath} from 'node:url';
import {createDroneClient} from './client/drone-client.js';
import {createHttpClient, type HttpClient} from './client/http.js';
import {createQueenClient} from './client/queen-client.js';
import {Executor} from './drone/executor.js';
import {probeSandbox, uncontained} from './drone/sandbox.js';
import {reportResult} from './drone/reporter.js';
import {Registration} from './drone/registration.js';
import {createDroneRouter, queenUserAgentPrefix} from './drone/routes.js';
import {createApp} from './http/app.js';
import {closeServer, listen} from './http/server.js';
import {newToken} from './http/auth.js';
import {createLogger, type Logger} from './log.js';
import {defaultLogFile, formatHostPort, parseQueenHosts, resolveOptions, type LarveInput, type LarveOptions, type Mode} from './options.js';
import {Dispatcher} from './queen/dispatcher.js';
import {HeartbeatMonitor} from './queen/heartbeat.js';
import {Hive} from './queen/hive.js';
import {openFileStore} from './queen/store/file-store.js';
import {createMemoryStore, type Store} from './queen/store/store.js';
import {startLocalDrones} from './queen/local-drones.js';
import {createQueenRouter, eventJson} from './queen/routes.js';
import {Watchers} from './queen/watchers.js';
import {version} from './version.js';

export type Larve = {
	readonly mode: Mode;
	readonly options: LarveOptions;
	/** `http://host:port` it listens on. */
	readonly url: string;
	/** `host:port` others call it at (a drone's advertised address). */
	readonly address: string;
	readonly name: string;
	readonly log: Logger;
	/** The queen's state; undefined on a drone. */
	readonly hive: Hive | undefined;
	/** The join token in force (made by a queen with `--local-drones` and no `--token`). */
	readonly token: string | undefined;
	/** Stops taking requests, finishes what is in flight (at most `graceMs`), leaves the queen. */
	stop(): Promise<void>;
};

export type LarveIo = {
	readonly log?: Logger;
	/** Where a drone prints its tasks. @default process.stdout */
	readonly stdout?: Writable;
	/** How long in-flight requests may take to finish on stop. @default 5000 */
	readonly graceMs?: number;
	/** The entry point `--local-drones` runs. @default the built cli.js next to this file */
	readonly cliPath?: string;
	/** The queen's store failed: it has stopped answering and must go. @default log it and stop the larve */
	readonly onFatal?: (error: Error) => void;
};

/** Starts one larve: the Koa app of its mode, listening; a drone also registers with its queen. */
export async function startLarve(input: LarveInput, io: LarveIo = {}): Promise<Larve> {
	const options = resolveOptions(input);
	const log = io.log ?? createLogger(options.logLevel, {kind: 'stderr'});
	return options.mode === 'queen' ? startQueen(options, log, io) : startDrone(options, log, io);
}

async function startQueen(options: LarveOptions, log: Logger, io: LarveIo): Promise<Larve> {
	let ready = false;
	// A one-command local hive is closed by default: its drones and dashboard get a token made here.
	const token = options.token ?? (options.localDrones > 0 ? newToken() : undefined);
	const loadStarted = performance.now();
	const fileStore = options.store === 'file' ? await openFileStore({dir: options.dataDir}) : undefined;
	const store: Store = fileStore ?? createMemoryStore();
	let stopLarve: (() => Promise<void>) | undefined;
	let hive: Hive;
	try {
		hive = await Hive.open({
			store,
			taskHistory: options.taskHistory,
			taskHistoryBytes: options.taskHistoryBytes,
			maxPending: options.maxPending,
			maxPendingBytes: options.maxPendingBytes,
			taskRetries: options.taskRetries,
			onStoreFailure(error) {
				ready = false;
				log.fatal({err: error.message, store: store.location}, 'the store failed: the queen stops rather than answer what it cannot keep');
				if (io.onFatal) {
					io.onFatal(error);
				} else {
					void stopLarve?.();
				}
			},
		});
	} catch (error: unknown) {
		await store.close();
		throw error;
	}

	fileStore?.setImageSource(() => hive.image());

	for (const warning of hive.loadWarnings) {
		log.warn({store: store.location}, warning);
	}

	if (store.kind !== 'memory') {
		log.info({store: store.location, revision: store.revision, drones: hive.droneCount, tasks: hive.taskCount, ms: Math.round(performance.now() - loadStarted)}, `loaded the store in ${store.location}`);
	}

	const droneClient = createDroneClient({
		userAgent: `${queenUserAgentPrefix}${version}`,
		token,
		maxSockets: 16,
		// Every call to a drone shows the key it gave when it registered: proof that the call is this queen's.
		contactKeyFor: droneAddress => hive.contactKeyAt(droneAddress),
	});
	const heartbeat = new HeartbeatMonitor(hive, droneClient, log, {
		intervalMs: options.heartbeatIntervalMs,
		maxRetry: options.maxRetry,
		retryDelayMs: options.retryDelayMs,
		timeoutMs: options.heartbeatTimeoutMs,
		concurrency: options.heartbeatConcurrency,
		// Drones loaded from the store could not be reached while the queen was down: a whole grace period.
		graceMs: hive.droneCount > 0 ? options.heartbeatIntervalMs * (options.maxRetry + 1) : 0,
	});
	const dispatcher = new Dispatcher(hive, droneClient, heartbeat, log, {timeoutMs: options.dispatchTimeoutMs, scheduler: options.scheduler});
	const watchers = new Watchers(hive, {max: options.maxWatchers, view: eventJson});
	const router = createQueenRouter({
		hive,
		dispatcher,
		version,
		isReady: () => ready,
		heartbeatIntervalMs: options.heartbeatIntervalMs,
		maxRetry: options.maxRetry,
		token,
		async verifyDrone(droneAddress, contactKey) {
			return droneClient.registrationCallback(droneAddress, options.heartbeatTimeoutMs, contactKey);
		},
		watchers,
	});
	const server = await listen(createApp(router, log), options, log).catch(async (error: unknown) => {
		await store.close();
		throw error;
	});
	const address = formatHostPort(options.host, (server.address() as AddressInfo).port);
	heartbeat.start();
	dispatcher.start();
	ready = true;
	const url = `http://${address}`;
	log.info({mode: 'queen', name: 'queen', url, token: token === undefined ? 'none' : (options.token === undefined ? 'made for the local drones' : 'set')}, `queen listening on ${url}`);
	if (token === undefined) {
		log.warn('no --token: anyone who can reach this queen can register drones and submit tasks');
	}

	const localDrones = options.localDrones > 0
		? startLocalDrones({
			count: options.localDrones,
			queenAddress: address,
			cliPath: io.cliPath ?? fileURLToPath(new URL('cli.js', import.meta.url)),
			logLevel: options.logLevel,
			token,
			output: options.tui ? {logFile: options.logFile ?? defaultLogFile} : 'inherit',
		}, log)
		: undefined;

	stopLarve = once_(async () => {
		// Local drones first, so that they can still tell the queen they leave.
		await localDrones?.stop();
		ready = false;
		heartbeat.stop();
		dispatcher.stop();
		watchers.closeAll();

		await closeServer(server, io.graceMs ?? 5000, log);
		droneClient.close();
		await store.close();
		log.info({mode: 'queen'}, 'queen stopped');
	});
	return {mode: 'queen', options, url, address, name: 'queen', log, hive, token, stop: stopLarve};
}

async function startDrone(options: LarveOptions, log: Logger, io: LarveIo): Promise<Larve> {
	let ready = false;
	// Commands are contained where the machine allows it; a drone that cannot says so, loudly.
	const sandbox = options.allowExec ? await probeSandbox() : uncontained('this drone runs no commands');
	if (options.allowExec && !sandbox.contained) {
		log.warn({reason: sandbox.reason}, `commands are NOT contained (${sandbox.reason}): a command can signal and read this drone and what it can reach as this user, and its processes may outlive its task`);
	}

	const executor = new Executor({stdout: io.stdout ?? process.stdout, taskTimeoutMs: options.taskTimeoutMs, sandbox});
	const client: HttpClient = createHttpClient({userAgent: `hive-drone/${version}`, timeoutMs: 2000, token: options.token});
	// Several queens (`--queen-host a:8080,b:8080`): calls move on to the next when one stops answering.
	const queen = createQueenClient(parseQueenHosts(options.queenHost!) ?? [options.queenHost!], client, {
		onMove(from, to, reason) {
			log.warn({from, to, err: reason}, `queen ${from} does not answer; moving to ${to}`);
		},
	});
	let registration: Registration | undefined;
	/** Aborted on stop: results not yet reported by then are the queen's to place again. */
	const reporting = new AbortController();
	/** Command tasks this drone holds: running, or ended with the result not yet heard by the queen. */
	const holding = new Set<string>();
	const bootId = randomUUID();
	const router = createDroneRouter({
		executor,
		version,
		slots: options.slots,
		allowExec: options.allowExec,
		contained: sandbox.contained,
		labels: options.labels,
		bootId,
		token: options.token,
		isReady: () => ready,
		name: () => registration?.name,
		queenCall: (contactKey, epoch, readOnly) => registration?.queenCall(contactKey, epoch, readOnly) ?? {stale: false, proven: contactKey === undefined ? undefined : false},
		epoch: () => registration?.epoch,
		holding: () => holding,
		taskTimeoutMs: options.taskTimeoutMs,
		runCommand(id, command) {
			holding.add(id);
			void executor.run(id, command)
				.then(async result => reportResult(queen, log, registration!.name!, id, result, reporting.signal))
				.catch((error: unknown) => {
					// Not reported: the queen sees the drone no longer holds it, and places it again.
					log.error({task: id, err: error instanceof Error ? error.message : String(error)}, 'a command task could not be run');
				})
				.finally(() => holding.delete(id));
		},
	});
	const server = await listen(createApp(router, log), options, log);
	const bound = formatHostPort(options.host, (server.address() as AddressInfo).port);
	const address = options.advertise ?? bound;
	registration = new Registration(queen, log, {
		drone: {address, name: options.name, slots: options.slots, allowExec: options.allowExec, labels: options.labels, bootId},
		timeoutMs: options.registerTimeoutMs,
	});
	const stop = once_(async () => {
		ready = false;
		// Running commands may finish and report; what is left when the grace ends is placed again by the queen.
		await executor.stop(io.graceMs ?? 5000);
		reporting.abort();
		await registration.leave();
		await closeServer(server, io.graceMs ?? 5000, log);
		client.close();
		log.info({mode: 'drone'}, 'drone stopped');
	});

	let name: string;
	try {
		name = await registration.register();
	} catch (error: unknown) {
		registration.stop();
		await closeServer(server, 0);
		client.close();
		throw error;
	}

	registration.watch();
	ready = true;
	const url = `http://${bound}`;
	log.info({mode: 'drone', name, url, address, queen: queen.baseUrl, slots: options.slots, allowExec: options.allowExec, ...(options.allowExec ? {contained: sandbox.contained} : {})}, `drone ${name} listening on ${url}`);
	if (options.token === undefined) {
		log.warn({url}, `no --token: anyone who can reach ${url} can command this drone${options.allowExec ? ' and run commands on this machine' : ''}`);
	}

	return {mode: 'drone', options, url, address, name, log, hive: undefined, token: options.token, stop};
}

/** Makes a function that runs once; later calls get the first call's promise. */
function once_(run: () => Promise<void>): () => Promise<void> {
	let running: Promise<void> | undefined;
	return async () => {
		running ??= run();
		return running;
	};
}
