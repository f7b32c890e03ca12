import assert from 'node:assert/strict';
import {test} from 'node:test';
import {temporaryDirectory} from '../helpers/binary.js';
import {startCtl, type Run} from '../helpers/ctl.js';
import {request, startDrone, startQueen} from '../helpers/larves.js';
import {buildBusyboxRootfs, whyNoRunc} from '../helpers/rootfs.js';

/** `hive-larve submit --image DIR -- PROGRAM ARGS...` and what shows a container task: the built client against real larves. */

/** The client as a shell runs it, asking the queen at `queenAddress`. */
async function ctl(queenAddress: string, args: readonly string[]): Promise<Run> {
	return startCtl(args, {HIVE_QUEEN: queenAddress}).done;
}

const whyNot = await whyNoRunc();

test('submit --image DIR -- sh -c: a container task, pending while no drone has a runtime; task ID and tasks show it', async t => {
	const queen = await startQueen(t);
	await startDrone(t, queen, {allowExec: true});

	const run = await ctl(queen.address, ['submit', '--image', '/srv/x', '--memory', '64M', '--cpus', '0.5', '--pids', '32', '--env', 'GREETING=hi there', '--', 'sh', '-c', 'echo hi']);
	assert.equal(run.status, 0, run.stderr);
	const [, id] = /^task ([\da-f-]{36}) pending: (.*)\n$/.exec(run.stdout) ?? [];
	assert.ok(id, run.stdout);
	assert.match(run.stdout, /1 have no container runtime/);
	const {task} = (await request(`${queen.url}/tasks/${id}`)).body;
	assert.equal(task.kind, 'container');
	assert.deepEqual(task.container, {rootfs: '/srv/x', command: ['sh', '-c', 'echo hi'], env: {GREETING: 'hi there'}, memory: '64M', cpus: 0.5, pids: 32});
	assert.equal(task.state, 'pending');

	const described = await ctl(queen.address, ['task', id.slice(0, 8)]);
	assert.equal(described.status, 0, described.stderr);
	assert.match(described.stdout, /\nKind: +container\nRootfs: +\/srv\/x\nCommand: +sh -c 'echo hi'\nEnv: +GREETING='hi there'\nLimits: +memory=64M cpus=0\.5 pids=32\n/);
	assert.match(described.stdout, /\nReason: +.*have no container runtime\n/);

	const list = await ctl(queen.address, ['tasks']);
	assert.match(list.stdout, new RegExp(`\n${id.slice(0, 8)} +pending +- +\\S+ +container +\\$\\[/srv/x memory=64M cpus=0\\.5 pids=32\\] echo hi\n`));

	// No drone runs containers: no RUNTIMES column.
	assert.match((await ctl(queen.address, ['drones'])).stdout, /^NAME +STATUS +ADDRESS +RUNNING +DONE +EXEC +LABELS +AGE\n/);
});

test('submit --image with a relative DIR: the queen\'s 400 in one line, exit 1 (the path is the drone\'s, sent as given)', async t => {
	const queen = await startQueen(t);
	await startDrone(t, queen);
	const run = await ctl(queen.address, ['submit', '--image', 'srv/x', '--', 'true']);
	assert.equal(run.status, 1);
	assert.equal(run.stderr, 'hive-larve: container.rootfs must be an absolute path (it starts with /)\n');
	assert.equal((await request(`${queen.url}/tasks`)).body.total, 0);
});

test('submit --image --wait on a drone started with --runtime runc: the output, the exit status; drones shows RUNTIMES', {skip: whyNot ?? false}, async t => {
	const rootfs = await buildBusyboxRootfs();
	t.after(async () => rootfs.remove());
	const queen = await startQueen(t);
	await startDrone(t, queen, {runtime: 'runc', dataDir: temporaryDirectory(t), name: 'bee-runc'});

	const good = await ctl(queen.address, ['submit', '--image', rootfs.dir, '--wait', '--', 'sh', '-c', 'echo hi; echo oops >&2']);
	assert.equal(good.status, 0, good.stderr);
	assert.match(good.stdout, /^task [\da-f-]{36} succeeded on bee-runc \(exit 0, [\d.]+m?s\)\nhi\n$/);
	assert.equal(good.stderr, 'oops\n');

	const bad = await ctl(queen.address, ['submit', '--image', rootfs.dir, '--wait', '--', 'false']);
	assert.equal(bad.status, 1);
	assert.match(bad.stdout, /failed on bee-runc .*exited with 1\n$/);

	const drones = await ctl(queen.address, ['drones']);
	assert.match(drones.stdout, /^NAME +STATUS +ADDRESS +RUNNING +DONE +EXEC +RUNTIMES +LABELS +AGE\nbee-runc +ready +\S+ +0\/\d+ +\d+ +no +runc +- +/);
});
