import {z} from 'zod';
import type Koa from 'koa';
import type {TaskResult} from '../model.js';
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
const droneName = z.string(stringError).refine(isValidName, {error: `must be ${nameRule}`});
const labels = z.record(
	z.string().regex(labelKeyPattern, {error: 'keys must be label names (letters, digits, . _ / -)'}),
	z.string({error: 'must be an object of strings'}).max(maxLabelValueLength),
	{error: 'must be an object of strings, e.g. {"zone": "a"}'},
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

/** A task as a user submits it, and as the queen hands it to a drone (`id` then). */
const task = z.object({
	id: z.string().max(100).optional(),
	kind: z.string(stringError).optional(),
	text: nonEmptyString.optional(),
	command: nonEmptyString.refine(value => !value.includes('\u0000'), {error: 'must not contain a NUL character (a shell command cannot)'}).optional(),
	selector: labels.optional(),
}).transform((body, context) => {
	const fail = (path: string, message: string, status = 400) => {
		context.addIssue({code: 'custom', path: [path], message, params: {status}});
		return z.NEVER;
	};

	if (body.kind !== undefined && body.kind !== 'text' && body.kind !== 'command') {
		return fail('kind', `must be text or command, got ${JSON.stringify(body.kind)}`);
	}

	const kind = body.kind ?? (body.command === undefined ? 'text' : 'command');
	if (body.text !== undefined && body.command !== undefined) {
		return fail('body', 'has both text and command: a task is one or the other');
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

export const registerBody = z.object({
	address,
	name: droneName.optional(),
	slots: z.number({error: 'must be a whole number'}).int({error: 'must be a whole number'}).min(1).max(10_000).optional(),
	allowExec: z.boolean({error: 'must be true or false'}).optional(),
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
