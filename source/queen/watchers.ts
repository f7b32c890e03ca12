import type Koa from 'koa';
import {HiveError} from '../http/errors.js';
import {eventFrame, keepAliveFrame, openEventStream, type EventStream} from '../http/sse.js';
import type {Hive, HiveEvent, KeptEvent} from './hive.js';

/** What the watchers read of the hive: its events as they come, and the backlog for `?since=`. */
export type EventSource = Pick<Hive, 'subscribe' | 'eventsSince'>;

export type WatchersOptions = {
	/** Clients of `GET /events` at once; one more is answered 503. @default 256 */
	readonly max: number;
	/** An event as clients see it (`eventJson`). */
	readonly view: (event: HiveEvent | KeptEvent) => unknown;
	/** Pause between two keep-alive comments. @default 15000 */
	readonly keepAliveMs?: number;
	/**
	Shortest time between two writes to the clients: the frames made meanwhile wait and go in one write.
	An event after a quiet spell goes at once (at the end of its turn of the event loop). @default 50
	*/
	readonly coalesceMs?: number;
};

/** The default of `coalesceMs`: half the dashboard's own wait before it shows a batch (100 ms), and under what a person sees. */
export const defaultCoalesceMs = 50;

/**
The clients of `GET /events`. Each event is made into its frame once, whatever the number of clients,
and the frames go to each client in one write, one Buffer for all, at most every `coalesceMs`: a write
costs the queen far more than the bytes it carries, so under a flood a client costs it 20 writes a
second, not one per event or per turn of the event loop (266 to 373 a second at 2,000 to 4,000 tasks/s).
What a client sees: an event after a quiet spell at once (at the end of its turn), and under a flood
the events in batches 50 ms apart, each at most 50 ms late. Their number is capped (`--max-watchers`).
*/
export class Watchers {
	readonly #hive: EventSource;
	readonly #options: WatchersOptions;
	readonly #streams = new Set<EventStream>();
	#frames: string[] = [];
	/** The write to come, when one is scheduled (a timer under a flood, an immediate after a quiet spell). */
	#pending: {readonly cancel: () => void} | undefined;
	/** When the frames last went (`performance.now()`), to space the writes `coalesceMs` apart. */
	#lastFlush = Number.NEGATIVE_INFINITY;
	#unsubscribe: (() => void) | undefined;
	#keepAlive: NodeJS.Timeout | undefined;
	#closed = false;

	constructor(hive: EventSource, options: WatchersOptions) {
		this.#hive = hive;
		this.#options = options;
	}

	get count(): number {
		return this.#streams.size;
	}

	/** Answers a request with the event stream, from after event `since` when given; refused (503) when full. */
	open(ctx: Koa.Context, since: number | undefined): void {
		const {max} = this.#options;
		if (this.#closed) {
			// A client that reconnects at once must not hold a stopping queen for its whole grace.
			ctx.set('Connection', 'close');
			throw new HiveError(503, 'the queen is stopping', 'ERR_HIVE_STOPPING');
		}

		if (this.#streams.size >= max) {
			ctx.set('Retry-After', '5');
			throw new HiveError(503, `${this.#streams.size} clients already watch the events (--max-watchers ${max}); try again later`, 'ERR_HIVE_TOO_MANY_WATCHERS');
		}

		// Frames made before this client came are not its own: they reach the others first.
		this.#flush();
		const stream = openEventStream(ctx, () => {
			this.#streams.delete(stream);
			if (this.#streams.size === 0) {
				this.#stop();
			}
		});
		if (since !== undefined) {
			stream.sendFrame(this.#hive.eventsSince(since).map(event => eventFrame(event.id, this.#options.view(event))).join(''));
		}

		this.#streams.add(stream);
		this.#start();
	}

	/** Ends every stream, and takes no new one (a stopping queen). */
	closeAll(): void {
		this.#closed = true;
		this.#flush();
		for (const stream of this.#streams) {
			stream.close();
		}
	}

	#start(): void {
		this.#unsubscribe ??= this.#hive.subscribe(event => {
			this.#frames.push(eventFrame(event.id, this.#options.view(event)));
			this.#pending ??= this.#schedule();
		});
		if (!this.#keepAlive) {
			this.#keepAlive = setInterval(() => {
				this.#write(keepAliveFrame);
			}, this.#options.keepAliveMs ?? 15_000);
			this.#keepAlive.unref();
		}
	}

	/** The next write: at the end of this turn, or `coalesceMs` after the last one if that is later. */
	#schedule(): {readonly cancel: () => void} {
		const flush = () => {
			this.#flush();
		};

		const wait = this.#lastFlush + (this.#options.coalesceMs ?? defaultCoalesceMs) - performance.now();
		if (wait <= 0) {
			const immediate = setImmediate(flush);
			return {cancel: () => clearImmediate(immediate)};
		}

		const timer = setTimeout(flush, wait);
		return {cancel: () => clearTimeout(timer)};
	}

	#stop(): void {
		this.#flush();
		this.#unsubscribe?.();
		this.#unsubscribe = undefined;
		clearInterval(this.#keepAlive);
		this.#keepAlive = undefined;
	}

	#flush(): void {
		this.#pending?.cancel();
		this.#pending = undefined;
		if (this.#frames.length === 0) {
			return;
		}

		this.#lastFlush = performance.now();
		const frames = this.#frames.length === 1 ? this.#frames[0]! : this.#frames.join('');
		this.#frames = [];
		this.#write(Buffer.from(frames));
	}

	#write(frame: Buffer | string): void {
		for (const stream of this.#streams) {
			stream.sendFrame(frame);
		}
	}
}
