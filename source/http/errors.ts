import type Koa from 'koa';
import type {Logger} from '../log.js';

/** An error a client is meant to see: its status and message become `{"error": message}`. */
export class HiveError extends Error {
	override readonly name = 'HiveError';

	constructor(
		readonly status: number,
		message: string,
		readonly code = 'ERR_HIVE',
		/** More for a program to read, beside `error` and `code` (the ids an ambiguous prefix matches). */
		readonly details?: Readonly<Record<string, unknown>>,
	) {
		super(message);
	}
}

type HttpishError = Error & {status?: unknown; statusCode?: unknown; type?: unknown; expose?: unknown; code?: unknown};

/** What a client sees of an error: the message of 4xx errors, never a stack, never internals of a 5xx. */
function toResponse(error: HttpishError): {status: number; message: string; code: string} {
	const rawStatus = Number(error.status ?? error.statusCode);
	const status = Number.isInteger(rawStatus) && rawStatus >= 400 && rawStatus <= 599 ? rawStatus : 500;
	if (error instanceof HiveError) {
		return {status, message: error.message, code: error.code};
	}

	// The store's own refusals (a leader that lost its term, etcd out of reach) say what happened and
	// that a retry may succeed: their message is for the client.
	if (status === 503 && typeof error.code === 'string' && error.code.startsWith('ERR_HIVE_')) {
		return {status, message: `${error.message}; nothing was acknowledged: try again (with the same Idempotency-Key)`, code: error.code};
	}

	// Body-parser errors (co-body / raw-body) carry a `type`; their own messages are terse.
	switch (error.type) {
		case 'entity.too.large': {
			return {status: 413, message: 'request body is larger than 1 MiB', code: 'ERR_HIVE_TOO_LARGE'};
		}

		case 'entity.parse.failed': {
			return {status: 400, message: 'request body is not valid JSON', code: 'ERR_HIVE_BAD_BODY'};
		}

		case 'encoding.unsupported':
		case 'charset.unsupported': {
			return {status: 415, message: error.message, code: 'ERR_HIVE_BAD_BODY'};
		}

		default:
	}

	// A body whose Content-Encoding (gzip, deflate) does not match it: zlib's errors have no status.
	if (typeof error.code === 'string' && error.code.startsWith('Z_')) {
		return {status: 400, message: `request body does not match its Content-Encoding (${error.message})`, code: 'ERR_HIVE_BAD_BODY'};
	}

	if (error instanceof SyntaxError && status === 400) {
		return {status, message: `request body is not valid JSON (${error.message})`, code: 'ERR_HIVE_BAD_BODY'};
	}

	return status < 500 && error.expose !== false ? {status, message: error.message, code: 'ERR_HIVE'} : {status, message: 'internal error', code: 'ERR_HIVE_INTERNAL'};
}

/**
Koa middleware: every error and every unmatched path answers `{"error": message, "code": ...}`; the
code (`ERR_HIVE_BAD_BODY`, `ERR_HIVE_QUEUE_FULL`...) tells a program what the message tells a person.
*/
export function jsonErrors(log: Logger): Koa.Middleware {
	return async (ctx, next) => {
		try {
			await next();
			if (ctx.body === undefined || ctx.body === null) {
				if (ctx.status === 404) {
					ctx.status = 404;
					ctx.body = {error: `no such endpoint: ${ctx.method} ${ctx.path}`, code: 'ERR_HIVE_NO_ENDPOINT'};
				} else if (ctx.status === 405 || ctx.status === 501) {
					// A method no route knows (TRACE, PROPFIND) is as wrong for this path as one another path knows.
					ctx.body = {error: `method ${ctx.method} not allowed on ${ctx.path} (allowed: ${ctx.response.get('Allow')})`, code: 'ERR_HIVE_METHOD'};
					ctx.status = 405;
				}
			}
		} catch (error: unknown) {
			const {status, message, code} = toResponse(error as HttpishError);
			if (status >= 500) {
				log.error({err: error, method: ctx.method, path: ctx.path}, 'request failed');
			}

			ctx.status = status;
			ctx.body = error instanceof HiveError && error.details ? {error: message, code, ...error.details} : {error: message, code};
			if (status === 503 && ctx.response.get('Retry-After') === '') {
				ctx.set('Retry-After', '1');
			}

			if (!ctx.req.complete) {
				// The body was not read to its end (too large, not what it said): the rest would be taken
				// for the next request on this connection. It ends with this answer.
				ctx.set('Connection', 'close');
			}
		}
	};
}
