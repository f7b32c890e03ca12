import type {Readable} from 'node:stream';

/** One event of a queen's `GET /events` stream: `{id, time, type, ...}`. */
export type StreamEvent = {readonly id?: number; readonly time: string; readonly type: string; readonly [key: string]: unknown};

export type EventStreamStatus = {readonly connected: boolean; readonly error?: string};

export type EventStreamOptions = {
	/** Opens `GET /events?since=<id>` (a `QueenClient`'s `openEvents`). */
	readonly open: (since: number | undefined) => Readable;
	/** Where to start: 0 replays the queen's backlog; undefined only what happens from now. */
	readonly since?: number;
	readonly onEvent: (event: StreamEvent) => void;
	readonly onStatus?: (status: EventStreamStatus) => void;
	/** Pause before reconnecting, doubled after each failure up to `maxRetryMs`. @default 250 */
	readonly retryMs?: number;
	/** @default 2000 */
	readonly maxRetryMs?: number;
};

export type EventStreamReader = {
	/** The id of the last event read (what a reconnection asks to start after). */
	readonly lastId: number | undefined;
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

	const connect = (): void => {
		if (closed) {
			return;
		}

		let buffer = '';
		let failed = false;
		let first = true;
		const current = options.open(lastId);
		stream = current;
		const retry = (error: string): void => {
			if (failed || closed) {
				return;
			}

			failed = true;
			current.destroy();
			options.onStatus?.({connected: false, error});
			timer = setTimeout(connect, retryMs);
			retryMs = Math.min(retryMs * 2, options.maxRetryMs ?? 2000);
		};

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
		close() {
			closed = true;
			clearTimeout(timer);
			stream?.destroy();
		},
	};
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
