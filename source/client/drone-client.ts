import type {HttpClient} from './http.js';
import {call} from './http.js';

export type Health = {
	readonly status: string;
	readonly version: string;
	readonly mode: string;
	readonly name?: string | null;
	readonly drones?: Record<string, string>;
};

/** A task as the queen hands it to a drone; a seed drone reads `text` alone. */
export type DoTaskRequest = {readonly id?: string; readonly text: string} | {readonly id: string; readonly command: string};

/** What the queen says to drones. The only place that builds drone URLs. */
export type DroneClient = {
	healthz(address: string, timeoutMs: number): Promise<Health>;
	doTask(address: string, task: DoTaskRequest, timeoutMs: number): Promise<{result: string}>;
};

export function createDroneClient(http: HttpClient): DroneClient {
	return {
		async healthz(address, timeoutMs) {
			return call<Health>(http.got.get(`http://${address}/healthz`, {timeout: {request: timeoutMs}}), `GET http://${address}/healthz`);
		},
		async doTask(address, task, timeoutMs) {
			return call(http.got.post(`http://${address}/do_task`, {json: task, timeout: {request: timeoutMs}}), `POST http://${address}/do_task`);
		},
	};
}
