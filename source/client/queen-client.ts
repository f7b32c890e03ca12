import type {Readable} from 'node:stream';
import type {HttpClient} from './http.js';
import {call} from './http.js';
import type {Health} from './drone-client.js';

export type RegisterAnswer = {readonly result: string; readonly name: string; readonly heartbeatIntervalMs?: number};

export type TaskView = {
	readonly id: string;
	readonly text: string;
	readonly state: string;
	readonly drone: string | null;
	readonly submittedAt: string;
	readonly updatedAt: string;
	readonly attempts: number;
	readonly error: string | null;
	// Fields of the task lifecycle (HIVE.md section 5); absent on a queen that does not have them yet.
	readonly kind?: string;
	readonly command?: string;
	readonly reason?: string | null;
	readonly result?: TaskResult | null;
};

export type TaskResult = {
	readonly exitCode?: number | null;
	readonly stdout?: string;
	readonly stderr?: string;
	readonly durationMs?: number;
	readonly [key: string]: unknown;
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
	// Capacity and labels (HIVE.md section 5); absent on a queen that does not have them yet.
	readonly slots?: number;
	readonly running?: number;
	readonly labels?: Readonly<Record<string, string>>;
};

export type DronesAnswer = {readonly drones: DroneView[]; readonly maxRetry: number; readonly heartbeatIntervalMs: number};

/** What drones and the dashboard say to a queen. The only place that builds queen URLs. */
export type QueenClient = {
	readonly baseUrl: string;
	healthz(): Promise<Health>;
	register(address: string, name?: string): Promise<RegisterAnswer>;
	deregister(address: string): Promise<{result: string}>;
	submitTask(text: string): Promise<SubmitAnswer>;
	drones(): Promise<DronesAnswer>;
	tasks(limit?: number): Promise<{tasks: TaskView[]}>;
	task(id: string): Promise<{task: TaskView}>;
	/** The URL of `GET /events`, for a streaming reader. */
	eventsUrl(since?: number): string;
	/** `GET /events` as a raw Server-Sent Events stream (no time limit); `since` replays the backlog after that id. */
	openEvents(since?: number): Readable;
};

export type QueenClientOptions = {
	/** The hive's join secret, sent as `Authorization: Bearer <token>` on every request. */
	readonly token?: string;
};

export function createQueenClient(queenHost: string, client: HttpClient, options: QueenClientOptions = {}): QueenClient {
	const baseUrl = `http://${queenHost}`;
	const http: HttpClient = options.token === undefined
		? client
		: {got: client.got.extend({headers: {authorization: `Bearer ${options.token}`}}), close: () => client.close()};
	return {
		baseUrl,
		async healthz() {
			return call(http.got.get(`${baseUrl}/healthz`), `GET ${baseUrl}/healthz`);
		},
		async register(address, name) {
			return call(http.got.post(`${baseUrl}/register`, {json: name === undefined ? {address} : {address, name}}), `POST ${baseUrl}/register`);
		},
		async deregister(address) {
			return call(http.got.post(`${baseUrl}/deregister`, {json: {address}}), `POST ${baseUrl}/deregister`);
		},
		async submitTask(text) {
			return call(http.got.post(`${baseUrl}/submit_task`, {json: {text}}), `POST ${baseUrl}/submit_task`);
		},
		async drones() {
			return call(http.got.get(`${baseUrl}/drones`), `GET ${baseUrl}/drones`);
		},
		async tasks(limit = 100) {
			return call(http.got.get(`${baseUrl}/tasks`, {searchParams: {limit}}), `GET ${baseUrl}/tasks`);
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
