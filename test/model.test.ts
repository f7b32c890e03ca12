import assert from 'node:assert/strict';
import {test} from 'node:test';
import {describeContainer, parseMemory, summarizeTask, summaryTextLength, taskWhat, type Task} from '../source/model.js';

test('parseMemory reads sizes as docker -m does: bytes, or K, M, G, T of 1024', () => {
	assert.equal(parseMemory('65536'), 65_536);
	assert.equal(parseMemory('64M'), 64 * 1024 * 1024);
	assert.equal(parseMemory('64m'), 64 * 1024 * 1024);
	assert.equal(parseMemory('512k'), 512 * 1024);
	assert.equal(parseMemory('1.5G'), 1.5 * (1024 ** 3));
	assert.equal(parseMemory('1GiB'), 1024 ** 3);
	assert.equal(parseMemory('2 MB'), 2 * 1024 * 1024);
	for (const bad of ['', 'lots', '-1M', '1X', '1e9', 'M', '99999999999T']) {
		assert.equal(parseMemory(bad), undefined, bad);
	}
});

test('a container task in one line: its rootfs and limits, then its command as a shell would read it back', () => {
	assert.equal(describeContainer({rootfs: '/srv/busybox', command: ['sh', '-c', "echo 'hi' there"]}), "$[/srv/busybox] echo 'hi' there");
	assert.equal(describeContainer({rootfs: '/srv/busybox', command: ['echo', "it's"], memory: '64M', cpus: 0.5, pids: 32}), String.raw`$[/srv/busybox memory=64M cpus=0.5 pids=32] echo 'it'\''s'`);
	const task = {kind: 'container', text: undefined, command: undefined, container: {rootfs: '/r', command: ['true']}} as const;
	assert.equal(taskWhat(task), '$[/r] true');
});

test('a summary of a container task cuts its arguments past the summary length, and keeps a short one whole', () => {
	const base = {id: 'x', seq: 1, kind: 'container', text: undefined, command: undefined, selector: {}, state: 'pending', drone: undefined, submittedAt: 0, updatedAt: 0, attempts: 0, retries: 0, reason: undefined, error: undefined, result: undefined, idempotencyKey: undefined} as const;
	const short: Task = {...base, container: {rootfs: '/r', command: ['sh', '-c', 'echo hi']}};
	assert.equal(summarizeTask(short), short);
	const long: Task = {...base, container: {rootfs: '/r', command: ['sh', '-c', 'x'.repeat(5000), 'after']}};
	const cut = summarizeTask(long).container!.command;
	assert.deepEqual(cut.slice(0, 2), ['sh', '-c']);
	assert.equal(cut.length, 3);
	assert.equal(cut[2], `${'x'.repeat(summaryTextLength - 4)}…`);
});
