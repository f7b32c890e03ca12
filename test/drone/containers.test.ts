import assert from 'node:assert/strict';
import {execFile} from 'node:child_process';
import {chmodSync, cpSync, existsSync, statSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import path from 'node:path';
import {after, before, test, type TestContext} from 'node:test';
import {promisify} from 'node:util';
import {hostUid} from '../../source/drone/oci.js';
import type {Larve} from '../../source/larve.js';
import type {LarveInput} from '../../source/options.js';
import {spawnLarve, temporaryDirectory} from '../helpers/binary.js';
import {request, startDrone, startQueen, type Answer} from '../helpers/larves.js';
import {killProcessesWith, processesWith, uniqueSleep} from '../helpers/processes.js';
import {buildBusyboxRootfs, whyNoRunc} from '../helpers/rootfs.js';
import {waitFor} from '../helpers/wait.js';

// Container tasks through the real runc (Debian's), in a busybox rootfs built from busybox-static. Where
// runc cannot run a container (not root, not installed), these skip, and say why.
const whyNot = await whyNoRunc();
const needsRunc = whyNot === undefined ? {} : {skip: `runc cannot run containers here: ${whyNot}`};
const run = promisify(execFile);

let rootfs = '';
let built: Awaited<ReturnType<typeof buildBusyboxRootfs>> | undefined;
before(async () => {
	if (whyNot === undefined) {
		built = await buildBusyboxRootfs();
		rootfs = built.dir;
	}
});
after(async () => built?.remove());

type ContainerHive = {
	readonly queen: Larve;
	readonly drone: Larve;
	readonly dataDir: string;
	submit(container: Record<string, unknown>, wait?: boolean): Promise<Answer>;
	task(id: string): Promise<any>;
};

/** A queen, and one drone with `--runtime runc` and a data directory of the test's own. */
async function containerHive(t: TestContext, drone: Partial<LarveInput> = {}, queen: Partial<LarveInput> = {}): Promise<ContainerHive> {
	const hiveQueen = await startQueen(t, queen);
	const dataDir = temporaryDirectory(t);
	// As the drone's own would be: searchable by others, so that a container's user reaches its unpacked images.
	chmodSync(dataDir, 0o711);
	const hiveDrone = await startDrone(t, hiveQueen, {runtime: 'runc', dataDir, slots: 4, ...drone});
	return {
		queen: hiveQueen,
		drone: hiveDrone,
		dataDir,
		async submit(container, wait = true) {
			return request(`${hiveQueen.url}/submit_task${wait ? '?wait=true' : ''}`, {body: {container: {rootfs, ...container}}});
		},
		async task(id) {
			return (await request(`${hiveQueen.url}/tasks/${id}`)).body.task;
		},
	};
}

/** The containers in a drone's runc state directory (`runc --root DATA_DIR/runc list`). */
async function containersOf(dataDir: string): Promise<string[]> {
	const {stdout} = await run('runc', ['--root', path.join(dataDir, 'runc'), 'list', '--format', 'json']);
	return ((JSON.parse(stdout || 'null') as Array<{id: string}> | null) ?? []).map(each => each.id);
}

/** Nothing of a container is left: not in runc's list, no bundle, no process with the test's marker. */
async function assertNothingLeft(dataDir: string, marker?: string): Promise<void> {
	await waitFor(async () => (await containersOf(dataDir)).length === 0 && (marker === undefined || processesWith(marker).length === 0), 'no container and no process left');
	assert.deepEqual(await containersOf(dataDir), []);
	assert.deepEqual(readdirSync(path.join(dataDir, 'bundles')), []);
	if (marker !== undefined) {
		assert.deepEqual(processesWith(marker), []);
	}
}

test('a container task prints, exits 3, and reads as a command would: output, exit code, duration', needsRunc, async t => {
	const hive = await containerHive(t);
	const {body} = await hive.submit({command: ['sh', '-c', 'echo out; echo err >&2; exit 3']});
	assert.equal(body.task.kind, 'container');
	assert.deepEqual(body.task.container, {rootfs, command: ['sh', '-c', 'echo out; echo err >&2; exit 3']});
	assert.equal(body.task.state, 'failed');
	assert.equal(body.task.error, 'exited with 3');
	assert.equal(body.task.result.exitCode, 3);
	assert.equal(body.task.result.stdout, 'out\n');
	assert.equal(body.task.result.stderr, 'err\n');
	assert.ok(body.task.result.durationMs > 0);
	await assertNothingLeft(hive.dataDir);
	const fine = await hive.submit({command: ['echo', 'hello', 'from', 'busybox']});
	assert.equal(fine.body.task.state, 'succeeded');
	assert.equal(fine.body.task.result.stdout, 'hello from busybox\n');
});

test('a container has its own namespaces: loopback only, a read-only root, its own /tmp, pid 1, no token, its env and workdir', needsRunc, async t => {
	const token = 'container-test-token-1234';
	const hive = await containerHive(t, {token}, {token});
	const script = [
		'ip -o link | cut -d: -f2 | tr -d " "',
		'touch /probe 2>&1 | sed "s/.*: //"',
		'echo kept > /tmp/file && cat /tmp/file',
		'echo pid=$$',
		'echo cwd=$(pwd) greeting=$GREETING',
		'env | grep -c container-test-token || true',
	].join('; ');
	const {body} = await request(`${hive.queen.url}/submit_task?wait=true`, {
		body: {container: {rootfs, command: ['sh', '-c', script], env: {GREETING: 'hi'}, workdir: '/tmp'}},
		headers: {authorization: `Bearer ${token}`},
	});
	assert.equal(body.task.state, 'succeeded', JSON.stringify(body.task));
	assert.deepEqual(body.task.result.stdout.split('\n'), ['lo', 'Read-only file system', 'kept', 'pid=1', 'cwd=/tmp greeting=hi', '0', '']);
});

test('a container\'s root is no one on the machine: a file only root may read stays unread, its processes run as an unprivileged uid', needsRunc, async t => {
	const hive = await containerHive(t);
	const secret = path.join(rootfs, 'secret');
	writeFileSync(secret, 'the machine root\'s\n', {mode: 0o600});
	t.after(() => rmSync(secret, {force: true}));
	const marker = uniqueSleep();
	t.after(() => killProcessesWith(marker));
	const {body} = await hive.submit({command: ['sh', '-c', `id -u; cat /secret 2>&1 | sed "s/.*: //"; exec sleep ${marker}`]}, false);
	const [sleeper] = await waitFor(() => (processesWith(marker).length === 1 ? processesWith(marker) : undefined), 'the container to sleep');
	const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${sleeper!.pid}/status`, 'utf8'))?.[1]);
	assert.equal(uid, hostUid);
	await request(`${hive.queen.url}/tasks/${body.task.id}`, {method: 'DELETE'});
	const task = await hive.task(body.task.id);
	assert.equal(task.result.stdout, '0\nPermission denied\n');
	await assertNothingLeft(hive.dataDir, marker);
});

test('a memory hog is killed by the kernel, and the task says its memory limit was exceeded, not a bare 137', needsRunc, async t => {
	const hive = await containerHive(t);
	// tail keeps a "line" of 200 MB of zeros: far past 16M.
	const {body} = await hive.submit({command: ['sh', '-c', 'head -c 200000000 /dev/zero | tail > /dev/null'], memory: '16M'});
	assert.equal(body.task.state, 'failed');
	// tail, and at times head too (one OOM kill each).
	assert.match(body.task.error, /^memory limit \(16M\) exceeded: the kernel killed (a process|\d+ processes) of the container \(exit 137\)$/);
	await assertNothingLeft(hive.dataDir);
	// Under its limit, the same container succeeds.
	const fine = await hive.submit({command: ['sh', '-c', 'head -c 1000000 /dev/zero | tail > /dev/null'], memory: '16M'});
	assert.equal(fine.body.task.state, 'succeeded');
});

/** A running container's cgroup, in its drone's branch of the tree (v1's pids controller, or v2's unified tree); undefined when gone. */
function cgroupDir(id: string): string | undefined {
	for (const parent of ['/sys/fs/cgroup/pids/hive', '/sys/fs/cgroup/hive']) {
		const branches = existsSync(parent) ? readdirSync(parent, {withFileTypes: true}).filter(each => each.isDirectory()) : [];
		const found = branches.map(branch => path.join(parent, branch.name, id)).find(dir => existsSync(dir));
		if (found) {
			return found;
		}
	}

	return undefined;
}

/** A file of a running container's cgroup; undefined when gone. */
function pidsFile(id: string, file: string): string | undefined {
	const dir = cgroupDir(id);
	try {
		return dir === undefined ? undefined : readFileSync(path.join(dir, file), 'utf8');
	} catch {
		return undefined;
	}
}

test('a fork bomb stays inside its pids limit, the drone answers meanwhile, and its timeout ends it all', needsRunc, async t => {
	const hive = await containerHive(t, {taskTimeoutMs: 4000});
	const marker = uniqueSleep();
	t.after(() => killProcessesWith(marker));
	// Each process starts two more, for ever; the container's first process sleeps (the marker names them all).
	const bomb = `bomb() { sleep ${marker} & bomb & bomb; }; bomb & exec sleep ${marker}`;
	const {body} = await hive.submit({command: ['sh', '-c', bomb], pids: 32}, false);
	const {id} = body.task;
	const denied = await waitFor(() => {
		const events = pidsFile(id, 'pids.events');
		return events !== undefined && Number(/max (\d+)/.exec(events)?.[1] ?? 0) > 0 ? events : undefined;
	}, 'the kernel to refuse the bomb a fork');
	assert.match(denied, /max [1-9]/);
	const current = Number(pidsFile(id, 'pids.current') ?? 0);
	assert.ok(current <= 32, `${current} processes in a container limited to 32`);
	assert.ok(processesWith(marker).length <= 32, `${processesWith(marker).length} of the bomb's sleeps on the machine`);
	assert.equal((await request(`${hive.drone.url}/healthz`)).status, 200);
	const ended = await waitFor(async () => {
		const task = await hive.task(id);
		return task.state === 'failed' && task;
	}, 'the bomb to time out');
	assert.equal(ended.error, 'timed out after 4 s');
	assert.equal(ended.result.timedOut, true);
	await assertNothingLeft(hive.dataDir, marker);
});

test('cancel kills and deletes a running container: nothing in runc list, no process', needsRunc, async t => {
	const hive = await containerHive(t);
	const marker = uniqueSleep();
	t.after(() => killProcessesWith(marker));
	const {body} = await hive.submit({command: ['sh', '-c', `echo started; sleep ${marker} & sleep ${marker}`]}, false);
	await waitFor(() => processesWith(marker).length === 2, 'both sleeps to run in the container');
	assert.deepEqual(await containersOf(hive.dataDir), [body.task.id]);
	const cancel = await request(`${hive.queen.url}/tasks/${body.task.id}`, {method: 'DELETE'});
	assert.equal(cancel.status, 200);
	assert.equal(cancel.body.task.state, 'cancelled');
	await assertNothingLeft(hive.dataDir, marker);
});

test('--task-timeout kills and deletes a container: the task fails as timed out, nothing is left', needsRunc, async t => {
	const hive = await containerHive(t, {taskTimeoutMs: 1500});
	const marker = uniqueSleep();
	t.after(() => killProcessesWith(marker));
	const {body} = await hive.submit({command: ['sleep', marker]});
	assert.equal(body.task.state, 'failed');
	assert.equal(body.task.error, 'timed out after 1.5 s');
	assert.equal(body.task.result.timedOut, true);
	await assertNothingLeft(hive.dataDir, marker);
});

test('a drone that stops deletes its containers', needsRunc, async t => {
	const hive = await containerHive(t);
	const marker = uniqueSleep();
	t.after(() => killProcessesWith(marker));
	const {body} = await hive.submit({command: ['sleep', marker]}, false);
	await waitFor(() => processesWith(marker).length === 1, 'the container to run');
	// The drone's branch of the cgroup tree, its container's cgroup in it.
	const branch = path.dirname(cgroupDir(body.task.id as string)!);
	await hive.drone.stop();
	await assertNothingLeft(hive.dataDir, marker);
	assert.equal(existsSync(branch), false, `${branch} is left`);
});

/** A drone run as the real binary with `--runtime runc`, one container of it sleeping: what -9 is tried on. */
async function droneWithSleepingContainer(t: TestContext): Promise<{args: string[]; dataDir: string; drone: ReturnType<typeof spawnLarve>; marker: string; id: string}> {
	// No retries: the task is lost with its drone, and not placed again on a drone that comes back.
	const queen = await startQueen(t, {taskRetries: 0});
	const dataDir = temporaryDirectory(t);
	const args = ['--queen-host', queen.address, '--port', '0', '--name', 'boxes', '--runtime', 'runc', '--data-dir', dataDir];
	const drone = spawnLarve(t, args);
	await drone.url();
	const marker = uniqueSleep();
	t.after(() => killProcessesWith(marker));
	const {body} = await request(`${queen.url}/submit_task`, {body: {container: {rootfs, command: ['sleep', marker]}}});
	await waitFor(() => processesWith(marker).length === 1, 'the container to run');
	assert.deepEqual(await containersOf(dataDir), [body.task.id]);
	return {args, dataDir, drone, marker, id: body.task.id as string};
}

/** The guard of a drone's containers: the shell that deletes them when the drone's pipe closes. */
function guardOf(dataDir: string) {
	return processesWith(path.join(dataDir, 'runc')).filter(each => each.argv[0] === '/bin/sh');
}

test('a drone killed with -9 takes its containers with it: its guard deletes them', needsRunc, async t => {
	const {dataDir, drone, marker} = await droneWithSleepingContainer(t);
	assert.equal(guardOf(dataDir).length, 1);
	drone.child.kill('SIGKILL');
	await drone.exited;
	await waitFor(async () => (await containersOf(dataDir)).length === 0 && processesWith(marker).length === 0, 'the guard to delete the container');
	assert.deepEqual(guardOf(dataDir), []);
});

test('a drone killed with -9 with its guard leaves its container running; started again, it deletes it before it takes work', needsRunc, async t => {
	const {args, dataDir, drone, marker, id} = await droneWithSleepingContainer(t);
	// As a reboot, or a kill of the whole process tree, would leave it: nothing deletes the container.
	for (const guard of guardOf(dataDir)) {
		process.kill(guard.pid, 'SIGKILL');
	}

	drone.child.kill('SIGKILL');
	await drone.exited;
	assert.deepEqual(await containersOf(dataDir), [id]);
	assert.equal(processesWith(marker).length, 1);
	const second = spawnLarve(t, args);
	await second.url();
	await assertNothingLeft(dataDir, marker);
	assert.ok(second.logs().some(line => String(line.msg).startsWith('deleted 1 containers an earlier run of this drone left')), second.stderr);
});

test('a rootfs may be a tar file; one that does not exist, or is neither a directory nor a tar file, fails the task with why', needsRunc, async t => {
	const hive = await containerHive(t);
	const tarDir = temporaryDirectory(t);
	chmodSync(tarDir, 0o755);
	const tarFile = path.join(tarDir, 'busybox.tar');
	// As root made it: its files root's, its modes kept, a setuid file among them; unpacked as a container's user all the same.
	const extra = temporaryDirectory(t);
	writeFileSync(path.join(extra, 'suid'), '#!/bin/sh\n', {mode: 0o4755});
	await run('tar', ['-cf', tarFile, '-C', rootfs, '.', '-C', extra, 'suid']);
	const fromTar = await hive.submit({rootfs: tarFile, command: ['sh', '-c', 'echo from a tar']});
	assert.equal(fromTar.body.task.state, 'succeeded', JSON.stringify(fromTar.body.task));
	assert.equal(fromTar.body.task.result.stdout, 'from a tar\n');
	const [image] = readdirSync(path.join(hive.dataDir, 'images'));
	const suid = statSync(path.join(hive.dataDir, 'images', image!, 'suid'));
	assert.equal(suid.uid, hostUid, 'the tar\'s files are the container user\'s, not root\'s');
	assert.equal(suid.mode & 0o6000, 0, 'no setuid bit made real on the machine');
	// A tar only root may read is not unpacked for a container.
	const secretTar = path.join(tarDir, 'secret.tar');
	cpSync(tarFile, secretTar);
	chmodSync(secretTar, 0o600);
	const unread = await hive.submit({rootfs: secretTar, command: ['true']});
	assert.equal(unread.body.task.state, 'failed');
	assert.equal(unread.body.task.error, `rootfs ${secretTar} is not readable by others (chmod o+r ${secretTar}; a container's root is no user of this machine)`);
	const missing = await hive.submit({rootfs: '/nonexistent/rootfs', command: ['sh']});
	assert.equal(missing.body.task.state, 'failed');
	assert.equal(missing.body.task.error, 'rootfs /nonexistent/rootfs does not exist on this drone');
	const notTar = await hive.submit({rootfs: '/etc/hostname', command: ['sh']});
	assert.equal(notTar.body.task.state, 'failed');
	assert.match(notTar.body.task.error, /^rootfs \/etc\/hostname is not a directory or a tar file \(tar: /);
	// A rootfs in a directory only root may search: a container's root, no user of the machine, cannot reach it.
	const closed = temporaryDirectory(t);
	cpSync(rootfs, path.join(closed, 'busybox'), {recursive: true, verbatimSymlinks: true});
	const unreachable = await hive.submit({rootfs: path.join(closed, 'busybox'), command: ['true']});
	assert.equal(unreachable.body.task.state, 'failed');
	assert.equal(unreachable.body.task.error, `rootfs ${closed}/busybox is out of a container's reach: ${closed} is not searchable by others (chmod o+x ${closed}; a container's root is no user of this machine)`);
	const noProgram = await hive.submit({command: ['no-such-program']});
	assert.equal(noProgram.body.task.state, 'failed');
	assert.match(noProgram.body.task.error, /^runc: .*"no-such-program": executable file not found/);
	await assertNothingLeft(hive.dataDir);
});

test('a drone says its runtimes in /healthz and the queen in /drones; container tasks go only to drones with one', needsRunc, async t => {
	const hive = await containerHive(t);
	const plain = await startDrone(t, hive.queen, {allowExec: true, name: 'plain'});
	assert.deepEqual((await request(`${hive.drone.url}/healthz`)).body.runtimes, ['runc']);
	assert.deepEqual((await request(`${plain.url}/healthz`)).body.runtimes, []);
	const drones = (await request(`${hive.queen.url}/drones`)).body.drones as Array<{name: string; runtimes: string[]}>;
	assert.deepEqual(Object.fromEntries(drones.map(each => [each.name, each.runtimes])), {[hive.drone.name]: ['runc'], plain: []});
	for (let index = 0; index < 4; index++) {
		// eslint-disable-next-line no-await-in-loop -- one after another
		const {body} = await hive.submit({command: ['true']});
		assert.equal(body.task.drone, hive.drone.name);
	}
});

test('with no drone that has a container runtime, a container task waits, and its reason says so', async t => {
	const queen = await startQueen(t);
	await startDrone(t, queen, {allowExec: true});
	await startDrone(t, queen);
	const {body} = await request(`${queen.url}/submit_task`, {body: {container: {rootfs: '/srv/busybox', command: ['true']}}});
	assert.equal(body.task.state, 'pending');
	assert.equal(body.task.reason, '0/2 drones can take it: 2 have no container runtime');
	// A drone without one, asked all the same, refuses it and says why.
	const drone = await startDrone(t, queen, {allowExec: true, token: undefined});
	const refused = await request(`${drone.url}/do_task`, {body: {id: 'c1', container: {rootfs: '/srv/busybox', command: ['true']}}});
	assert.equal(refused.status, 403);
	assert.equal(refused.body.error, 'this drone runs no containers (start it with --runtime runc)');
});

test('bad container specs get a 400 that names the field, and nothing is queued', async t => {
	const queen = await startQueen(t);
	const cases: Array<[unknown, string]> = [
		[{rootfs: 'srv/busybox', command: ['true']}, 'container.rootfs must be an absolute path (it starts with /)'],
		[{command: ['true']}, 'container.rootfs is required'],
		[{rootfs: '/srv/busybox'}, 'container.command must be an array of strings, e.g. ["sh", "-c", "echo hi"]'],
		[{rootfs: '/srv/busybox', command: []}, 'container.command must not be empty: the program to run, then its arguments'],
		[{rootfs: '/srv/busybox', command: 'echo hi'}, 'container.command must be an array of strings, e.g. ["sh", "-c", "echo hi"]'],
		[{rootfs: '/srv/busybox', command: ['true'], memory: 'lots'}, 'container.memory must be a size: bytes, or a number with K, M, G or T (e.g. "64M")'],
		[{rootfs: '/srv/busybox', command: ['true'], memory: '1M'}, 'container.memory must be at least 4M (a container needs that much to start)'],
		[{rootfs: '/srv/busybox', command: ['true'], cpus: 0}, 'container.cpus must be at least 0.01'],
		[{rootfs: '/srv/busybox', command: ['true'], cpus: '1'}, 'container.cpus must be a number of CPUs, e.g. 0.5'],
		[{rootfs: '/srv/busybox', command: ['true'], pids: 1.5}, 'container.pids must be a whole number'],
		[{rootfs: '/srv/busybox', command: ['true'], workdir: 'tmp'}, 'container.workdir must be an absolute path (it starts with /)'],
		[{rootfs: '/srv/busybox', command: ['true'], env: {'A-B': 'x'}}, 'container.env.A-B keys must be variable names (letters, digits, _)'],
		[{rootfs: '/srv/busybox', command: ['true'], cpu: 1}, 'container has no field "cpu" (it takes rootfs, command, env, workdir, memory, cpus, pids)'],
		['x', 'container must be an object: {"rootfs": "/path", "command": ["sh", "-c", "..."]}'],
	];
	for (const [container, error] of cases) {
		// eslint-disable-next-line no-await-in-loop -- one case after another
		const answer = await request(`${queen.url}/submit_task`, {body: {container}});
		assert.equal(answer.status, 400, JSON.stringify(container));
		assert.deepEqual(answer.body, {error, code: 'ERR_HIVE_BAD_BODY'}, JSON.stringify(container));
	}

	const both = await request(`${queen.url}/submit_task`, {body: {command: 'true', container: {rootfs: '/srv/busybox', command: ['true']}}});
	assert.equal(both.status, 400);
	assert.equal(both.body.error, 'body has both command and container: a task is one of text, command or container');
	assert.deepEqual((await request(`${queen.url}/tasks`)).body.tasks, []);
});

test('--runtime takes only a runtime this drone knows: anything else is a bad flag (exit 2, one line)', async t => {
	const drone = spawnLarve(t, ['--queen-host', '127.0.0.1:1', '--runtime', 'podman']);
	assert.equal(await drone.exited, 2);
	assert.equal(drone.stderr.trim(), "hive-larve: --runtime must be one of runc, got 'podman'");
});

test('--runtime runc on a drone that is not root: it says why, and does not start', {skip: process.getuid?.() === 0 ? false : 'needs root to start a drone as nobody'}, async t => {
	const queen = await startQueen(t);
	const dataDir = temporaryDirectory(t);
	const drone = spawnLarve(t, ['--queen-host', queen.address, '--port', '0', '--runtime', 'runc', '--data-dir', path.join(dataDir, 'drone')], {}, {uid: 65_534, gid: 65_534});
	assert.equal(await drone.exited, 1);
	assert.match(drone.stderr, /hive-larve: --runtime runc: runc runs containers for root only here: start the drone as root \(rootless containers are not supported\)\n$/);
	assert.deepEqual((await request(`${queen.url}/drones`)).body.drones, []);
});

test('a drone refuses a container task whose id could name another directory: 400, nothing run', needsRunc, async t => {
	const hive = await containerHive(t);
	for (const id of ['../../etc', '.', 'a/b', '-rf']) {
		// eslint-disable-next-line no-await-in-loop -- one id after another
		const answer = await request(`${hive.drone.url}/do_task`, {body: {id, container: {rootfs, command: ['true']}}});
		assert.equal(answer.status, 400, id);
		assert.equal(answer.body.error, "id of a container task must be letters, digits, - and _ (the queen's are UUIDs)");
	}

	assert.equal((await request(`${hive.drone.url}/healthz`)).body.running, 0);
});

test('two drones never share a data directory: the second says which drone holds it, and does not start', needsRunc, async t => {
	const hive = await containerHive(t);
	const second = spawnLarve(t, ['--queen-host', hive.queen.address, '--port', '0', '--runtime', 'runc', '--data-dir', hive.dataDir]);
	assert.equal(await second.exited, 1);
	assert.match(second.stderr, new RegExp(`hive-larve: --runtime runc: ${hive.dataDir} is in use by another drone \\(pid ${process.pid}\\); stop it, or give this one another --data-dir\\n$`));
});
