import {execFile, spawn} from 'node:child_process';
import {createHash} from 'node:crypto';
import {existsSync} from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import {promisify} from 'node:util';
import type {ContainerSpec} from '../model.js';
import {lockDirectory} from '../lock.js';
import type {Logger} from '../log.js';
import {containerIdPattern} from '../http/schemas.js';
import {JobError, withoutToken, type ContainerRuntime, type Job} from './executor.js';
import {hostUid, ociConfig} from './oci.js';

const run = promisify(execFile);

/**
Container tasks through Debian's `runc` (HIVE.md §11), as containerd's shim drives it, made small.

Each task is an OCI bundle the drone writes under its data directory (`bundles/ID/config.json`, see
`oci.ts`), whose root is the task's rootfs, a directory on the drone, mounted read-only (a tar file is
unpacked once, into `images/`). `runc run --keep` runs it in the foreground, its output into the
executor's pipes; `--keep` leaves its cgroup in place once it has exited, so that the drone can read
whether the kernel killed it for memory before `runc delete` removes it. A cancel, a timeout or a
stopping drone is `runc delete --force`: every process of the container is killed, and it is gone.

The drone's containers are kept apart from anyone else's in a runc state directory of its own
(`runc --root DATA_DIR/runc list` shows them). No container outlives its drone: one that stops deletes
what is left; for one killed with -9, which cannot, a guard does (`guard`); and one that starts deletes
what an earlier run of itself left there all the same (its guard killed with it, a reboot).
*/
export type RuncOptions = {
	/** The drone's data directory: `runc/` (runc's state), `bundles/`, `images/` (unpacked tar files). */
	readonly dataDir: string;
	readonly log: Logger;
	/** The runc binary. @default 'runc' */
	readonly binary?: string | undefined;
};

/** runc cannot run this drone's containers: the drone does not start (as a kubelet without its runtime). */
export class RuntimeError extends Error {
	override readonly name = 'RuntimeError';
	readonly code = 'ERR_HIVE_RUNTIME';
}

/** Where runc puts each container's cgroup, from the cgroup root of each controller. */
const cgroupParent = 'hive';
const cgroupRoot = '/sys/fs/cgroup';

export class Runc implements ContainerRuntime {
	readonly name = 'runc';
	readonly version: string;
	readonly #binary: string;
	readonly #root: string;
	readonly #bundles: string;
	readonly #images: string;
	readonly #log: Logger;
	readonly #lockFile: string;
	readonly #unified = existsSync(path.join(cgroupRoot, 'cgroup.controllers'));
	/** This drone's own part of the cgroup tree (`/hive/GROUP/ID`): named after its data directory, never another drone's. */
	readonly #cgroupGroup: string;
	readonly #swapAccounted = existsSync(path.join(cgroupRoot, 'memory', 'memory.memsw.limit_in_bytes'));
	/** Tar files being unpacked, by the directory they go to: two tasks of one image unpack it once. */
	readonly #unpacking = new Map<string, Promise<void>>();

	/**
	Whether runc can run this drone's containers here: it is installed, runs, and the drone is root
	(rootless containers are not supported). Resolves with the runtime, or with why not.
	*/
	static async probe(options: RuncOptions): Promise<{readonly runtime: Runc} | {readonly error: string}> {
		if (process.platform !== 'linux') {
			return {error: `runc needs Linux, this is ${process.platform}`};
		}

		if (process.getuid?.() !== 0) {
			return {error: 'runc runs containers for root only here: start the drone as root (rootless containers are not supported)'};
		}

		const binary = options.binary ?? 'runc';
		let version: string;
		try {
			const {stdout} = await run(binary, ['--version'], {timeout: 5000, env: withoutToken()});
			version = /runc version (\S+)/.exec(stdout)?.[1] ?? stdout.split('\n')[0]!.trim();
		} catch (error: unknown) {
			const code = (error as NodeJS.ErrnoException).code;
			return {error: code === 'ENOENT' ? `${binary} is not installed (apt-get install runc)` : `${binary} --version failed: ${firstLine(error)}`};
		}

		// Searchable, not readable, by others: the way to the unpacked images, for a container's user.
		await fs.mkdir(options.dataDir, {recursive: true, mode: 0o711});
		// One drone a directory: another's start would delete this one's containers.
		const lockFile = await lockDirectory(options.dataDir, 'drone', message => new RuntimeError(`--runtime runc: ${message}`));
		const runtime = new Runc(options, version, lockFile);
		await fs.mkdir(runtime.#images, {recursive: true, mode: 0o711});
		await fs.mkdir(runtime.#root, {recursive: true, mode: 0o700});
		await fs.mkdir(runtime.#bundles, {recursive: true, mode: 0o700});
		return {runtime};
	}

	private constructor(options: RuncOptions, version: string, lockFile: string) {
		this.version = version;
		this.#lockFile = lockFile;
		this.#binary = options.binary ?? 'runc';
		this.#root = path.join(options.dataDir, 'runc');
		this.#bundles = path.join(options.dataDir, 'bundles');
		this.#images = path.join(options.dataDir, 'images');
		this.#cgroupGroup = createHash('sha256').update(path.resolve(options.dataDir)).digest('hex').slice(0, 12);
		this.#log = options.log;
	}

	/** runc's state directory of this drone: `runc --root THIS list` shows its containers. */
	get root(): string {
		return this.#root;
	}

	job(id: string, spec: ContainerSpec): Job {
		if (!containerIdPattern.test(id)) {
			// It names a directory that is removed as root: the drone's routes never let another id through.
			throw new Error(`${JSON.stringify(id)} cannot name a container`);
		}

		const bundle = path.join(this.#bundles, id);
		const runcLog = path.join(bundle, 'runc.log');
		const cgroupsPath = `/${cgroupParent}/${this.#cgroupGroup}/${id}`;
		return {
			start: async signal => {
				const rootfs = await abortable(this.#rootfs(spec.rootfs), signal);
				await fs.rm(bundle, {recursive: true, force: true});
				await fs.mkdir(bundle, {recursive: true, mode: 0o700});
				const config = ociConfig(spec, {rootfs, cgroupsPath, hostname: `hive-${id.slice(0, 8)}`, swapAccounted: this.#swapAccounted});
				await fs.writeFile(path.join(bundle, 'config.json'), JSON.stringify(config));
				// The container's environment is its config's alone; runc's own is the drone's, less the token.
				return {file: this.#binary, args: ['--root', this.#root, '--log', runcLog, '--log-format', 'json', 'run', '--keep', '--bundle', bundle, id], env: withoutToken()};
			},
			stop: async () => {
				await this.#delete(id);
			},
			finish: async ({exitCode, stopped}) => {
				const oomKills = stopped || spec.memory === undefined ? 0 : await this.#oomKills(cgroupsPath);
				const failure = await runcFailure(runcLog);
				await this.#delete(id);
				await fs.rm(bundle, {recursive: true, force: true});
				if (stopped || exitCode === 0) {
					return undefined;
				}

				if (oomKills > 0) {
					return `memory limit (${spec.memory}) exceeded: the kernel killed ${oomKills === 1 ? 'a process' : `${oomKills} processes`} of the container (exit ${exitCode})`;
				}

				return failure === undefined ? undefined : `runc: ${failure}`;
			},
		};
	}

	/**
	Starts the guard of this drone's containers: a small shell, outside the drone's process group, that
	reads a pipe from the drone until it closes, then deletes every container left in the drone's state
	directory. The pipe closes when the drone's process ends, however it ends: a drone killed with -9
	takes its containers with it. `release` closes it on purpose (a drone that stops).
	*/
	guard(): {release(): void} {
		// Deaf to the signals that stop the drone's service with it (systemd's KillMode=control-group): it ends when the pipe does.
		const sweep = 'trap "" HUP INT TERM; cat > /dev/null; for id in $(ls "$1"); do "$0" --root "$1" delete --force "$id"; done';
		const child = spawn('/bin/sh', ['-c', sweep, this.#binary, this.#root], {detached: true, stdio: ['pipe', 'ignore', 'ignore'], env: withoutToken()});
		child.on('error', error => {
			this.#log.warn({err: error.message}, 'the guard of this drone\'s containers did not start: a drone killed with -9 leaves them until it starts again');
		});
		// Neither the guard nor its pipe keeps the drone's process alive.
		child.unref();
		const pipe = child.stdin as (typeof child.stdin & {unref?: () => void}) | null;
		pipe?.on('error', () => undefined);
		pipe?.unref?.();
		return {
			release() {
				pipe?.end();
			},
		};
	}

	/** Deletes every container in this drone's state directory and every bundle left: what an earlier run left, or what is left as it stops. */
	async sweep(): Promise<readonly string[]> {
		// Each container is a directory of runc's state, a half-made one too (no state.json yet: `runc list` leaves it out).
		const ids = await fs.readdir(this.#root).catch(() => []);
		await Promise.all(ids.map(async id => this.#delete(id)));
		for (const entry of await fs.readdir(this.#bundles).catch(() => [])) {
			// eslint-disable-next-line no-await-in-loop -- a few directories, one after another
			await fs.rm(path.join(this.#bundles, entry), {recursive: true, force: true});
		}

		for (const entry of await fs.readdir(this.#images).catch(() => [])) {
			if (entry.includes('.partial-')) {
				// eslint-disable-next-line no-await-in-loop -- what an unpack cut short left
				await fs.rm(path.join(this.#images, entry), {recursive: true, force: true});
			}
		}

		return ids;
	}

	/** Gives the data directory back, and its branch of the cgroup tree (the drone stops, its containers deleted). */
	async close(): Promise<void> {
		const controllers = this.#unified ? [cgroupRoot] : (await fs.readdir(cgroupRoot).catch(() => [])).map(each => path.join(cgroupRoot, each));
		// Empty once its containers are deleted; rmdir is how a cgroup is removed (and it leaves one in use alone).
		await Promise.all(controllers.map(async each => fs.rmdir(path.join(each, cgroupParent, this.#cgroupGroup)).catch(() => undefined)));
		await fs.rm(this.#lockFile, {force: true});
	}

	/** Kills every process of a container and removes it; nothing when it is not there. */
	async #delete(id: string): Promise<void> {
		try {
			await run(this.#binary, ['--root', this.#root, 'delete', '--force', id], {timeout: 10_000, env: withoutToken()});
		} catch (error: unknown) {
			const message = firstLine(error);
			if (!/does not exist|not exist/.test(message)) {
				this.#log.warn({container: id, err: message}, `could not delete container ${id}`);
			}
		}
	}

	/** How many times the kernel killed a process of the container for its memory limit (its cgroup is kept by `--keep` until deleted). */
	async #oomKills(cgroupsPath: string): Promise<number> {
		const file = this.#unified ? path.join(cgroupRoot, cgroupsPath, 'memory.events') : path.join(cgroupRoot, 'memory', cgroupsPath, 'memory.oom_control');
		try {
			const text = await fs.readFile(file, 'utf8');
			return Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 0);
		} catch {
			return 0;
		}
	}

	/** The rootfs to mount: the directory itself, or a tar file unpacked once into `images/`. */
	async #rootfs(rootfs: string): Promise<string> {
		let stats;
		try {
			stats = await fs.stat(rootfs);
		} catch (error: unknown) {
			const code = (error as NodeJS.ErrnoException).code;
			throw new JobError(code === 'ENOENT' ? `rootfs ${rootfs} does not exist on this drone` : `rootfs ${rootfs}: ${code ?? String(error)}`);
		}

		if (stats.isDirectory()) {
			await mustReach(rootfs);
			await makeMountPoints(rootfs);
			return rootfs;
		}

		if (!stats.isFile()) {
			throw new JobError(`rootfs ${rootfs} is not a directory or a tar file`);
		}

		// Unpacked by no one the tar's reader could not be: what only root may read stays root's.
		await mustReach(path.dirname(rootfs), rootfs);
		if ((stats.mode & 0o004) === 0) {
			throw new JobError(`rootfs ${rootfs} is not readable by others (chmod o+r ${rootfs}; a container's root is no user of this machine)`);
		}

		const key = createHash('sha256').update(`${rootfs}\0${stats.size}\0${stats.mtimeMs}`).digest('hex').slice(0, 24);
		const target = path.join(this.#images, key);
		if (existsSync(target)) {
			return target;
		}

		let unpacking = this.#unpacking.get(target);
		if (!unpacking) {
			unpacking = this.#unpack(rootfs, target).finally(() => this.#unpacking.delete(target));
			this.#unpacking.set(target, unpacking);
		}

		await unpacking;
		return target;
	}

	/**
	Unpacks a tar file as a container's user, not as root: no owner, device node or setuid bit of the
	archive is made real on the machine, and what it holds is its files' as the container sees them.
	*/
	async #unpack(file: string, target: string): Promise<void> {
		const partial = `${target}.partial-${process.pid}`;
		await fs.rm(partial, {recursive: true, force: true});
		await fs.mkdir(partial, {recursive: true, mode: 0o755});
		await fs.chown(partial, hostUid, hostUid);
		try {
			await run('tar', ['-xf', file, '-C', partial, '--no-same-owner', '--no-same-permissions'], {cwd: partial, timeout: 120_000, maxBuffer: 1024 * 1024, uid: hostUid, gid: hostUid, env: withoutToken()});
			// Its top as the container's root needs it, whatever mode the archive's `./` had; then its mount points.
			await fs.chmod(partial, 0o755);
			await makeMountPoints(partial);
		} catch (error: unknown) {
			await fs.rm(partial, {recursive: true, force: true});
			throw error instanceof JobError ? error : new JobError(`rootfs ${file} is not a directory or a tar file (${firstLine(error)})`);
		}

		await fs.rename(partial, target).catch(async (error: unknown) => {
			// An unpack of the same version that ended first: the same files.
			await fs.rm(partial, {recursive: true, force: true});
			if (!existsSync(target)) {
				throw error;
			}
		});
		this.#log.info({rootfs: file, unpacked: target}, `unpacked ${file}`);
	}
}

/**
Throws a `JobError` unless a container's user (no user of this machine: see `hostUid` in oci.ts) can
reach `dir`: every directory on its way must be searchable by others.
*/
async function mustReach(dir: string, rootfs = dir): Promise<void> {
	const ways: string[] = [];
	for (let each = path.resolve(dir); ; each = path.dirname(each)) {
		ways.unshift(each);
		if (path.dirname(each) === each) {
			break;
		}
	}

	for (const each of ways) {
		// eslint-disable-next-line no-await-in-loop -- from / down, the first one closed is the one to name
		const {mode} = await fs.stat(each);
		if ((mode & 0o001) === 0) {
			throw new JobError(`rootfs ${rootfs} is out of a container's reach: ${each} is not searchable by others (chmod o+x ${each}; a container's root is no user of this machine)`);
		}
	}
}

/** Where a container's filesystems are mounted, from its root: see `mounts` in oci.ts. */
const mountPoints = ['proc', 'dev', 'sys', 'tmp'];

/**
Makes the directories a container's filesystems are mounted on, as runc would (and cannot, here: in
its user namespace, the container's root may not write a rootfs that is the machine root's).
*/
async function makeMountPoints(rootfs: string): Promise<void> {
	for (const each of mountPoints) {
		try {
			// eslint-disable-next-line no-await-in-loop -- four directories
			await fs.mkdir(path.join(rootfs, each), {mode: 0o755});
		} catch (error: unknown) {
			const code = (error as NodeJS.ErrnoException).code;
			if (code !== 'EEXIST') {
				throw new JobError(`rootfs ${rootfs} has no /${each} to mount on, and the drone cannot make one (${code ?? String(error)})`);
			}
		}
	}
}

/** The error runc logged (its `--log` in JSON), if any: why a container could not start. */
async function runcFailure(logFile: string): Promise<string | undefined> {
	let text: string;
	try {
		text = await fs.readFile(logFile, 'utf8');
	} catch {
		return undefined;
	}

	for (const line of text.split('\n').reverse()) {
		try {
			const entry = JSON.parse(line) as {level?: string; msg?: string};
			if ((entry.level === 'error' || entry.level === 'fatal') && entry.msg) {
				return entry.msg.replace(/^runc run failed: /, '');
			}
		} catch {}
	}

	return undefined;
}

/** A promise, or a rejection as soon as `signal` aborts (the promise goes on, its end unheard). */
async function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
	signal.throwIfAborted();
	let onAbort: (() => void) | undefined;
	try {
		return await Promise.race([promise, new Promise<never>((_resolve, reject) => {
			onAbort = () => {
				reject(new JobError('stopped before it started'));
			};

			signal.addEventListener('abort', onAbort, {once: true});
		})]);
	} finally {
		signal.removeEventListener('abort', onAbort!);
	}
}

/** An exec error's stderr, first line, or its message. */
function firstLine(error: unknown): string {
	const stderr = (error as {stderr?: string}).stderr?.trim();
	const text = stderr || (error instanceof Error ? error.message : String(error));
	return text.split('\n').find(line => line.trim() !== '')?.trim() ?? text;
}
