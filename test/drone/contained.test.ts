import assert from 'node:assert/strict';
import {randomBytes} from 'node:crypto';
import {test, type TestContext} from 'node:test';
import {probeSandbox} from '../../source/drone/sandbox.js';
import {spawnLarve} from '../helpers/binary.js';
import {request, startDrone, startQueen} from '../helpers/larves.js';
import {killProcessesWith, processesWith, uniqueSleep} from '../helpers/processes.js';
import {waitFor} from '../helpers/wait.js';

// What a command task can reach on its drone: these need a pid namespace per task (Linux, util-linux's
// unshare, and user namespaces when not root); where the drone cannot make one they are skipped, and why.
const sandbox = await probeSandbox();
const notContained = sandbox.contained ? false : `commands are not contained on this machine: ${sandbox.reason}`;

type Hive = {
	readonly droneUrl: string;
	readonly drone: ReturnType<typeof spawnLarve>;
	submit(command: string, wait?: boolean): ReturnType<typeof request>;
	task(id: string): Promise<any>;
};

/** A queen with a token, and one exec drone run as the real binary (so that a command may try to kill it). */
async function hiveWithDroneBinary(t: TestContext, as?: {uid: number; gid: number}): Promise<Hive & {readonly token: string}> {
	const token = randomBytes(12).toString('hex');
	const queen = await startQueen(t, {token});
	const drone = spawnLarve(t, ['--queen-host', queen.address, '--port', '0', '--allow-exec', '--slots', '2'], {HIVE_TOKEN: token}, as);
	const droneUrl = await drone.url();
	const headers = {authorization: `Bearer ${token}`};
	return {
		token,
		drone,
		droneUrl,
		async submit(command, wait = false) {
			return request(`${queen.url}/submit_task${wait ? '?wait=true' : ''}`, {body: {command}, headers});
		},
		async task(id) {
			return (await request(`${queen.url}/tasks/${id}`, {headers})).body.task;
		},
	};
}

async function finalState(hive: Hive, id: string): Promise<any> {
	return waitFor(async () => {
		const task = await hive.task(id);
		return ['succeeded', 'failed', 'lost'].includes(task.state as string) && task;
	}, `task ${id} to end`);
}

test('a drone says in /healthz whether its commands are contained, and its queen shows it in /drones', async t => {
	const queen = await startQueen(t);
	const drone = await startDrone(t, queen, {allowExec: true});
	const health = await request(`${drone.url}/healthz`);
	assert.equal(health.body.contained, sandbox.contained);
	const {body} = await request(`${queen.url}/drones`);
	assert.equal(body.drones[0].contained, sandbox.contained);
});

test('kill -9 $PPID from a command leaves its drone alive and answering', {skip: notContained}, async t => {
	const hive = await hiveWithDroneBinary(t);
	const answer = await hive.submit('kill -9 $PPID');
	const task = await finalState(hive, answer.body.task.id as string);
	assert.equal(task.state, 'failed', 'the command killed only itself');
	assert.equal(hive.drone.child.exitCode, null);
	assert.equal(hive.drone.child.signalCode, null);
	assert.equal((await request(`${hive.droneUrl}/healthz`)).status, 200);
});

test('kill -9 -1 from a command reaches only its own processes: the drone and other tasks live on', {skip: notContained}, async t => {
	const hive = await hiveWithDroneBinary(t);
	// Never sent to a drone that does not contain its commands: there it would kill every process it may.
	assert.equal((await request(`${hive.droneUrl}/healthz`)).body.contained, true);
	const sleeper = uniqueSleep();
	t.after(() => killProcessesWith(sleeper));
	await hive.submit(`exec sleep ${sleeper}`);
	await waitFor(() => processesWith(sleeper).some(each => each.argv[0] === 'sleep'), 'the other task\'s sleep to start');
	const answer = await hive.submit('kill -9 -1; echo still here', true);
	assert.equal(answer.body.task.state, 'succeeded');
	assert.equal(answer.body.task.result.stdout, 'still here\n');
	assert.equal(hive.drone.child.exitCode, null);
	assert.equal((await request(`${hive.droneUrl}/healthz`)).status, 200);
	assert.ok(processesWith(sleeper).some(each => each.argv[0] === 'sleep'), 'the other task still runs');
});

/** Reads every environment and command line a command can see for the token; where contained, tries harder. */
async function lookForToken(t: TestContext, as?: {uid: number; gid: number}): Promise<void> {
	const hive = await hiveWithDroneBinary(t, as);
	const contained = (await request(`${hive.droneUrl}/healthz`)).body.contained === true;
	const everywhere = 'cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" "\\n" | grep -a "HIVE_TOKEN="';
	// Unmounting /proc is tried only where the command has a mount namespace of its own.
	const command = `${everywhere}; grep -ao "HIVE_TOKEN=[[:alnum:]]*" /proc/$PPID/environ; ${contained ? `umount /proc 2>/dev/null; ${everywhere};` : ''} true`;
	const answer = await hive.submit(command, true);
	assert.equal(answer.body.task.state, 'succeeded');
	assert.ok(!answer.body.task.result.stdout.includes(hive.token), `the command read the token: ${answer.body.task.result.stdout}`);
}

test('a command finds the hive\'s token in no environment or command line it can read', {skip: notContained}, async t => {
	await lookForToken(t);
});

test('a command of a drone run as nobody finds the token nowhere either', {skip: notContained || (process.getuid?.() === 0 ? false : 'needs root to start a drone as nobody')}, async t => {
	await lookForToken(t, {uid: 65_534, gid: 65_534});
});

test('every process of a task ends with it: (sleep &) and setsid sleep do not outlive the command', {skip: notContained}, async t => {
	const queen = await startQueen(t);
	await startDrone(t, queen, {allowExec: true});
	const [inSubshell, inSession] = [uniqueSleep(), uniqueSleep()];
	t.after(() => {
		killProcessesWith(inSubshell);
		killProcessesWith(inSession);
	});
	const answer = await request(`${queen.url}/submit_task?wait=true`, {body: {command: `(sleep ${inSubshell} >/dev/null 2>&1 &); setsid sleep ${inSession} >/dev/null 2>&1 & echo started`}});
	assert.equal(answer.body.task.state, 'succeeded');
	assert.equal(answer.body.task.result.stdout, 'started\n');
	await waitFor(() => processesWith(inSubshell).length === 0 && processesWith(inSession).length === 0, 'the task\'s background processes to end with it');
});

test('a timeout ends every process of its task, even one in a session of its own', {skip: notContained}, async t => {
	const queen = await startQueen(t);
	await startDrone(t, queen, {allowExec: true, taskTimeoutMs: 500});
	const [escaped, waited] = [uniqueSleep(), uniqueSleep()];
	t.after(() => {
		killProcessesWith(escaped);
		killProcessesWith(waited);
	});
	const answer = await request(`${queen.url}/submit_task?wait=true`, {body: {command: `setsid sleep ${escaped} >/dev/null 2>&1 & sleep ${waited}`}});
	assert.equal(answer.body.task.state, 'failed');
	assert.equal(answer.body.task.result.timedOut, true);
	await waitFor(() => processesWith(escaped).length === 0 && processesWith(waited).length === 0, 'every process of the timed-out task to end');
});

test('a drone killed with -9 takes its commands\' processes with it', {skip: notContained}, async t => {
	const hive = await hiveWithDroneBinary(t);
	const [inSession, direct] = [uniqueSleep(), uniqueSleep()];
	t.after(() => {
		killProcessesWith(inSession);
		killProcessesWith(direct);
	});
	await hive.submit(`setsid sleep ${inSession} >/dev/null 2>&1 & exec sleep ${direct}`);
	await waitFor(() => [inSession, direct].every(marker => processesWith(marker).some(each => each.argv[0] === 'sleep')), 'both sleeps to start');
	hive.drone.child.kill('SIGKILL');
	await hive.drone.exited;
	await waitFor(() => processesWith(inSession).length === 0 && processesWith(direct).length === 0, 'the commands of the killed drone to end');
});

test('a command, contained or not, has a working /proc, and its output is captured', async t => {
	const queen = await startQueen(t);
	await startDrone(t, queen, {allowExec: true});
	const answer = await request(`${queen.url}/submit_task?wait=true`, {body: {command: 'echo out; echo err >&2; head -1 /proc/self/status; [ -r /proc/cpuinfo ] && echo cpuinfo'}});
	assert.equal(answer.body.task.state, 'succeeded');
	assert.equal(answer.body.task.result.stdout, 'out\nName:\thead\ncpuinfo\n');
	assert.equal(answer.body.task.result.stderr, 'err\n');
});
