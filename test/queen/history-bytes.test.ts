import assert from 'node:assert/strict';
import {test} from 'node:test';
import {spawnLarve, temporaryDirectory} from '../helpers/binary.js';
import {request, startQueen, startQuietDrone} from '../helpers/larves.js';

test('the finished tasks kept weigh at most --task-history-bytes: the oldest are forgotten first', async t => {
	const queen = await startQueen(t, {taskHistoryBytes: 1024 * 1024});
	await startQuietDrone(t, queen.address);
	const ids: string[] = [];
	for (let index = 0; index < 10; index++) {
		// eslint-disable-next-line no-await-in-loop
		const answer = await request(`${queen.url}/submit_task`, {body: {text: `${index}`.repeat(300 * 1024)}});
		assert.equal(answer.status, 200);
		ids.push(answer.body.task.id);
	}

	const health = await request(`${queen.url}/healthz`);
	assert.deepEqual(health.body.history, {count: 3, bytes: health.body.history.bytes, maxCount: 10_000, maxBytes: 1024 * 1024});
	assert.ok(health.body.history.bytes <= 1024 * 1024, `kept ${health.body.history.bytes} bytes`);
	assert.equal((await request(`${queen.url}/tasks/${ids[0]}`)).status, 404);
	assert.equal((await request(`${queen.url}/tasks/${ids[6]}`)).status, 404);
	const newest = await request(`${queen.url}/tasks/${ids[9]}`);
	assert.equal(newest.body.task.text, '9'.repeat(300 * 1024));
	assert.equal((await request(`${queen.url}/tasks`)).body.total, 3);
});

test('a queen on a 128 MiB heap fed 300 texts of 512 KiB stays alive, its history bounded by its heap, and restarts on its store', async t => {
	const dataDir = temporaryDirectory(t);
	const queen = spawnLarve(t, ['--queen', '--port', '0', '--data-dir', dataDir], {NODE_OPTIONS: '--max-old-space-size=128'});
	const url = await queen.url();
	await startQuietDrone(t, new URL(url).host);
	const text = 'x'.repeat(512 * 1024);
	let last = '';
	for (let index = 0; index < 300; index++) {
		// eslint-disable-next-line no-await-in-loop
		const answer = await request(`${url}/submit_task`, {body: {text}}).catch((error: unknown) => {
			throw new Error(`submit ${index} failed (the queen exited with ${String(queen.child.exitCode ?? queen.child.signalCode)}): ${String(error)}\n${queen.stderr.slice(-2000)}`);
		});
		assert.equal(answer.status, 200, `submit ${index}`);
		last = answer.body.task.id as string;
	}

	const health = await request(`${url}/healthz`);
	assert.equal(health.status, 200);
	const {history} = health.body;
	assert.ok(history.maxBytes <= 48 * 1024 * 1024, `a quarter of the heap or so by default, not ${history.maxBytes}`);
	assert.ok(history.bytes <= history.maxBytes, `kept ${history.bytes} bytes`);
	assert.ok(history.count < 100, `kept ${history.count} tasks`);
	assert.equal((await request(`${url}/tasks/${last}`)).body.task.text, text);
	assert.equal(queen.child.exitCode, null);

	// Its store holds what it kept; read back on the same small heap.
	queen.child.kill('SIGTERM');
	assert.equal(await queen.exited, 0);
	const again = spawnLarve(t, ['--queen', '--port', '0', '--data-dir', dataDir], {NODE_OPTIONS: '--max-old-space-size=128'});
	const againUrl = await again.url();
	assert.equal((await request(`${againUrl}/tasks/${last}`)).body.task.text, text);
	assert.equal((await request(`${againUrl}/healthz`)).body.history.count, history.count);
});
