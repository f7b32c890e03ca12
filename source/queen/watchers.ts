import type Koa from 'koa';
import {HiveError} from '../http/errors.js';
import {eventFrame, keepAliveFrame, openEventStream, type EventStream} from '../http/sse.js';
import type {Hive, HiveEvent, KeptEvent} from './hive.js';

export type WatchersOptions = {
	/** Clients of `GET /events` at once; one more is answered 503. @default 256 */
	readonly max: number;
	/** An event as clients see it (`eventJson`). */
	readonly view: (event: HiveEvent | KeptEvent) => unknown;
	/** Pause between two keep-alive comments. @default 15000 */
	readonly keepAliveMs?: number;
};

/**
The clients of `GET /events`. Each event is made into its frame once, whatever the number of clients,
and the frames of one turn of the event loop go to each client in one write: a client costs the queen a
write per turn, not a serialization per event. Their number is capped (`--max-watchers`).
*/
export class Watchers {
	readonly #hive: Hive;
	readonly #options: WatchersOptions;
	readonly #streams = new Set<EventStream>();
	#frames: string[] = [];
	#flushScheduled = false;
	#unsubscribe: (() => void) | undefined;
	#keepAlive: NodeJS.Timeout | undefined;
	#closed = false;

	constructor(hive: Hive, options: WatchersOptions) {
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
			if (!this.#flushScheduled) {
				this.#flushScheduled = true;
				setImmediate(() => {
					this.#flush();
				});
			}
		});
		if (!this.#keepAlive) {
			this.#keepAlive = setInterval(() => {
				this.#write(keepAliveFrame);
			}, this.#options.keepAliveMs ?? 15_000);
			this.#keepAlive.unref();
		}
	}

	#stop(): void {
		this.#flush();
		this.#unsubscribe?.();
		this.#unsubscribe = undefined;
		clearInterval(this.#keepAlive);
		this.#keepAlive = undefined;
	}

	#flush(): void {
		this.#flushScheduled = false;
		if (this.#frames.length === 0) {
			return;
		}

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
