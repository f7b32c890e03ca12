import assert from 'node:assert/strict';
import {once} from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import {PassThrough, type Readable} from 'node:stream';
import {test, type TestContext} from 'node:test';
import {createHttpClient} from '../../source/client/http.js';
import {createQueenClient, type QueenClient} from '../../source/client/queen-client.js';
import {TaskOutput, type OutputLine, type TaskOutputSnapshot} from '../../source/dashboard/task-output.js';
import {temporaryDirectory} from '../helpers/binary.js';
import {request, startDrone, startQueen} from '../helpers/larves.js';
import {deadAddress} from '../helpers/servers.js';
import {waitFor} from '../helpers/wait.js';

/** A queen with one drone that runs commands, and a client of it (closed when the test ends). */
async function execHive(t: TestContext): Promise<{queenUrl: string; client: QueenClient}> {
	const queen = await startQueen(t);
	await startDrone(t, queen, {allowExec: true});
	return {queenUrl: queen.url, client: clientOf(t, queen.address)};
}

function clientOf(t: TestContext, address: string): QueenClient {
	const http = createHttpClient({userAgent: 'hive-dashboard/test', timeoutMs: 2000});
	t.after(() => {
		http.close();
	});
	return createQueenClient(address, http);
}

/** Follows `id` with the default batching; closed when the test ends. */
function follow(t: TestContext, client: QueenClient, id: string, follow = true): TaskOutput {
	const output = new TaskOutput(client, id, {follow});
	t.after(() => {
		output.close();
	});
	return output;
}

function texts(snapshot: TaskOutputSnapshot, stream: OutputLine['stream']): string[] {
	return snapshot.lines.filter(line => line.stream === stream).map(line => line.text);
}

/** A shell loop that waits for `file`: the test says when the command goes on. */
function gate(file: string): string {
	return `while [ ! -e ${file} ]; do sleep 0.05; done`;
}

test('a running command followed live: lines as they come, a partial line that goes on in the next chunk, stdout and stderr, then how it ended', async t => {
	const {queenUrl, client} = await execHive(t);
	const dir = temporaryDirectory(t);
	const [first, second] = [path.join(dir, 'first'), path.join(dir, 'second')];
	const command = `printf 'one\\ntw'; ${gate(first)}; printf 'o\\nthree'; echo oops >&2; ${gate(second)}; printf ' continued\\r\\n'; echo bad >&2; exit 3`;
	const submitted = await request(`${queenUrl}/submit_task`, {body: {command}});
	const {id} = submitted.body.task as {id: string};
	const output = follow(t, client, id);
	let calls = 0;
	output.subscribe(() => {
		calls++;
	});

	await waitFor(() => texts(output.getSnapshot(), 'stdout').join('|') === 'one|tw', `the first line and the start of the second (${JSON.stringify(output.getSnapshot().lines)})`);
	let snapshot = output.getSnapshot();
	assert.equal(snapshot.id, id);
	assert.equal(snapshot.following, true);
	assert.equal(snapshot.end, undefined);
	assert.equal(snapshot.error, undefined);
	assert.ok(calls >= 1);

	fs.writeFileSync(first, '');
	await waitFor(() => texts(output.getSnapshot(), 'stdout').join('|') === 'one|two|three' && texts(output.getSnapshot(), 'stderr').join('|') === 'oops', `the partial line ended, another begun, and stderr (${JSON.stringify(output.getSnapshot().lines)})`);
	snapshot = output.getSnapshot();
	assert.deepEqual(snapshot.lines.slice(0, 2), [{stream: 'stdout', text: 'one'}, {stream: 'stdout', text: 'two'}]);
	assert.equal(snapshot.lines.length, 4);
	assert.equal(snapshot.following, true);

	fs.writeFileSync(second, '');
	await waitFor(() => output.getSnapshot().end, 'how it ended');
	snapshot = output.getSnapshot();
	assert.deepEqual(texts(snapshot, 'stdout'), ['one', 'two', 'three continued']);
	assert.deepEqual(texts(snapshot, 'stderr'), ['oops', 'bad']);
	assert.deepEqual(snapshot.end, {state: 'failed', exitCode: 3, signal: null, error: 'exited with 3'});
	assert.equal(snapshot.following, false);
	assert.equal(snapshot.error, undefined);
	assert.equal(snapshot.dropped, 0);
});

test('a finished task, not followed: its record\'s output (a last line without a newline kept), and its end', async t => {
	const {queenUrl, client} = await execHive(t);
	const done = await request(`${queenUrl}/submit_task?wait=true`, {body: {command: 'printf "a\\n\\nb"; echo e >&2'}});
	assert.equal(done.body.task.state, 'succeeded');
	const output = follow(t, client, done.body.task.id as string, false);
	await waitFor(() => output.getSnapshot().end, 'the end line');
	const snapshot = output.getSnapshot();
	assert.deepEqual(snapshot.lines, [{stream: 'stdout', text: 'a'}, {stream: 'stdout', text: ''}, {stream: 'stdout', text: 'b'}, {stream: 'stderr', text: 'e'}]);
	assert.deepEqual(snapshot.end, {state: 'succeeded', exitCode: 0, signal: null, error: null});
	assert.equal(snapshot.following, false);
	assert.equal(snapshot.error, undefined);
});

test('at most maxLines are kept, the oldest dropped and counted', async t => {
	const {queenUrl, client} = await execHive(t);
	const done = await request(`${queenUrl}/submit_task?wait=true`, {body: {command: 'seq 1 25000'}});
	const {id} = done.body.task as {id: string};
	// The record keeps a long output cut (marked): what it has, as lines.
	const kept = ((await request(`${queenUrl}/tasks/${id}`)).body.task.result.stdout as string).trimEnd().split('\n');
	assert.ok(kept.length > 10_000, `${kept.length} lines kept in the record`);
	const output = follow(t, client, id, false);
	await waitFor(() => output.getSnapshot().end, 'the end line');
	const {lines, dropped} = output.getSnapshot();
	assert.equal(lines.length, 10_000);
	assert.equal(dropped, kept.length - 10_000);
	assert.deepEqual(lines.map(line => line.text), kept.slice(-10_000));
});

test('an unknown task and a queen out of reach: the error says so, nothing is thrown', async t => {
	const {client} = await execHive(t);
	const unknown = follow(t, client, 'ffffffff-0000');
	await waitFor(() => unknown.getSnapshot().error, 'the 404');
	assert.match(unknown.getSnapshot().error!, /^no task/);
	assert.deepEqual(unknown.getSnapshot().lines, []);
	assert.equal(unknown.getSnapshot().following, false);

	const gone = follow(t, clientOf(t, await deadAddress()), 'ffffffff-0000');
	await waitFor(() => gone.getSnapshot().error, 'the refusal');
	assert.equal(gone.getSnapshot().error, 'ECONNREFUSED');
});

/** A client whose task logs are `stream`, written by the test. */
function fakeClient(stream: Readable): Pick<QueenClient, 'openTaskLogs'> {
	return {
		async openTaskLogs() {
			return stream;
		},
	};
}

test('chunks cut anywhere (mid JSON line, mid output line) make the same lines; listeners hear once per flush, not per chunk', async () => {
	const stream = new PassThrough();
	const output = new TaskOutput(fakeClient(stream), 'a', {flushMs: 60_000});
	let calls = 0;
	output.subscribe(() => {
		calls++;
	});
	const text = [
		{stream: 'stdout', data: 'hel'},
		{stream: 'stderr', data: 'warn: '},
		{stream: 'stdout', data: 'lo\nwor'},
		{stream: 'stderr', data: 'low disk\n'},
		{stream: 'stdout', data: 'ld\n'},
		{end: {state: 'succeeded', exitCode: 0, signal: null, error: null}},
	].map(line => `${JSON.stringify(line)}\n`).join('');
	for (let index = 0; index < text.length; index += 7) {
		stream.write(text.slice(index, index + 7));
	}

	stream.end();
	await once(stream, 'end');
	assert.equal(calls, 0, 'nothing told before the flush');
	output.flush();
	assert.equal(calls, 1);
	assert.deepEqual(output.getSnapshot().lines, [{stream: 'stdout', text: 'hello'}, {stream: 'stderr', text: 'warn: low disk'}, {stream: 'stdout', text: 'world'}]);
	assert.equal(output.getSnapshot().end?.state, 'succeeded');
	output.close();
});

test('an error line is the error; a stream that ends with no end line says so; close() destroys the stream', async () => {
	const failing = new PassThrough();
	const output = new TaskOutput(fakeClient(failing), 'a', {flushMs: 60_000});
	failing.end(`${JSON.stringify({stream: 'stdout', data: 'half'})}\n${JSON.stringify({error: 'could not read the output from drone-1: ECONNRESET'})}\n`);
	await once(failing, 'end');
	output.flush();
	assert.equal(output.getSnapshot().error, 'could not read the output from drone-1: ECONNRESET');
	assert.deepEqual(output.getSnapshot().lines, [{stream: 'stdout', text: 'half'}]);
	assert.equal(output.getSnapshot().following, false);

	const cut = new PassThrough();
	const cutOutput = new TaskOutput(fakeClient(cut), 'b', {flushMs: 60_000});
	cut.end(`${JSON.stringify({stream: 'stdout', data: 'x\n'})}\n`);
	await once(cut, 'end');
	cutOutput.flush();
	assert.match(cutOutput.getSnapshot().error!, /ended the output before the task's end/);

	const open = new PassThrough();
	const openOutput = new TaskOutput(fakeClient(open), 'c', {flushMs: 60_000});
	open.write(`${JSON.stringify({stream: 'stdout', data: 'x\n'})}\n`);
	await waitFor(() => {
		openOutput.flush();
		return openOutput.getSnapshot().following;
	}, 'the stream open');
	let told = 0;
	openOutput.subscribe(() => {
		told++;
	});
	openOutput.close();
	assert.equal(open.destroyed, true);
	openOutput.flush();
	assert.equal(told, 0, 'no one is told after close');
	output.close();
	cutOutput.close();
});
