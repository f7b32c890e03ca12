import http from 'node:http';
import type net from 'node:net';
import type Koa from 'koa';
import type {AddressInfo} from 'node:net';
import type {Writable} from 'node:stream';
import {once} from 'node:events';
import {randomUUID} from 'node:crypto';
import {fileURLToPath} from 'node:url';
import {createDroneClient} from './client/drone-client.js';
import {createHttpClient, type HttpClient} from './client/http.js';
import {createQueenClient} from './client/queen-client.js';
import {Executor} from './drone/executor.js';
import {reportResult} from './drone/reporter.js';
import {Registration} from './drone/registration.js';
import {createDroneRouter, queenUserAgentPrefix} from './drone/routes.js';
import {createApp} from './http/app.js';
import {newToken} from './http/auth.js';
import {createLogger, type Logger} from './log.js';
import {defaultLogFile, formatHostPort, resolveOptions, type LarveInput, type LarveOptions, type Mode} from './options.js';
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

	const droneClient = createDroneClient({userAgent: `${queenUserAgentPrefix}${version}`, token, maxSockets: 16});
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
		async verifyDrone(droneAddress) {
			const health = await droneClient.healthz(droneAddress, options.heartbeatTimeoutMs);
			if (health.mode !== 'Mode.DRONE') {
				throw new Error(`it answers as ${String(health.mode)}, not as a drone`);
			}
		},
		watchers,
	});
	const server = await listen(createApp(router, log), options).catch(async (error: unknown) => {
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

		await closeServer(server, io.graceMs ?? 5000);
		droneClient.close();
		await store.close();
		log.info({mode: 'queen'}, 'queen stopped');
	});
	return {mode: 'queen', options, url, address, name: 'queen', log, hive, token, stop: stopLarve};
}

async function startDrone(options: LarveOptions, log: Logger, io: LarveIo): Promise<Larve> {
	let ready = false;
	const executor = new Executor({stdout: io.stdout ?? process.stdout, taskTimeoutMs: options.taskTimeoutMs});
	const client: HttpClient = createHttpClient({userAgent: `hive-drone/${version}`, timeoutMs: 2000, token: options.token});
	const queen = createQueenClient(options.queenHost!, client);
	let registration: Registration | undefined;
	/** Aborted on stop: results not yet reported by then are the queen's to place again. */
	const reporting = new AbortController();
	/** Command tasks this drone holds: running, or ended with the result not yet heard by the queen. */
	const holding = new Set<string>();
	const router = createDroneRouter({
		executor,
		version,
		slots: options.slots,
		allowExec: options.allowExec,
		token: options.token,
		isReady: () => ready,
		name: () => registration?.name,
		onQueenContact: () => registration?.noteQueenContact(),
		holding: () => [...holding],
		runCommand(id, command) {
			holding.add(id);
			void executor.run(id, command)
				.then(async result => reportResult(queen, log, registration!.name!, id, result, reporting.signal))
				.finally(() => holding.delete(id));
		},
	});
	const server = await listen(createApp(router, log), options);
	const bound = formatHostPort(options.host, (server.address() as AddressInfo).port);
	const address = options.advertise ?? bound;
	registration = new Registration(queen, log, {
		drone: {address, name: options.name, slots: options.slots, allowExec: options.allowExec, labels: options.labels, bootId: randomUUID()},
		timeoutMs: options.registerTimeoutMs,
	});
	const stop = once_(async () => {
		ready = false;
		// Running commands may finish and report; what is left when the grace ends is placed again by the queen.
		await executor.stop(io.graceMs ?? 5000);
		reporting.abort();
		await registration.leave();
		await closeServer(server, io.graceMs ?? 5000);
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
	log.info({mode: 'drone', name, url, address, queen: queen.baseUrl, slots: options.slots, allowExec: options.allowExec}, `drone ${name} listening on ${url}`);
	if (options.token === undefined) {
		log.warn({url}, `no --token: anyone who can reach ${url} can command this drone${options.allowExec ? ' and run commands on this machine' : ''}`);
	}

	return {mode: 'drone', options, url, address, name, log, hive: undefined, token: options.token, stop};
}

async function listen(app: Koa, options: LarveOptions): Promise<http.Server> {
	// Koa's handler settles its own errors (JSON answers); node:http only needs it called.
	const handle = app.callback();
	const server = http.createServer({
		keepAliveTimeout: options.idleTimeoutMs,
		headersTimeout: options.headersTimeoutMs,
		// The whole request, body included (a body is at most 1 MiB); answers may take longer (?wait=true).
		requestTimeout: Math.max(options.headersTimeoutMs, 30_000),
		// How often node:http looks for requests past those timeouts.
		connectionsCheckingInterval: Math.min(1000, options.headersTimeoutMs / 2),
	}, (request, response) => {
		void handle(request, response);
	});
	limitConnections(server, options.maxConnections, options.headersTimeoutMs);
	server.listen(options.port, options.host);
	await once(server, 'listening');
	return server;
}

/**
Keeps a server's connections under `max`, so that file descriptors remain for the larve's own calls, its
store and its logs, and `/healthz` and heartbeats are still answered under a flood of connections. A
connection past the cap makes room by closing the connection idle the longest (no request in flight:
a keep-alive connection between two requests, or one that has not sent its first request yet); when
every connection is busy, the new one is answered 503 and closed. A connection must send its first
request within `firstRequestMs` (node:http's `headersTimeout` only counts from a request's first byte).
*/
function limitConnections(server: http.Server, max: number, firstRequestMs: number): void {
	/** Connections without a request in flight, the longest idle first. */
	const idle = new Set<net.Socket>();
	const inFlight = new WeakMap<net.Socket, number>();
	let open = 0;
	server.on('connection', (socket: net.Socket) => {
		open += 1;
		socket.once('close', () => {
			open -= 1;
			idle.delete(socket);
		});
		if (open > max) {
			const longestIdle = idle.values().next();
			if (longestIdle.done) {
				refuseConnection(socket, `${open - 1} connections are open (--max-connections ${max}) and all are busy; try again later`);
				return;
			}

			idle.delete(longestIdle.value);
			longestIdle.value.destroy();
		}

		idle.add(socket);
		inFlight.set(socket, 0);
		// Until its first request: node:http closes idle keep-alive connections itself, but not silent new ones.
		socket.setTimeout(firstRequestMs);
	});
	server.on('request', (request: http.IncomingMessage, response: http.ServerResponse) => {
		const {socket} = request;
		const count = inFlight.get(socket) ?? 0;
		if (count === 0 && idle.delete(socket) && socket.timeout === firstRequestMs) {
			socket.setTimeout(0);
		}

		inFlight.set(socket, count + 1);
		response.once('close', () => {
			const left = (inFlight.get(socket) ?? 1) - 1;
			inFlight.set(socket, left);
			if (left === 0 && !socket.destroyed) {
				idle.add(socket);
			}
		});
	});
}

function refuseConnection(socket: net.Socket, message: string): void {
	const body = JSON.stringify({error: message});
	socket.end(`HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n${body}`);
	socket.setTimeout(1000, () => socket.destroy());
}

/** Stops accepting, lets in-flight requests finish for at most `graceMs`, then cuts what is left. */
async function closeServer(server: http.Server, graceMs: number): Promise<void> {
	const closed = new Promise<void>(resolve => {
		server.close(() => {
			resolve();
		});
	});
	server.closeIdleConnections();
	const timer = setTimeout(() => server.closeAllConnections(), graceMs);
	await closed;
	clearTimeout(timer);
}

/** Makes a function that runs once; later calls get the first call's promise. */
function once_(run: () => Promise<void>): () => Promise<void> {
	let running: Promise<void> | undefined;
	return async () => {
		running ??= run();
		return running;
	};
}
