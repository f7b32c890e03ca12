import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {test} from 'node:test';
import {spawnLarve, temporaryDirectory} from './helpers/binary.js';
import {request, startDrone, startQueen} from './helpers/larves.js';
import {deadAddress, fakeDrone} from './helpers/servers.js';
import {waitFor} from './helpers/wait.js';

const token = 'hive-secret-7f3a9c';
const bearer = (value: string) => ({authorization: `Bearer ${value}`});

test('a queen with a token refuses every endpoint but /healthz without it, or with a wrong one', async t => {
	const queen = await startQueen(t, {token});
	const fake = await fakeDrone(t);
	const endpoints: Array<[string, string, unknown]> = [
		['POST', '/register', {address: fake.address}],
		['POST', '/deregister', {address: fake.address}],
		['POST', '/submit_task', {text: 'hello'}],
		['POST', '/tasks/x/result', {drone: 'd', succeeded: true, exitCode: 0, signal: null, stdout: '', stderr: '', durationMs: 1, timedOut: false}],
		['GET', '/drones', undefined],
		['GET', '/tasks', undefined],
		['GET', '/tasks/x', undefined],
		['GET', '/events', undefined],
	];
	for (const [method, path, body] of endpoints) {
		for (const headers of [{}, bearer('wrong'), bearer(`${token}x`), {authorization: token}]) {
			// eslint-disable-next-line no-await-in-loop
			const answer = await request(`${queen.url}${path}`, {method, body, headers});
			assert.equal(answer.status, 401, `${method} ${path} with ${JSON.stringify(headers)}`);
			assert.match(answer.body.error, /token/);
			assert.ok(!JSON.stringify(answer.body).includes(token), 'the token is not in the error');
		}
	}

	const health = await request(`${queen.url}/healthz`);
	assert.equal(health.status, 200);
	assert.ok(!JSON.stringify(health.body).includes(token));
	const registered = await request(`${queen.url}/register`, {body: {address: fake.address}, headers: bearer(token)});
	assert.equal(registered.status, 200);
});

test('drones with the token join and take tasks; the queen hands the token on', async t => {
	const queen = await startQueen(t, {token});
	const drone = await startDrone(t, queen, {token});
	const submitted = await request(`${queen.url}/submit_task`, {body: {text: 'with a token'}, headers: bearer(token)});
	assert.equal(submitted.status, 200);
	assert.equal(submitted.body.task.drone, drone.name);
	assert.deepEqual(drone.stdout.lines, ['with a token']);
});

test('a drone with a token takes /do_task only from its queen', async t => {
	const queen = await startQueen(t, {token});
	const drone = await startDrone(t, queen, {token});
	const anonymous = await request(`${drone.url}/do_task`, {body: {text: 'pwned'}});
	assert.equal(anonymous.status, 401);
	const wrong = await request(`${drone.url}/do_task`, {body: {text: 'pwned'}, headers: bearer('guess')});
	assert.equal(wrong.status, 401);
	assert.equal(drone.stdout.text, '', 'nothing ran');
	const health = await request(`${drone.url}/healthz`);
	assert.equal(health.status, 200);
	assert.ok(!JSON.stringify(health.body).includes(token));
});

test('a command task never sees the hive\'s token in its environment', async t => {
	const queen = await startQueen(t, {token});
	process.env.HIVE_TOKEN = token;
	t.after(() => {
		delete process.env.HIVE_TOKEN;
	});
	await startDrone(t, queen, {token, allowExec: true});
	const answer = await request(`${queen.url}/submit_task?wait=true`, {body: {command: 'env; echo marker'}, headers: bearer(token)});
	assert.equal(answer.body.task.state, 'succeeded');
	assert.match(answer.body.task.result.stdout, /marker/);
	assert.ok(!answer.body.task.result.stdout.includes(token), 'the token is in the command\'s environment');
});

test('a registration is refused when something not a drone answers at the address, and told to try again when nothing does', async t => {
	const queen = await startQueen(t);
	// Nothing there yet is no refusal: a drone may still be starting, or its machine be slow.
	const nowhere = await request(`${queen.url}/register`, {body: {address: await deadAddress()}});
	assert.equal(nowhere.status, 503);
	assert.equal(nowhere.headers.get('retry-after'), '1');
	assert.match(nowhere.body.error, /no drone answers at 127\.0\.0\.1:\d+/);
	// Pointing the queen at another service (here: the queen itself) is refused too.
	const notADrone = await request(`${queen.url}/register`, {body: {address: queen.address}});
	assert.equal(notADrone.status, 422);
	assert.match(notADrone.body.error, /not as a drone/);
	assert.deepEqual((await request(`${queen.url}/healthz`)).body.drones, {});
});

test('a drone with a stale token cannot join, and says so', async t => {
	const queen = spawnLarve(t, ['--queen', '--port', '0'], {HIVE_TOKEN: 'the-new-token'});
	const queenHost = (await queen.url()).replace('http://', '');
	const stale = spawnLarve(t, ['--queen-host', queenHost, '--port', '0', '--register-timeout', '2'], {HIVE_TOKEN: 'the-old-token'});
	assert.equal(await stale.exited, 1);
	assert.match(stale.stderr, /Could not register to queen .*wrong token/);
	const fresh = spawnLarve(t, ['--queen-host', queenHost, '--port', '0', '--token', 'the-new-token']);
	await fresh.url();
});

test('the token never shows in logs, even at trace level', async t => {
	const secret = 'do-not-log-this-9b2e';
	const queen = spawnLarve(t, ['--queen', '--port', '0', '--log-level', 'trace', '--token', secret]);
	const queenUrl = await queen.url();
	const drone = spawnLarve(t, ['--queen-host', queenUrl.replace('http://', ''), '--port', '0', '--log-level', 'trace'], {HIVE_TOKEN: secret});
	await drone.url();
	await request(`${queenUrl}/submit_task`, {body: {text: 'hi'}, headers: bearer(secret)});
	await request(`${queenUrl}/submit_task`, {body: {text: 'hi'}, headers: bearer('wrong')});
	await waitFor(() => drone.stdout === 'hi\n', 'the task');
	for (const larve of [queen, drone]) {
		larve.child.kill('SIGTERM');
		// eslint-disable-next-line no-await-in-loop
		await larve.exited;
		assert.ok(!larve.stderr.includes(secret), 'the token is in the logs');
	}
});

test('a larve without a token warns that anyone can command it', async t => {
	const queen = spawnLarve(t, ['--queen', '--port', '0']);
	const queenUrl = await queen.url();
	const drone = spawnLarve(t, ['--queen-host', queenUrl.replace('http://', ''), '--port', '0']);
	await drone.url();
	await waitFor(() => drone.logs().some(entry => entry.level === 40 && /anyone who can reach .* can command this drone/.test(String(entry.msg))), 'the drone\'s warning');
	assert.ok(queen.logs().some(entry => entry.level === 40 && /no --token/.test(String(entry.msg))));
});

test('--local-drones closes the hive with a token of its own: anonymous submits are refused', async t => {
	const queen = spawnLarve(t, ['--queen', '--port', '0', '--local-drones', '1']);
	const queenUrl = await queen.url();
	await waitFor(async () => Object.keys((await request(`${queenUrl}/healthz`)).body.drones).length === 1, 'the local drone');
	const anonymous = await request(`${queenUrl}/submit_task`, {body: {text: 'hello'}});
	assert.equal(anonymous.status, 401);
	// The token it made (24 random bytes, base64url: 32 characters) is nowhere in its logs.
	assert.doesNotMatch(queen.stderr, /[\w-]{32}/);
	queen.child.kill('SIGTERM');
	assert.equal(await queen.exited, 0);
});

test('--token-file: the real binaries join with a token read from a file, which no process list shows; --token warns that it does', async t => {
	const dir = temporaryDirectory(t);
	const file = path.join(dir, 'token');
	fs.writeFileSync(file, `${token}\n`, {mode: 0o600});
	const queen = spawnLarve(t, ['--queen', '--port', '0', '--store', 'memory', '--token-file', file]);
	const queenHost = (await queen.url()).replace('http://', '');
	const drone = spawnLarve(t, ['--queen-host', queenHost, '--port', '0', '--token-file', file]);
	await drone.url();
	for (const child of [queen.child, drone.child]) {
		assert.ok(!fs.readFileSync(`/proc/${child.pid!}/cmdline`, 'utf8').includes(token));
	}

	assert.equal((await request(`http://${queenHost}/submit_task`, {body: {text: 'from a file'}})).status, 401);
	assert.equal((await request(`http://${queenHost}/submit_task`, {body: {text: 'from a file'}, headers: bearer(token)})).status, 200);
	await waitFor(() => drone.stdout === 'from a file\n', 'the drone to print the task');
	assert.ok(!queen.logs().some(entry => String(entry.msg).includes('--token is readable')));

	const onCommandLine = spawnLarve(t, ['--queen', '--port', '0', '--store', 'memory', '--token', token]);
	await onCommandLine.url();
	assert.ok(onCommandLine.logs().some(entry => entry.level === 40 && /--token is readable .*prefer HIVE_TOKEN or --token-file/.test(String(entry.msg))));
	assert.ok(!onCommandLine.stderr.includes(token), 'the token is never logged');

	for (const [args, message] of [
		[['--token-file', path.join(dir, 'missing')], /^hive-larve: --token-file .*missing: cannot read it \(ENOENT\)\n$/],
		[['--token-file', file, '--token', token], /^hive-larve: --token and --token-file: give one of them\n$/],
	] as const) {
		const larve = spawnLarve(t, ['--queen', '--port', '0', '--store', 'memory', ...args]);
		// eslint-disable-next-line no-await-in-loop
		assert.equal(await larve.exited, 2);
		assert.match(larve.stderr, message);
	}
});
