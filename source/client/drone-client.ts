import type {IncomingMessage} from 'node:http';
import {contactKeyHeader, epochHeader} from '../http/auth.js';
import {CallError} from './http.js';
import {createJsonHttp, type JsonHttpOptions} from './json-http.js';
import type {ContainerSpec} from '../model.js';

export type Health = {
	readonly status: string;
	readonly version: string;
	readonly mode: string;
	readonly name?: string | null;
	readonly drones?: Record<string, string>;
	/** A drone: ids of the command tasks it holds (running, or done with the result not yet heard by its queen). */
	readonly tasks?: readonly string[];
	/** A drone: how long it lets a command run (0: no limit). */
	readonly taskTimeoutMs?: number;
	/** A drone: what it is and can take. */
	readonly bootId?: string;
	readonly slots?: number;
	readonly allowExec?: boolean;
	readonly labels?: Readonly<Record<string, string>>;
	/** A drone shown a contact key: whether it is the drone's. */
	readonly contactKeyMatches?: boolean;
	/** A drone: the highest epoch its queen has shown (null: none, a queen without etcd). */
	readonly epoch?: number | null;
};

/** A task as the queen hands it to a drone; a seed drone reads `text` alone. */
export type DoTaskRequest = {readonly id?: string; readonly text: string} | {readonly id: string; readonly command: string} | {readonly id: string; readonly container: ContainerSpec};

export type DoTaskAnswer = {readonly result: string; readonly state?: string};

/** A drone's answer to a cancel: whether it ran the command (then `output`, what it printed until killed). */
export type CancelAnswer = {
	readonly result: string;
	readonly held: boolean;
	readonly output?: {readonly exitCode: number | null; readonly signal: string | null; readonly stdout: string; readonly stderr: string; readonly durationMs: number; readonly timedOut: boolean};
};

/** What the queen says to drones. The only place that builds drone URLs. */
export type DroneClient = {
	healthz(address: string, timeoutMs: number): Promise<Health>;
	/**
	A registration's callback: the drone's `/healthz`, shown the contact key the registration offers
	(none: no key at all, not the one the queen has for that address).
	*/
	registrationCallback(address: string, timeoutMs: number, contactKey: string | undefined): Promise<Health>;
	/**
	Hands one task to a drone. Calls made in the same event-loop turn to the same drone go as one
	`POST /do_tasks`; a drone that does not know it (the seed's) gets `POST /do_task` per task.
	*/
	doTask(address: string, task: DoTaskRequest, timeoutMs: number): Promise<DoTaskAnswer>;
	/**
	Cancels a task on a drone: a command it runs is killed (with all its processes); one not there yet never
	starts, unless `mayReturn` (moved off a drone being drained, it may be placed there again).
	*/
	cancelTask(address: string, id: string, timeoutMs: number, mayReturn?: boolean): Promise<CancelAnswer>;
	/** A running command's output as NDJSON (`{"stream", "data"}` lines); `follow`: on as it comes, until it ends. */
	taskLogs(address: string, id: string, follow: boolean, timeoutMs: number): Promise<IncomingMessage>;
	/** Frees the keep-alive sockets. */
	close(): void;
};

type Waiting = {
	readonly task: DoTaskRequest;
	readonly timeoutMs: number;
	resolve(answer: DoTaskAnswer): void;
	reject(error: Error): void;
};

/**
Tasks larger than this go alone, so that a batch stays well under the drone's 1 MiB body limit; a task
alone fits, since a text is at most 512 KiB as JSON (`maxTaskTextBytes`) and a command 64 Ki characters.
*/
const aloneAboveBytes = 64 * 1024;
const maxBatchBytes = 512 * 1024;
const maxBatchTasks = 256;

export type DroneClientOptions = JsonHttpOptions & {
	/** The contact key to show on calls to the drone at an address: the one it gave when it registered. */
	readonly contactKeyFor?: (address: string) => string | undefined;
	/**
	The leader's epoch, shown (`X-Hive-Epoch`) on every call to a drone: a drone refuses calls older than
	the newest leader's. Undefined (or none given): no header, as a queen without etcd.
	*/
	readonly epoch?: () => number | undefined;
};

export function createDroneClient(options: DroneClientOptions): DroneClient {
	const http = createJsonHttp(options);
	const keyHeaders = (key: string | undefined): Record<string, string> | undefined => {
		const epoch = options.epoch?.();
		if (epoch === undefined) {
			return key === undefined ? undefined : {[contactKeyHeader]: key};
		}

		return key === undefined ? {[epochHeader]: String(epoch)} : {[contactKeyHeader]: key, [epochHeader]: String(epoch)};
	};

	const contactHeaders = (address: string) => keyHeaders(options.contactKeyFor?.(address));
	const waiting = new Map<string, Waiting[]>();
	/** Drones that answered 404 to `/do_tasks`: they only speak the seed's `/do_task`. */
	const seedDrones = new Set<string>();
	let flushScheduled = false;

	const single = async (address: string, task: DoTaskRequest, timeoutMs: number): Promise<DoTaskAnswer> =>
		http.request('POST', address, '/do_task', task, timeoutMs, contactHeaders(address));

	const sendBatch = async (address: string, batch: Waiting[]): Promise<void> => {
		const what = `POST http://${address}/do_tasks`;
		let answer: {results: Array<{status: number; error?: string; code?: string; result?: string; state?: string}>};
		try {
			answer = await http.request('POST', address, '/do_tasks', {tasks: batch.map(each => each.task)}, Math.max(...batch.map(each => each.timeoutMs)), contactHeaders(address));
		} catch (error: unknown) {
			// A seed's drone (no /do_tasks), or a batch too large for the drone's body limit: one task a call.
			if (error instanceof CallError && (error.status === 404 || error.status === 405 || error.status === 413)) {
				if (error.status !== 413) {
					seedDrones.add(address);
				}

				for (const each of batch) {
					single(address, each.task, each.timeoutMs).then(answer => {
						each.resolve(answer);
					}, (error: Error) => {
						each.reject(error);
					});
				}

				return;
			}

			for (const each of batch) {
				each.reject(error as Error);
			}

			return;
		}

		for (const [index, each] of batch.entries()) {
			const result = answer.results?.[index];
			if (!result) {
				each.reject(new CallError(`${what}: no result for task ${index}`, 'ERR_HIVE_REFUSED', 502));
			} else if (result.status >= 200 && result.status <= 299) {
				each.resolve({result: result.result ?? 'OK', ...(result.state === undefined ? {} : {state: result.state})});
			} else {
				each.reject(new CallError(`${what}: ${result.error ?? `HTTP ${result.status}`}`, 'ERR_HIVE_REFUSED', result.status, {answerCode: result.code}));
			}
		}
	};

	const flush = (): void => {
		flushScheduled = false;
		for (const [address, queue] of waiting) {
			waiting.delete(address);
			let batch: Waiting[] = [];
			let bytes = 0;
			for (const each of queue) {
				const size = taskBytes(each.task);
				if (batch.length >= maxBatchTasks || bytes + size > maxBatchBytes) {
					void sendBatch(address, batch);
					batch = [];
					bytes = 0;
				}

				batch.push(each);
				bytes += size;
			}

			if (batch.length === 1) {
				const [only] = batch;
				single(address, only!.task, only!.timeoutMs).then(answer => {
					only!.resolve(answer);
				}, (error: Error) => {
					only!.reject(error);
				});
			} else if (batch.length > 1) {
				void sendBatch(address, batch);
			}
		}
	};

	return {
		async healthz(address, timeoutMs) {
			return http.request<Health>('GET', address, '/healthz', undefined, timeoutMs, contactHeaders(address));
		},
		async registrationCallback(address, timeoutMs, contactKey) {
			return http.request<Health>('GET', address, '/healthz', undefined, timeoutMs, keyHeaders(contactKey));
		},
		async doTask(address, task, timeoutMs) {
			if (seedDrones.has(address) || taskBytes(task) > aloneAboveBytes) {
				return single(address, task, timeoutMs);
			}

			return new Promise((resolve, reject) => {
				let queue = waiting.get(address);
				if (!queue) {
					queue = [];
					waiting.set(address, queue);
				}

				queue.push({task, timeoutMs, resolve, reject});
				if (!flushScheduled) {
					flushScheduled = true;
					setImmediate(flush);
				}
			});
		},
		async cancelTask(address, id, timeoutMs, mayReturn) {
			return http.request<CancelAnswer>('POST', address, `/tasks/${encodeURIComponent(id)}/cancel`, mayReturn ? {mayReturn} : {}, timeoutMs, contactHeaders(address));
		},
		async taskLogs(address, id, follow, timeoutMs) {
			return http.stream(address, `/tasks/${encodeURIComponent(id)}/logs${follow ? '?follow=true' : ''}`, timeoutMs, contactHeaders(address));
		},
		close() {
			http.close();
		},
	};
}

function taskBytes(task: DoTaskRequest): number {
	// UTF-16 length × 6 bounds the size in JSON (a control character is sent as \uXXXX); cheap, and safe for the limit.
	if ('container' in task) {
		// Already JSON: its length in bytes is its size as sent.
		return 64 + Buffer.byteLength(JSON.stringify(task.container));
	}

	return 64 + (('text' in task ? task.text.length : task.command.length) * 6);
}

/**
Why a drone did not take a task, as the dispatcher acts on it: `unreachable` (no answer, or a 5xx: check
the drone, try another), `died` (it had the task and dropped the call: it died taking it), `malformed`
(it refused the task itself: no drone will take it), `refused` (not now, or not here: full, no exec, a token).
*/
export type NotTaken = 'unreachable' | 'died' | 'malformed' | 'refused';

const malformedCodes = new Set(['ERR_HIVE_BAD_BODY', 'ERR_HIVE_TOO_LARGE']);

export function whyNotTaken(error: unknown): NotTaken {
	if (!(error instanceof CallError) || error.code === 'ERR_HIVE_UNREACHABLE') {
		return error instanceof CallError && error.dropped ? 'died' : 'unreachable';
	}

	const status = error.status ?? 500;
	if (status >= 500) {
		return 'unreachable';
	}

	// Only a drone's word about the task itself: whatever else answers at a drone's address (a queen, the
	// seed's larve: "In queen mode, not taking tasks") says nothing about the task. A drone that refuses
	// this queen's epoch (ERR_HIVE_STALE_EPOCH: another queen leads now) has refused: the task waits again.
	return malformedCodes.has(error.answerCode ?? '') ? 'malformed' : 'refused';
}
