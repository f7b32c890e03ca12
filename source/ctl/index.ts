import meow from 'meow';
import {createHttpClient} from '../client/http.js';
import {createQueenClient} from '../client/queen-client.js';
import {requester} from '../client/requester.js';
import {parseQueenHosts, readTokenFile} from '../options.js';
import {version} from '../version.js';
import {kebab, stringFlag, type CommandSpec, type ParsedFlags} from './command.js';
import {cordon, drain, drones, uncordon} from './drones.js';
import {events} from './events.js';
import {describeFailure, flushed, terminalWidth, UsageError, type Output, type OutputFormat} from './output.js';
import {cancel, logs, submit, task, tasks} from './tasks.js';

/**
The command-line client: `hive-larve submit|drones|tasks|...` asks a queen over its HTTP API, as kubectl
asks an API server. The larve's entry (`cli.tsx`) hands over when its first argument names a command.
*/

/** In the order `--help` lists them: work first, then the drones, then what happened. */
export const commands: readonly CommandSpec[] = [submit, tasks, task, logs, cancel, drones, cordon, uncordon, drain, events];

const byName = new Map(commands.map(command => [command.name, command]));

export function isCtlCommand(argument: string | undefined): boolean {
	return argument !== undefined && byName.has(argument);
}

/** The "Commands" section of `hive-larve --help`: one line each, as kubectl's. */
export function commandList(): string {
	const names = commands.map(command => `${command.name} ${command.synopsis}`.trimEnd());
	const width = Math.max(...names.map(name => name.length)) + 3;
	return commands.map((command, index) => `${names[index]!.padEnd(width)}${command.summary}`).join('\n');
}

const defaultQueenHost = '127.0.0.1:8080';

const commonFlags = {
	queenHost: {type: 'string'},
	token: {type: 'string'},
	tokenFile: {type: 'string'},
	output: {type: 'string', shortFlag: 'o'},
} as const;

const commonHelp = `
	Common options
	  --queen-host HOST:PORT   the queen to ask (default ${defaultQueenHost}, or HIVE_QUEEN); several queens
	                           of one hive as a:8080,b:8080 (the next is asked when one does not answer)
	  --token-file PATH        the hive's token, from a file (or HIVE_TOKEN)
	  --token TOKEN            the same, on the command line (every user of the machine can read it
	                           there: prefer HIVE_TOKEN or --token-file)
	  -o, --output FORMAT      table (default, for people) or json (the queen's answer, for scripts)
	  --help
`;

/** What the client reads and writes: the process's, or a test's. */
export type CtlIo = {
	readonly stdout: NodeJS.WritableStream & {readonly isTTY?: boolean; readonly columns?: number};
	readonly stderr: NodeJS.WritableStream & {readonly isTTY?: boolean};
	readonly env: NodeJS.ProcessEnv;
};

const processIo: CtlIo = {stdout: process.stdout, stderr: process.stderr, env: process.env};

/**
Runs `hive-larve NAME ...` (argv starts with the command's name) and resolves with the exit status: 0,
1 when the command failed (the queen refused, or cannot be reached), 2 when the command line is wrong.
Failures are one line on standard error: `hive-larve: <message>`.
*/
export async function runCtl(argv: readonly string[], io: CtlIo = processIo): Promise<number> {
	const [name, ...rest] = argv;
	const spec = name === undefined ? undefined : byName.get(name);
	const fail = (message: string, status: number) => {
		io.stderr.write(`hive-larve: ${message}\n`);
		return status;
	};

	if (spec === undefined) {
		return fail(`unknown command '${name ?? ''}' (see hive-larve --help)`, 2);
	}

	const flagSpecs = {...commonFlags, ...spec.flags};
	const cli = meow(`${spec.help}${commonHelp}`, {
		importMeta: import.meta,
		argv: rest,
		description: spec.summary,
		flags: flagSpecs,
		allowUnknownFlags: true,
	});
	const flags = cli.flags as ParsedFlags;
	let queenHosts = [defaultQueenHost];
	let http: ReturnType<typeof createHttpClient> | undefined;
	try {
		checkFlags(cli.unnormalizedFlags, flagSpecs);
		queenHosts = resolveQueenHosts(flags, io.env);
		const format = resolveFormat(flags);
		const token = resolveToken(flags, io);
		http = createHttpClient({userAgent: `hive-larve/${version} (client)`, timeoutMs: 15_000, maxSockets: 4, token});
		const output: Output = {format, stdout: io.stdout as Output['stdout'], stderr: io.stderr as Output['stderr'], width: terminalWidth(io.stdout, io.env)};
		// meow puts what follows `--` with the other arguments: the command is told which they are.
		const separator = rest.indexOf('--');
		const afterSeparator = separator === -1 ? undefined : rest.slice(separator + 1);
		return await spec.run({queen: createQueenClient(queenHosts, http), output, user: requester(io.env), now: Date.now}, cli.input, flags, afterSeparator);
	} catch (error: unknown) {
		return error instanceof UsageError ? fail(error.message, 2) : fail(describeFailure(error, queenHosts), 1);
	} finally {
		http?.close();
	}
}

/** `runCtl`, then exits with its status once what it printed is out (the larve's entry does not go on). */
export async function runCtlAndExit(argv: readonly string[]): Promise<never> {
	// `hive-larve tasks | head`: the reader is gone, nothing more to say.
	process.stdout.on('error', (error: NodeJS.ErrnoException) => {
		if (error.code === 'EPIPE') {
			process.exit(0);
		}
	});
	const status = await runCtl(argv);
	await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
	process.exit(status);
}

/** An unknown flag is a usage error, in one line (meow's own message takes several). */
function checkFlags(given: Readonly<Record<string, unknown>>, specs: Readonly<Record<string, {readonly type?: string; readonly shortFlag?: string}>>): void {
	const known = new Set(['help', 'version', ...Object.keys(specs)]);
	for (const spec of Object.values(specs)) {
		if (spec.shortFlag !== undefined) {
			known.add(spec.shortFlag);
		}
	}

	for (const flag of Object.keys(given)) {
		if (!known.has(flag)) {
			// `submit --image DIR sh -c '...'`: the container's own flags were read as the CLI's.
			const hint = given.image === undefined ? 'see --help' : "a container's program and its flags go after --: submit --image DIR -- sh -c '...'";
			throw new UsageError(`unknown flag ${flag.length === 1 ? '-' : '--'}${kebab(flag)} (${hint})`);
		}
	}

	for (const [flag, value] of Object.entries(given)) {
		if (value === '' && specs[flag]?.type === 'string') {
			throw new UsageError(`--${kebab(flag)} needs a value (see --help)`);
		}
	}
}

function resolveQueenHosts(flags: ParsedFlags, env: NodeJS.ProcessEnv): string[] {
	const value = stringFlag(flags, 'queenHost') ?? (env.HIVE_QUEEN || defaultQueenHost);
	const hosts = parseQueenHosts(value);
	if (hosts === undefined) {
		throw new UsageError(`--queen-host must be HOST:PORT, or several separated by commas (a:8080,b:8080), got '${value}'`);
	}

	return hosts;
}

function resolveFormat(flags: ParsedFlags): OutputFormat {
	const value = stringFlag(flags, 'output') ?? 'table';
	if (value !== 'table' && value !== 'json') {
		throw new UsageError(`--output must be table or json, got '${value}'`);
	}

	return value;
}

/** `--token-file` (its first line), `--token` (with the larve's warning), or `HIVE_TOKEN`. */
function resolveToken(flags: ParsedFlags, io: CtlIo): string | undefined {
	const file = stringFlag(flags, 'tokenFile');
	const given = stringFlag(flags, 'token');
	if (file !== undefined && given !== undefined) {
		throw new UsageError('--token and --token-file: give one of them');
	}

	if (file !== undefined) {
		try {
			return readTokenFile(file);
		} catch (error: unknown) {
			throw new UsageError(error instanceof Error ? error.message : String(error));
		}
	}

	if (given !== undefined) {
		io.stderr.write('hive-larve: warning: --token is readable by every user of this machine in the process list (ps, /proc/PID/cmdline); prefer HIVE_TOKEN or --token-file\n');
		return given;
	}

	return io.env.HIVE_TOKEN || undefined;
}
