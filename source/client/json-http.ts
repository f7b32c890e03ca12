import http from 'node:http';
import {CallError} from './http.js';

/**
JSON over `node:http` with a keep-alive agent: the queen's hot paths (a heartbeat to every drone every
interval, a task batch to each drone every event-loop turn). got, which every other call uses, costs
~260 µs of CPU a call against ~80 µs here (`npm run bench`, see the README); at 10,000 drones that is
the difference between one core and under half of one.
*/
export type JsonHttp = {
	/** `headers` are added to this request's (a secret of this peer's, say). */
	request<T>(method: 'GET' | 'POST', address: string, path: string, body: unknown, timeoutMs: number, headers?: Readonly<Record<string, string>>): Promise<T>;
	/**
	A `GET` whose answer streams for as long as the peer sends it (a command's output, followed): resolves with
	the answer once its headers come (within `timeoutMs`), on a connection of its own. A non-2xx answer rejects,
	as `request` does.
	*/
	stream(address: string, path: string, timeoutMs: number, headers?: Readonly<Record<string, string>>): Promise<http.IncomingMessage>;
	close(): void;
};

export type JsonHttpOptions = {
	readonly userAgent: string;
	readonly token?: string | undefined;
	/** Sockets kept per peer. @default 16 */
	readonly maxSockets?: number;
};

const maxAnswerBytes = 1024 * 1024;

export function createJsonHttp(options: JsonHttpOptions): JsonHttp {
	const agent = new http.Agent({keepAlive: true, maxSockets: options.maxSockets ?? 16, maxFreeSockets: options.maxSockets ?? 16, scheduling: 'lifo'});
	const baseHeaders: Record<string, string> = {'user-agent': options.userAgent, accept: 'application/json'};
	if (options.token !== undefined) {
		baseHeaders.authorization = `Bearer ${options.token}`;
	}

	return {
		async request<T>(method: 'GET' | 'POST', address: string, path: string, body: unknown, timeoutMs: number, extraHeaders?: Readonly<Record<string, string>>): Promise<T> {
			const what = `${method} http://${address}${path}`;
			const colon = address.lastIndexOf(':');
			const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
			const port = Number(address.slice(colon + 1));
			const payload = body === undefined ? undefined : JSON.stringify(body);
			const base = extraHeaders === undefined ? baseHeaders : {...baseHeaders, ...extraHeaders};
			const headers = payload === undefined ? base : {...base, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload))};
			return new Promise<T>((resolve, reject) => {
				let settled = false;
				const fail = (error: CallError) => {
					if (!settled) {
						settled = true;
						clearTimeout(timer);
						request.destroy();
						reject(error);
					}
				};

				const onAnswer = (response: http.IncomingMessage) => {
					const chunks: Buffer[] = [];
					let received = 0;
					response.on('data', (chunk: Buffer) => {
						received += chunk.length;
						// A drone's answer is small; whatever streams more is not a drone.
						if (received > maxAnswerBytes) {
							fail(new CallError(`${what}: answer larger than ${maxAnswerBytes} bytes`, 'ERR_HIVE_REFUSED', response.statusCode));
							return;
						}

						chunks.push(chunk);
					});
					response.on('error', () => {
						fail(new CallError(`${what}: the answer was cut`, 'ERR_HIVE_UNREACHABLE', undefined, {dropped: true}));
					});
					response.on('end', () => {
						if (settled) {
							return;
						}

						settled = true;
						clearTimeout(timer);
						const status = response.statusCode ?? 0;
						let parsed: unknown;
						try {
							parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
						} catch {
							parsed = undefined;
						}

						if (status >= 200 && status <= 299) {
							if (parsed === undefined) {
								reject(new CallError(`${what}: answer is not JSON`, 'ERR_HIVE_REFUSED', status));
							} else {
								resolve(parsed as T);
							}

							return;
						}

						const {error, code} = (parsed ?? {}) as {error?: unknown; code?: unknown};
						reject(new CallError(`${what}: ${typeof error === 'string' ? error : `HTTP ${status}`}`, 'ERR_HIVE_REFUSED', status, {answerCode: typeof code === 'string' ? code : undefined}));
					});
				};

				let request: http.ClientRequest;
				const timer = setTimeout(() => {
					fail(new CallError(`${what}: timed out`, 'ERR_HIVE_UNREACHABLE', undefined, {timedOut: true}));
				}, timeoutMs);
				let retried = false;
				const send = (viaAgent: boolean) => {
					request = http.request({agent: viaAgent ? agent : false, host, port, path, method, headers}, onAnswer);
					request.on('error', (error: NodeJS.ErrnoException) => {
						const reset = error.code === 'ECONNRESET' || error.code === 'EPIPE';
						if (reset && request.reusedSocket && !retried && !settled) {
							// A kept-alive socket the peer closed, idle, as the request went out: once more, on a new one
							// (a drone takes a task id once, so a task sent twice runs once).
							retried = true;
							send(false);
							return;
						}

						// Reset or hung up: the peer was there and went away with the request (refused: it never was).
						fail(new CallError(`${what}: ${error.code ?? error.message}`, 'ERR_HIVE_UNREACHABLE', undefined, {dropped: reset}));
					});
					request.end(payload);
				};

				send(true);
			});
		},
		async stream(address, path, timeoutMs, extraHeaders) {
			const what = `GET http://${address}${path}`;
			const colon = address.lastIndexOf(':');
			const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
			const port = Number(address.slice(colon + 1));
			return new Promise((resolve, reject) => {
				const request = http.request({agent: false, host, port, path, method: 'GET', headers: {...baseHeaders, accept: 'application/x-ndjson', ...extraHeaders}}, response => {
					clearTimeout(timer);
					const status = response.statusCode ?? 0;
					if (status >= 200 && status <= 299) {
						resolve(response);
						return;
					}

					let text = '';
					response.setEncoding('utf8');
					response.on('data', (chunk: string) => {
						text = (text + chunk).slice(0, 64 * 1024);
					});
					response.on('error', () => undefined);
					response.on('end', () => {
						let answer: {error?: unknown; code?: unknown} = {};
						try {
							answer = JSON.parse(text) as typeof answer;
						} catch {}

						reject(new CallError(`${what}: ${typeof answer.error === 'string' ? answer.error : `HTTP ${status}`}`, 'ERR_HIVE_REFUSED', status, {answerCode: typeof answer.code === 'string' ? answer.code : undefined}));
					});
				});
				const timer = setTimeout(() => {
					request.destroy();
					reject(new CallError(`${what}: timed out`, 'ERR_HIVE_UNREACHABLE', undefined, {timedOut: true}));
				}, timeoutMs);
				request.on('error', (error: NodeJS.ErrnoException) => {
					clearTimeout(timer);
					reject(new CallError(`${what}: ${error.code ?? error.message}`, 'ERR_HIVE_UNREACHABLE'));
				});
				request.end();
			});
		},
		close() {
			agent.destroy();
		},
	};
}
