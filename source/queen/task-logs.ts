import type {IncomingMessage} from 'node:http';
import type Koa from 'koa';
import {CallError} from '../client/http.js';
import type {DroneClient} from '../client/drone-client.js';
import {openLineStream} from '../http/ndjson.js';
import {finalTaskStates, runsOnDrone, type Task} from '../model.js';
import type {Hive} from './hive.js';
import {nextEvent} from './waiting.js';

/** How long a followed command's final state may take to reach the queen once its output has ended. */
const finalStateWaitMs = 10_000;

export type TaskLogsDeps = {
	readonly hive: Hive;
	readonly client: DroneClient;
	/** Aborts when this queen's term ends: a follower of a task's output is told, and the stream ends. */
	readonly ending: AbortSignal;
};

/**
`GET /tasks/:id/logs`: a task's output as JSON lines — `{"stream": "stdout"|"stderr", "data"}` — then
`{"end": {"state", "exitCode", "signal", "error"}}`. A finished task's output is its record's; a running
command's is asked of its drone (as `kubectl logs` asks the kubelet), and with `follow` it goes on as the
command prints until it ends, and the end line waits for the queen to hear how it ended. A pending task
followed is waited for until it runs. A line `{"error": ...}` says what went wrong on the way (the
drone out of reach, this queen no longer leading), and the stream then ends without an end line.
*/
export async function streamTaskLogs(ctx: Koa.Context, deps: TaskLogsDeps, task: Task, follow: boolean): Promise<void> {
	const {hive, client} = deps;
	let upstream: IncomingMessage | undefined;
	const closed = new AbortController();
	const stream = openLineStream(ctx, () => {
		upstream?.destroy();
		closed.abort();
	});
	const signal = AbortSignal.any([closed.signal, deps.ending]);
	const until = async (done: (task: Task) => boolean, timeoutMs?: number): Promise<Task | undefined> => {
		const now = hive.task(task.id);
		if (!now || done(now)) {
			return now;
		}

		const waited = await nextEvent(hive, event => ('task' in event && event.task.id === task.id && done(event.task) ? event.task : undefined), timeoutMs === undefined ? signal : AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]));
		return waited ?? hive.task(task.id);
	};

	const termEnded = (): boolean => {
		if (!deps.ending.aborted || stream.closed) {
			return false;
		}

		stream.send({error: 'this queen no longer leads the hive: follow the task again (the next leader has it)'});
		stream.end();
		return true;
	};

	let current: Task | undefined = task;
	if (follow && runsOnDrone(current.kind) && (current.state === 'pending' || current.state === 'dispatched')) {
		current = await until(each => each.state === 'running' || finalTaskStates.has(each.state));
	}

	let fromDrone = false;
	const drone = current?.state === 'running' && current.drone !== undefined ? hive.drone(current.drone) : undefined;
	if (drone && !stream.closed && !termEnded()) {
		try {
			upstream = await client.taskLogs(drone.address, task.id, follow, 5000);
			fromDrone = true;
			if (stream.closed) {
				// The client went while the drone was asked.
				upstream.destroy();
				return;
			}

			await relay(upstream, stream);
		} catch (error: unknown) {
			// 404: it ended there meanwhile, and its record has the output (once its result is heard).
			if (!(error instanceof CallError && error.status === 404)) {
				stream.send({error: `could not read the output from ${drone.name}: ${error instanceof Error ? error.message : String(error)}`});
			}
		}
	}

	if (follow && current && !finalTaskStates.has(current.state)) {
		current = await until(each => finalTaskStates.has(each.state), fromDrone || current.state === 'running' ? finalStateWaitMs : undefined);
	}

	if (stream.closed || termEnded()) {
		return;
	}

	current ??= task;
	if (!fromDrone) {
		const stdout = current.kind === 'text' ? (finalTaskStates.has(current.state) ? `${current.text}\n` : '') : current.result?.stdout ?? '';
		const stderr = current.result?.stderr ?? '';
		for (const [name, data] of [['stdout', stdout], ['stderr', stderr]] as const) {
			if (data !== '') {
				stream.send({stream: name, data});
			}
		}
	}

	stream.send({end: {state: current.state, exitCode: current.result?.exitCode ?? null, signal: current.result?.signal ?? null, error: current.error ?? null}});
	stream.end();
}

/**
Passes a drone's lines on as they come, no faster than the client reads them (the drone's answer is
paused while the client's is full), and ends on a whole line even when the drone's stream was cut mid-line.
*/
async function relay(upstream: IncomingMessage, stream: ReturnType<typeof openLineStream>): Promise<void> {
	let lastByte = 0x0A;
	await new Promise<void>(resolve => {
		upstream.on('data', (chunk: Buffer) => {
			lastByte = chunk.at(-1) ?? lastByte;
			if (!stream.sendRaw(chunk)) {
				upstream.pause();
				stream.onDrain(() => upstream.resume());
			}
		});
		upstream.on('end', resolve);
		upstream.on('error', () => {
			resolve();
		});
		upstream.on('close', resolve);
	});
	if (lastByte !== 0x0A) {
		stream.sendRaw('\n');
	}
}
