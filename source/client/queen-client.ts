import {randomUUID} from 'node:crypto';
import type {ResultReport, TaskResult} from '../http/schemas.js';
import type {Readable} from 'node:stream';
import type {HttpClient} from './http.js';
import {CallError, call} from './http.js';
import type {Health} from './drone-client.js';

export type RegisterAnswer = {readonly result: string; readonly name: string; readonly heartbeatIntervalMs?: number};

/**
A task as the queen answers it. Lists and events carry summaries: `result` without `stdout` and `stderr`,
long strings cut (marked `…`); `GET /tasks/:id` and `/submit_task` carry the whole record.
*/
export type TaskView = {
	readonly id: string;
	readonly kind: 'text' | 'command';
	readonly text: string | null;
	readonly command: string | null;
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
};

export type {ResultReport, TaskResult} from '../http/schemas.js';

export type DroneSpecBody = {
	readonly address: string;
	readonly name?: string;
	readonly slots?: number;
	readonly allowExec?: boolean;
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
	readonly labels: Record<string, string>;
};

export type DronesAnswer = {readonly drones: DroneView[]; readonly maxRetry: number; readonly heartbeatIntervalMs: number};

/** What drones and the dashboard say to a queen. The only place that builds queen URLs. */
export type QueenClient = {
	/** The queen calls go to now (`http://host:port`): the first given, until it stops answering. */
	readonly baseUrl: string;
	healthz(): Promise<Health>;
	register(drone: DroneSpecBody): Promise<RegisterAnswer>;
	deregister(address: string): Promise<{result: string}>;
	/** A string is a text task (the seed's body). */
	submitTask(task: string | {text: string; selector?: Record<string, string>} | {command: string; selector?: Record<string, string>}, options?: {wait?: boolean}): Promise<SubmitAnswer>;
	reportResult(id: string, report: ResultReport): Promise<{result: string}>;
	drones(): Promise<DronesAnswer>;
	tasks(query?: {state?: string; limit?: number; offset?: number}): Promise<{tasks: TaskView[]; total: number}>;
	task(id: string): Promise<{task: TaskView}>;
	/** The URL of `GET /events`, for a streaming reader. */
	eventsUrl(since?: number): string;
	/** `GET /events` as a raw Server-Sent Events stream (no time limit); `since` replays the backlog after that id. */
	openEvents(since?: number): Readable;
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
			const headers = hosts.length > 1 ? {'idempotency-key': randomUUID()} : undefined;
			return rotating(async baseUrl => call(http.got.post(`${baseUrl}/submit_task`, {json, headers, searchParams: submitOptions.wait ? {wait: 'true'} : undefined}), `POST ${baseUrl}/submit_task`));
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
		eventsUrl(since) {
			const baseUrl = urlOf(current);
			return since === undefined ? `${baseUrl}/events` : `${baseUrl}/events?since=${since}`;
		},
		openEvents(since) {
			// An event stream stays open: only the connection and the first byte have a time limit.
			return http.got.stream(this.eventsUrl(since), {timeout: {request: undefined, connect: 5000, response: 10_000}});
		},
	};
}

/** A queen that did not answer, or said it cannot serve now (503: no leader yet, stopping, full): another may. */
function queenAbsent(error: unknown): boolean {
	return error instanceof CallError && (error.code === 'ERR_HIVE_UNREACHABLE' || error.status === 503);
}
