/**
A farm of lightweight drones in one process, for the heartbeat and dashboard scenarios: N `node:http`
servers on loopback, each answering `/healthz` as a ready drone does and `/do_task` with the seed's OK,
each registered with a real queen (`POST /register {address}`).

  node dist/bench/farm.js --count 1000 --queen 127.0.0.1:8080

It reports on standard output, one JSON line each: `listening`, `registered` (with the time it took),
and every second `stats` (requests answered and connections accepted in that second). SIGTERM closes everything.
*/
import http from 'node:http';
import type {AddressInfo} from 'node:net';
import {parseArgs} from 'node:util';

const {values} = parseArgs({
	options: {
		count: {type: 'string'},
		queen: {type: 'string'},
		concurrency: {type: 'string', default: '32'},
		shard: {type: 'string', default: '0'},
	},
});

const count = Number(values.count);
const queen = values.queen;
if (!Number.isInteger(count) || count < 1 || !queen) {
	process.stderr.write('usage: farm.js --count N --queen HOST:PORT [--concurrency N] [--shard N]\n');
	process.exit(2);
}

function report(line: Record<string, unknown>): void {
	process.stdout.write(`${JSON.stringify({...line, shard: Number(values.shard)})}\n`);
}

let healthzAnswered = 0;
let tasksAnswered = 0;
/** Connections accepted: a queen that reuses its keep-alive connections opens one per drone, once. */
let connectionsAccepted = 0;
const names = new Map<number, string>();

/** One handler for every drone: the drone is told apart by the local port. */
function handle(request: http.IncomingMessage, response: http.ServerResponse): void {
	const port = request.socket.localPort ?? 0;
	if (request.method === 'GET' && request.url === '/healthz') {
		healthzAnswered++;
		const body = JSON.stringify({status: 'Status.READY', version: '0.1.0', mode: 'Mode.DRONE', name: names.get(port) ?? null});
		response.writeHead(200, {'content-type': 'application/json', 'content-length': Buffer.byteLength(body)});
		response.end(body);
		return;
	}

	if (request.method === 'POST' && request.url === '/do_task') {
		// Drain the body; a farm drone does not print its tasks.
		request.resume();
		request.on('end', () => {
			tasksAnswered++;
			response.writeHead(200, {'content-type': 'application/json', 'content-length': 15});
			response.end('{"result":"OK"}');
		});
		return;
	}

	response.writeHead(404, {'content-type': 'application/json'});
	response.end('{"error":"not found"}');
}

const servers: http.Server[] = [];

async function listenAll(): Promise<number[]> {
	const ports: number[] = [];
	for (let index = 0; index < count; index++) {
		const server = http.createServer({keepAliveTimeout: 65_000}, handle);
		server.on('connection', () => {
			connectionsAccepted++;
		});
		servers.push(server);
		// eslint-disable-next-line no-await-in-loop
		await new Promise<void>((resolve, reject) => {
			server.once('error', reject);
			server.listen(0, '127.0.0.1', () => {
				server.off('error', reject);
				resolve();
			});
		});
		ports.push((server.address() as AddressInfo).port);
	}

	return ports;
}

const agent = new http.Agent({keepAlive: true, maxSockets: Number(values.concurrency)});

async function register(port: number): Promise<void> {
	const body = JSON.stringify({address: `127.0.0.1:${port}`});
	for (let attempt = 1; ; attempt++) {
		try {
			// eslint-disable-next-line no-await-in-loop
			const answer = await new Promise<{status: number; text: string}>((resolve, reject) => {
				const request = http.request(`http://${queen}/register`, {method: 'POST', agent, headers: {'content-type': 'application/json', 'content-length': Buffer.byteLength(body)}, timeout: 10_000}, response => {
					let text = '';
					response.setEncoding('utf8');
					response.on('data', (chunk: string) => {
						text += chunk;
					});
					response.on('end', () => resolve({status: response.statusCode ?? 0, text}));
				});
				request.on('timeout', () => request.destroy(new Error('timed out')));
				request.on('error', reject);
				request.end(body);
			});
			if (answer.status === 200) {
				names.set(port, (JSON.parse(answer.text) as {name: string}).name);
				return;
			}

			throw new Error(`HTTP ${answer.status}: ${answer.text}`);
		} catch (error: unknown) {
			if (attempt >= 5) {
				throw error;
			}
		}
	}
}

async function registerAll(ports: number[]): Promise<void> {
	let next = 0;
	const workers = Array.from({length: Number(values.concurrency)}, async () => {
		while (next < ports.length) {
			const port = ports[next++]!;
			// eslint-disable-next-line no-await-in-loop
			await register(port);
		}
	});
	await Promise.all(workers);
}

process.on('SIGTERM', () => {
	for (const server of servers) {
		server.closeAllConnections();
		server.close();
	}

	process.exit(0);
});

const started = performance.now();
const ports = await listenAll();
report({type: 'listening', count: ports.length, ms: Math.round(performance.now() - started)});
const registerStarted = performance.now();
await registerAll(ports);
report({type: 'registered', count: ports.length, ms: Math.round(performance.now() - registerStarted)});
agent.destroy();

setInterval(() => {
	report({type: 'stats', healthz: healthzAnswered, tasks: tasksAnswered, connections: connectionsAccepted});
	healthzAnswered = 0;
	tasksAnswered = 0;
	connectionsAccepted = 0;
}, 1000);
