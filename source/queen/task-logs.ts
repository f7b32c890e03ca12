import type {IncomingMessage} from 'node:http';
import type Koa from 'koa';
import {CallError} from '../client/http.js';
import type {DroneClient} from '../client/drone-client.js';
import {openLineStream} from '../http/ndjson.js';
import {finalTaskStates, type Task} from '../model.js';
import type {Hive} from './hive.js';

/** How long a followed command's final state may take to reach the queen once its output has ended. */
const finalStateWaitMs = 10_000;

/**
`GET /tasks/:id/logs`: a task's output as JSON lines — `{"stream": "stdout"|"stderr", "data"}` — then
`{"end": {"state", "exitCode", "signal", "error"}}`. A finished task's output is its record's; a running
command's is asked of its drone (as `kubectl logs` asks the kubelet), and with `follow` it goes on as the
command prints until it ends, and the end line waits for the queen to hear how it ended. A pending task
followed is waited for until it runs.
*/
export async function streamTaskLogs(ctx: Koa.Context, hive: Hive, client: DroneClient, task: Task, follow: boolean): Promise<void> {
	let upstream: IncomingMessage | undefined;
	let stopWaiting = (): void => undefined;
	const stream = openLineStream(ctx, () => {
		upstream?.destroy();
		stopWaiting();
	});
	const waitFor = async (until: (task: Task) => boolean, timeoutMs?: number): Promise<Task | undefined> => {
		const now = hive.task(task.id);
		if (!now || until(now) || stream.closed) {
			return now;
		}

		return new Promise(resolve => {
			const done = (): void => {
				unsubscribe();
				clearTimeout(timer);
				stopWaiting = () => undefined;
				resolve(hive.task(task.id));
			};

			const unsubscribe = hive.subscribe(event => {
				if ('task' in event && event.task.id === task.id && until(event.task)) {
					done();
				}
			});
			const timer = timeoutMs === undefined ? undefined : setTimeout(done, timeoutMs);
			stopWaiting = done;
		});
	};

	let current: Task | undefined = task;
	if (follow && current.kind === 'command' && (current.state === 'pending' || current.state === 'dispatched')) {
		current = await waitFor(each => each.state === 'running' || finalTaskStates.has(each.state));
	}

	let fromDrone = false;
	const drone = current?.state === 'running' && current.drone !== undefined ? hive.drone(current.drone) : undefined;
	if (drone && !stream.closed) {
		try {
			upstream = await client.taskLogs(drone.address, task.id, follow, 5000);
			fromDrone = true;
			const answer = upstream;
			await new Promise<void>(resolve => {
				answer.on('data', (chunk: Buffer) => {
					stream.sendRaw(chunk);
				});
				answer.on('end', resolve);
				answer.on('error', () => {
					resolve();
				});
				answer.on('close', resolve);
			});
		} catch (error: unknown) {
			// 404: it ended there meanwhile, and its record has the output (once its result is heard).
			if (!(error instanceof CallError && error.status === 404)) {
				stream.send({error: `could not read the output from ${drone.name}: ${error instanceof Error ? error.message : String(error)}`});
			}
		}
	}

	if (follow && current && !finalTaskStates.has(current.state)) {
		current = await waitFor(each => finalTaskStates.has(each.state), fromDrone || current.state === 'running' ? finalStateWaitMs : undefined);
	}

	if (stream.closed) {
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
