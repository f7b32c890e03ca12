import type {Readable, Writable} from 'node:stream';
import {parseLogLine, splitLines, type LogLine, type TaskView} from '../client/queen-client.js';
import {taskStates, type ContainerSpec} from '../model.js';
import {parseLabels} from '../options.js';
import {booleanFlag, listFlag, noArguments, oneArgument, stringFlag, wholeNumberFlag, type CommandContext, type CommandSpec, type ParsedFlags} from './command.js';
import {CommandError, printAnswer, printJson, UsageError} from './output.js';
import {renderTable} from './table.js';
import {describeTask, taskColumns, taskRow, taskStatusLine} from './views.js';

/** `submit`, `tasks`, `task`, `logs`, `cancel`: what the hive does, and how it went. */

/** States a task ends in; `submit --wait` and `logs --follow` exit 0 only for `succeeded`. */
const succeeded = 'succeeded';

export const submit: CommandSpec = {
	name: 'submit',
	synopsis: 'TEXT | --command CMD',
	summary: 'Submit a task: a text, a command, a container (--image DIR -- PROGRAM)',
	help: `
	Usage
	  $ hive-larve submit TEXT [--selector KEY=VALUE ...]
	  $ hive-larve submit --command CMD [--selector KEY=VALUE ...] [--wait]
	  $ hive-larve submit --image DIR [--memory SIZE] [--cpus N] [--pids N] [--env K=V ...] [--workdir DIR]
	                      [--selector KEY=VALUE ...] [--wait] -- PROGRAM ARGS...

	Submits a task: a text (printed by a drone), a shell command (run by a drone started with
	--allow-exec), or a program run in a container (by a drone started with --runtime runc). Prints the
	task's id and where it went; with --wait, how it ended and its output (its standard error on
	standard error), and exits 0 only if it succeeded.

	Options
	  --command CMD            a command task, run through /bin/sh -c
	  --image DIR              a container task: DIR is its root filesystem, a directory (or a tar file)
	                           on the drone, an absolute path; the program and its arguments come after --
	  --memory SIZE            the container's memory limit: bytes, or with K, M, G (64M)
	  --cpus N                 its CPU time, in CPUs (0.5: half of one)
	  --pids N                 the most processes it may have at once
	  --env KEY=VALUE          a variable of its environment (repeatable)
	  --workdir DIR            where in the container the program starts (default /)
	  --selector KEY=VALUE     only drones with this label may take it (repeatable)
	  --wait                   wait until the task ends; exit 1 if it failed, was lost or cancelled
	  --idempotency-key KEY    a submit sent again with this key gets the first one's task, not a second

	Examples
	  $ hive-larve submit hello
	  $ hive-larve submit --command 'uname -a' --wait
	  $ hive-larve submit --command 'make test' --selector zone=a -o json
	  $ hive-larve submit --image /srv/busybox --wait -- sh -c 'echo hi from $(hostname)'
	  $ hive-larve submit --image /srv/busybox --memory 64M --cpus 0.5 --pids 64 -- sleep 30
	`,
	flags: {
		command: {type: 'string'},
		image: {type: 'string'},
		memory: {type: 'string'},
		cpus: {type: 'string'},
		pids: {type: 'string'},
		env: {type: 'string', isMultiple: true},
		workdir: {type: 'string'},
		selector: {type: 'string', isMultiple: true},
		wait: {type: 'boolean'},
		idempotencyKey: {type: 'string'},
	},
	async run(context, args, flags, afterSeparator) {
		const command = stringFlag(flags, 'command');
		const image = stringFlag(flags, 'image');
		if (image === undefined) {
			const containerFlag = containerFlags.find(name => flags[name] !== undefined && !(Array.isArray(flags[name]) && flags[name].length === 0));
			if (containerFlag !== undefined) {
				throw new UsageError(`--${containerFlag} is for a container task: submit --image DIR --${containerFlag} ... -- PROGRAM ARGS...`);
			}
		}

		if (command !== undefined && image !== undefined) {
			throw new UsageError('submit takes --command CMD or --image DIR, not both');
		}

		if (command !== undefined && args.length > 0) {
			throw new UsageError(`submit takes a TEXT or --command CMD, not both (got '${args[0]!}' and --command)`);
		}

		if (command === '' || (command === undefined && image === undefined && args.join(' ') === '')) {
			throw new UsageError('submit needs a TEXT, --command CMD or --image DIR -- PROGRAM (see hive-larve submit --help)');
		}

		const selector = parseSelector(listFlag(flags, 'selector'));
		const wait = booleanFlag(flags, 'wait');
		const spec = image === undefined
			? (command === undefined ? {text: args.join(' '), selector} : {command, selector})
			: {container: containerSpec(image, args, afterSeparator, flags), selector};
		const answer = await context.queen.submitTask(spec, {wait, idempotencyKey: stringFlag(flags, 'idempotencyKey')});
		const {output} = context;
		if (output.format === 'json') {
			printJson(output, answer);
		} else {
			output.stdout.write(`${taskStatusLine(answer.task)}\n`);
			if (wait && answer.task.result) {
				output.stdout.write(answer.task.result.stdout ?? '');
				output.stderr.write(answer.task.result.stderr ?? '');
			}
		}

		return wait && answer.task.state !== succeeded ? 1 : 0;
	},
};

/** The flags that only a container task takes. */
const containerFlags = ['memory', 'cpus', 'pids', 'env', 'workdir'] as const;

/**
`--image DIR ... -- PROGRAM ARGS...` as the API takes it. Only the form is checked here: DIR is a path on
the drone, sent as given (a relative one is the queen's to refuse), and the limits' values are the queen's
to judge (its 400 says what is wrong).
*/
function containerSpec(rootfs: string, args: readonly string[], afterSeparator: readonly string[] | undefined, flags: ParsedFlags): ContainerSpec {
	const command = afterSeparator ?? [];
	// Words before `--` would be a text, or a program whose flags (sh -c) were taken for submit's.
	const before = args.slice(0, args.length - command.length);
	if (before.length > 0) {
		throw new UsageError(`submit --image DIR takes its program after --, not a TEXT (got '${before[0]!}'): submit --image DIR -- PROGRAM ARGS...`);
	}

	if (command.length === 0) {
		throw new UsageError('submit --image DIR needs the program to run after --: submit --image DIR -- PROGRAM ARGS...');
	}

	const cpus = stringFlag(flags, 'cpus');
	const cpusNumber = Number(cpus);
	if (cpus !== undefined && (cpus.trim() === '' || !Number.isFinite(cpusNumber))) {
		throw new UsageError(`--cpus must be a number of CPUs (0.5: half of one), got '${cpus}'`);
	}

	const memory = stringFlag(flags, 'memory');
	const workdir = stringFlag(flags, 'workdir');
	const pids = stringFlag(flags, 'pids');
	if (pids !== undefined && !/^\d+$/.test(pids.trim())) {
		throw new UsageError(`--pids must be a whole number of processes, got '${pids}'`);
	}

	const env = parseEnv(listFlag(flags, 'env'));
	return {
		rootfs,
		command,
		...(env === undefined ? {} : {env}),
		...(workdir === undefined ? {} : {workdir}),
		...(memory === undefined ? {} : {memory}),
		...(cpus === undefined ? {} : {cpus: cpusNumber}),
		...(pids === undefined ? {} : {pids: Number(pids)}),
	};
}

/** `--env GREETING=hi --env EMPTY=` as the API takes it: the first `=` ends the name, the value may hold more. */
function parseEnv(values: readonly string[]): Record<string, string> | undefined {
	if (values.length === 0) {
		return undefined;
	}

	const env: Record<string, string> = {};
	for (const value of values) {
		const equals = value.indexOf('=');
		if (equals <= 0) {
			throw new UsageError(`--env must be KEY=VALUE, got '${value}'`);
		}

		env[value.slice(0, equals)] = value.slice(equals + 1);
	}

	return env;
}

/** `--selector zone=a --selector disk=ssd` as the API takes it; a bad one is a usage error. */
export function parseSelector(values: readonly string[]): Record<string, string> | undefined {
	if (values.length === 0) {
		return undefined;
	}

	try {
		return parseLabels(values, '--selector');
	} catch (error: unknown) {
		throw new UsageError(error instanceof Error ? error.message : String(error));
	}
}

export const tasks: CommandSpec = {
	name: 'tasks',
	synopsis: '',
	summary: 'List tasks, the latest first (--state S, --limit N)',
	help: `
	Usage
	  $ hive-larve tasks [--state STATE] [--limit N]

	Lists the tasks the queen knows (ids cut to 8 characters: any unique prefix of an id is taken where
	an id is).

	Options
	  --state STATE    only tasks in this state: pending, dispatched, running, succeeded, failed, lost,
	                   cancelled
	  --limit N        at most N tasks (default 100, the queen's)

	Examples
	  $ hive-larve tasks
	  $ hive-larve tasks --state failed -o json
	`,
	flags: {
		state: {type: 'string'},
		limit: {type: 'string'},
	},
	async run(context, args, flags) {
		noArguments('tasks', args);
		const limit = wholeNumberFlag(flags, 'limit', 1, 10_000);
		const state = stringFlag(flags, 'state');
		if (state !== undefined && !(taskStates as readonly string[]).includes(state)) {
			throw new UsageError(`--state must be one of ${taskStates.join(', ')}, got '${state}'`);
		}

		const answer = await context.queen.tasks({...(state === undefined ? {} : {state}), ...(limit === undefined ? {} : {limit})});
		const {output} = context;
		if (output.format === 'json') {
			printJson(output, answer);
			return 0;
		}

		if (answer.tasks.length === 0) {
			output.stderr.write(state === undefined ? 'No tasks found.\n' : `No ${state} tasks found.\n`);
			return 0;
		}

		const now = context.now();
		output.stdout.write(renderTable(taskColumns, answer.tasks.map(task => taskRow(task, now)), output.width));
		if (answer.total > answer.tasks.length) {
			output.stderr.write(`(${answer.tasks.length} of ${answer.total} tasks; --limit N for more)\n`);
		}

		return 0;
	},
};

export const task: CommandSpec = {
	name: 'task',
	synopsis: 'ID',
	summary: 'Show one task: its state, where it ran, its output',
	help: `
	Usage
	  $ hive-larve task ID

	Shows one task, its whole record: where it stands, where it ran, why it waits or failed, who
	cancelled it, and the output a command left. ID may be a unique prefix of the id (as git's).

	Examples
	  $ hive-larve task 3f2a9c1e
	  $ hive-larve task 3f2a -o json
	`,
	flags: {},
	async run(context, args) {
		const id = oneArgument('task', args, 'a task ID');
		const answer = await context.queen.task(id);
		printAnswer(context.output, answer, describeTask(answer.task, context.now()));

		return 0;
	},
};

export const logs: CommandSpec = {
	name: 'logs',
	synopsis: 'ID',
	summary: 'Print a task\'s output (--follow: as a running command prints it)',
	help: `
	Usage
	  $ hive-larve logs ID [--follow]

	Prints a task's output: its standard output on standard output, its standard error on standard
	error (a text task's output is its text). ID may be a unique prefix of the id.

	Options
	  -f, --follow    go on printing while the command runs (a pending task: once it runs), then exit 0
	                  if it succeeded, 1 otherwise
	  -o json         the queen's answer: one JSON object a line ({"stream", "data"}, then {"end"})

	Examples
	  $ hive-larve logs 3f2a9c1e
	  $ hive-larve logs 3f2a9c1e --follow
	`,
	flags: {
		follow: {type: 'boolean', shortFlag: 'f'},
	},
	async run(context, args, flags) {
		const id = oneArgument('logs', args, 'a task ID');
		const follow = booleanFlag(flags, 'follow');
		const stream = await context.queen.openTaskLogs(id, {follow});
		const {end, problem} = await printLogs(stream, context);
		if (end === undefined) {
			throw new CommandError(problem ?? `the queen ended the logs of ${id} before the task's end (it stopped?)`);
		}

		return follow && end.state !== succeeded ? 1 : 0;
	},
};

type LogEnd = Extract<LogLine, {end: unknown}>['end'];

/** Copies an NDJSON log stream to standard output and error (or, for `-o json`, its lines), as it comes. */
async function printLogs(stream: Readable, context: CommandContext): Promise<{readonly end: LogEnd | undefined; readonly problem: string | undefined}> {
	const {output} = context;
	let end: LogEnd | undefined;
	/** What the queen said went wrong on the way (a drone out of reach, a new leader): said once the stream ends. */
	let problem: string | undefined;
	let buffer = '';
	const handle = async (text: string) => {
		let line: LogLine | undefined;
		try {
			line = parseLogLine(text);
		} catch (error: unknown) {
			throw new CommandError((error as Error).message);
		}

		if (line === undefined) {
			return;
		}

		if (output.format === 'json') {
			await write(output.stdout, `${JSON.stringify(line)}\n`);
		} else if ('stream' in line) {
			await write(line.stream === 'stderr' ? output.stderr : output.stdout, line.data);
		}

		if ('end' in line) {
			end = line.end;
		}

		if ('error' in line) {
			problem = line.error;
		}
	};

	stream.setEncoding('utf8');
	for await (const chunk of stream as AsyncIterable<string>) {
		const {lines, rest} = splitLines(buffer + chunk);
		buffer = rest;
		for (const text of lines) {
			// eslint-disable-next-line no-await-in-loop -- in order, and no faster than the terminal takes it
			await handle(text);
		}
	}

	await handle(buffer);
	return {end, problem};
}

/** Writes, and waits when the reader is slower than the queen (a pager), rather than fill memory. */
async function write(stream: Writable, text: string): Promise<void> {
	if (text === '' || stream.write(text)) {
		return;
	}

	await new Promise(resolve => stream.once('drain', resolve));
}

export const cancel: CommandSpec = {
	name: 'cancel',
	synopsis: 'ID',
	summary: 'Cancel a task (a running command is killed, with its processes)',
	help: `
	Usage
	  $ hive-larve cancel ID

	Cancels a task: a pending one leaves the queue; a running command is killed on its drone, with
	every process it started. The task ends 'cancelled', and its record says who cancelled it
	($USER@hostname). A task that has already ended cannot be (exit 1). ID may be a unique prefix.

	Examples
	  $ hive-larve cancel 3f2a9c1e
	`,
	flags: {},
	async run(context, args) {
		const id = oneArgument('cancel', args, 'a task ID');
		const answer = await context.queen.cancelTask(id, {user: context.user});
		printAnswer(context.output, answer, `${taskStatusLine(answer.task satisfies TaskView)}\n`);

		return 0;
	},
};
