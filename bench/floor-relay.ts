/**
The floor of the dispatch bench: a bare `node:http` relay, no framework, no state, no events, no
retries. It takes `POST /submit_task {"text": ...}`, gives the task an id, hands it to the next drone
in turn, and answers once that drone has answered. Tasks for one drone that arrive in the same
event-loop turn go as one `POST /do_tasks {"tasks": [...]}` over a keep-alive agent, as Hive's queen
batches them. What Hive's queen does beyond this costs what it costs above this floor.

  node dist/bench/floor-relay.js --drone 127.0.0.1:4001 --drone 127.0.0.1:4002 [--port 0]

It prints one JSON line on standard error when it listens: {"msg":"floor relay listening","url":...}.
*/
import http from 'node:http';
import type {AddressInfo} from 'node:net';
import {parseArgs} from 'node:util';

const {values} = parseArgs({
	options: {
		drone: {type: 'string', multiple: true},
		port: {type: 'string', default: '0'},
		host: {type: 'string', default: '127.0.0.1'},
	},
});

const drones = (values.drone ?? []).map(address => {
	const match = /^(.+):(\d+)$/.exec(address);
	if (!match) {
		process.stderr.write(`floor relay: --drone must be host:port, got ${JSON.stringify(address)}\n`);
		process.exit(2);
	}

	return {host: match[1]!, port: Number(match[2])};
});
if (drones.length === 0) {
	process.stderr.write('floor relay: give at least one --drone host:port\n');
	process.exit(2);
}

/** Hive's queen keeps 16 sockets per drone and at most 256 tasks in one batch: the same here. */
const agent = new http.Agent({keepAlive: true, maxSockets: 16});
const maxBatchTasks = 256;
const maxBodyBytes = 64 * 1024;

type Waiting = {readonly id: string; readonly text: string; readonly response: http.ServerResponse};

const queues: Waiting[][] = drones.map(() => []);
let nextDrone = 0;
let nextId = 0;
let flushScheduled = false;

function answer(response: http.ServerResponse, status: number, body: unknown): void {
	const text = JSON.stringify(body);
	response.writeHead(status, {'content-type': 'application/json', 'content-length': Buffer.byteLength(text)});
	response.end(text);
}

function send(droneIndex: number, batch: readonly Waiting[]): void {
	const drone = drones[droneIndex]!;
	const body = JSON.stringify({tasks: batch.map(each => ({id: each.id, text: each.text}))});
	const failAll = (message: string) => {
		for (const each of batch) {
			answer(each.response, 502, {error: message});
		}
	};

	const request = http.request({
		host: drone.host,
		port: drone.port,
		path: '/do_tasks',
		method: 'POST',
		agent,
		headers: {'content-type': 'application/json', 'content-length': Buffer.byteLength(body)},
	}, response => {
		let text = '';
		response.setEncoding('utf8');
		response.on('data', (chunk: string) => {
			text += chunk;
		});
		response.on('end', () => {
			let results: Array<{status?: number; error?: string}> | undefined;
			try {
				results = (JSON.parse(text) as {results?: typeof results}).results;
			} catch {}

			if (response.statusCode !== 200 || !Array.isArray(results)) {
				failAll(`drone answered ${response.statusCode ?? 0} to /do_tasks`);
				return;
			}

			for (const [index, each] of batch.entries()) {
				const result = results[index];
				if (result?.status !== undefined && result.status >= 200 && result.status <= 299) {
					answer(each.response, 200, {result: 'OK', id: each.id});
				} else {
					answer(each.response, 502, {error: result?.error ?? `no result for task ${index}`, id: each.id});
				}
			}
		});
		response.on('error', error => failAll(error.message));
	});
	request.on('error', error => failAll(error.message));
	request.end(body);
}

function flush(): void {
	flushScheduled = false;
	for (const [index, queue] of queues.entries()) {
		if (queue.length === 0) {
			continue;
		}

		queues[index] = [];
		for (let start = 0; start < queue.length; start += maxBatchTasks) {
			send(index, queue.slice(start, start + maxBatchTasks));
		}
	}
}

const server = http.createServer((request, response) => {
	if (request.method !== 'POST' || request.url !== '/submit_task') {
		request.resume();
		answer(response, 404, {error: 'only POST /submit_task here'});
		return;
	}

	let body = '';
	request.setEncoding('utf8');
	request.on('data', (chunk: string) => {
		body += chunk;
		if (body.length > maxBodyBytes) {
			answer(response, 413, {error: 'body too large'});
			request.destroy();
		}
	});
	request.on('end', () => {
		let text: unknown;
		try {
			text = (JSON.parse(body) as {text?: unknown}).text;
		} catch {}

		if (typeof text !== 'string' || text.length === 0) {
			answer(response, 400, {error: 'text is required'});
			return;
		}

		const drone = nextDrone;
		nextDrone = (nextDrone + 1) % drones.length;
		queues[drone]!.push({id: String(++nextId), text, response});
		if (!flushScheduled) {
			flushScheduled = true;
			setImmediate(flush);
		}
	});
});

server.keepAliveTimeout = 60_000;
server.listen(Number(values.port), values.host, () => {
	const {port} = server.address() as AddressInfo;
	process.stderr.write(`${JSON.stringify({msg: 'floor relay listening', url: `http://${values.host}:${port}`, drones: drones.length})}\n`);
});

process.on('SIGTERM', () => {
	server.close();
	server.closeAllConnections();
	agent.destroy();
});
