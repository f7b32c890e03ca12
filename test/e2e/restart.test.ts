import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {test, type TestContext} from 'node:test';
import {spawnLarve, temporaryDirectory, type Spawned} from '../helpers/binary.js';
import {request} from '../helpers/larves.js';
import {stablePort} from '../helpers/ports.js';
import {waitFor} from '../helpers/wait.js';

const fast = ['--heartbeat-interval', '0.2', '--retry-delay', '0.1', '--heartbeat-timeout', '0.5'];

/** A queen of the real binary on a fixed port (its drones must find it again after a restart) and a data directory. */
async function startQueen(t: TestContext, dir: string, port: string, extra: readonly string[] = []): Promise<{queen: Spawned; url: string}> {
	const queen = spawnLarve(t, ['--queen', '--port', port, '--data-dir', dir, ...fast, ...extra]);
	const url = await queen.url();
	await waitFor(async () => (await request(`${url}/healthz`)).body.status === 'Status.READY', 'the queen to be ready');
	return {queen, url};
}

async function freePort(): Promise<string> {
	return String(await stablePort());
}

test('kill -9 of a queen under a submit load: restarted on its directory, it has every task it acknowledged, and its drones keep their names', async t => {
	const dir = temporaryDirectory(t);
	const port = await freePort();
	const first = await startQueen(t, dir, port);
	const queenHost = `127.0.0.1:${port}`;
	const texter = spawnLarve(t, ['--queen-host', queenHost, '--port', '0']);
	const runner = spawnLarve(t, ['--queen-host', queenHost, '--port', '0', '--allow-exec', '--slots', '4']);
	await Promise.all([texter.url(), runner.url()]);
	await waitFor(async () => (await request(`${first.url}/drones`)).body.drones.length === 2, 'two drones');
	const namesBefore = (await request(`${first.url}/healthz`)).body.drones as Record<string, string>;

	// A command that outlives the queen: its drone reports the result to the restarted one.
	const long = await request(`${first.url}/submit_task`, {body: {command: 'sleep 1; echo survived'}});
	assert.equal(long.body.task.state, 'running');

	// Eight clients submit as fast as they are answered; the queen is killed in the middle.
	const acknowledged = new Map<string, string>();
	let stop = false;
	const clients = Array.from({length: 8}, async (_, client) => {
		for (let index = 0; !stop; index++) {
			const body = index % 10 === 0 ? {command: `echo ${client}-${index}`} : {text: `task ${client}-${index}`};
			try {
				// eslint-disable-next-line no-await-in-loop
				const answer = await request(`${first.url}/submit_task`, {body});
				if (answer.status === 200 || answer.status === 202) {
					acknowledged.set(answer.body.task.id as string, JSON.stringify(body));
				}
			} catch {
				return; // The queen is gone: this submit was never answered.
			}
		}
	});
	await waitFor(() => acknowledged.size >= 300, 'some acknowledged submits', 20_000);
	first.queen.child.kill('SIGKILL');
	stop = true;
	await Promise.all(clients);
	await first.queen.exited;

	const second = await startQueen(t, dir, port);
	assert.deepEqual((await request(`${second.url}/healthz`)).body.drones, namesBefore, 'the drones, under the names they had');
	const missing: string[] = [];
	for (const [id, body] of acknowledged) {
		// eslint-disable-next-line no-await-in-loop
		const {status, body: answer} = await request(`${second.url}/tasks/${id}`);
		if (status !== 200 || JSON.stringify(answer.task.command === null ? {text: answer.task.text} : {command: answer.task.command}) !== body) {
			missing.push(id);
		}
	}

	assert.deepEqual(missing, [], `every one of the ${acknowledged.size} acknowledged tasks is there, as submitted`);
	// Every one ends (a task cut off by the kill is placed again), and the long command's result is heard.
	await waitFor(async () => {
		const {body} = await request(`${second.url}/tasks?limit=10000`);
		return body.tasks.every((task: {state: string}) => task.state === 'succeeded');
	}, 'every task to succeed', 30_000);
	const survived = (await request(`${second.url}/tasks/${long.body.task.id as string}`)).body.task;
	assert.equal(survived.result.stdout, 'survived\n');
	assert.equal(survived.drone, long.body.task.drone);
	// No eviction: the drones answered the restarted queen's heartbeats.
	assert.deepEqual((await request(`${second.url}/healthz`)).body.drones, namesBefore);
});

test('a second queen on the same directory is refused with one line, and exits 1', async t => {
	const dir = temporaryDirectory(t);
	const first = await startQueen(t, dir, '0');
	const second = spawnLarve(t, ['--queen', '--port', '0', '--data-dir', dir]);
	assert.equal(await second.exited, 1);
	const line = second.stderr.split('\n').find(each => each.startsWith('hive-larve:'));
	assert.match(line ?? '', new RegExp(`^hive-larve: ${dir.replaceAll(/[.*+?^${}()|[\]\\]/g, String.raw`\$&`)} is in use by another queen \\(pid ${first.queen.child.pid}\\)`));
	assert.equal((await request(`${first.url}/healthz`)).body.status, 'Status.READY', 'the first queen is untouched');
});

test('a torn last record is dropped with a warning; a damaged one before it stops the queen with one line naming the file', async t => {
	const dir = temporaryDirectory(t);
	const first = await startQueen(t, dir, '0');
	const kept = await request(`${first.url}/submit_task`, {body: {text: 'kept'}});
	assert.equal(kept.status, 503, 'no drone: the task fails at once, and is kept as failed');
	const id = (await request(`${first.url}/tasks`)).body.tasks[0].id as string;
	// A second command after the first was answered: a record of its own after the first one's.
	assert.equal((await request(`${first.url}/submit_task`, {body: {text: 'after'}})).status, 503);
	first.queen.child.kill('SIGKILL');
	await first.queen.exited;
	const log = path.join(dir, fs.readdirSync(dir).find(name => name.startsWith('wal-'))!);
	fs.appendFileSync(log, '12345678 {"rev":99,"fac');

	const second = await startQueen(t, dir, '0');
	const warning = second.queen.logs().find(entry => String(entry.msg).includes('dropped a torn last record'));
	assert.ok(warning, 'a warning says what was dropped');
	assert.equal(warning.level, 40);
	assert.equal((await request(`${second.url}/tasks/${id}`)).body.task.text, 'kept');
	second.queen.child.kill('SIGTERM');
	assert.equal(await second.queen.exited, 0);

	fs.writeFileSync(log, fs.readFileSync(log, 'utf8').replace('"kept"', '"k3pt"'));
	const third = spawnLarve(t, ['--queen', '--port', '0', '--data-dir', dir]);
	assert.equal(await third.exited, 1);
	const lines = third.stderr.split('\n').filter(each => each.startsWith('hive-larve:'));
	assert.equal(lines.length, 1);
	assert.ok(lines[0]!.includes(log), `the line names the file: ${lines[0]}`);
	assert.match(lines[0]!, /is corrupt at line 1/);
});

test('Idempotency-Key: a retried submit gets the same task, before and after a restart', async t => {
	const dir = temporaryDirectory(t);
	const port = await freePort();
	const first = await startQueen(t, dir, port);
	const drone = spawnLarve(t, ['--queen-host', `127.0.0.1:${port}`, '--port', '0']);
	await drone.url();
	const submit = async (url: string, key: string, text: string) => request(`${url}/submit_task`, {body: {text}, headers: {'Idempotency-Key': key}});
	const once = await submit(first.url, 'order-42', 'print once');
	assert.equal(once.status, 200);
	const again = await submit(first.url, 'order-42', 'print once');
	assert.equal(again.status, 200);
	assert.equal(again.body.task.id, once.body.task.id);
	assert.equal((await submit(first.url, 'order-42', 'something else')).status, 422, 'a key used for another task');
	assert.equal((await request(`${first.url}/submit_task`, {body: {text: 'x'}, headers: {'Idempotency-Key': 'has space'}})).status, 400);

	first.queen.child.kill('SIGKILL');
	await first.queen.exited;
	const second = await startQueen(t, dir, port);
	const afterRestart = await submit(second.url, 'order-42', 'print once');
	assert.equal(afterRestart.body.task.id, once.body.task.id);
	assert.equal((await request(`${second.url}/tasks`)).body.total, 1);
	await waitFor(() => drone.stdout.length > 0, 'the drone to print');
	assert.equal(drone.stdout, 'print once\n', 'printed once');
});

test('a one-command local hive killed with -9 and started again has the same local drones, and no others', async t => {
	const dir = temporaryDirectory(t);
	const first = await startQueen(t, dir, '0', ['--local-drones', '2']);
	const droneMap = async (url: string) => (await request(`${url}/healthz`)).body.drones as Record<string, string>;
	const before = await waitFor(async () => {
		const drones = await droneMap(first.url);
		return Object.keys(drones).length === 2 ? drones : undefined;
	}, 'two local drones');
	assert.deepEqual(Object.values(before).sort(), ['local-0', 'local-1']);
	first.queen.child.kill('SIGKILL');
	await first.queen.exited;

	// The store has local-0 and local-1 at their old addresses; the new local drones take those names back.
	const second = await startQueen(t, dir, '0', ['--local-drones', '2']);
	const after = await waitFor(async () => {
		const drones = await droneMap(second.url);
		const addresses = Object.keys(drones);
		return addresses.length === 2 && addresses.every(address => before[address] === undefined) ? drones : undefined;
	}, 'the new local drones under the old names', 15_000);
	assert.deepEqual(Object.values(after).sort(), ['local-0', 'local-1']);
});
