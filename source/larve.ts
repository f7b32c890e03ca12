import http from 'node:http';
import type {AddressInfo} from 'node:net';
import type {Writable} from 'node:stream';
import {once} from 'node:events';
import {createDroneClient} from './client/drone-client.js';
import {createHttpClient, type HttpClient} from './client/http.js';
import {createQueenClient} from './client/queen-client.js';
import {Executor} from './drone/executor.js';
import {reportResult} from './drone/reporter.js';
import {Registration} from './drone/registration.js';
import {createDroneRouter, queenUserAgentPrefix} from './drone/routes.js';
import {createApp} from './http/app.js';
import type {EventStream} from './http/sse.js';
import {createLogger, type Logger} from './log.js';
import {formatHostPort, resolveOptions, type LarveInput, type LarveOptions, type Mode} from './options.js';
import {Dispatcher} from './queen/dispatcher.js';
import {HeartbeatMonitor} from './queen/heartbeat.js';
import {Hive} from './queen/hive.js';
import {createQueenRouter} from './queen/routes.js';
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
	/** Stops taking requests, finishes what is in flight (at most `graceMs`), leaves the queen. */
	stop(): Promise<void>;
};

export type LarveIo = {
	readonly log?: Logger;
	/** Where a drone prints its tasks. @default process.stdout */
	readonly stdout?: Writable;
	/** How long in-flight requests may take to finish on stop. @default 5000 */
	readonly graceMs?: number;
};

/** Starts one larve: the Koa app of its mode, listening; a drone also registers with its queen. */
export async function startLarve(input: LarveInput, io: LarveIo = {}): Promise<Larve> {
	const options = resolveOptions(input);
	const log = io.log ?? createLogger(options.logLevel, {kind: 'stderr'});
	return options.mode === 'queen' ? startQueen(options, log, io) : startDrone(options, log, io);
}

async function startQueen(options: LarveOptions, log: Logger, io: LarveIo): Promise<Larve> {
	let ready = false;
	const hive = new Hive({taskHistory: options.taskHistory, maxPending: options.maxPending, taskRetries: options.taskRetries});
	const client = createHttpClient({userAgent: `${queenUserAgentPrefix}${version}`, timeoutMs: options.dispatchTimeoutMs});
	const droneClient = createDroneClient(client);
	const heartbeat = new HeartbeatMonitor(hive, droneClient, log, {
		intervalMs: options.heartbeatIntervalMs,
		maxRetry: options.maxRetry,
		retryDelayMs: options.retryDelayMs,
		timeoutMs: options.heartbeatTimeoutMs,
		concurrency: options.heartbeatConcurrency,
	});
	const dispatcher = new Dispatcher(hive, droneClient, heartbeat, log, {timeoutMs: options.dispatchTimeoutMs, scheduler: options.scheduler});
	const streams = new Set<EventStream>();
	const router = createQueenRouter({
		hive,
		dispatcher,
		version,
		isReady: () => ready,
		heartbeatIntervalMs: options.heartbeatIntervalMs,
		maxRetry: options.maxRetry,
		streams,
	});
	const server = await listen(createApp(router, log).callback(), options);
	const address = formatHostPort(options.host, (server.address() as AddressInfo).port);
	heartbeat.start();
	dispatcher.start();
	ready = true;
	const url = `http://${address}`;
	log.info({mode: 'queen', name: 'queen', url}, `queen listening on ${url}`);

	return {
		mode: 'queen',
		options,
		url,
		address,
		name: 'queen',
		log,
		hive,
		stop: once_(async () => {
			ready = false;
			heartbeat.stop();
			dispatcher.stop();
			for (const stream of streams) {
				stream.close();
			}

			await closeServer(server, io.graceMs ?? 5000);
			client.close();
			log.info({mode: 'queen'}, 'queen stopped');
		}),
	};
}

async function startDrone(options: LarveOptions, log: Logger, io: LarveIo): Promise<Larve> {
	let ready = false;
	const executor = new Executor({stdout: io.stdout ?? process.stdout, taskTimeoutMs: options.taskTimeoutMs});
	const client: HttpClient = createHttpClient({userAgent: `hive-drone/${version}`, timeoutMs: 2000});
	const queen = createQueenClient(options.queenHost!, client);
	let registration: Registration | undefined;
	const router = createDroneRouter({
		executor,
		version,
		slots: options.slots,
		allowExec: options.allowExec,
		isReady: () => ready,
		name: () => registration?.name,
		onQueenContact: () => registration?.noteQueenContact(),
		runCommand(id, command) {
			void executor.run(id, command).then(async result => reportResult(queen, log, registration!.name!, id, result));
		},
	});
	const server = await listen(createApp(router, log).callback(), options);
	const bound = formatHostPort(options.host, (server.address() as AddressInfo).port);
	const address = options.advertise ?? bound;
	registration = new Registration(queen, log, {
		drone: {address, name: options.name, slots: options.slots, allowExec: options.allowExec, labels: options.labels},
		timeoutMs: options.registerTimeoutMs,
	});
	const stop = once_(async () => {
		ready = false;
		// Running commands may finish and report; what is left when the grace ends is placed again by the queen.
		await executor.stop(io.graceMs ?? 5000);
		await registration!.leave();
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
	return {mode: 'drone', options, url, address, name, log, hive: undefined, stop};
}

async function listen(handler: http.RequestListener, options: LarveOptions): Promise<http.Server> {
	const server = http.createServer({keepAliveTimeout: 65_000}, handler);
	server.listen(options.port, options.host);
	await once(server, 'listening');
	return server;
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
