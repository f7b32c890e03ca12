import assert from 'node:assert/strict';
import {monitorEventLoopDelay} from 'node:perf_hooks';
import {test} from 'node:test';
import {request, startDrone, startQueen} from '../helpers/larves.js';

test('listing 720 tasks with 64 KiB outputs answers small summaries, the output stays at /tasks/:id, and the queen keeps answering meanwhile', async t => {
	const queen = await startQueen(t);
	const drone = await startDrone(t, queen, {allowExec: true});
	const hive = queen.hive!;
	// NUL bytes: six characters each once in JSON (\u0000), as the output of a binary file would be.
	const output = '\u0000'.repeat(64 * 1024);
	const long = `echo ${'x'.repeat(20_000)}`;
	for (let index = 0; index < 720; index++) {
		// The drone's report, as `POST /tasks/:id/result` hands it to the hive.
		const {task} = hive.submitNow({kind: 'command', command: index === 0 ? long : `cat big-${index}`});
		assert.ok(hive.dispatch(task.id, drone.name));
		hive.finishNow(task.id, drone.name, {succeeded: true, result: {exitCode: 0, signal: null, stdout: output, stderr: output, durationMs: 1, timedOut: false}});
	}

	const delay = monitorEventLoopDelay({resolution: 10});
	delay.enable();
	const listed = request(`${queen.url}/tasks?limit=720`);
	let healthChecks = 0;
	let done = false;
	void listed.finally(() => {
		done = true;
	});
	// /healthz keeps being answered while the list is made and sent.
	while (!done) {
		// eslint-disable-next-line no-await-in-loop
		const health = await request(`${queen.url}/healthz`);
		assert.equal(health.status, 200);
		healthChecks += 1;
	}

	const answer = await listed;
	delay.disable();
	assert.equal(answer.status, 200, JSON.stringify(answer.body).slice(0, 200));
	assert.match(answer.headers.get('content-type') ?? '', /application\/json/);
	assert.equal(answer.body.total, 720);
	assert.equal(answer.body.tasks.length, 720);
	for (const task of answer.body.tasks) {
		assert.equal(task.state, 'succeeded');
		assert.equal(task.result.exitCode, 0);
		assert.equal(task.result.stdout, undefined, 'a list carries no output');
		assert.equal(task.result.stderr, undefined, 'a list carries no output');
		assert.ok(JSON.stringify(task).length < 2048, `a listed task is small: ${JSON.stringify(task).length} bytes`);
	}

	const first = answer.body.tasks.at(-1);
	assert.ok(first.command.length < 2048 && first.command.startsWith('echo xxx'), 'a long command is cut in lists');
	assert.ok(healthChecks >= 1);
	// A bound on blocking, not a speed test: no turn of the event loop took anywhere near the seconds it used to.
	// Blocked for seconds before lists were streamed; a GC pause on a busy machine is far below this.
	assert.ok(delay.max / 1e6 < 1000, `the event loop was blocked for ${Math.round(delay.max / 1e6)} ms`);

	// The whole record, with its output and the whole command, is at /tasks/:id.
	const record = await request(`${queen.url}/tasks/${first.id}`);
	assert.equal(record.status, 200);
	assert.equal(record.body.task.result.stdout, output);
	assert.equal(record.body.task.result.stderr, output);
	assert.equal(record.body.task.command, long);

	// Pages and filters still work over the same tasks.
	const page = await request(`${queen.url}/tasks?limit=10&offset=715`);
	assert.deepEqual(page.body.tasks.map((task: {id: string}) => task.id), answer.body.tasks.slice(715).map((task: {id: string}) => task.id));
	const none = await request(`${queen.url}/tasks?state=pending`);
	assert.deepEqual(none.body, {tasks: [], total: 0});
});
