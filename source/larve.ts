import type {IncomingMessage, Server, ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';
import type {Writable} from 'node:stream';
import {randomUUID} from 'node:crypto';
import {fileURLToPath} from 'node:url';
import {createHttpClient, type HttpClient} from './client/http.js';
import {createQueenClient} from './client/queen-client.js';
import {Runc, RuntimeError} from './drone/runc.js';
import {probeSandbox, uncontained} from './drone/sandbox.js';
import {reportResult} from './drone/reporter.js';
import {Registration} from './drone/registration.js';
import {createDroneRouter} from './drone/routes.js';
import {createApp} from './http/app.js';
import {closeServer, listen} from './http/server.js';
import {createLogger, type Logger} from './log.js';
import {DroneMetrics, MeteredExecutor} from './metrics/drone.js';
import {QueenMetrics} from './metrics/queen.js';
import {routeMetrics} from './metrics/route.js';
import {defaultDataDir, defaultLogFile, formatHostPort, parseQueenHosts, resolveOptions, type LarveInput, type LarveOptions, type Mode} from './options.js';
import {createFollowerApp} from './queen/follower.js';
import type {Hive} from './queen/hive.js';
import {EtcdElection, SoleLeadership, type Leadership, type Term} from './queen/leader.js';
import {beginReign, type Reign, type ReignDeps} from './queen/reign.js';
import {localHiveToken, startLocalDrones} from './queen/local-drones.js';
import type {QueenHealth} from './queen/routes.js';
import {createEtcdClient} from './queen/store/etcd-client.js';
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
	/** The queen's state while it leads; undefined on a drone, and on a queen that follows another. */
	readonly hive: Hive | undefined;
	/** A queen's view of who leads; undefined on a drone. */
	readonly leadership?: Leadership | undefined;
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
	// A drone on a port picked at start, with no name, has its data directory named after that port.
	return options.mode === 'queen' ? startQueen(options, log, io) : startDrone(options, log, io, input.dataDir === undefined && options.name === undefined && options.port === 0);
}

async function startQueen(options: LarveOptions, log: Logger, io: LarveIo): Promise<Larve> {
	let stopping = false;
	// A one-command local hive is closed by default: its drones and dashboard get a token made here (and
	// kept with its store, for the next start).
	const token = options.token ?? (options.localDrones > 0 ? localHiveToken(options.store === 'file' ? options.dataDir : undefined) : undefined);
	const startedAt = new Date().toISOString();
	let address = options.advertise ?? '';
	const etcd = options.store === 'etcd' ? createEtcdClient({endpoints: options.etcdEndpoints}) : undefined;
	let leadership: Leadership = new SoleLeadership(() => address);
	// One registry for the queen process: its counters go on across the terms it leads.
	const metrics = new QueenMetrics({leads: () => leadership.holds()});
	metrics.watch(leadership);
	let stopLarve: (() => Promise<void>) | undefined;
	/** What this queen runs while it leads; undefined while it follows. */
	let reign: Reign | undefined;
	const health = (): QueenHealth => ({role: leadership.role, leader: leadership.leader?.address ?? null, epoch: leadership.leader?.epoch ?? null, address, startedAt});
	const reignDeps: ReignDeps = {
		options,
		log,
		token,
		get leadership() {
			return leadership;
		},
		health,
		isReady: () => !stopping,
		etcd,
		metrics,
		onStoreFailure(error, term) {
			if (etcd) {
				// Another queen may lead by now (a fenced write), or etcd cannot be reached: this term is over.
				// (A late write of an earlier term, failing on its broken store, says nothing of this one.)
				if (leadership.role === 'leader' && leadership.leader?.epoch === term.epoch) {
					leadership.stepDown(`its store failed: ${error.message}`);
				}

				return;
			}

			stopping = true;
			log.fatal({err: error.message, store: reign?.hive.store.location}, 'the store failed: the queen stops rather than answer what it cannot keep');
			if (io.onFatal) {
				io.onFatal(error);
			} else {
				void stopLarve?.();
			}
		},
	};

	if (!etcd) {
		// A queen alone leads from the start: its store is opened (and a locked or corrupt one refused) before it listens.
		leadership.start();
		reign = await beginReign({epoch: undefined, fence: undefined}, reignDeps);
	}

	// A queen elected but still loading its term answers /healthz as NOT_READY, and the rest 503.
	const follower = createFollowerApp({log, version, health, isReady: () => !stopping && leadership.role === 'follower', leader: () => (leadership.role === 'leader' ? undefined : leadership.leader?.address), via: () => address, timeoutMs: Math.max(options.leaderLeaseMs, options.dispatchTimeoutMs) + 1000, metrics: {registry: metrics.registry, token, open: options.metricsOpen}});
	const followerHandler = follower.app.callback();
	const front = {
		// While it leads, its reign answers; otherwise the follower's app (its /healthz, the rest forwarded).
		callback: () => async (request: IncomingMessage, response: ServerResponse) => (reign?.handle ?? followerHandler)(request, response),
	};
	let server: Server;
	try {
		server = await listen(front, options, log);
	} catch (error: unknown) {
		reign?.stop();
		await reign?.close();
		etcd?.close();
		throw error;
	}

	address ||= formatHostPort(options.host, (server.address() as AddressInfo).port);
	const url = `http://${formatHostPort(options.host, (server.address() as AddressInfo).port)}`;
	/** Terms begin and end one after the other: a term's hive is stopped before the next is loaded. */
	let transition = Promise.resolve();
	if (etcd) {
		leadership = new EtcdElection({client: etcd, key: `${options.etcdPrefix}leader`, address, leaseMs: options.leaderLeaseMs, log});
		metrics.watch(leadership);
		leadership.on('elected', (term: Term) => {
			transition = transition.then(async () => {
				// A term that ended while an earlier one was being stopped is not begun.
				if (stopping || !leadership.holds() || leadership.leader?.epoch !== term.epoch) {
					return;
				}

				try {
					reign = await beginReign(term, reignDeps);
				} catch (error: unknown) {
					log.error({err: error instanceof Error ? error.message : String(error), epoch: term.epoch}, 'could not load the hive from etcd: this queen steps down');
					leadership.stepDown('it could not load the hive');
				}
			});
		});
		let previous: string | undefined;
		leadership.on('changed', () => {
			const leader = leadership.leader;
			follower.leaderChanged(previous);
			previous = leader?.address;
			log.info({leader: leader?.address ?? null, epoch: leader?.epoch ?? null}, leader ? `the hive's leader is ${leader.address} (epoch ${leader.epoch})` : 'no queen leads the hive');
		});
	}

	leadership.on('deposed', () => {
		transition = transition.then(async () => {
			const old = reign;
			reign = undefined;
			old?.stop();
			await old?.close();
		});
	});
	if (etcd) {
		leadership.start();
	}

	log.info({mode: 'queen', name: 'queen', url, address, store: options.store, token: token === undefined ? 'none' : (options.token === undefined ? 'made for the local drones' : 'set')}, `queen listening on ${url}`);
	if (token === undefined) {
		log.warn('no --token: anyone who can reach this queen can register drones and submit tasks');
	}

	const localDrones = options.localDrones > 0
		? startLocalDrones({
			count: options.localDrones,
			queenAddress: address,
			cliPath: io.cliPath ?? fileURLToPath(new URL('cli.js', import.meta.url)),
			logLevel: options.logLevel,
			// The queen's drone flags are its local drones': `--local-drones 2 --allow-exec` runs commands.
			drone: {allowExec: options.allowExec, runtime: options.runtime, slots: options.slots, labels: options.labels, taskTimeoutMs: options.taskTimeoutMs},
			token,
			output: options.tui ? {logFile: options.logFile ?? defaultLogFile} : 'inherit',
		}, log)
		: undefined;

	stopLarve = once_(async () => {
		// Local drones first, so that they can still tell the queen they leave.
		await localDrones?.stop();
		stopping = true;
		await transition;
		const last = reign;
		last?.stop();
		if (etcd) {
			// One of several: what was written is written, and the term is given back at once, so that another
			// queen leads while this one's connections close (requests left go to it, or get 503).
			reign = undefined;
			await last?.close();
			await leadership.stop();
			await transition;
			// Streams forwarded to the leader end too: their clients reconnect to another queen.
			follower.close();
			await closeServer(server, io.graceMs ?? 5000, log);
			etcd.close();
		} else {
			follower.close();
			// A queen alone: requests in flight finish (and are written) before its store closes.
			await closeServer(server, io.graceMs ?? 5000, log);
			reign = undefined;
			await last?.close();
			await leadership.stop();
		}

		log.info({mode: 'queen'}, 'queen stopped');
	});
	return {
		mode: 'queen',
		options,
		url,
		address,
		name: 'queen',
		log,
		get hive() {
			return reign?.hive;
		},
		get leadership() {
			return leadership;
		},
		token,
		stop: stopLarve,
	};
}

async function startDrone(options: LarveOptions, log: Logger, io: LarveIo, dataDirOfPort: boolean): Promise<Larve> {
	let ready = false;
	// Commands are contained where the machine allows it; a drone that cannot says so, loudly.
	const sandbox = options.allowExec ? await probeSandbox() : uncontained('this drone runs no commands');
	if (options.allowExec && !sandbox.contained) {
		log.warn({reason: sandbox.reason}, `commands are NOT contained (${sandbox.reason}): a command can signal and read this drone and what it can reach as this user, and its processes may outlive its task`);
	}

	// It listens first (its port may be picked now, and name its data directory); it answers 503 until ready.
	let handle: ((request: IncomingMessage, response: ServerResponse) => unknown) | undefined;
	const server = await listen({callback: () => async (request: IncomingMessage, response: ServerResponse) => (handle ?? notYet)(request, response)}, options, log);
	const bound = formatHostPort(options.host, (server.address() as AddressInfo).port);
	let runtime: Runc | undefined;
	let guard: {release(): void} | undefined;
	try {
		runtime = options.runtime === 'runc' ? await startRunc(dataDirOfPort ? defaultDataDir((server.address() as AddressInfo).port, 'drone') : options.dataDir, log) : undefined;
		guard = runtime?.guard();
	} catch (error: unknown) {
		await closeServer(server, 0);
		throw error;
	}

	const metrics = new DroneMetrics({slots: options.slots, running: (): number => executor.running});
	const executor = new MeteredExecutor({stdout: io.stdout ?? process.stdout, taskTimeoutMs: options.taskTimeoutMs, sandbox, runtime}, metrics);
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
		runtimes: runtime ? [runtime.name] : [],
		labels: options.labels,
		bootId,
		token: options.token,
		isReady: () => ready,
		name: () => registration?.name,
		queenCall: (contactKey, epoch, readOnly) => registration?.queenCall(contactKey, epoch, readOnly) ?? {stale: false, proven: contactKey === undefined ? undefined : false},
		epoch: () => registration?.epoch,
		holding: () => holding,
		taskTimeoutMs: options.taskTimeoutMs,
		runTask(id, work) {
			holding.add(id);
			const drone = registration?.name;
			log.info({task: id, drone}, `task ${id} started`);
			void executor.run(id, work)
				.then(async ({cancelled, ...result}) => {
					log.info({task: id, drone, exitCode: result.exitCode, signal: result.signal, durationMs: result.durationMs, cancelled}, `task ${id} ${cancelled ? 'cancelled' : (result.succeeded ? 'succeeded' : 'failed')}`);
					// A cancelled task is the queen's doing: it knows how it ended, and nothing is reported.
					if (!cancelled) {
						await reportResult(queen, log, registration!.name!, id, result, reporting.signal);
					}
				})
				.catch((error: unknown) => {
					// Not reported: the queen sees the drone no longer holds it, and places it again.
					log.error({task: id, err: error instanceof Error ? error.message : String(error)}, 'a command task could not be run');
				})
				.finally(() => holding.delete(id));
		},
	});
	routeMetrics(router, {registry: metrics.registry, token: options.token, open: options.metricsOpen});
	handle = createApp(router, log).callback();
	const address = options.advertise ?? bound;
	registration = new Registration(queen, log, {
		drone: {address, name: options.name, slots: options.slots, allowExec: options.allowExec, ...(runtime ? {runtimes: [runtime.name]} : {}), labels: options.labels, bootId},
		timeoutMs: options.registerTimeoutMs,
	});
	const stop = once_(async () => {
		ready = false;
		// Running commands may finish and report; what is left when the grace ends is placed again by the queen.
		await executor.stop(io.graceMs ?? 5000);
		// Whatever container is left (one that would not die in time) goes with its drone.
		await runtime?.sweep();
		guard?.release();
		await runtime?.close();
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
		guard?.release();
		await runtime?.close();
		throw error;
	}

	registration.watch();
	ready = true;
	const url = `http://${bound}`;
	log.info({mode: 'drone', name, url, address, queen: queen.baseUrl, slots: options.slots, allowExec: options.allowExec, ...(options.allowExec ? {contained: sandbox.contained} : {})}, `drone ${name} listening on ${url}`);
	if (options.token === undefined) {
		log.warn({url}, `no --token: anyone who can reach ${url} can command this drone${options.allowExec ? ' and run commands on this machine' : ''}${runtime ? ' and run containers on it' : ''}`);
	}

	return {mode: 'drone', options, url, address, name, log, hive: undefined, token: options.token, stop};
}

/** The answer of a drone still starting (its container runtime being made ready). */
function notYet(_request: IncomingMessage, response: ServerResponse): void {
	response.writeHead(503, {'content-type': 'application/json'}).end(JSON.stringify({error: 'this drone is starting'}));
}

/**
The drone's runc, made ready in its data directory: what an earlier run of this drone left there (a
drone killed with -9) is deleted first. Throws a `RuntimeError` when runc cannot run here.
*/
async function startRunc(dataDir: string, log: Logger): Promise<Runc> {
	const probed = await Runc.probe({dataDir, log});
	if ('error' in probed) {
		throw new RuntimeError(`--runtime runc: ${probed.error}`);
	}

	const {runtime} = probed;
	const left = await runtime.sweep();
	if (left.length > 0) {
		log.warn({containers: left}, `deleted ${left.length} containers an earlier run of this drone left`);
	}

	log.info({runtime: 'runc', version: runtime.version, root: runtime.root}, `containers run with runc ${runtime.version} (runc --root ${runtime.root} list)`);
	return runtime;
}

/** Makes a function that runs once; later calls get the first call's promise. */
function once_(run: () => Promise<void>): () => Promise<void> {
	let running: Promise<void> | undefined;
	return async () => {
		running ??= run();
		return running;
	};
}
