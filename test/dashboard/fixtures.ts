import type {StreamEvent} from '../../source/client/event-stream.js';
import type {DroneView, TaskView} from '../../source/client/queen-client.js';
import type {DroneRow} from '../../source/dashboard/hive-store.js';

export const t0 = Date.parse('2030-01-01T12:00:00.000Z');

export function drone(index: number, change: Partial<DroneRow> = {}): DroneRow {
	return {
		name: `drone-${index}`,
		address: `127.0.0.1:${5000 + index}`,
		state: 'ready',
		registeredAt: new Date(t0).toISOString(),
		lastSeen: new Date(t0).toISOString(),
		lastSeenAgoMs: 0,
		failedAttempts: 0,
		tasksDone: 0,
		lastError: null,
		lastSeenAt: t0,
		...change,
	};
}

export function droneView(index: number, change: Partial<DroneView> = {}): DroneView {
	const {lastSeenAt: _, ...view} = drone(index);
	return {slots: 1, running: 0, allowExec: false, labels: {}, ...view, ...change};
}

export function task(id: string, change: Partial<TaskView> = {}): TaskView {
	return {
		id,
		kind: 'text',
		text: `task ${id}`,
		command: null,
		selector: {},
		retries: 0,
		reason: null,
		result: null,
		state: 'dispatched',
		drone: 'drone-0',
		submittedAt: new Date(t0).toISOString(),
		updatedAt: new Date(t0).toISOString(),
		attempts: 1,
		error: null,
		...change,
	};
}

let nextId = 1;
export function event(type: string, body: Record<string, unknown> = {}): StreamEvent {
	return {id: nextId++, time: new Date(t0).toISOString(), type, ...body};
}
