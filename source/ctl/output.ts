import type {Writable} from 'node:stream';
import {CallError} from '../client/http.js';

export type OutputFormat = 'table' | 'json';

/** Where a command prints, and how: tables for people (cut to a terminal's width), JSON for scripts. */
export type Output = {
	readonly format: OutputFormat;
	readonly stdout: Writable;
	readonly stderr: Writable;
	/** The terminal's width when standard output is one; undefined otherwise (a pipe, a file: nothing is cut). */
	readonly width: number | undefined;
};

/** A command line the client cannot run (unknown command or flag, missing argument): exit status 2. */
export class UsageError extends Error {
	override readonly name = 'UsageError';
	readonly code = 'ERR_HIVE_USAGE';
}

/** A command that ran and failed (the queen refused, or cannot be reached): exit status 1. */
export class CommandError extends Error {
	override readonly name = 'CommandError';
	readonly code = 'ERR_HIVE_COMMAND';
}

/** The width to cut tables to: `COLUMNS` if set (as a shell sets it), else the terminal's; none off a terminal. */
export function terminalWidth(stream: {readonly isTTY?: boolean; readonly columns?: number}, env: NodeJS.ProcessEnv): number | undefined {
	if (!stream.isTTY) {
		return undefined;
	}

	const columns = Number(env.COLUMNS);
	if (Number.isInteger(columns) && columns > 0) {
		return columns;
	}

	return stream.columns && stream.columns > 0 ? stream.columns : undefined;
}

/** Prints a value as the API gave it, on one line (one JSON document a line: `jq`, `JSON.parse` per line). */
export function printJson(output: Output, value: unknown): void {
	output.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Prints the queen's answer to a command: as it came for scripts (`-o json`), else `text` for people. */
export function printAnswer(output: Output, answer: unknown, text: string): void {
	if (output.format === 'json') {
		printJson(output, answer);
	} else {
		output.stdout.write(text);
	}
}

/**
What went wrong, in one line for people: the queen's own words for a refusal, what could not be reached
for no answer (the address the user gave, not a URL), what to do about a refused token.
*/
export function describeFailure(error: unknown, queenHosts: readonly string[]): string {
	if (error instanceof CallError) {
		// A CallError's message is `METHOD URL: detail`; the URL is ours, the detail is what happened.
		const separator = error.message.indexOf(': ');
		const detail = separator < 0 ? error.message : error.message.slice(separator + 2);
		if (error.code === 'ERR_HIVE_UNREACHABLE') {
			return queenHosts.length === 1
				? `cannot reach the queen at ${queenHosts[0]!}: ${detail}`
				: `cannot reach any queen of ${queenHosts.join(', ')}: ${detail}`;
		}

		if (error.status === 401) {
			return 'the queen refused the token (401): set HIVE_TOKEN (or --token-file) to the hive\'s token';
		}

		return detail;
	}

	return error instanceof Error ? error.message : String(error);
}

/** Resolves once what was written to `stream` has been handed to the system (before `process.exit`). */
export async function flushed(stream: Writable): Promise<void> {
	return new Promise(resolve => {
		stream.write('', () => {
			resolve();
		});
	});
}
