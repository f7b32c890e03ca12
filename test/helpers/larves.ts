import {Writable} from 'node:stream';
import type {TestContext} from 'node:test';
import {startLarve, type Larve} from '../../source/larve.js';
import {createLogger} from '../../source/log.js';
import type {LarveInput} from '../../source/options.js';

/** A Writable that keeps what a drone prints, line by line. */
export class Lines extends Writable {
	text = '';

	get lines(): string[] {
		return this.text.split('\n').filter(Boolean);
	}

	override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
		this.text += chunk.toString();
		callback();
	}
}

const silent = createLogger('silent', {kind: 'silent'});

/** Fast heartbeats so that tests of eviction take a second, not ten. */
export const fastHeartbeats = {heartbeatIntervalMs: 100, retryDelayMs: 100, heartbeatTimeoutMs: 500, maxRetry: 3} as const;

/** A real queen on 127.0.0.1, port 0, stopped when the test ends. */
export async function startQueen(t: TestContext, input: Partial<LarveInput> = {}): Promise<Larve> {
	const queen = await startLarve({port: 0, store: 'memory', ...fastHeartbeats, ...input, mode: 'queen'}, {log: silent, graceMs: 500});
	t.after(async () => queen.stop());
	return queen;
}

export type TestDrone = Larve & {readonly stdout: Lines};

/** A real drone on 127.0.0.1, port 0, registered with `queen`, stopped when the test ends. */
export async function startDrone(t: TestContext, queen: {readonly address: string}, input: Partial<LarveInput> = {}): Promise<TestDrone> {
	const stdout = new Lines();
	const drone = await startLarve({port: 0, queenHost: queen.address, registerTimeoutMs: 5000, ...input, mode: 'drone'}, {log: silent, stdout, graceMs: 500});
	t.after(async () => drone.stop());
	return Object.assign(drone, {stdout});
}

/** A drone that prints its (large) texts nowhere, stopped when the test ends. */
export async function startQuietDrone(t: TestContext, queenAddress: string): Promise<Larve> {
	const nowhere = new Writable({
		write(_chunk, _encoding, callback) {
			callback();
		},
	});
	const drone = await startLarve({mode: 'drone', port: 0, queenHost: queenAddress, registerTimeoutMs: 5000}, {log: silent, stdout: nowhere, graceMs: 500});
	t.after(async () => drone.stop());
	return drone;
}

export type Answer = {readonly status: number; readonly body: any; readonly headers: Headers};

/** Plain HTTP from the test's side (fetch), so the test does not share the code under test's client. */
export async function request(url: string, init: {method?: string; body?: unknown; raw?: string; headers?: Record<string, string>} = {}): Promise<Answer> {
	const hasBody = init.body !== undefined || init.raw !== undefined;
	const response = await fetch(url, {
		method: init.method ?? (hasBody ? 'POST' : 'GET'),
		headers: {...(hasBody ? {'content-type': 'application/json'} : {}), ...init.headers},
		body: init.raw ?? (init.body === undefined ? undefined : JSON.stringify(init.body)),
	});
	const text = await response.text();
	let body: unknown = text;
	try {
		body = JSON.parse(text);
	} catch {}

	return {status: response.status, body, headers: response.headers};
}
