import type Koa from 'koa';
import {Counter, Gauge, Histogram, Registry} from 'prom-client';
import {runsOnDrone, taskStates, type Drone, type DroneState} from '../model.js';
import type {Hive, HiveEvent} from '../queen/hive.js';
import type {Leadership, Term} from '../queen/leader.js';
import type {Store} from '../queen/store/store.js';
import {larveRegistry} from './process.js';

/** How `POST /submit_task` was answered: 200 placed on a drone, 202 waits in the queue, 4xx refused, 5xx failed. */
export type SubmitOutcome = 'dispatched' | 'queued' | 'refused' | 'failed';

const submitOutcomes: readonly SubmitOutcome[] = ['dispatched', 'queued', 'refused', 'failed'];
const droneStates: readonly DroneState[] = ['ready', 'suspect'];

/** The queen's request handler (node:http's), as a reign's Koa app gives it. */
type Handle = ReturnType<Koa['callback']>;

export type QueenMetricsOptions = {
	/** Whether this queen leads now (`hive_leader`). */
	readonly leads: () => boolean;
};

/**
A queen's metrics, in a registry of its own (never prom-client's global one: a test process runs many
larves). The registry lives as long as the queen process, so its counters go on across the terms it
leads; each term feeds it from its own hive (`feed`), its store (`timeStore`) and its API (`countSubmits`).
What the hive holds (drones, tasks) is read when Prometheus scrapes, not counted as it changes: a queen
that follows reports none of it (the leader's `/metrics` does).
*/
export class QueenMetrics {
	readonly registry: Registry;
	#hive: Hive | undefined;
	/** Command tasks a drone had taken before this term (the store says `dispatched`): their `task.running` at load is no placement. */
	#inherited = new Set<string>();
	/** Tasks placed before and waiting again (their drone lost, or drained): their next `task.running` is no first placement. */
	readonly #placedBefore = new Set<string>();
	/** The epoch of the last leader seen (`hive_leader_changes_total`); undefined for a queen alone, null before any. */
	#lastEpoch: number | undefined | null = null;
	readonly #dispatchLatency: Histogram;
	readonly #sweepDuration: Histogram;
	readonly #heartbeatFailures: Counter;
	readonly #evictions: Counter;
	readonly #storeWrites: Histogram;
	readonly #leaderChanges: Counter;
	/** `node:http`'s 'finish' listener of a submit's answer (`this` is the response): made once, not per submit. */
	readonly #submitAnswered: (this: {readonly statusCode: number}) => void;

	constructor(options: QueenMetricsOptions) {
		const own = new Registry();
		const registers = [own];
		const hive = (): Hive | undefined => this.#hive;
		new Gauge({
			name: 'hive_drones',
			help: 'Drones registered with the hive, by state (ready: takes work; suspect: a heartbeat or a call failed). Only on the leading queen.',
			labelNames: ['state'],
			registers,
			collect() {
				this.reset();
				const now = hive();
				if (now) {
					const counts: Record<DroneState, number> = {ready: 0, suspect: 0};
					for (const drone of now.drones()) {
						counts[drone.state] += 1;
					}

					for (const state of droneStates) {
						this.set({state}, counts[state]);
					}
				}
			},
		});
		new Gauge({
			name: 'hive_drones_cordoned',
			help: 'Drones cordoned (no new tasks), ready or suspect, draining or not. Only on the leading queen.',
			registers,
			collect() {
				setOrDrop(this, hive(), drones => countDrones(drones, drone => drone.cordoned === true));
			},
		});
		new Gauge({
			name: 'hive_drones_draining',
			help: 'Drones being drained (cordoned, their work placed elsewhere or left to finish). Only on the leading queen.',
			registers,
			collect() {
				setOrDrop(this, hive(), drones => countDrones(drones, drone => drone.drain !== undefined));
			},
		});
		new Gauge({
			name: 'hive_tasks',
			help: 'Tasks the hive keeps, by state: unfinished ones, and the finished ones of its bounded history (--task-history). Only on the leading queen.',
			labelNames: ['state'],
			registers,
			collect() {
				this.reset();
				const counts = hive()?.taskCounts();
				if (counts) {
					for (const state of taskStates) {
						this.set({state}, counts[state]);
					}
				}
			},
		});
		const submits = new Counter({
			name: 'hive_submits_total',
			help: 'POST /submit_task answered, by outcome: dispatched (200: a drone took it), queued (202: it waits for a drone), refused (4xx: bad request, no token, queue full), failed (5xx: no drone at all, the store failed).',
			labelNames: ['outcome'],
			registers,
		});
		// One child per outcome, made here: a submit increments a counter and builds nothing.
		const submitCounters = Object.fromEntries(submitOutcomes.map(outcome => [outcome, submits.labels({outcome})])) as Record<SubmitOutcome, Counter.Internal>;
		for (const counter of Object.values(submitCounters)) {
			counter.inc(0);
		}

		this.#submitAnswered = function () {
			submitCounters[submitOutcome(this.statusCode)].inc();
		};

		this.#dispatchLatency = new Histogram({
			name: 'hive_dispatch_latency_seconds',
			help: 'From a task\'s submit to a drone taking it (a command running, a text printed), once per task: its first placement (a task placed again after its drone was lost is not counted again).',
			buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
			registers,
		});
		this.#sweepDuration = new Histogram({
			name: 'hive_heartbeat_sweep_duration_seconds',
			help: 'Heartbeat turns (every drone checked once an interval, each at its own phase): the slowest check of each turn, from when it was due to its outcome.',
			buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
			registers,
		});
		this.#heartbeatFailures = new Counter({
			name: 'hive_heartbeat_failures_total',
			help: 'Heartbeat attempts that failed (no answer, an error, a timeout); --max-retry of them in a row evict a drone.',
			registers,
		});
		this.#evictions = new Counter({
			name: 'hive_evictions_total',
			help: 'Drones evicted after failing their heartbeats (their unfinished tasks are placed again, or lost past --task-retries).',
			registers,
		});
		this.#storeWrites = new Histogram({
			name: 'hive_store_write_seconds',
			help: 'From a batch\'s first fact handed to the store (file or etcd) to the batch being durable: what every command waits before it is answered.',
			buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
			registers,
		});
		this.#leaderChanges = new Counter({
			name: 'hive_leader_changes_total',
			help: 'Leaders this queen has seen take over (a new term: itself or another queen); a queen alone counts its own, once.',
			registers,
		});
		new Gauge({
			name: 'hive_leader',
			help: '1 while this queen leads the hive, 0 while it follows another (or none leads).',
			registers,
			collect() {
				this.set(options.leads() ? 1 : 0);
			},
		});
		this.registry = larveRegistry(own);
	}

	/** Counts the leaders `leadership` sees from now on: call it before `start`. */
	watch(leadership: Leadership): void {
		leadership.on('elected', (term: Term) => {
			this.#leaderSeen(term.epoch);
		});
		leadership.on('changed', () => {
			const leader = leadership.leader;
			if (leader) {
				this.#leaderSeen(leader.epoch);
			}
		});
	}

	/** Feeds the metrics from a term's hive (its events, and its state when scraped); the returned function stops it. */
	feed(hive: Hive): () => void {
		this.#hive = hive;
		this.#inherited = new Set(hive.tasks({state: 'dispatched', limit: Number.MAX_SAFE_INTEGER}).tasks.filter(task => runsOnDrone(task.kind)).map(task => task.id));
		const unsubscribe = hive.subscribe(event => {
			this.#see(event);
		});
		return () => {
			unsubscribe();
			if (this.#hive === hive) {
				this.#hive = undefined;
			}
		};
	}

	/**
	The store, its writes timed (`hive_store_write_seconds`): each batch once, from its first `append` to
	its `durable` promise settling (the appends of one turn share one batch, and one promise). A memory
	store writes nothing: it is given back as it is.
	*/
	timeStore(store: Store): Store {
		if (store.kind === 'memory') {
			return store;
		}

		const histogram = this.#storeWrites;
		let lastBatch: Promise<void> | undefined;
		return {
			kind: store.kind,
			location: store.location,
			async load() {
				return store.load();
			},
			append(facts) {
				const written = store.append(facts);
				if (written.durable !== lastBatch) {
					lastBatch = written.durable;
					const started = performance.now();
					written.durable.then(() => {
						histogram.observe((performance.now() - started) / 1000);
					}, () => undefined);
				}

				return written;
			},
			get revision() {
				return store.revision;
			},
			stats() {
				return store.stats();
			},
			async close() {
				return store.close();
			},
			...(store.attach ? {attach: source => store.attach!(source)} : {}),
			...(store.forgetTask ? {forgetTask: id => store.forgetTask!(id)} : {}),
		};
	}

	/** The API's handler, its submits counted by how they were answered (`hive_submits_total`). */
	countSubmits(handle: Handle): Handle {
		const answered = this.#submitAnswered;
		// Not async: no promise of its own on every request, only the app's.
		return (request, response) => {
			const {url} = request;
			if (request.method === 'POST' && url !== undefined && url.startsWith('/submit_task') && (url.length === 12 || url[12] === '?')) {
				response.on('finish', answered);
			}

			return handle(request, response);
		};
	}

	#see(event: HiveEvent): void {
		switch (event.type) {
			case 'task.running': {
				const {task} = event;
				const again = this.#placedBefore.delete(task.id);
				if (!this.#inherited.delete(task.id) && !again && task.retries === 0) {
					this.#dispatchLatency.observe(Math.max(0, event.at - task.submittedAt) / 1000);
				}

				break;
			}

			case 'task.requeued': {
				this.#placedBefore.add(event.task.id);
				break;
			}

			case 'task.failed':
			case 'task.lost':
			case 'task.cancelled': {
				this.#placedBefore.delete(event.task.id);
				break;
			}

			case 'task.succeeded': {
				this.#placedBefore.delete(event.task.id);
				// A text task is done once a drone printed it: that is when a drone took it.
				if (event.task.kind === 'text') {
					this.#dispatchLatency.observe(Math.max(0, event.at - event.task.submittedAt) / 1000);
				}

				break;
			}

			case 'heartbeat.sweep': {
				this.#sweepDuration.observe(event.durationMs / 1000);
				break;
			}

			case 'heartbeat.failed': {
				this.#heartbeatFailures.inc();
				break;
			}

			case 'drone.evicted': {
				this.#evictions.inc();
				break;
			}

			default: {
				break;
			}
		}
	}

	#leaderSeen(epoch: number | undefined): void {
		if (epoch !== this.#lastEpoch) {
			this.#lastEpoch = epoch;
			this.#leaderChanges.inc();
		}
	}
}

function submitOutcome(status: number): SubmitOutcome {
	if (status === 202) {
		return 'queued';
	}

	if (status >= 500) {
		return 'failed';
	}

	return status >= 400 ? 'refused' : 'dispatched';
}

function countDrones(drones: Iterable<Drone>, counted: (drone: Drone) => boolean): number {
	let count = 0;
	for (const drone of drones) {
		if (counted(drone)) {
			count += 1;
		}
	}

	return count;
}

/** A gauge without labels: set from the hive, or no sample at all while this queen has none (it follows). */
function setOrDrop(gauge: Gauge, hive: Hive | undefined, value: (drones: Iterable<Drone>) => number): void {
	if (hive) {
		gauge.set(value(hive.drones()));
	} else {
		gauge.remove();
	}
}
