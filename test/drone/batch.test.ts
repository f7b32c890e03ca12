import assert from 'node:assert/strict';
import http from 'node:http';
import {once} from 'node:events';
import type {AddressInfo} from 'node:net';
import {test} from 'node:test';
import {request, startDrone, startQueen} from '../helpers/larves.js';

test('POST /do_tasks takes several tasks, each with its own outcome, in order', async t => {
	const queen = await startQueen(t);
	const drone = await startDrone(t, queen);
	const answer = await request(`${drone.url}/do_tasks`, {body: {tasks: [{text: 'one'}, {text: ''}, {id: 'c1', command: 'true'}, {text: 'two'}, 'junk']}});
	assert.equal(answer.status, 200);
	assert.deepEqual(answer.body.results.map((result: {status: number}) => result.status), [200, 400, 403, 200, 400]);
	assert.match(answer.body.results[1].error, /text must not be empty/);
	assert.match(answer.body.results[2].error, /--allow-exec/);
	assert.deepEqual(drone.stdout.lines, ['one', 'two']);
	const empty = await request(`${drone.url}/do_tasks`, {body: {tasks: []}});
	assert.equal(empty.status, 400);
});

test('many submits at once reach the drones whole, none lost or doubled', async t => {
	const queen = await startQueen(t);
	const drones = [await startDrone(t, queen), await startDrone(t, queen)];
	const texts = Array.from({length: 300}, (_, index) => `task ${index}`);
	const answers = await Promise.all(texts.map(async text => request(`${queen.url}/submit_task`, {body: {text}})));
	assert.ok(answers.every(answer => answer.status === 200));
	const printed = drones.flatMap(drone => drone.stdout.lines).sort();
	assert.deepEqual(printed, [...texts].sort());
});

test('a drone that only speaks the seed\'s /do_task still gets every task', async t => {
	const queen = await startQueen(t);
	const received: string[] = [];
	// The seed's drone: /healthz and /do_task, nothing else (404 for /do_tasks).
	const seed = http.createServer((req, res) => {
		let body = '';
		req.on('data', chunk => {
			body += chunk;
		});
		req.on('end', () => {
			if (req.url === '/healthz') {
				res.writeHead(200, {'content-type': 'application/json'}).end('{"status": "Status.READY", "version": "0.0.1", "mode": "Mode.DRONE"}');
			} else if (req.url === '/do_task' && req.method === 'POST') {
				received.push((JSON.parse(body) as {text: string}).text);
				res.writeHead(200, {'content-type': 'application/json'}).end('{"result": "OK"}');
			} else {
				res.writeHead(404).end('<h1>Not Found</h1>');
			}
		});
	});
	seed.listen(0, '127.0.0.1');
	await once(seed, 'listening');
	t.after(() => {
		seed.closeAllConnections();
		seed.close();
	});
	const address = `127.0.0.1:${(seed.address() as AddressInfo).port}`;
	assert.equal((await request(`${queen.url}/register`, {body: {address}})).status, 200);
	const texts = Array.from({length: 50}, (_, index) => `seed ${index}`);
	const answers = await Promise.all(texts.map(async text => request(`${queen.url}/submit_task`, {body: {text}})));
	assert.ok(answers.every(answer => answer.status === 200), JSON.stringify(answers.find(answer => answer.status !== 200)?.body));
	assert.deepEqual(received.sort(), [...texts].sort());
});
