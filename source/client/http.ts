import http from 'node:http';
import got, {RequestError, type Got, type Response} from 'got';

/** Why a call to another larve did not succeed; `code` is stable, `message` is for people. */
export class CallError extends Error {
	override readonly name = 'CallError';

	constructor(
		message: string,
		/** `ERR_HIVE_UNREACHABLE`: no answer (refused, reset, timed out); `ERR_HIVE_REFUSED`: a non-2xx answer. */
		readonly code: 'ERR_HIVE_UNREACHABLE' | 'ERR_HIVE_REFUSED',
		readonly status?: number,
		how: {readonly dropped?: boolean; readonly timedOut?: boolean; readonly answerCode?: string} = {},
	) {
		super(message);
		this.dropped = how.dropped ?? false;
		this.timedOut = how.timedOut ?? false;
		this.answerCode = how.answerCode;
	}

	/** The `code` of a larve's error answer (`ERR_HIVE_BAD_BODY`...), when it gave one. */
	readonly answerCode: string | undefined;

	/** No answer because the peer had the request and dropped the connection (it died, or reset it). */
	readonly dropped: boolean;
	/** No answer came within the time limit (the peer may be slow, not gone). */
	readonly timedOut: boolean;
}

export type HttpClient = {
	readonly got: Got;
	/** Frees the keep-alive sockets. */
	close(): void;
};

export type HttpClientOptions = {
	/** Sent as `User-Agent`; a drone recognises its queen's heartbeats by it. */
	readonly userAgent: string;
	readonly timeoutMs: number;
	/** The hive's join token, sent as `Authorization: Bearer` on every call. */
	readonly token?: string | undefined;
	/** Sockets kept per peer. @default 64 */
	readonly maxSockets?: number;
};

/** One got instance with a keep-alive agent, no retries (callers decide), JSON in and out. */
export function createHttpClient(options: HttpClientOptions): HttpClient {
	const agent = new http.Agent({keepAlive: true, maxSockets: options.maxSockets ?? 64, maxFreeSockets: options.maxSockets ?? 64, scheduling: 'lifo'});
	const instance = got.extend({
		agent: {http: agent},
		retry: {limit: 0},
		timeout: {request: options.timeoutMs},
		throwHttpErrors: false,
		responseType: 'json',
		headers: {'user-agent': options.userAgent, ...(options.token === undefined ? {} : {authorization: `Bearer ${options.token}`})},
	});
	return {
		got: instance,
		close() {
			agent.destroy();
		},
	};
}

/** Sends one request and returns the parsed JSON of a 2xx answer; anything else becomes a `CallError`. */
export async function call<T>(request: Promise<Response<unknown>>, what: string): Promise<T> {
	let response: Response<unknown>;
	try {
		response = await request;
	} catch (error: unknown) {
		const reason = error instanceof RequestError ? describeRequestError(error) : String(error);
		throw new CallError(`${what}: ${reason}`, 'ERR_HIVE_UNREACHABLE', undefined, {timedOut: error instanceof RequestError && error.code === 'ETIMEDOUT'});
	}

	if (response.statusCode < 200 || response.statusCode > 299) {
		const body = response.body as {error?: unknown} | undefined;
		const detail = typeof body?.error === 'string' ? body.error : `HTTP ${response.statusCode}`;
		throw new CallError(`${what}: ${detail}`, 'ERR_HIVE_REFUSED', response.statusCode);
	}

	return response.body as T;
}

function describeRequestError(error: RequestError): string {
	if (error.code === 'ETIMEDOUT') {
		return 'timed out';
	}

	if (error.code === 'ERR_BODY_PARSE_FAILURE') {
		return 'answer is not JSON';
	}

	return error.code ? `${error.code}` : error.message;
}
