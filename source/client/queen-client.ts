import {randomUUID} from 'node:crypto';
import type {ContainerSpec, Runtime, TaskKind} from '../model.js';
import type {ResultReport, TaskResult} from '../http/schemas.js';
import type {Readable} from 'node:stream';
import type {HttpClient} from './http.js';
import {CallError, call} from './http.js';
import type {Health} from './drone-client.js';
import type {StreamEvent} from './event-stream.js';

export type RegisterAnswer = {readonly result: string; readonly name: string; readonly heartbeatIntervalMs?: number};

/**
A task as the queen answers it. Lists and events carry summaries: `result` without `stdout` and `stderr`,
long strings cut (marked `…`); `GET /tasks/:id` and `/submit_task` carry the whole record.
*/
export type TaskView = {
	readonly id: string;
	readonly kind: TaskKind;
	readonly text: string | null;
	readonly command: string | null;
	/** What a container task runs; absent from a queen older than issue #14. */
	readonly container?: ContainerSpec | null;
	readonly selector: Record<string, string>;
	readonly state: string;
	readonly drone: string | null;
	readonly submittedAt: string;
	readonly updatedAt: string;
	readonly attempts: number;
	readonly retries: number;
	readonly reason: string | null;
	readonly error: string | null;
	readonly result: (Omit<TaskResult, 'stdout' | 'stderr'> & Partial<Pick<TaskResult, 'stdout' | 'stderr'>>) | null;
	/** Who cancelled it and when (state `cancelled`); absent from a queen older than issue #12. */
	readonly cancelled?: {readonly by: string; readonly at: string} | null;
};

export type {ResultReport, TaskResult} from '../http/schemas.js';

export type DroneSpecBody = {
	readonly address: string;
	readonly name?: string;
	readonly slots?: number;
	readonly allowExec?: boolean;
	/** The container runtimes it runs container tasks with. */
	readonly runtimes?: readonly Runtime[];
	readonly labels?: Record<string, string>;
	readonly bootId?: string;
	/** A secret for this registration: the queen shows it on its calls to the drone. Never logged. */
	readonly contactKey?: string;
};


export type SubmitAnswer = {readonly result: string; readonly task: TaskView};

export type DroneView = {
	readonly name: string;
	readonly address: string;
	readonly state: string;
	readonly registeredAt: string;
	readonly lastSeen: string | null;
	readonly lastSeenAgoMs: number | null;
	readonly failedAttempts: number;
	readonly tasksDone: number;
	readonly lastError: string | null;
	readonly slots: number;
	readonly running: number;
	readonly allowExec: boolean;
	/** The container runtimes it has; absent from a queen older than issue #14. */
	readonly runtimes?: readonly Runtime[];
	readonly labels: Record<string, string>;
	/** Takes no new tasks (`cordon`, `drain`); absent from a queen older than issue #12. */
	readonly cordoned?: boolean;
	/** A drain under way: its start and the time past which its running commands are killed and placed elsewhere. */
	readonly drain?: {readonly startedAt: string; readonly deadline: string | null} | null;
};

/**
`POST /drones/:name/cordon`, `/uncordon`, `/drain`: the drone as it is after the change; a drain waited
on answers a null drone (and a `note`) when the drone left the hive before it ended.
*/
export type DroneAnswer = {readonly result: string; readonly drone: DroneView | null; readonly note?: string};

/** `DELETE /tasks/:id`: the task as the cancel left it. */
export type CancelAnswer = {readonly result: string; readonly task: TaskView};

/** One line of `GET /tasks/:id/logs`: a chunk of a stream, what went wrong on the way, or (last) how the task ended. */
export type LogLine =
	| {readonly stream: 'stdout' | 'stderr'; readonly data: string}
	| {readonly error: string}
	| {readonly end: {readonly state: string; readonly exitCode: number | null; readonly signal: string | null; readonly error: string | null}};

/** One line of `GET /tasks/:id/logs` as read; undefined for a blank one. A line that is not JSON throws a SyntaxError that quotes it. */
export function parseLogLine(text: string): LogLine | undefined {
	if (text.trim() === '') {
		return undefined;
	}

	try {
		return JSON.parse(text) as LogLine;
	} catch {
		throw new SyntaxError(`the queen's log stream is not JSON lines: ${text.slice(0, 80)}`);
	}
}

/** The whole lines of what a line stream has given so far, and the start of the next one (kept for the next chunk). */
export function splitLines(buffer: string): {lines: string[]; rest: string} {
	const lines: string[] = [];
	let start = 0;
	let newline: number;
	while ((newline = buffer.indexOf('\n', start)) >= 0) {
		lines.push(buffer.slice(start, newline));
		start = newline + 1;
	}

	return {lines, rest: buffer.slice(start)};
}

/** Who asks for a change (`X-Hive-User`, kept in the record and its events as `by`): `alice@laptop`. */
export type Requester = {readonly user?: string | undefined};

export type DronesAnswer = {readonly drones: DroneView[]; readonly maxRetry: number; readonly heartbeatIntervalMs: number};

/** What drones and the dashboard say to a queen. The only place that builds queen URLs. */
export type QueenClient = {
	/** The queen calls go to now (`http://host:port`): the first given, until it stops answering. */
	readonly baseUrl: string;
	healthz(): Promise<Health>;
	register(drone: DroneSpecBody): Promise<RegisterAnswer>;
	deregister(address: string): Promise<{result: string}>;
	/**
	A string is a text task (the seed's body). `wait`: the answer comes once the task has ended (no time limit).
	`idempotencyKey`: a submit sent again with the same key gets the first one's task, not a second one.
	*/
	submitTask(task: string | {text: string; selector?: Record<string, string>} | {command: string; selector?: Record<string, string>} | {container: ContainerSpec; selector?: Record<string, string>}, options?: {wait?: boolean; idempotencyKey?: string}): Promise<SubmitAnswer>;
	reportResult(id: string, report: ResultReport): Promise<{result: string}>;
	drones(): Promise<DronesAnswer>;
	tasks(query?: {state?: string; limit?: number; offset?: number}): Promise<{tasks: TaskView[]; total: number}>;
	/** `id` may be a unique prefix of the task's id. */
	task(id: string): Promise<{task: TaskView}>;
	/** Takes a pending task out of the queue or kills a running command; 409 when it has already ended. */
	cancelTask(id: string, requester?: Requester): Promise<CancelAnswer>;
	/**
	`GET /tasks/:id/logs` as an NDJSON stream of `LogLine`s, once the queen has answered 2xx (anything else
	rejects, as a call does). `follow`: it goes on while the command runs (no time limit).
	*/
	openTaskLogs(id: string, options?: {follow?: boolean}): Promise<Readable>;
	cordon(name: string, requester?: Requester): Promise<DroneAnswer>;
	uncordon(name: string, requester?: Requester): Promise<DroneAnswer>;
	/**
	Cordons the drone and lets what runs there end (past `deadlineSeconds`, it is killed and placed
	elsewhere). `wait`: the answer comes once nothing runs there (no time limit).
	*/
	drain(name: string, options?: Requester & {deadlineSeconds?: number; wait?: boolean}): Promise<DroneAnswer>;
	/** The queen's backlog of events, oldest first (`GET /events?follow=false`), after `since` if given. */
	eventBacklog(since?: number): Promise<{events: StreamEvent[]}>;
	/** The URL of `GET /events`, for a streaming reader. */
	eventsUrl(since?: number): string;
	/** `GET /events` as a raw Server-Sent Events stream (no time limit); `since` replays the backlog after that id. */
	openEvents(since?: number): Readable;
	/** `openEvents` at a queen that answers 2xx: rejects, as a call does, when none does. */
	openAnsweredEvents(since?: number): Promise<Readable>;
};

export type QueenClientOptions = {
	/** Calls moved on from `from` to `to` because `from` did not answer (for a log line). */
	readonly onMove?: (from: string, to: string, reason: string) => void;
};

/**
A client of one queen or several (`--queen-host a:8080,b:8080`: the queens of one hive). Calls go to the
current queen; when it does not answer (refused, reset, timed out) or answers 503 (no leader yet, or
stopping), the next queen becomes current and the call is tried there: at most once per queen per call,
then the error is the caller's (its own backoff). A submit carries an `Idempotency-Key` when there are
several queens, so that trying it at another queen cannot make a second task.
*/
export function createQueenClient(queenHosts: string | readonly string[], http: HttpClient, options: QueenClientOptions = {}): QueenClient {
	const hosts = typeof queenHosts === 'string' ? [queenHosts] : [...queenHosts];
	if (hosts.length === 0) {
		throw new TypeError('createQueenClient needs at least one queen host');
	}

	let current = 0;
	const urlOf = (index: number) => `http://${hosts[index]!}`;

	/** Sends `send` to the current queen, and on to the next ones while they do not answer. */
	const rotating = async <T>(send: (baseUrl: string) => Promise<T>): Promise<T> => {
		let lastError: unknown;
		for (let tried = 0; tried < hosts.length; tried++) {
			const index = current;
			try {
				// eslint-disable-next-line no-await-in-loop -- one queen after another
				return await send(urlOf(index));
			} catch (error: unknown) {
				if (!queenAbsent(error) || hosts.length === 1) {
					throw error;
				}

				lastError = error;
				// Calls that failed together at one queen move on once, not once each.
				if (current === index) {
					current = (index + 1) % hosts.length;
					options.onMove?.(urlOf(index), urlOf(current), error instanceof Error ? error.message : String(error));
				}
			}
		}

		throw lastError;
	};

	return {
		get baseUrl() {
			return urlOf(current);
		},
		async healthz() {
			return rotating(async baseUrl => call(http.got.get(`${baseUrl}/healthz`), `GET ${baseUrl}/healthz`));
		},
		async register(drone) {
			return rotating(async baseUrl => call(http.got.post(`${baseUrl}/register`, {json: drone}), `POST ${baseUrl}/register`));
		},
		async deregister(address) {
			return rotating(async baseUrl => call(http.got.post(`${baseUrl}/deregister`, {json: {address}}), `POST ${baseUrl}/deregister`));
		},
		async submitTask(task, submitOptions = {}) {
			const json = typeof task === 'string' ? {text: task} : task;
			const key = submitOptions.idempotencyKey ?? (hosts.length > 1 ? randomUUID() : undefined);
			const headers = key === undefined ? undefined : {'idempotency-key': key};
			const timeout = submitOptions.wait ? untilAnswered : undefined;
			return rotating(async baseUrl => call(http.got.post(`${baseUrl}/submit_task`, {json, headers, timeout, searchParams: submitOptions.wait ? {wait: 'true'} : undefined}), `POST ${baseUrl}/submit_task`));
		},
		async reportResult(id, report) {
			return rotating(async baseUrl => call(http.got.post(`${baseUrl}/tasks/${encodeURIComponent(id)}/result`, {json: report}), `POST ${baseUrl}/tasks/${id}/result`));
		},
		async drones() {
			return rotating(async baseUrl => call(http.got.get(`${baseUrl}/drones`), `GET ${baseUrl}/drones`));
		},
		async tasks(query = {}) {
			return rotating(async baseUrl => call(http.got.get(`${baseUrl}/tasks`, {searchParams: query}), `GET ${baseUrl}/tasks`));
		},
		async task(id) {
			return rotating(async baseUrl => call(http.got.get(`${baseUrl}/tasks/${encodeURIComponent(id)}`), `GET ${baseUrl}/tasks/${id}`));
		},
		async cancelTask(id, requester = {}) {
			return rotating(async baseUrl => call(http.got.delete(`${baseUrl}/tasks/${encodeURIComponent(id)}`, {headers: userHeader(requester)}), `DELETE ${baseUrl}/tasks/${id}`));
		},
		async openTaskLogs(id, logOptions = {}) {
			const path = `/tasks/${encodeURIComponent(id)}/logs`;
			// Following, the first byte may wait until a pending task runs.
			const timeout = logOptions.follow ? untilAnswered : untilFirstByte;
			return rotating(async baseUrl => answered(http.got.stream(`${baseUrl}${path}`, {timeout, searchParams: logOptions.follow ? {follow: 'true'} : undefined}), `GET ${baseUrl}${path}`));
		},
		async cordon(name, requester = {}) {
			return rotating(async baseUrl => call(http.got.post(`${baseUrl}/drones/${encodeURIComponent(name)}/cordon`, {headers: userHeader(requester)}), `POST ${baseUrl}/drones/${name}/cordon`));
		},
		async uncordon(name, requester = {}) {
			return rotating(async baseUrl => call(http.got.post(`${baseUrl}/drones/${encodeURIComponent(name)}/uncordon`, {headers: userHeader(requester)}), `POST ${baseUrl}/drones/${name}/uncordon`));
		},
		async drain(name, drainOptions = {}) {
			const json = drainOptions.deadlineSeconds === undefined ? {} : {deadline: drainOptions.deadlineSeconds};
			const timeout = drainOptions.wait ? untilAnswered : undefined;
			const searchParams = drainOptions.wait ? {wait: 'true'} : undefined;
			return rotating(async baseUrl => call(http.got.post(`${baseUrl}/drones/${encodeURIComponent(name)}/drain`, {json, timeout, searchParams, headers: userHeader(drainOptions)}), `POST ${baseUrl}/drones/${name}/drain`));
		},
		async eventBacklog(since) {
			const searchParams = since === undefined ? {follow: 'false'} : {follow: 'false', since: String(since)};
			return rotating(async baseUrl => call(http.got.get(`${baseUrl}/events`, {searchParams}), `GET ${baseUrl}/events`));
		},
		eventsUrl(since) {
			return eventsUrl(urlOf(current), since);
		},
		openEvents(since) {
			// An event stream stays open: only the connection and the first byte have a time limit.
			return http.got.stream(this.eventsUrl(since), {timeout: untilFirstByte});
		},
		async openAnsweredEvents(since) {
			return rotating(async baseUrl => answered(http.got.stream(eventsUrl(baseUrl, since), {timeout: untilFirstByte}), `GET ${baseUrl}/events`));
		},
	};
}

/** For a stream that stays open: only the connection and the first byte have a time limit. */
const untilFirstByte = {request: undefined, connect: 5000, response: 10_000} as const;

function eventsUrl(baseUrl: string, since: number | undefined): string {
	return since === undefined ? `${baseUrl}/events` : `${baseUrl}/events?since=${since}`;
}

/** For calls answered only once something has happened (a task ended, a drone drained): only connecting has a time limit. */
const untilAnswered = {request: undefined, connect: 5000, response: undefined} as const;

function userHeader(requester: Requester): Record<string, string> | undefined {
	return requester.user === undefined ? undefined : {'x-hive-user': requester.user};
}

/**
Resolves with a stream once its answer is 2xx (its body not yet read); otherwise rejects with the
`CallError` a call would have given: no answer, or the answer's `error`.
*/
async function answered(stream: Readable, what: string): Promise<Readable> {
	return new Promise((resolve, reject) => {
		const onError = (error: Error & {code?: string}) => {
			reject(new CallError(`${what}: ${error.code === 'ETIMEDOUT' ? 'timed out' : error.code ?? error.message}`, 'ERR_HIVE_UNREACHABLE', undefined, {timedOut: error.code === 'ETIMEDOUT'}));
		};

		stream.once('error', onError);
		stream.once('response', (response: {statusCode: number}) => {
			if (response.statusCode >= 200 && response.statusCode <= 299) {
				stream.off('error', onError);
				resolve(stream);
				return;
			}

			const chunks: Buffer[] = [];
			stream.on('data', (chunk: Buffer) => chunks.push(chunk));
			stream.on('end', () => {
				let detail = `HTTP ${response.statusCode}`;
				try {
					const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {error?: unknown};
					detail = typeof body.error === 'string' ? body.error : detail;
				} catch {}

				reject(new CallError(`${what}: ${detail}`, 'ERR_HIVE_REFUSED', response.statusCode));
			});
		});
	});
}

/** A queen that did not answer, or said it cannot serve now (503: no leader yet, stopping, full): another may. */
function queenAbsent(error: unknown): boolean {
	return error instanceof CallError && (error.code === 'ERR_HIVE_UNREACHABLE' || error.status === 503);
}
