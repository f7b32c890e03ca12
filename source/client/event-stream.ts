import type {Readable} from 'node:stream';

/** One event of a queen's `GET /events` stream: `{id, time, type, ...}`. */
export type StreamEvent = {readonly id?: number; readonly time: string; readonly type: string; readonly [key: string]: unknown};

export type EventStreamStatus = {readonly connected: boolean; readonly error?: string};

export type EventStreamOptions = {
	/**
	Opens `GET /events?since=<id>` (a `QueenClient`'s `openEvents`). It may first find out where (a promise:
	the dashboard asks its queens who leads); a rejection counts as a failed connection, tried again later.
	*/
	readonly open: (since: number | undefined) => Readable | Promise<Readable>;
	/** Where to start: 0 replays the queen's backlog; undefined only what happens from now. */
	readonly since?: number;
	readonly onEvent: (event: StreamEvent) => void;
	readonly onStatus?: (status: EventStreamStatus) => void;
	/** Pause before reconnecting, doubled after each failure up to `maxRetryMs`. @default 250 */
	readonly retryMs?: number;
	/** @default 2000 */
	readonly maxRetryMs?: number;
	/**
	The first event of a reconnection has an id at or before the last one read: the stream counts anew (a
	queen that restarted without its history), so what was built from the earlier events may no longer
	hold. Called before that event goes to `onEvent`.
	*/
	readonly onRewind?: (event: StreamEvent, lastId: number) => void;
};

export type EventStreamReader = {
	/** The id of the last event read (what a reconnection asks to start after). */
	readonly lastId: number | undefined;
	/**
	Drops the connection and connects again after the usual pause, as after a drop: for a caller that learns
	first that the queen is gone (a queen stopped dead leaves its connection open). Nothing while a
	reconnection is already under way.
	*/
	restart(reason: string): void;
	close(): void;
};

/**
Reads a queen's Server-Sent Events and reconnects after a drop with `?since=<last id>`, so that no
event in the queen's backlog is missed and none is read twice.
*/
export function readEventStream(options: EventStreamOptions): EventStreamReader {
	let lastId = options.since;
	let closed = false;
	let stream: Readable | undefined;
	let timer: NodeJS.Timeout | undefined;
	let retryMs = options.retryMs ?? 250;

	let fail: ((error: string) => void) | undefined;

	const connect = (): void => {
		if (closed) {
			return;
		}

		let current: Readable | undefined;
		let failed = false;
		const retry = (error: string): void => {
			if (failed || closed) {
				return;
			}

			failed = true;
			current?.destroy();
			options.onStatus?.({connected: false, error});
			timer = setTimeout(connect, retryMs);
			retryMs = Math.min(retryMs * 2, options.maxRetryMs ?? 2000);
		};

		fail = retry;
		let opened: Readable | Promise<Readable>;
		try {
			opened = options.open(lastId);
		} catch (error: unknown) {
			retry(describe(error));
			return;
		}

		if (opened instanceof Promise) {
			opened.then(readable => {
				if (failed || closed) {
					readable.destroy();
				} else {
					current = readable;
					read(readable, retry);
				}
			}, (error: unknown) => {
				retry(describe(error));
			});
		} else {
			current = opened;
			read(opened, retry);
		}
	};

	const read = (current: Readable, retry: (error: string) => void): void => {
		stream = current;
		let buffer = '';
		let first = true;
		current.on('response', (response: {statusCode: number}) => {
			if (response.statusCode >= 200 && response.statusCode < 300) {
				retryMs = options.retryMs ?? 250;
				options.onStatus?.({connected: true});
			} else {
				retry(`GET /events answered HTTP ${response.statusCode}`);
			}
		});
		current.setEncoding('utf8');
		current.on('data', (chunk: string) => {
			// Look for the end of a block only in what is new (and the newline before it), so that an event
			// that comes in many chunks is not searched again for each; cut the buffer once per chunk.
			let from = Math.max(0, buffer.length - 1);
			buffer += chunk;
			let start = 0;
			let end: number;
			while ((end = buffer.indexOf('\n\n', from)) >= 0) {
				const event = parseBlock(buffer.slice(start, end));
				start = end + 2;
				from = start;
				// Asked for events after lastId, a queen that answers with an older id has restarted and counts
				// from 1 again: follow its count rather than wait for it to catch up.
				// Events without an id (heartbeats: the store does not keep them) come in order, after the last id.
				const id = event?.id;
				if (event && first && id !== undefined && lastId !== undefined && id <= lastId) {
					options.onRewind?.(event, lastId);
					lastId = id - 1;
				}

				if (event && id !== undefined) {
					first = false;
				}

				if (event && (id === undefined || lastId === undefined || id > lastId)) {
					lastId = id ?? lastId;
					options.onEvent(event);
				}
			}

			if (start > 0) {
				buffer = buffer.slice(start);
			}
		});
		current.on('error', (error: Error & {code?: string}) => {
			retry(error.code ?? error.message);
		});
		current.on('end', () => {
			retry('the queen closed the event stream');
		});
	};

	connect();
	return {
		get lastId() {
			return lastId;
		},
		restart(reason) {
			fail?.(reason);
		},
		close() {
			closed = true;
			clearTimeout(timer);
			stream?.destroy();
		},
	};
}

function describe(error: unknown): string {
	return error instanceof Error ? error.message : String(error);
}

/** One SSE block (`id:` and `data:` lines) to an event; comments and malformed data are skipped. */
export function parseBlock(block: string): StreamEvent | undefined {
	const data = block.split('\n').filter(line => line.startsWith('data:')).map(line => line.slice(line.startsWith('data: ') ? 6 : 5)).join('\n');
	if (!data) {
		return undefined;
	}

	try {
		const event = JSON.parse(data) as StreamEvent;
		return (event?.id === undefined || typeof event.id === 'number') && typeof event?.type === 'string' ? event : undefined;
	} catch {
		return undefined;
	}
}
