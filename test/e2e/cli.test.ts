import assert from 'node:assert/strict';
import {test} from 'node:test';
import {execFileSync} from 'node:child_process';
import {cliPath, spawnLarve} from '../helpers/binary.js';
import {followEvents} from '../helpers/events.js';
import {request} from '../helpers/larves.js';
import {deadAddress} from '../helpers/servers.js';
import {waitFor} from '../helpers/wait.js';

const fast = ['--heartbeat-interval', '0.2', '--retry-delay', '0.1', '--heartbeat-timeout', '0.3'];

test('the seed\'s hive: a queen, two drones, curl\'s answers, and each task printed on a drone\'s stdout only', async t => {
	const queen = spawnLarve(t, ['--queen', '--port', '0', ...fast]);
	const queenUrl = await queen.url();
	const queenHost = queenUrl.replace('http://', '');
	const drones = [spawnLarve(t, ['--queen-host', queenHost, '--port', '0']), spawnLarve(t, ['--queen-host', queenHost, '--port', '0'])];
	const droneUrls = await Promise.all(drones.map(async drone => drone.url()));

	const health = await request(`${queenUrl}/healthz`);
	assert.equal(health.body.status, 'Status.READY');
	assert.equal(health.body.mode, 'Mode.QUEEN');
	assert.deepEqual(Object.values(health.body.drones).sort(), ['drone-0', 'drone-1']);

	const texts = ['hello', 'hive', 'world', 'of', 'bees'];
	const placed: string[] = [];
	for (const text of texts) {
		// eslint-disable-next-line no-await-in-loop
		const answer = await request(`${queenUrl}/submit_task`, {body: {text}});
		assert.equal(answer.status, 200);
		assert.equal(answer.body.result, 'OK');
		placed.push(answer.body.task.drone);
	}

	// Each drone printed exactly the texts given to it, in order, and nothing else.
	const names = await Promise.all(droneUrls.map(async url => (await request(`${url}/healthz`)).body.name as string));
	for (const [index, drone] of drones.entries()) {
		const expected = texts.filter((_, taskIndex) => placed[taskIndex] === names[index]);
		// eslint-disable-next-line no-await-in-loop
		await waitFor(() => drone.stdout === expected.map(text => `${text}\n`).join(''), `drone ${names[index]} to print ${expected.join(',')} (got ${JSON.stringify(drone.stdout)})`);
	}

	// Logs are pino JSON lines on standard error.
	for (const process of [queen, ...drones]) {
		const lines = process.stderr.split('\n').filter(Boolean);
		assert.ok(lines.length > 0);
		for (const line of lines) {
			assert.doesNotThrow(() => JSON.parse(line), `not a JSON log line: ${line}`);
		}
	}
});

test('SIGTERM: a drone leaves its queen and exits 0; the queen exits 0', async t => {
	const queen = spawnLarve(t, ['--queen', '--port', '0', ...fast]);
	const queenUrl = await queen.url();
	const events = await followEvents(t, queenUrl);
	const drone = spawnLarve(t, ['--queen-host', queenUrl.replace('http://', ''), '--port', '0']);
	await drone.url();
	drone.child.kill('SIGTERM');
	assert.equal(await drone.exited, 0);
	await events.waitFor(event => event.type === 'drone.left', 'drone.left');
	assert.deepEqual((await request(`${queenUrl}/healthz`)).body.drones, {});
	queen.child.kill('SIGINT');
	assert.equal(await queen.exited, 0);
});

test('a drone started before its queen keeps trying, then registers', async t => {
	const queenHost = await deadAddress();
	const drone = spawnLarve(t, ['--queen-host', queenHost, '--port', '0']);
	await waitFor(() => drone.logs().some(entry => entry.msg === 'queen not reachable yet; retrying'), 'a retry');
	const queen = spawnLarve(t, ['--queen', '--port', queenHost.split(':')[1]!, ...fast]);
	await queen.url();
	const droneUrl = await drone.url();
	const health = await request(`http://${queenHost}/healthz`);
	assert.deepEqual(health.body.drones, {[droneUrl.replace('http://', '')]: 'drone-0'});
});

test('a drone whose queen never comes exits non-zero with "Could not register to queen"', async t => {
	const queenHost = await deadAddress();
	const drone = spawnLarve(t, ['--queen-host', queenHost, '--port', '0', '--register-timeout', '0.5']);
	assert.notEqual(await drone.exited, 0);
	assert.match(drone.stderr, /Could not register to queen/);
	assert.equal(drone.stdout, '');
});

test('an evicted drone that comes back registers again by itself, under the same name', async t => {
	const queen = spawnLarve(t, ['--queen', '--port', '0', ...fast]);
	const queenUrl = await queen.url();
	const events = await followEvents(t, queenUrl);
	const drone = spawnLarve(t, ['--queen-host', queenUrl.replace('http://', ''), '--port', '0']);
	await drone.url();
	const name = (await events.waitFor(event => event.type === 'drone.registered', 'registration')).drone as string;

	drone.child.kill('SIGSTOP');
	const evicted = await events.waitFor(event => event.type === 'drone.evicted' && event.drone === name, 'the eviction');
	drone.child.kill('SIGCONT');
	const back = await events.waitFor(event => event.type === 'drone.registered' && event.id! > evicted.id!, 'registering again');
	assert.equal(back.drone, name);
	const answer = await request(`${queenUrl}/submit_task`, {body: {text: 'back again'}});
	assert.equal(answer.body.task.drone, name);
	await waitFor(() => drone.stdout === 'back again\n', 'the task printed');
});

test('the built binary runs by itself, as `npx hive-larve` runs it from a fresh clone (executable, with its shebang)', () => {
	assert.match(execFileSync(cliPath, ['--version'], {encoding: 'utf8'}), /^\d+\.\d+\.\d+/);
});

test('bad flags exit 2 with one line saying what is wrong', async t => {
	const cases: Array<[string[], RegExp]> = [
		[['--queen', '--port', '70000'], /--port must be a whole number from 0 to 65535, got 70000/],
		[['--queen', '--max-retry', '0'], /--max-retry/],
		[['--queen', '--heartbeat-interval', 'soon'], /--heartbeat-interval/],
		[['--port', '5001'], /a drone needs --queen-host/],
		[['--queen', '--bogus'], /unknown flag --bogus/],
		[['--queen-host', 'localhost'], /--queen-host must be HOST:PORT/],
	];
	await Promise.all(cases.map(async ([args, message]) => {
		const larve = spawnLarve(t, args);
		assert.equal(await larve.exited, 2, args.join(' '));
		assert.match(larve.stderr, message);
		assert.equal(larve.stderr.trim().split('\n').length, 1, `one line: ${larve.stderr}`);
	}));
});

test('--port already taken: one line, non-zero exit', async t => {
	const queen = spawnLarve(t, ['--queen', '--port', '0']);
	const port = new URL(await queen.url()).port;
	const second = spawnLarve(t, ['--queen', '--port', port]);
	assert.equal(await second.exited, 1);
	assert.match(second.stderr, /cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/);
});
