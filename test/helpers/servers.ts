import http from 'node:http';
import net from 'node:net';
import {once} from 'node:events';
import type {TestContext} from 'node:test';

/** A port where nothing listens: what a crashed drone looks like from the queen. */
export async function deadAddress(): Promise<string> {
	const server = net.createServer();
	server.listen(0, '127.0.0.1');
	await once(server, 'listening');
	const {port} = server.address() as net.AddressInfo;
	await new Promise(resolve => server.close(resolve));
	return `127.0.0.1:${port}`;
}

export type FakeDrone = {
	readonly address: string;
	/** Requests it holds without an answer (after `hang`). */
	readonly held: http.ServerResponse[];
	/** Stops answering: every request from now on is held, as by a drone hung mid-call. */
	hang(): void;
	/** Answers every held request: a 500 by default, or a drone's `{"result": "OK"}` with 200. */
	release(status?: 200 | 500): void;
	/** Closes its port and connections: a crashed drone. */
	die(): Promise<void>;
	/** From now on, cuts the connection of every task sent to it, unanswered: a drone that dies taking a task. */
	resetTasks(): void;
	/** From now on, answers every task sent to it with this status, error and code: a drone that refuses them (or something else that answers there, without a code). */
	refuseTasks(status: number, error: string, code?: string): void;
	/** From now on, takes every command sent to it (`running`) and never reports: a drone that forgets, or hangs on, its tasks. */
	takeTasks(): void;
	/** Ids of the tasks it took (after `takeTasks`). */
	readonly taken: string[];
	/** Fields its `/healthz` adds to a drone's (`tasks`, `taskTimeoutMs`...). */
	health: Record<string, unknown>;
	/** When each `/healthz` came (`performance.now()`). */
	readonly checks: number[];
};

/**
A server that answers `/healthz` as a drone (so a queen accepts its registration) until the test makes
it hang or die: what a drone that goes wrong looks like from the queen, on demand.
*/
export async function fakeDrone(t: TestContext): Promise<FakeDrone> {
	const held: http.ServerResponse[] = [];
	let hanging = false;
	let onTask: ((request: http.IncomingMessage, response: http.ServerResponse, body: string) => void) | undefined;
	const taken: string[] = [];
	const server = http.createServer((request, response) => {
		if (hanging) {
			held.push(response);
			return;
		}

		if (request.url === '/healthz') {
			fake.checks.push(performance.now());
			response.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify({status: 'Status.READY', mode: 'Mode.DRONE', version: 'fake', ...fake.health}));
			return;
		}

		if (onTask && (request.url === '/do_task' || request.url === '/do_tasks')) {
			// Read the task first: the queen has sent it whole when the drone goes wrong.
			let body = '';
			request.on('data', (chunk: Buffer) => {
				body += chunk.toString();
			});
			request.on('end', () => {
				onTask!(request, response, body);
			});
			return;
		}

		response.writeHead(500, {'content-type': 'application/json'}).end('{"error":"fake drone"}');
	});
	server.listen(0, '127.0.0.1');
	await once(server, 'listening');
	const die = async () => {
		server.closeAllConnections();
		await new Promise(resolve => server.close(resolve));
	};

	t.after(async () => {
		if (server.listening) {
			await die();
		}
	});
	const fake: FakeDrone = {
		address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
		taken,
		health: {},
		checks: [],
		held,
		hang() {
			hanging = true;
		},
		release(status = 500) {
			for (const response of held.splice(0)) {
				response.writeHead(status, {'content-type': 'application/json'}).end(status === 200 ? '{"result":"OK"}' : '{"error":"stuck"}');
			}
		},
		die,
		resetTasks() {
			onTask = request => request.socket.destroy();
		},
		refuseTasks(status, error, code) {
			onTask = (_request, response) => response.writeHead(status, {'content-type': 'application/json'}).end(JSON.stringify(code === undefined ? {error} : {error, code}));
		},
		takeTasks() {
			onTask = (request, response, body) => {
				const parsed = JSON.parse(body) as {id: string; tasks?: Array<{id: string}>};
				const tasks = request.url === '/do_tasks' ? parsed.tasks! : [parsed];
				taken.push(...tasks.map(task => task.id));
				const running = {result: 'OK', state: 'running'};
				response.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify(request.url === '/do_tasks' ? {results: tasks.map(() => ({status: 200, ...running}))} : running));
			};
		},
	};
	return fake;
}

export type FakeQueen = {
	readonly address: string;
	/** The bodies of the registrations it answered OK, in order (their `contactKey` is the drone's). */
	readonly registrations: Array<Record<string, any>>;
	/** The task results it heard (`POST /tasks/:id/result`), in order. */
	readonly results: Array<{readonly id: string; readonly body: Record<string, any>}>;
	/** The epoch its registration callback shows (`X-Hive-Epoch`); undefined: none. */
	epoch: number | undefined;
	/** Closes its port and connections: a queen that died. */
	die(): Promise<void>;
};

/**
A queen that takes every registration and every task result and does nothing else (no heartbeats, no
tasks): what a drone's side of a hive needs, on demand. With `callBack`, it calls the drone's `/healthz`
back on a registration, as a queen does, showing the offered contact key and its `epoch`.
*/
export async function fakeQueen(t: TestContext, options: {readonly heartbeatIntervalMs?: number; readonly callBack?: boolean} = {}): Promise<FakeQueen> {
	const readBody = async (request: http.IncomingMessage): Promise<Record<string, any>> => {
		let body = '';
		for await (const chunk of request) {
			body += (chunk as Buffer).toString();
		}

		return body === '' ? {} : JSON.parse(body) as Record<string, any>;
	};

	const answer = (response: http.ServerResponse, status: number, body: unknown) => {
		response.writeHead(status, {'content-type': 'application/json'}).end(JSON.stringify(body));
	};

	const handle = async (request: http.IncomingMessage, response: http.ServerResponse) => {
		const body = await readBody(request);
		const result = /^\/tasks\/([^/]+)\/result$/.exec(request.url ?? '');
		if (request.url === '/register') {
			if (options.callBack) {
				const headers: Record<string, string> = {'x-hive-contact-key': String(body.contactKey)};
				if (fake.epoch !== undefined) {
					headers['x-hive-epoch'] = String(fake.epoch);
				}

				const health = await fetch(`http://${String(body.address)}/healthz`, {headers}).catch(() => undefined);
				if (!health?.ok) {
					answer(response, 503, {error: `the drone's callback answered ${health?.status ?? 'nothing'}`});
					return;
				}
			}

			fake.registrations.push(body);
			answer(response, 200, {result: 'OK', name: body.name ?? 'drone-fake', heartbeatIntervalMs: options.heartbeatIntervalMs ?? 60_000});
		} else if (result) {
			fake.results.push({id: decodeURIComponent(result[1]!), body});
			answer(response, 200, {result: 'OK'});
		} else if (request.url === '/deregister') {
			answer(response, 200, {result: 'OK', name: null});
		} else if (request.url === '/healthz') {
			answer(response, 200, {status: 'Status.READY', mode: 'Mode.QUEEN', version: 'fake'});
		} else {
			answer(response, 404, {error: 'fake queen'});
		}
	};

	const server = http.createServer((request, response) => {
		handle(request, response).catch(() => response.destroy());
	});
	server.listen(0, '127.0.0.1');
	await once(server, 'listening');
	const die = async () => {
		server.closeAllConnections();
		await new Promise(resolve => server.close(resolve));
	};

	t.after(async () => {
		if (server.listening) {
			await die();
		}
	});
	const fake: FakeQueen = {
		address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
		registrations: [],
		results: [],
		epoch: undefined,
		die,
	};
	return fake;
}

export type FakeFollower = {
	readonly address: string;
	/**
	Follows `leader` from now on: its `/healthz` says it is a follower and names the leader and its epoch,
	and every other call is passed on to the leader. Null: no leader, so `/healthz` says `leader: null` and
	every other call is answered 503 with `Retry-After` and `ERR_HIVE_NO_LEADER`. Calls passed on before
	(the event stream) are cut, as a queen does when its leader goes, unless `keepStreams`.
	*/
	follow(leader: {readonly address: string; readonly epoch: number} | null, options?: {readonly keepStreams?: boolean}): void;
};

/**
A queen that follows another (section 9 of HIVE.md), as far as the dashboard can tell: it answers its
own `/healthz` and passes everything else on to whichever real queen the test says leads.
*/
export async function fakeFollower(t: TestContext): Promise<FakeFollower> {
	let leader: {readonly address: string; readonly epoch: number} | null = null;
	const passedOn = new Set<{readonly upstream: http.ClientRequest; readonly response: http.ServerResponse}>();
	const agent = new http.Agent({keepAlive: true});
	const server = http.createServer((request, response) => {
		if (request.url === '/healthz') {
			response.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify({status: 'Status.READY', version: 'fake', mode: 'Mode.QUEEN', name: 'queen', role: 'follower', leader: leader?.address ?? null, epoch: leader?.epoch ?? null, address: fake.address}));
			return;
		}

		if (leader === null) {
			response.writeHead(503, {'content-type': 'application/json', 'retry-after': '1'}).end(JSON.stringify({error: 'no leader: a failover is under way', code: 'ERR_HIVE_NO_LEADER'}));
			return;
		}

		const [host, port] = leader.address.split(':');
		const upstream = http.request({host, port: Number(port), method: request.method, path: request.url, headers: request.headers, agent}, answer => {
			response.writeHead(answer.statusCode ?? 502, answer.headers);
			answer.pipe(response);
		});
		const call = {upstream, response};
		passedOn.add(call);
		upstream.on('close', () => passedOn.delete(call));
		upstream.on('error', () => response.destroy());
		response.on('close', () => upstream.destroy());
		request.pipe(upstream);
	});
	server.listen(0, '127.0.0.1');
	await once(server, 'listening');
	const cut = () => {
		for (const {upstream, response} of passedOn) {
			upstream.destroy();
			response.destroy();
		}
	};

	t.after(async () => {
		cut();
		agent.destroy();
		server.closeAllConnections();
		await new Promise(resolve => server.close(resolve));
	});
	const fake: FakeFollower = {
		address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
		follow(next, options = {}) {
			leader = next;
			if (!options.keepStreams) {
				cut();
			}
		},
	};
	return fake;
}
