import type {AnyFlags} from 'meow';
import type {QueenClient} from '../client/queen-client.js';
import {UsageError, type Output} from './output.js';

/** What a command runs with: the queen (or queens) to ask, where to print, who asks. */
export type CommandContext = {
	readonly queen: QueenClient;
	readonly output: Output;
	/** `user@host`, sent as `X-Hive-User` with changes (cancel, cordon...) so that the record says who. */
	readonly user: string;
	readonly now: () => number;
};

/** The flags meow parsed for a command (its own and the common ones), read through the helpers below. */
export type ParsedFlags = Readonly<Record<string, unknown>>;

/** One subcommand of `hive-larve`, as kubectl has `get`, `cordon`...: its flags, its help, what it does. */
export type CommandSpec = {
	readonly name: string;
	/** The arguments after the name, for the command list (`ID`, `NAME`). */
	readonly synopsis: string;
	/** One line for `hive-larve --help`'s list of commands. */
	readonly summary: string;
	/** Usage and options, as `hive-larve NAME --help` prints them (the common options are added). */
	readonly help: string;
	readonly flags: AnyFlags;
	/**
	Resolves with the exit status; throws a `UsageError` (2) or anything else (1). `args`: the arguments,
	those after `--` last; `afterSeparator`: those after `--` alone, as typed (undefined without a `--`),
	so that a command that takes a program and its arguments (`submit --image DIR -- sh -c '...'`) can tell
	them from its own.
	*/
	run(context: CommandContext, args: readonly string[], flags: ParsedFlags, afterSeparator: readonly string[] | undefined): Promise<number>;
};

export function stringFlag(flags: ParsedFlags, name: string): string | undefined {
	const value = flags[name];
	return typeof value === 'string' ? value : undefined;
}

export function listFlag(flags: ParsedFlags, name: string): string[] {
	const value = flags[name];
	return Array.isArray(value) ? value.map(String) : [];
}

export function booleanFlag(flags: ParsedFlags, name: string): boolean {
	return flags[name] === true;
}

/** The one argument a command takes (`task ID`, `cordon NAME`). */
export function oneArgument(command: string, args: readonly string[], what: string): string {
	if (args.length === 0 || args[0] === '') {
		throw new UsageError(`${command} needs ${what} (see hive-larve ${command} --help)`);
	}

	if (args.length > 1) {
		throw new UsageError(`${command} takes one ${what}, got also '${args[1]!}' (see hive-larve ${command} --help)`);
	}

	return args[0]!;
}

export function noArguments(command: string, args: readonly string[]): void {
	if (args.length > 0) {
		throw new UsageError(`${command} takes no argument, got '${args[0]!}' (see hive-larve ${command} --help)`);
	}
}

/** A flag's whole number within bounds, or a `UsageError` naming the flag and the bad value. */
export function wholeNumberFlag(flags: ParsedFlags, name: string, minimum: number, maximum: number): number | undefined {
	const value = stringFlag(flags, name);
	if (value === undefined) {
		return undefined;
	}

	const number = Number(value);
	if (!/^\d+$/.test(value.trim()) || number < minimum || number > maximum) {
		throw new UsageError(`--${kebab(name)} must be a whole number from ${minimum} to ${maximum}, got '${value}'`);
	}

	return number;
}

/** A flag's number of seconds (decimals allowed), or a `UsageError`. */
export function secondsFlag(flags: ParsedFlags, name: string): number | undefined {
	const value = stringFlag(flags, name);
	if (value === undefined) {
		return undefined;
	}

	const number = Number(value);
	if (value.trim() === '' || !Number.isFinite(number) || number < 0) {
		throw new UsageError(`--${kebab(name)} must be a number of seconds (0 or more), got '${value}'`);
	}

	return number;
}

/** `queenHost` → `queen-host`, as the flag is typed. */
export function kebab(name: string): string {
	return name.replaceAll(/[A-Z]/g, letter => `-${letter.toLowerCase()}`);
}
