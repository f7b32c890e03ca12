import {z} from 'zod';
import type Koa from 'koa';
import {parseMemory, runtimes, type ContainerSpec, type TaskResult} from '../model.js';
import {canonicalAddress, isValidName, labelKeyPattern, maxLabelValueLength, nameRule} from '../names.js';
import {HiveError} from './errors.js';

/** The request bodies of the API, validated in one place; handlers get typed, valid input. */

const stringError = {error: (issue: {input?: unknown}) => (issue.input === undefined ? 'is required' : 'must be a string')};
const nonEmptyString = z.string(stringError).min(1, {error: 'must not be empty'});
/** A `host:port`, in its canonical form (see `canonicalAddress`): one drone, one spelling. */
const address = z.string(stringError).transform((value, context) => {
	const canonical = canonicalAddress(value);
	if (canonical === undefined) {
		context.addIssue({code: 'custom', message: 'must be host:port'});
		return z.NEVER;
	}

	return canonical;
});
/** A record's error: what is wrong with a key, when a key is (a record's own error would hide it), else `whole`. */
function recordError(whole: string) {
	return (issue: {code?: string; issues?: ReadonlyArray<{message: string}>}) => (issue.code === 'invalid_key' ? issue.issues?.[0]?.message ?? whole : whole);
}

const droneName = z.string(stringError).refine(isValidName, {error: `must be ${nameRule}`});
const labels = z.record(
	z.string().regex(labelKeyPattern, {error: 'keys must be label names (letters, digits, . _ / -)'}),
	z.string({error: 'must be an object of strings'}).max(maxLabelValueLength),
	{error: recordError('must be an object of strings, e.g. {"zone": "a"}')},
).refine(value => Object.keys(value).length <= 64, {error: 'has more than 64 labels'});

/**
The largest text a task may carry, in bytes as JSON (escapes counted as sent): half the 1 MiB body limit,
so that what a queen accepts its drones take, with its id added, alone or in a batch. Larger → 413.
*/
export const maxTaskTextBytes = 512 * 1024;

/**
The largest command a task may carry, in UTF-8 bytes: it becomes one argument of `/bin/sh -c`, and
Linux takes at most 128 KiB in one argument (a command over that could not even start). Larger → 413.
*/
export const maxCommandBytes = 64 * 1024;

/** The size of a string in JSON, quotes left out; only measured when it could be over `limit`. */
function jsonBytes(text: string, limit: number): number {
	return (text.length * 6) <= limit ? text.length : Buffer.byteLength(JSON.stringify(text)) - 2;
}

/** A container task's id, as a drone takes it: a runc container id, and a directory name (never `..`). */
export const containerIdPattern = /^[A-Za-z\d][\w-]{0,99}$/;

/** The least memory a container may be given: less, and its runtime cannot even start it. */
export const minContainerMemory = 4 * 1024 * 1024;

const noNul = (value: string) => !value.includes('\u0000');
const absolutePath = z.string(stringError)
	.max(4096, {error: 'must be at most 4096 characters'})
	.refine(value => value.startsWith('/'), {error: 'must be an absolute path (it starts with /)'})
	.refine(noNul, {error: 'must not contain a NUL character'});

/**
A container task's spec (HIVE.md §11), checked as far as the queen can tell: an absolute rootfs, a
command, limits that parse. Whether the rootfs is there is the drone's to tell (a failed task then).
*/
export const containerSpec: z.ZodType<ContainerSpec> = z.object({
	rootfs: absolutePath,
	command: z.array(z.string({error: 'must be an array of strings'}).refine(noNul, {error: 'must not contain a NUL character'}), {error: 'must be an array of strings, e.g. ["sh", "-c", "echo hi"]'})
		.min(1, {error: 'must not be empty: the program to run, then its arguments'})
		.max(1024, {error: 'has more than 1024 arguments'})
		.refine(args => args[0] !== '', {error: 'must start with the program to run'}),
	env: z.record(
		z.string().regex(/^[A-Za-z_]\w*$/, {error: 'keys must be variable names (letters, digits, _)'}),
		z.string({error: 'must be an object of strings'}).max(32 * 1024).refine(noNul, {error: 'must not contain a NUL character'}),
		{error: recordError('must be an object of strings, e.g. {"GREETING": "hi"}')},
	).refine(value => Object.keys(value).length <= 256, {error: 'has more than 256 variables'}).optional(),
	workdir: absolutePath.optional(),
	memory: z.string({error: 'must be a size, e.g. "64M"'}).max(32).refine(value => parseMemory(value) !== undefined, {error: 'must be a size: bytes, or a number with K, M, G or T (e.g. "64M")'})
		.refine(value => (parseMemory(value) ?? 0) >= minContainerMemory, {error: 'must be at least 4M (a container needs that much to start)'}).optional(),
	cpus: z.number({error: 'must be a number of CPUs, e.g. 0.5'}).min(0.01, {error: 'must be at least 0.01'}).max(1024, {error: 'must be at most 1024'}).optional(),
	pids: z.number({error: 'must be a whole number'}).int({error: 'must be a whole number'}).min(1, {error: 'must be at least 1'}).max(4_194_304, {error: 'must be at most 4194304'}).optional(),
}, {error: issue => (issue.code === 'unrecognized_keys' ? `has no field ${issue.keys.map(key => JSON.stringify(key)).join(', ')} (it takes rootfs, command, env, workdir, memory, cpus, pids)` : 'must be an object: {"rootfs": "/path", "command": ["sh", "-c", "..."]}')}).strict();

/** A task as a user submits it, and as the queen hands it to a drone (`id` then). */
const task = z.object({
	id: z.string().max(100).optional(),
	kind: z.string(stringError).optional(),
	text: nonEmptyString.optional(),
	command: nonEmptyString.refine(value => !value.includes('\u0000'), {error: 'must not contain a NUL character (a shell command cannot)'}).optional(),
	container: containerSpec.optional(),
	selector: labels.optional(),
}).transform((body, context) => {
	const fail = (path: string, message: string, status = 400) => {
		context.addIssue({code: 'custom', path: [path], message, params: {status}});
		return z.NEVER;
	};

	if (body.kind !== undefined && body.kind !== 'text' && body.kind !== 'command' && body.kind !== 'container') {
		return fail('kind', `must be text, command or container, got ${JSON.stringify(body.kind)}`);
	}

	const given = [body.text === undefined ? '' : 'text', body.command === undefined ? '' : 'command', body.container === undefined ? '' : 'container'].filter(Boolean);
	if (given.length > 1) {
		return fail('body', `has both ${given.join(' and ')}: a task is one of text, command or container`);
	}

	const kind = body.kind ?? (given[0] as 'text' | 'command' | 'container' | undefined) ?? 'text';
	if (kind === 'container') {
		if (body.container === undefined) {
			return fail('container', 'is required: {"rootfs": "/path", "command": ["sh", "-c", "..."]}');
		}

		if (body.id !== undefined && !containerIdPattern.test(body.id)) {
			// It names the container, its bundle's directory and its cgroup on the drone.
			return fail('id', 'of a container task must be letters, digits, - and _ (the queen\'s are UUIDs)');
		}

		const argBytes = Buffer.byteLength(body.container.command.join(''));
		return argBytes > maxCommandBytes
			? fail('container.command', `is ${argBytes} bytes; a command may be at most ${maxCommandBytes} bytes (${maxCommandBytes / 1024} KiB) in UTF-8`, 413)
			: {id: body.id, kind, container: body.container, selector: body.selector} as const;
	}

	if (kind === 'command') {
		if (body.command === undefined) {
			return fail('command', 'is required');
		}

		const commandBytes = Buffer.byteLength(body.command);
		return commandBytes > maxCommandBytes
			? fail('command', `is ${commandBytes} bytes; a command may be at most ${maxCommandBytes} bytes (${maxCommandBytes / 1024} KiB) in UTF-8`, 413)
			: {id: body.id, kind, command: body.command, selector: body.selector} as const;
	}

	if (body.text === undefined) {
		return fail('text', 'is required');
	}

	const bytes = jsonBytes(body.text, maxTaskTextBytes);
	if (bytes > maxTaskTextBytes) {
		return fail('text', `is ${bytes} bytes; a task's text may be at most ${maxTaskTextBytes} bytes (${maxTaskTextBytes / 1024} KiB) as JSON, so that a drone can take it`, 413);
	}

	return {id: body.id, kind, text: body.text, selector: body.selector} as const;
});

export const taskBody = task;
export type TaskBody = z.infer<typeof taskBody>;

/** A batch for `/do_tasks`: each task is validated on its own, so one bad task does not sink the rest. */
export const taskBatchBody = z.object({
	tasks: z.array(z.unknown(), {error: 'must be an array of tasks'}).min(1, {error: 'must not be empty'}).max(1024, {error: 'has more than 1024 tasks'}),
});

/** The container runtimes a drone has: those this hive knows, each once. */
const runtimeList = z.array(z.enum(runtimes, {error: `must be one of ${runtimes.join(', ')}`}), {error: `must be an array of runtimes, e.g. ["runc"]`}).max(runtimes.length)
	.refine(list => new Set(list).size === list.length, {error: 'names a runtime twice'});

export const registerBody = z.object({
	address,
	name: droneName.optional(),
	slots: z.number({error: 'must be a whole number'}).int({error: 'must be a whole number'}).min(1).max(10_000).optional(),
	allowExec: z.boolean({error: 'must be true or false'}).optional(),
	runtimes: runtimeList.optional(),
	labels: labels.optional(),
	bootId: z.string().max(100).optional(),
	/** The secret the drone gives the queen with this registration; the queen shows it on every call to the drone. */
	contactKey: z.string(stringError).regex(/^[\w-]{16,128}$/, {error: 'must be 16 to 128 letters, digits, - or _'}).optional(),
});
export type RegisterBody = z.infer<typeof registerBody>;

export const deregisterBody = z.object({
	address,
});

/** `POST /drones/:name/drain`: how long running tasks may take to finish, in seconds, before they are moved. */
export const drainBody = z.object({
	deadline: z.number({error: 'must be a number of seconds'}).min(0, {error: 'must not be negative'}).max(7 * 24 * 3600, {error: 'must be at most 604800 (a week)'}).optional(),
});

/** A queen's cancel of a task on a drone (`POST /tasks/:id/cancel`). */
export const cancelBody = z.object({
	/** The task may come back here (moved off a drone being drained): the drone does not refuse it later. */
	mayReturn: z.boolean({error: 'must be true or false'}).optional(),
});

/** A drain's deadline when none is given, as `nomad node drain`'s: an hour. */
export const defaultDrainDeadlineSeconds = 3600;

/**
What a drone says of itself in `/healthz`, as the queen reads it on a registration's callback. Beyond
`mode`, each part is optional: the seed's drone says little, and what a drone does not say, the
registration's body may.
*/
export const droneHealth = z.object({
	name: droneName.nullable().optional(),
	slots: z.number({error: 'must be a whole number'}).int({error: 'must be a whole number'}).min(1).max(10_000).optional(),
	allowExec: z.boolean({error: 'must be true or false'}).optional(),
	contained: z.boolean({error: 'must be true or false'}).optional(),
	runtimes: runtimeList.optional(),
	labels: labels.optional(),
	bootId: z.string().max(100).optional(),
	/** Present when the call showed a contact key: whether it is the drone's. */
	contactKeyMatches: z.boolean({error: 'must be true or false'}).optional(),
});
export type DroneHealth = z.infer<typeof droneHealth>;

const captured = z.string().max(256 * 1024);

export type {TaskResult} from '../model.js';

/** A drone's report of a command task's end: the result, whose it is, and whether it succeeded. */
export type ResultReport = TaskResult & {readonly drone: string; readonly succeeded: boolean; readonly error?: string};

export const resultBody: z.ZodType<ResultReport> = z.object({
	drone: droneName,
	succeeded: z.boolean({error: 'must be true or false'}),
	exitCode: z.number().int().nullable(),
	signal: z.string().nullable(),
	stdout: captured,
	stderr: captured,
	durationMs: z.number().min(0),
	timedOut: z.boolean(),
	error: z.string().max(4096).optional(),
});

/** Validates `ctx.request.body` against a schema; a 400 naming the first bad field otherwise. */
export function parseBody<T>(ctx: Koa.Context, schema: z.ZodType<T>): T {
	const body = (ctx.request as {body?: unknown}).body;
	if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
		throw new HiveError(400, 'request body must be a JSON object (Content-Type: application/json)', 'ERR_HIVE_BAD_BODY');
	}

	const result = schema.safeParse(body);
	if (!result.success) {
		const {status, message} = describeIssue(result.error);
		throw new HiveError(status, message, status === 413 ? 'ERR_HIVE_TOO_LARGE' : 'ERR_HIVE_BAD_BODY');
	}

	return result.data;
}

/** The first issue of a failed parse: its status (400, or 413 for a task too large) and a message naming the field. */
export function describeIssue(error: z.ZodError): {status: number; message: string} {
	const issue = error.issues[0]!;
	const field = issue.path.join('.') || 'body';
	const status = issue.code === 'custom' && typeof issue.params?.status === 'number' ? issue.params.status : 400;
	return {status, message: `${field} ${issue.message}`};
}
