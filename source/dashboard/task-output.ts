import type {Readable} from 'node:stream';
import {parseLogLine, splitLines, type LogLine, type QueenClient} from '../client/queen-client.js';
import {errorText} from './format.js';

/** One line of a task's output, as the task view shows it. */
export type OutputLine = {readonly stream: 'stdout' | 'stderr'; readonly text: string};

/** How a task ended, as its output's last line says. */
export type OutputEnd = Extract<LogLine, {end: unknown}>['end'];

export type TaskOutputSnapshot = {
	readonly id: string;
	/** Lines in the order they came; a line not ended yet by a newline is the last of its stream. */
	readonly lines: readonly OutputLine[];
	/** The stream is open (the command runs, output may come). */
	readonly following: boolean;
	/** How it ended (the end line), once known. */
	readonly end: OutputEnd | undefined;
	/** What went wrong reading it (an error line, the queen out of reach, no such task). */
	readonly error: string | undefined;
	/** Oldest lines dropped beyond the bound (at most `maxLines` kept). */
	readonly dropped: number;
};

export type TaskOutputOptions = {
	/** Go on while the command runs (`?follow=true`): for a task not ended yet. @default false */
	readonly follow?: boolean;
	/** Wait between a first chunk and the snapshot that shows it. @default 100 */
	readonly flushMs?: number;
	/** Lines kept; older ones are dropped (and counted). @default 10000 */
	readonly maxLines?: number;
};

type Stream = OutputLine['stream'];

/**
One task's output (`GET /tasks/:id/logs`, NDJSON), split into lines per stream and, with `follow`, read
live while the command runs. Like `HiveStore`, it is read outside React: chunks are applied as they come
and listeners are told once per batch (`flushMs` after the first), so a command that prints a flood costs
one render per batch. Nothing is thrown: what goes wrong is in the snapshot's `error`.
*/
export class TaskOutput {
	readonly #id: string;
	readonly #flushMs: number;
	readonly #maxLines: number;
	readonly #listeners = new Set<() => void>();
	/** Oldest first; may pass `maxLines` between two flushes (trimmed by twice that at most). */
	#lines: OutputLine[] = [];
	/** Lines dropped from the front since the start: an index into `#lines` is a position minus this. */
	#dropped = 0;
	/** Each stream's line not ended yet by a newline, as its position (counted from the first line ever). */
	readonly #open: {stdout: number | undefined; stderr: number | undefined} = {stdout: undefined, stderr: undefined};

	#following = false;
	#end: OutputEnd | undefined;
	#error: string | undefined;
	#stream: Readable | undefined;
	#closed = false;
	#timer: NodeJS.Timeout | undefined;
	#snapshot: TaskOutputSnapshot;

	constructor(client: Pick<QueenClient, 'openTaskLogs'>, id: string, options: TaskOutputOptions = {}) {
		this.#id = id;
		this.#flushMs = options.flushMs ?? 100;
		this.#maxLines = options.maxLines ?? 10_000;
		this.#snapshot = {id, lines: [], following: false, end: undefined, error: undefined, dropped: 0};
		client.openTaskLogs(id, {follow: options.follow ?? false}).then(stream => {
			if (this.#closed) {
				stream.destroy();
				return;
			}

			this.#read(stream);
		}, (error: unknown) => {
			// Unreachable, no such task (404), a token refused: said, not thrown.
			this.#fail(error);
		});
	}

	// For useSyncExternalStore: stable references, a new snapshot only after a flush.
	readonly subscribe = (listener: () => void): (() => void) => {
		this.#listeners.add(listener);
		return () => this.#listeners.delete(listener);
	};

	readonly getSnapshot = (): TaskOutputSnapshot => this.#snapshot;

	/** Stops reading (the view closed): the stream is destroyed and no listener is told again. */
	close(): void {
		this.#closed = true;
		clearTimeout(this.#timer);
		this.#timer = undefined;
		this.#stream?.destroy();
		this.#listeners.clear();
	}

	/** Makes the snapshot of what came since the last one and tells listeners once. Normally run by the timer. */
	flush(): void {
		clearTimeout(this.#timer);
		this.#timer = undefined;
		if (this.#closed) {
			return;
		}

		this.#trim(this.#maxLines);
		this.#snapshot = {
			id: this.#id,
			lines: [...this.#lines],
			following: this.#following,
			end: this.#end,
			error: this.#error,
			dropped: this.#dropped,
		};
		for (const listener of this.#listeners) {
			listener();
		}
	}

	#changed(): void {
		if (!this.#closed) {
			this.#timer ??= setTimeout(() => {
				this.flush();
			}, this.#flushMs);
		}
	}

	#read(stream: Readable): void {
		this.#stream = stream;
		this.#following = true;
		this.#changed();
		let buffer = '';
		stream.setEncoding('utf8');
		stream.on('data', (chunk: string) => {
			const {lines, rest} = splitLines(buffer + chunk);
			buffer = rest;
			for (const text of lines) {
				this.#take(text);
			}

			this.#changed();
		});
		stream.on('error', (error: Error & {code?: string}) => {
			this.#fail(error.code ?? error.message);
		});
		stream.on('end', () => {
			this.#take(buffer);
			this.#following = false;
			if (this.#end === undefined && this.#error === undefined) {
				this.#error = 'the queen ended the output before the task\'s end (it stopped?)';
			}

			this.#changed();
		});
	}

	#fail(error: unknown): void {
		this.#following = false;
		this.#error ??= errorText(error instanceof Error ? error.message : String(error));
		this.#changed();
	}

	/** One NDJSON line of the answer. */
	#take(text: string): void {
		let line: LogLine | undefined;
		try {
			line = parseLogLine(text);
		} catch (error: unknown) {
			this.#error ??= (error as Error).message;
			return;
		}

		if (line === undefined) {
			return;
		}

		if ('stream' in line && (line.stream === 'stdout' || line.stream === 'stderr') && typeof line.data === 'string') {
			this.#append(line.stream, line.data);
		} else if ('end' in line) {
			this.#end = line.end;
		} else if ('error' in line) {
			this.#error = String(line.error);
		}
	}

	/** A chunk of one stream: it goes on that stream's open line, if any, and ends it at a newline. */
	#append(stream: Stream, data: string): void {
		if (data === '') {
			return;
		}

		const pieces = data.split('\n');
		for (const [index, piece] of pieces.entries()) {
			const ended = index < pieces.length - 1;
			if (!ended && piece === '') {
				// The chunk ended with its newline: no line is open.
				break;
			}

			const open = this.#open[stream];
			const at = open === undefined ? -1 : open - this.#dropped;
			let text = at >= 0 ? this.#lines[at]!.text + piece : piece;
			// A CRLF line ends as a line, without its carriage return.
			text = ended && text.endsWith('\r') ? text.slice(0, -1) : text;
			if (at >= 0) {
				this.#lines[at] = {stream, text};
			} else {
				// No open line (or it was dropped): a new one.
				this.#lines.push({stream, text});
			}

			this.#open[stream] = ended ? undefined : (at >= 0 ? open : this.#dropped + this.#lines.length - 1);
		}

		// Between two flushes, a flood is trimmed in steps (not one copy per line).
		if (this.#lines.length >= 2 * this.#maxLines) {
			this.#trim(this.#maxLines);
		}
	}

	#trim(keep: number): void {
		const excess = this.#lines.length - keep;
		if (excess > 0) {
			this.#lines = this.#lines.slice(excess);
			this.#dropped += excess;
		}
	}
}
