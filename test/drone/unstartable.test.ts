import assert from 'node:assert/strict';
import {test} from 'node:test';
import {Writable} from 'node:stream';
import {Executor} from '../../source/drone/executor.js';
import {uncontained} from '../../source/drone/sandbox.js';
import {request, startDrone, startQueen} from '../helpers/larves.js';

// Commands that cannot even start: the kernel refuses the argument. One of them killed every exec drone it was placed on.

test('a command with a NUL, or larger than one argument may be, is refused at submit and by a drone; the drone lives on', async t => {
	const queen = await startQueen(t);
	const drone = await startDrone(t, queen, {allowExec: true});
	const nul = await request(`${queen.url}/submit_task`, {body: {command: 'echo a\u0000b'}});
	assert.equal(nul.status, 400);
	assert.match(nul.body.error, /^command must not contain a NUL/);
	const wide = await request(`${queen.url}/submit_task`, {body: {command: `echo ${'€'.repeat(65_536)}`}});
	assert.equal(wide.status, 413);
	assert.match(wide.body.error, /^command is 196613 bytes; a command may be at most 65536 bytes/);
	for (const command of ['echo a\u0000b', `echo ${'€'.repeat(65_536)}`]) {
		// eslint-disable-next-line no-await-in-loop
		const sent = await request(`${drone.url}/do_task`, {body: {id: `direct-${command.length}`, command}});
		assert.ok(sent.status === 400 || sent.status === 413, `the drone refuses it: ${sent.status}`);
	}

	assert.equal((await request(`${drone.url}/healthz`)).body.running, 0);
	const fine = await request(`${queen.url}/submit_task?wait=true`, {body: {command: 'echo still here'}});
	assert.equal(fine.body.task.state, 'succeeded');
	assert.equal(fine.body.task.result.stdout, 'still here\n');
});

test('an executor asked to run what cannot start ends the task failed, with the reason, instead of throwing', async () => {
	const executor = new Executor({stdout: new Writable({write(_chunk, _encoding, done) {
		done();
	}}), taskTimeoutMs: 0, sandbox: uncontained('test')});
	const result = await executor.run('x', {command: `echo ${'€'.repeat(65_536)}`});
	assert.equal(result.succeeded, false);
	assert.match(result.error ?? '', /^could not start: spawn E2BIG/);
	const nul = await executor.run('y', {command: 'echo a\u0000b'});
	assert.match(nul.error ?? '', /^could not start: .*null bytes/);
	assert.equal(executor.running, 0);
});
