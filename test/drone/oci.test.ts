import assert from 'node:assert/strict';
import {test} from 'node:test';
import {defaultPids, hostUid, ociConfig} from '../../source/drone/oci.js';

const options = {rootfs: '/srv/busybox', cgroupsPath: '/hive/t1', hostname: 'hive-t1', swapAccounted: true};

test('a container config: the command, a read-only root, a /tmp of its own, its own namespaces with the network among them', () => {
	const config = ociConfig({rootfs: '/ignored', command: ['sh', '-c', 'echo hi'], env: {GREETING: 'hi'}, workdir: '/tmp'}, options) as any;
	assert.deepEqual(config.process.args, ['sh', '-c', 'echo hi']);
	assert.equal(config.process.cwd, '/tmp');
	assert.equal(config.process.terminal, false);
	assert.equal(config.process.noNewPrivileges, true);
	assert.ok(config.process.env.includes('GREETING=hi'));
	assert.ok(config.process.env.some((each: string) => each.startsWith('PATH=')));
	assert.deepEqual(config.root, {path: '/srv/busybox', readonly: true});
	assert.deepEqual(config.linux.namespaces.map((each: {type: string}) => each.type).sort(), ['ipc', 'mount', 'network', 'pid', 'user', 'uts']);
	// Its root is no one on the machine.
	assert.deepEqual(config.linux.uidMappings, [{containerID: 0, hostID: hostUid, size: 65_536}]);
	assert.deepEqual(config.linux.gidMappings, [{containerID: 0, hostID: hostUid, size: 65_536}]);
	assert.equal(config.linux.cgroupsPath, '/hive/t1');
	const tmp = config.mounts.find((each: {destination: string}) => each.destination === '/tmp');
	assert.equal(tmp.type, 'tmpfs');
	assert.ok(tmp.options.includes('mode=1777'));
	assert.deepEqual(config.process.capabilities.bounding, ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE']);
	// No limits asked: none set but a bound on processes, so that a fork bomb stays inside.
	assert.deepEqual(config.linux.resources, {devices: [{allow: false, access: 'rwm'}], pids: {limit: defaultPids}});
});

test('a container config: memory, CPUs and pids become the kernel\'s limits; /tmp is bounded by the memory limit', () => {
	const config = ociConfig({rootfs: '/x', command: ['true'], memory: '64M', cpus: 0.5, pids: 32}, options) as any;
	assert.deepEqual(config.linux.resources.memory, {limit: 64 * 1024 * 1024, swap: 64 * 1024 * 1024});
	assert.deepEqual(config.linux.resources.cpu, {quota: 50_000, period: 100_000});
	assert.deepEqual(config.linux.resources.pids, {limit: 32});
	assert.ok(config.mounts.find((each: {destination: string}) => each.destination === '/tmp').options.includes('size=65536k'));
	// Where the kernel does not account swap, the limit is on memory alone (runc refuses a swap limit there).
	const noSwap = ociConfig({rootfs: '/x', command: ['true'], memory: '1G'}, {...options, swapAccounted: false}) as any;
	assert.deepEqual(noSwap.linux.resources.memory, {limit: 1024 ** 3});
});
