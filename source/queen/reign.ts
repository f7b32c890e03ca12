import type {Etcd3} from 'etcd3';
import type Koa from 'koa';
import {createDroneClient, type DroneClient} from '../client/drone-client.js';
import {CallError} from '../client/http.js';
import {queenUserAgentPrefix} from '../drone/routes.js';
import {createApp} from '../http/app.js';
import type {Logger} from '../log.js';
import type {QueenMetrics} from '../metrics/queen.js';
import {routeMetrics} from '../metrics/route.js';
import type {LarveOptions} from '../options.js';
import {version} from '../version.js';
import {Canceller} from './canceller.js';
import {Dispatcher} from './dispatcher.js';
import {Drainer} from './drainer.js';
import {HeartbeatMonitor} from './heartbeat.js';
import {Hive} from './hive.js';
import type {Leadership, Term} from './leader.js';
import {createQueenRouter, eventJson, type QueenHealth} from './routes.js';
import {openEtcdStore} from './store/etcd-store.js';
import {openFileStore} from './store/file-store.js';
import {createMemoryStore, type Store} from './store/store.js';
import {Watchers} from './watchers.js';

/**
What a leader runs for one term: the hive loaded from its store, the heartbeat monitor, the dispatcher,
the event streams, and the Koa app of the queen's API over them. A queen alone has one reign from
start to stop; one of several queens has one per term it leads (Nomad's `establishLeadership` and
`revokeLeadership`), and none while it follows.
*/
export type Reign = {
	readonly hive: Hive;
	/** The queen's API over this term's hive: node:http's request handler. */
	readonly handle: ReturnType<Koa['callback']>;
	readonly term: Term;
	/** Stops the heartbeats, the dispatcher and the event streams: the requests in flight may still finish. */
	stop(): void;
	/** Frees the drone client and closes the store (after `stop`). */
	close(): Promise<void>;
};

export type ReignDeps = {
	readonly options: LarveOptions;
	readonly log: Logger;
	readonly token: string | undefined;
	readonly leadership: Leadership;
	/** The queen's own part of `/healthz` (role, leader, epoch, address). */
	readonly health: () => QueenHealth;
	/** Whether the queen takes requests (false while it stops). */
	readonly isReady: () => boolean;
	/** The shared etcd client (`--store etcd://`). */
	readonly etcd: Etcd3 | undefined;
	/** The store of a term failed: it has stopped answering what it cannot keep. */
	readonly onStoreFailure: (error: Error, term: Term) => void;
	/** The queen's metrics (one registry for all its terms): each term feeds them. */
	readonly metrics: QueenMetrics;
};

/** Opens the store of the term, loads the hive from it, and starts leading. */
export async function beginReign(term: Term, deps: ReignDeps): Promise<Reign> {
	const {options, log, leadership} = deps;
	const loadStarted = performance.now();
	const fileStore = options.store === 'file' ? await openFileStore({dir: options.dataDir}) : undefined;
	// etcd's store is fenced on the term's election key.
	const opened: Store = fileStore ?? (options.store === 'etcd' ? await openEtcdStore({client: deps.etcd!, prefix: options.etcdPrefix, fence: term.fence}) : createMemoryStore());
	const store = deps.metrics.timeStore(opened);
	let hive: Hive;
	try {
		hive = await Hive.open({
			store,
			taskHistory: options.taskHistory,
			taskHistoryBytes: options.taskHistoryBytes,
			maxPending: options.maxPending,
			maxPendingBytes: options.maxPendingBytes,
			taskRetries: options.taskRetries,
			onStoreFailure: error => {
				deps.onStoreFailure(error, term);
			},
		});
	} catch (error: unknown) {
		await store.close();
		throw error;
	}

	// Its snapshots are of the hive it feeds.
	fileStore?.setImageSource(() => hive.image());
	for (const warning of hive.loadWarnings) {
		log.warn({store: store.location}, warning);
	}

	if (store.kind !== 'memory') {
		log.info({store: store.location, revision: store.revision, drones: hive.droneCount, tasks: hive.taskCount, epoch: term.epoch, ms: Math.round(performance.now() - loadStarted)}, `loaded the store in ${store.location}`);
	}

	const droneClient = guarded(createDroneClient({
		userAgent: `${queenUserAgentPrefix}${version}`,
		token: deps.token,
		maxSockets: 16,
		// Every call to a drone shows the key it gave when it registered: proof that the call is this queen's.
		contactKeyFor: droneAddress => hive.contactKeyAt(droneAddress),
		// And the term it is made in: a drone refuses a call of an older term than one it has seen.
		epoch: () => term.epoch,
	}), leadership);
	const canceller = new Canceller(hive, droneClient, log);
	const heartbeat = new HeartbeatMonitor(hive, droneClient, log, {
		intervalMs: options.heartbeatIntervalMs,
		maxRetry: options.maxRetry,
		retryDelayMs: options.retryDelayMs,
		timeoutMs: options.heartbeatTimeoutMs,
		concurrency: options.heartbeatConcurrency,
		// Drones loaded from the store could not be reached while no queen led: a whole grace period.
		graceMs: hive.droneCount > 0 ? options.heartbeatIntervalMs * (options.maxRetry + 1) : 0,
		leads: () => leadership.holds(),
		onHolding(drone, address, ids) {
			canceller.strays(drone, address, ids);
		},
	});
	const drainer = new Drainer(hive, canceller, log);
	/** Aborted when the term ends: the requests that wait on this hive stop waiting. */
	const ending = new AbortController();
	const dispatcher = new Dispatcher(hive, droneClient, heartbeat, log, {timeoutMs: options.dispatchTimeoutMs, scheduler: options.scheduler, leads: () => leadership.holds()});
	const watchers = new Watchers(hive, {max: options.maxWatchers, view: eventJson});
	const router = createQueenRouter({
		hive,
		dispatcher,
		version,
		isReady: () => deps.isReady() && leadership.holds(),
		health: deps.health,
		heartbeatIntervalMs: options.heartbeatIntervalMs,
		maxRetry: options.maxRetry,
		token: deps.token,
		async verifyDrone(droneAddress, contactKey) {
			return droneClient.registrationCallback(droneAddress, options.heartbeatTimeoutMs, contactKey);
		},
		watchers,
		canceller,
		droneClient,
		ending: ending.signal,
	});
	routeMetrics(router, {registry: deps.metrics.registry, token: deps.token, open: options.metricsOpen});
	const handle = deps.metrics.countSubmits(createApp(router, log).callback());
	const unfeed = deps.metrics.feed(hive);
	const unlog = logTaskEvents(hive, log);
	heartbeat.start();
	dispatcher.start();
	drainer.start();
	let closing: Promise<void> | undefined;
	return {
		hive,
		handle,
		term,
		stop() {
			heartbeat.stop();
			dispatcher.stop();
			drainer.stop();
			unlog();
			ending.abort();
			watchers.closeAll();
			unfeed();
		},
		async close() {
			closing ??= (async () => {
				droneClient.close();
				await store.close();
			})();
			return closing;
		},
	};
}

/** Task events the queen logs at info: a task's life turning (the rest at debug, when debug is on). */
const notableTaskEvents = new Set(['task.requeued', 'task.lost', 'task.cancelled']);

/**
Logs each task's life with its id and drone as fields (`task`, `drone`), so that `grep <id>` or a log tool
follows one task through the queen's log and its drone's. What turns (requeued, lost, cancelled) is
logged at info; every step at debug — and with debug off, no listener at all (the hot path pays nothing).
*/
function logTaskEvents(hive: Hive, log: Logger): () => void {
	const debug = log.isLevelEnabled('debug');
	if (!debug && !log.isLevelEnabled('info')) {
		return () => undefined;
	}

	return hive.subscribe(event => {
		if (!('task' in event) || (!debug && !notableTaskEvents.has(event.type))) {
			return;
		}

		const {task} = event;
		const fields = {task: task.id, drone: task.drone ?? null, state: task.state, ...('reason' in event && event.reason !== undefined ? {reason: event.reason} : {}), ...('by' in event && event.by !== undefined ? {by: event.by} : {}), ...(task.error === undefined ? {} : {err: task.error})};
		if (notableTaskEvents.has(event.type)) {
			log.info(fields, `${event.type} ${task.id}`);
		} else {
			log.debug(fields, `${event.type} ${task.id}`);
		}
	});
}

/**
A drone client that calls nobody unless this queen leads at the moment of the call: a leader that wakes
past its lease (paused, starved) must not command drones before its own timers notice.
*/
function guarded(client: DroneClient, leadership: Leadership): DroneClient {
	const check = (): void => {
		if (!leadership.holds()) {
			throw new CallError('this queen does not lead the hive now', 'ERR_HIVE_UNREACHABLE');
		}
	};

	return {
		async healthz(address, timeoutMs) {
			check();
			return client.healthz(address, timeoutMs);
		},
		async registrationCallback(address, timeoutMs, contactKey) {
			check();
			return client.registrationCallback(address, timeoutMs, contactKey);
		},
		async doTask(address, task, timeoutMs) {
			check();
			return client.doTask(address, task, timeoutMs);
		},
		async cancelTask(address, id, timeoutMs, mayReturn) {
			check();
			return client.cancelTask(address, id, timeoutMs, mayReturn);
		},
		async taskLogs(address, id, follow, timeoutMs) {
			check();
			return client.taskLogs(address, id, follow, timeoutMs);
		},
		close() {
			client.close();
		},
	};
}
