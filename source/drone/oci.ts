import {parseMemory, type ContainerSpec} from '../model.js';

/**
The OCI runtime config (`config.json`) of one container task, as `runc spec` writes it and then made
tighter: the task's command, environment and working directory; its own pid, mount, ipc, uts and
network namespaces (no interface but loopback); a user namespace whose root is an unprivileged user
of the machine (`hostUid`), so that what is the machine root's alone (the hive's token, a queen's
store) stays out of its reach whatever rootfs it is given; a read-only root with a writable `/tmp` of
its own; the capabilities and masked paths of `runc spec`; and the task's limits, enforced by the
kernel's cgroups. Pure: the drone writes what this returns into the task's bundle.
*/

/**
Who a container's root is on the machine: the first of 65,536 ids far above any user's or any
`/etc/subuid` range, so that no file of the machine's is theirs.
*/
export const hostUid = 0x7F_FF_00_00;
const mappedIds = 65_536;

/** The processes a container may have when its task sets no `pids`: a fork bomb stays a container's problem. */
export const defaultPids = 1024;

/** The CFS period of a CPU limit: `cpus` × this is the quota. */
export const cpuPeriodUs = 100_000;

/** The `/tmp` of a container without a memory limit: its pages count against the limit when there is one. */
const defaultTmpBytes = 256 * 1024 * 1024;

export type OciOptions = {
	/** The root filesystem, a directory (a tar file is unpacked first). */
	readonly rootfs: string;
	/** Where its cgroup goes, from the cgroup root: one per task. */
	readonly cgroupsPath: string;
	readonly hostname: string;
	/** Whether the kernel accounts swap (cgroup v1's `memory.memsw`): then the limit covers swap too. */
	readonly swapAccounted: boolean;
};

/** The capabilities of `runc spec`: a root process in the container may do little beyond its own files. */
const capabilities = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

export function ociConfig(spec: ContainerSpec, options: OciOptions): Record<string, unknown> {
	const memory = spec.memory === undefined ? undefined : parseMemory(spec.memory);
	const environment = {PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', ...spec.env};
	return {
		ociVersion: '1.0.2',
		process: {
			terminal: false,
			user: {uid: 0, gid: 0},
			args: spec.command,
			env: Object.entries(environment).map(([key, value]) => `${key}=${value}`),
			cwd: spec.workdir ?? '/',
			capabilities: {bounding: capabilities, effective: capabilities, permitted: capabilities, ambient: capabilities},
			rlimits: [{type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024}],
			noNewPrivileges: true,
		},
		root: {path: options.rootfs, readonly: true},
		hostname: options.hostname,
		mounts: [
			{destination: '/proc', type: 'proc', source: 'proc'},
			{destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k']},
			{destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5']},
			{destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k']},
			{destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev']},
			{destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro']},
			// The one place it may write: its own, gone with it.
			{destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', `size=${Math.floor((memory ?? defaultTmpBytes) / 1024)}k`]},
		],
		linux: {
			namespaces: [{type: 'pid'}, {type: 'network'}, {type: 'ipc'}, {type: 'uts'}, {type: 'mount'}, {type: 'user'}],
			uidMappings: [{containerID: 0, hostID: hostUid, size: mappedIds}],
			gidMappings: [{containerID: 0, hostID: hostUid, size: mappedIds}],
			cgroupsPath: options.cgroupsPath,
			resources: {
				devices: [{allow: false, access: 'rwm'}],
				...(memory === undefined ? {} : {memory: {limit: memory, ...(options.swapAccounted ? {swap: memory} : {})}}),
				...(spec.cpus === undefined ? {} : {cpu: {quota: Math.max(1000, Math.round(spec.cpus * cpuPeriodUs)), period: cpuPeriodUs}}),
				pids: {limit: spec.pids ?? defaultPids},
			},
			maskedPaths: ['/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi'],
			readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
		},
	};
}
