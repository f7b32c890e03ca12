/**
Clients of a queen's `GET /events` in a process of their own, for the watchers and dashboards
scenarios: N raw connections that read every byte, as fast as they come, into one buffer they share
(no allocation per read, no HTTP client in between), so that what the bench measures is the queen, not
its readers, and the load generator is not slowed by them.

  node dist/bench/event-readers.js --url http://127.0.0.1:8080 --count 200

Each stream's HTTP chunks are parsed: a chunk is one write of the queen, so the writes it made to each
client are counted, and the events in them (frames with a `data:` line). On standard output, one JSON
line each: `ready` once every client has its answer's head, and `stats` (counts so far) whenever the
process gets SIGUSR2. SIGTERM closes everything.
*/
import net from 'node:net';
import {fileURLToPath} from 'node:url';
import {parseArgs} from 'node:util';
import {spawnProc, waitFor, type Proc} from './procs.js';

const dataMarker = Buffer.from('data: ');

/**
Reads one `GET /events` stream from its first byte: the answer's head, then its chunks (or, without
chunked encoding, the body as it comes). Counts bytes, chunks (the queen's writes) and events.
*/
export class EventStreamCounter {
	/** Every byte read, the head and the framing included. */
	bytes = 0;
	/** HTTP chunks: one per write of the queen to this client. */
	writes = 0;
	/** Frames with a `data:` line (comments are not events). */
	events = 0;
	/** The answer's status, once its head has come. */
	status: number | undefined;
	/** The last chunk (size 0) has come: the queen ended the stream. */
	ended = false;
	#state: 'head' | 'size' | 'data' | 'crlf' | 'raw' = 'head';
	#head = '';
	#sizeText = '';
	#left = 0;
	#carry = Buffer.alloc(0);

	/** Takes bytes `start` to `end` of `buffer` (which may be reused once this returns). */
	push(buffer: Buffer, start = 0, end = buffer.length): void {
		this.bytes += end - start;
		let index = start;
		while (index < end) {
			switch (this.#state) {
				case 'head': {
					index = this.#readHead(buffer, index, end);
					break;
				}

				case 'size': {
					const byte = buffer[index++]!;
					if (byte !== 0x0A) {
						this.#sizeText += String.fromCodePoint(byte);
						break;
					}

					const size = Number.parseInt(this.#sizeText.split(';')[0]!.trim(), 16);
					this.#sizeText = '';
					if (size === 0) {
						this.ended = true;
						this.#state = 'raw';
						return;
					}

					this.writes++;
					this.#left = size;
					this.#state = 'data';
					break;
				}

				case 'data': {
					const take = Math.min(this.#left, end - index);
					this.#countEvents(buffer.subarray(index, index + take));
					index += take;
					this.#left -= take;
					if (this.#left === 0) {
						// The chunk's closing CRLF.
						this.#left = 2;
						this.#state = 'crlf';
					}

					break;
				}

				case 'crlf': {
					const take = Math.min(this.#left, end - index);
					index += take;
					this.#left -= take;
					if (this.#left === 0) {
						this.#state = 'size';
					}

					break;
				}

				case 'raw': {
					if (!this.ended) {
						this.#countEvents(buffer.subarray(index, end));
					}

					return;
				}
			}
		}
	}

	#readHead(buffer: Buffer, start: number, end: number): number {
		const before = this.#head.length;
		this.#head += buffer.toString('latin1', start, end);
		const headEnd = this.#head.indexOf('\r\n\r\n');
		if (headEnd < 0) {
			return end;
		}

		const head = this.#head.slice(0, headEnd);
		this.status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
		this.#state = /^transfer-encoding:\s*chunked\s*$/im.test(head) ? 'size' : 'raw';
		this.#head = '';
		return start + (headEnd + 4 - before);
	}

	/** Counts `data: ` in a piece of the body, a marker cut across two pieces included. */
	#countEvents(piece: Buffer): void {
		if (piece.length === 0) {
			return;
		}

		const keep = dataMarker.length - 1;
		if (this.#carry.length > 0) {
			// Both sides are shorter than the marker: a match here is one cut in two.
			const seam = Buffer.concat([this.#carry, piece.subarray(0, keep)]);
			for (let at = seam.indexOf(dataMarker); at >= 0; at = seam.indexOf(dataMarker, at + 1)) {
				this.events++;
			}
		}

		for (let at = piece.indexOf(dataMarker); at >= 0; at = piece.indexOf(dataMarker, at + dataMarker.length)) {
			this.events++;
		}

		this.#carry = piece.length >= keep ? Buffer.from(piece.subarray(piece.length - keep)) : Buffer.concat([this.#carry, piece]).subarray(-keep);
	}
}

export type ReadersStats = {
	readonly type: 'stats';
	readonly seq: number;
	readonly clients: number;
	/** Clients whose answer was a stream (200). */
	readonly streaming: number;
	/** Clients answered something else (e.g. 503 past --max-watchers). */
	readonly refused: number;
	/** Connections closed (by the queen: a stopping queen, or a client cut off). */
	readonly closed: number;
	readonly bytes: number;
	readonly writes: {readonly total: number; readonly min: number; readonly max: number};
	readonly events: {readonly total: number; readonly min: number; readonly max: number};
};

function statsOf(counters: readonly EventStreamCounter[], closed: number, seq: number): ReadersStats {
	const streams = counters.filter(counter => counter.status === 200);
	const spread = (values: readonly number[]) => ({
		total: values.reduce((a, b) => a + b, 0),
		min: values.length === 0 ? 0 : Math.min(...values),
		max: values.length === 0 ? 0 : Math.max(...values),
	});
	return {
		type: 'stats',
		seq,
		clients: counters.length,
		streaming: streams.length,
		refused: counters.filter(counter => counter.status !== undefined && counter.status !== 200).length,
		closed,
		bytes: counters.reduce((sum, counter) => sum + counter.bytes, 0),
		writes: spread(streams.map(counter => counter.writes)),
		events: spread(streams.map(counter => counter.events)),
	};
}

function runReaders(url: URL, count: number): void {
	const report = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);
	// One buffer for every read of every client: a read is counted before the next one comes.
	const shared = Buffer.allocUnsafe(256 * 1024);
	const counters: EventStreamCounter[] = [];
	const sockets: net.Socket[] = [];
	let closed = 0;
	let seq = 0;
	let ready = false;
	for (let index = 0; index < count; index++) {
		const counter = new EventStreamCounter();
		counters.push(counter);
		const socket = net.connect({
			host: url.hostname,
			port: Number(url.port),
			onread: {
				buffer: shared,
				callback(bytes) {
					counter.push(shared, 0, bytes);
					if (!ready && counters.every(each => each.status !== undefined)) {
						ready = true;
						report({type: 'ready', clients: count, streaming: counters.filter(each => each.status === 200).length});
					}

					return true;
				},
			},
		});
		socket.setNoDelay(true);
		socket.on('connect', () => socket.write(`GET /events HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`));
		socket.on('error', () => undefined);
		socket.on('close', () => {
			closed++;
		});
		sockets.push(socket);
	}

	process.on('SIGUSR2', () => {
		report(statsOf(counters, closed, ++seq));
	});
	process.on('SIGTERM', () => {
		for (const socket of sockets) {
			socket.destroy();
		}

		process.exit(0);
	});
}

export type EventReaders = {
	readonly proc: Proc;
	/** Counts so far (asked for now, not the last periodic line). */
	stats(): Promise<ReadersStats>;
	stop(): Promise<void>;
};

/** The built program (dist/bench/event-readers.js). */
export const eventReadersPath = fileURLToPath(import.meta.url);

/** Starts `count` readers of `queenUrl`'s `/events` in a process of their own; resolves once every one has its answer. */
export async function spawnEventReaders(queenUrl: string, count: number): Promise<EventReaders> {
	const proc = spawnProc(process.execPath, [eventReadersPath, '--url', queenUrl, '--count', String(count)], {label: `${count} readers of /events`, stdout: 'keep'});
	const lines = () => proc.jsonLines as unknown as Array<{readonly type: string; readonly streaming?: number; readonly seq?: number}>;
	try {
		const ready = await waitFor(() => {
			if (!proc.alive) {
				throw new Error(`the readers of /events exited: ${proc.stderrTail()}`);
			}

			return lines().find(line => line.type === 'ready');
		}, `${count} clients of /events to get their answers`, 30_000, {rethrow: true, pollMs: 50});
		if (ready.streaming !== count) {
			throw new Error(`only ${ready.streaming} of ${count} clients of /events got a stream`);
		}
	} catch (error: unknown) {
		await proc.stop();
		throw error;
	}

	let lastSeq = 0;
	return {
		proc,
		async stats() {
			const after = lastSeq;
			proc.child.kill('SIGUSR2');
			const line = await waitFor(() => lines().find(each => each.type === 'stats' && (each.seq ?? 0) > after), 'the readers\' counts', 10_000, {pollMs: 10});
			lastSeq = line.seq!;
			return line as unknown as ReadersStats;
		},
		async stop() {
			await proc.stop();
		},
	};
}

if (process.argv[1] === eventReadersPath) {
	const {values} = parseArgs({options: {url: {type: 'string'}, count: {type: 'string'}}});
	const count = Number(values.count);
	if (!values.url || !Number.isInteger(count) || count < 1) {
		process.stderr.write('usage: event-readers.js --url http://HOST:PORT --count N\n');
		process.exit(2);
	}

	runReaders(new URL(values.url), count);
}
