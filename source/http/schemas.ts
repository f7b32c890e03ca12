import {z} from 'zod';
import type Koa from 'koa';
import {isValidName, parseHostPort} from '../options.js';
import {HiveError} from './errors.js';

/** The request bodies of the API, validated in one place; handlers get typed, valid input. */

const stringError = {error: (issue: {input?: unknown}) => (issue.input === undefined ? 'is required' : 'must be a string')};
const nonEmptyText = z.string(stringError).min(1, {error: 'must not be empty'});

export const taskBody = z.object({
	text: nonEmptyText,
});
export type TaskBody = z.infer<typeof taskBody>;

const address = z.string(stringError).refine(value => parseHostPort(value) !== undefined, {error: 'must be host:port'});
const droneName = z.string(stringError).refine(isValidName, {error: "must be letters, digits, '.', '-' or '_' (at most 64)"});

export const registerBody = z.object({
	address,
	name: droneName.optional(),
});
export type RegisterBody = z.infer<typeof registerBody>;

export const deregisterBody = z.object({
	address,
});
export type DeregisterBody = z.infer<typeof deregisterBody>;

/** Validates `ctx.request.body` against a schema; a 400 naming the first bad field otherwise. */
export function parseBody<T>(ctx: Koa.Context, schema: z.ZodType<T>): T {
	const body = (ctx.request as {body?: unknown}).body;
	if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
		throw new HiveError(400, 'request body must be a JSON object (Content-Type: application/json)', 'ERR_HIVE_BAD_BODY');
	}

	const result = schema.safeParse(body);
	if (!result.success) {
		const issue = result.error.issues[0]!;
		const field = issue.path.join('.') || 'body';
		throw new HiveError(400, `${field} ${issue.message}`, 'ERR_HIVE_BAD_BODY');
	}

	return result.data;
}
