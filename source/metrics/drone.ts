import {Counter, Gauge, Histogram, Registry} from 'prom-client';
import {Executor, type CommandEnd, type ExecutorOptions} from '../drone/executor.js';
import {larveRegistry} from './process.js';

/** How a command task ended on this drone. */
export type CommandOutcome = 'succeeded' | 'failed' | 'timed_out' | 'cancelled';

const commandOutcomes: readonly CommandOutcome[] = ['succeeded', 'failed', 'timed_out', 'cancelled'];

export type DroneMetricsOptions = {
	/** `--slots`: command tasks it runs at once. */
	readonly slots: number;
	/** Command tasks running now. */
	readonly running: () => number;
};

/**
A drone's metrics, in a registry of its own (never prom-client's global one: a test process runs many
larves): its slots and what runs in them, read when scraped; how its commands ended and how long they
took, and the texts it printed, counted by its executor (`MeteredExecutor`).
*/
export class DroneMetrics {
	readonly registry: Registry;
	readonly #durations: Histogram;
	readonly #outcomes: Record<CommandOutcome, Counter.Internal>;
	readonly #texts: Counter;

	constructor(options: DroneMetricsOptions) {
		const own = new Registry();
		const registers = [own];
		new Gauge({
			name: 'hive_drone_slots',
			help: 'Command tasks this drone runs at once (--slots).',
			registers,
			collect() {
				this.set(options.slots);
			},
		});
		new Gauge({
			name: 'hive_drone_running_tasks',
			help: 'Command tasks running on this drone now.',
			registers,
			collect() {
				this.set(options.running());
			},
		});
		this.#durations = new Histogram({
			name: 'hive_drone_task_duration_seconds',
			help: 'How long this drone\'s command tasks ran, from start to exit (or kill).',
			buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
			registers,
		});
		const tasks = new Counter({
			name: 'hive_drone_tasks_total',
			help: 'Command tasks this drone ran, by how they ended: succeeded (exit 0), failed (another exit, a signal, could not start), timed_out (killed at --task-timeout), cancelled (stopped by its queen: cancelled, or moved off this drone by a drain).',
			labelNames: ['outcome'],
			registers,
		});
		this.#outcomes = Object.fromEntries(commandOutcomes.map(outcome => [outcome, tasks.labels({outcome})])) as Record<CommandOutcome, Counter.Internal>;
		for (const counter of Object.values(this.#outcomes)) {
			counter.inc(0);
		}

		this.#texts = new Counter({
			name: 'hive_drone_text_tasks_total',
			help: 'Text tasks this drone printed.',
			registers,
		});
		this.registry = larveRegistry(own);
	}

	commandEnded(result: CommandEnd): void {
		this.#durations.observe(result.durationMs / 1000);
		this.#outcomes[outcomeOf(result)].inc();
	}

	textPrinted(): void {
		this.#texts.inc();
	}
}

/** The drone's executor, each task it does counted in the drone's metrics. */
export class MeteredExecutor extends Executor {
	readonly #metrics: DroneMetrics;

	constructor(options: ExecutorOptions, metrics: DroneMetrics) {
		super(options);
		this.#metrics = metrics;
	}

	override print(...args: Parameters<Executor['print']>): void {
		super.print(...args);
		this.#metrics.textPrinted();
	}

	override async run(...args: Parameters<Executor['run']>): Promise<CommandEnd> {
		const result = await super.run(...args);
		this.#metrics.commandEnded(result);
		return result;
	}
}

function outcomeOf(result: CommandEnd): CommandOutcome {
	if (result.cancelled) {
		return 'cancelled';
	}

	if (result.timedOut) {
		return 'timed_out';
	}

	return result.succeeded ? 'succeeded' : 'failed';
}
