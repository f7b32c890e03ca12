import assert from 'node:assert/strict';
import {test} from 'node:test';
import {spawnLarve, temporaryDirectory} from '../helpers/binary.js';
import {request, startDrone, startQueen, startQuietDrone, type Answer} from '../helpers/larves.js';
import {waitFor} from '../helpers/wait.js';

/** Submits `text` for drones labelled zone=far until the queen answers something else than 202 (or `most` were taken). */
async function fill(url: string, text: (index: number) => string, most: number, describe: (index: number, error: unknown) => string = (_index, error) => String(error)): Promise<{readonly accepted: string[]; readonly last: Answer | undefined}> {
	const accepted: string[] = [];
	for (let index = 0; index < most; index++) {
		// eslint-disable-next-line no-await-in-loop
		const answer = await request(`${url}/submit_task`, {body: {text: text(index), selector: {zone: 'far'}}}).catch((error: unknown) => {
			throw new Error(describe(index, error));
		});
		if (answer.status !== 202) {
			return {accepted, last: answer};
		}

		accepted.push(answer.body.task.id as string);
	}

	return {accepted, last: undefined};
}

test('a queue whose tasks weigh --max-pending-bytes answers 429 saying so, keeps every task it took, and takes more once they are placed', async t => {
	const maxBytes = 2 * 1024 * 1024;
	const queen = await startQueen(t, {maxPendingBytes: maxBytes});
	// A drone without the label: the tasks wait for one that has it (with no drone at all they would fail).
	await startDrone(t, queen);
	const text = (index: number) => `${index % 10}`.repeat(300 * 1024);
	const {accepted, last: refused} = await fill(queen.url, text, 20);
	assert.equal(refused?.status, 429, `a 429 within 20 texts of 300 KiB, not ${refused?.status}: ${JSON.stringify(refused?.body)}`);
	assert.ok(accepted.length >= 5, `${accepted.length} texts of 300 KiB taken under a bound of 2 MiB`);

	const {pending, history} = (await request(`${queen.url}/healthz`)).body;
	assert.deepEqual(pending, {count: accepted.length, bytes: pending.bytes, maxCount: 10_000, maxBytes});
	assert.ok(pending.bytes <= maxBytes && pending.bytes + (300 * 1024) > maxBytes, `the queue weighs ${pending.bytes} bytes`);
	assert.equal(history.count, 0);
	assert.equal(refused.body.error, refused.body.error.replace(/\s+/g, ' '), 'one line');
	assert.match(refused.body.error, /queue is full/);
	assert.ok(refused.body.error.includes(`weigh ${pending.bytes} bytes`), refused.body.error);
	assert.ok(refused.body.error.includes(`${maxBytes} bytes`), refused.body.error);

	// Nothing taken was dropped to make room.
	assert.equal((await request(`${queen.url}/tasks?state=pending`)).body.total, accepted.length);
	for (const [index, id] of accepted.entries()) {
		// eslint-disable-next-line no-await-in-loop
		const {body} = await request(`${queen.url}/tasks/${id}`);
		assert.equal(body.task.state, 'pending');
		assert.equal(body.task.text, text(index));
	}

	assert.equal((await fill(queen.url, text, 1)).last?.status, 429, 'full it stays full');

	// A drone with the label comes: the queue empties, and its weight with it.
	const far = await startDrone(t, queen, {labels: {zone: 'far'}});
	await waitFor(() => far.stdout.lines.length === accepted.length, 'the waiting texts printed by the drone with the label');
	const drained = await waitFor(async () => {
		const health = (await request(`${queen.url}/healthz`)).body;
		return health.history.count === accepted.length ? health : undefined;
	}, 'the tasks done');
	assert.deepEqual(drained.pending, {count: 0, bytes: 0, maxCount: 10_000, maxBytes});
	const again = await request(`${queen.url}/submit_task`, {body: {text: text(0), selector: {zone: 'far'}}});
	assert.equal(again.status, 200, JSON.stringify(again.body));
	assert.equal(again.body.task.drone, far.name);
});

test('a queen on a 128 MiB heap with its file store, fed texts of 512 KiB that no drone can take, stays alive, answers 429 once they weigh its bound, and restarts with them', async t => {
	const dir = temporaryDirectory(t);
	const args = ['--queen', '--port', '0', '--data-dir', dir];
	const heap = {NODE_OPTIONS: '--max-old-space-size=128'};
	const queen = spawnLarve(t, args, heap);
	const url = await queen.url();
	await startQuietDrone(t, new URL(url).host);
	const text = 'x'.repeat(512 * 1024);
	const died = (index: number, error: unknown) => `submit ${index} failed (the queen exited with ${String(queen.child.exitCode ?? queen.child.signalCode)}): ${String(error)}\n${queen.stderr.slice(-2000)}`;
	const {accepted, last: refused} = await fill(url, () => text, 400, died);
	assert.equal(refused?.status, 429, `${accepted.length} texts taken, then ${refused?.status}: ${JSON.stringify(refused?.body)}`);
	assert.match(refused.body.error, /queue is full: .* weigh \d+ bytes/);

	// It goes on refusing, and lives.
	const more = await fill(url, () => text, 20, died);
	assert.deepEqual([more.accepted.length, more.last?.status], [0, 429]);
	const health = await request(`${url}/healthz`);
	assert.equal(health.status, 200);
	const {pending} = health.body;
	assert.ok(pending.maxBytes <= 32 * 1024 * 1024, `an eighth of the heap or so by default, not ${pending.maxBytes}`);
	assert.ok(pending.bytes <= pending.maxBytes, `the queue weighs ${pending.bytes} bytes`);
	assert.equal(pending.count, accepted.length);
	assert.equal((await request(`${url}/tasks/${accepted.at(-1)}`)).body.task.text, text);
	assert.equal(queen.child.exitCode, null);

	// Stopped (a snapshot of the queue) and started again on the same heap: every task is back.
	queen.child.kill('SIGTERM');
	assert.equal(await queen.exited, 0, queen.stderr.slice(-2000));
	const again = spawnLarve(t, args, heap);
	const againUrl = await again.url().catch((error: unknown) => {
		throw new Error(`the queen did not start again (it exited with ${String(again.child.exitCode ?? again.child.signalCode)}): ${String(error)}\n${again.stderr.slice(-2000)}`);
	});
	const restarted = (await request(`${againUrl}/healthz`)).body.pending;
	assert.equal(restarted.count, accepted.length);
	assert.ok(restarted.bytes <= restarted.maxBytes, `the queue weighs ${restarted.bytes} bytes`);
	assert.equal((await request(`${againUrl}/tasks/${accepted[0]}`)).body.task.text, text);
});
