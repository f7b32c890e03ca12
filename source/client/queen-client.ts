import type {ResultReport, TaskResult} from '../http/schemas.js';
import type {Readable} from 'node:stream';
import type {HttpClient} from './http.js';
import {call} from './http.js';
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

export function createQueenClient(queenHost: string, http: HttpClient): QueenClient {
	const baseUrl = `http://${queenHost}`;
	return {
		baseUrl,
		async healthz() {
			return call(http.got.get(`${baseUrl}/healthz`), `GET ${baseUrl}/healthz`);
		},
		async register(drone) {
			return call(http.got.post(`${baseUrl}/register`, {json: drone}), `POST ${baseUrl}/register`);
		},
		async deregister(address) {
			return call(http.got.post(`${baseUrl}/deregister`, {json: {address}}), `POST ${baseUrl}/deregister`);
		},
		async submitTask(task, options = {}) {
			const json = typeof task === 'string' ? {text: task} : task;
			return call(http.got.post(`${baseUrl}/submit_task`, {json, searchParams: options.wait ? {wait: 'true'} : undefined}), `POST ${baseUrl}/submit_task`);
		},
		async reportResult(id, report) {
			return call(http.got.post(`${baseUrl}/tasks/${encodeURIComponent(id)}/result`, {json: report}), `POST ${baseUrl}/tasks/${id}/result`);
		},
		async drones() {
			return call(http.got.get(`${baseUrl}/drones`), `GET ${baseUrl}/drones`);
		},
		async tasks(query = {}) {
			return call(http.got.get(`${baseUrl}/tasks`, {searchParams: query}), `GET ${baseUrl}/tasks`);
		},
		async task(id) {
			return call(http.got.get(`${baseUrl}/tasks/${encodeURIComponent(id)}`), `GET ${baseUrl}/tasks/${id}`);
		},
		eventsUrl(since) {
			return since === undefined ? `${baseUrl}/events` : `${baseUrl}/events?since=${since}`;
		},
		openEvents(since) {
			// An event stream stays open: only the connection and the first byte have a time limit.
			return http.got.stream(this.eventsUrl(since), {timeout: {request: undefined, connect: 5000, response: 10_000}});
		},
	};
}
