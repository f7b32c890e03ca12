import type {TestContext} from 'node:test';
import {waitFor} from './wait.js';

export type SeenEvent = {readonly type: string; readonly id?: number; readonly [key: string]: any};

export type EventLog = {
	readonly events: SeenEvent[];
	/** Waits for an event that matches, returns it. */
	waitFor(predicate: (event: SeenEvent) => boolean, what: string, timeoutMs?: number): Promise<SeenEvent>;
	close(): void;
};

/** Reads a queen's `GET /events` stream (Server-Sent Events) with fetch, as any client would. */
export async function followEvents(t: TestContext, queenUrl: string, query = ''): Promise<EventLog> {
	const controller = new AbortController();
	const response = await fetch(`${queenUrl}/events${query}`, {signal: controller.signal});
	if (!response.ok || !response.body) {
		throw new Error(`GET /events answered ${response.status}`);
	}

	const events: SeenEvent[] = [];
	const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
	void (async () => {
		let buffer = '';
		try {
			for (;;) {
				// eslint-disable-next-line no-await-in-loop
				const {value, done} = await reader.read();
				if (done) {
					return;
				}

				buffer += value;
				let end: number;
				while ((end = buffer.indexOf('\n\n')) >= 0) {
					const block = buffer.slice(0, end);
					buffer = buffer.slice(end + 2);
					const data = block.split('\n').filter(line => line.startsWith('data: ')).map(line => line.slice(6)).join('\n');
					if (data) {
						events.push(JSON.parse(data) as SeenEvent);
					}
				}
			}
		} catch {}
	})();
	const log: EventLog = {
		events,
		async waitFor(predicate, what, timeoutMs) {
			return waitFor(() => events.find(event => predicate(event)), what, timeoutMs);
		},
		close() {
			controller.abort();
		},
	};
	t.after(() => {
		log.close();
	});
	return log;
}
