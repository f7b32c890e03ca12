import {execFile} from 'node:child_process';
import {randomUUID} from 'node:crypto';
import {existsSync} from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {promisify} from 'node:util';

const run = promisify(execFile);

/** Where Debian's `busybox-static` puts its binary: one static file that is every tool of a small rootfs. */
const busybox = '/usr/bin/busybox';

/**
A busybox root filesystem in a directory of its own (`bin/busybox` and a link for each of its tools,
`etc/passwd`), built from Debian's `busybox-static` as the README says; removed with `remove`.
*/
export async function buildBusyboxRootfs(): Promise<{readonly dir: string; remove(): Promise<void>}> {
	const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'hive-rootfs-'));
	// Reachable by a container's root, which is no user of the machine (a new temporary directory is not).
	await fs.chmod(dir, 0o755);
	// No /proc, /dev, /sys or /tmp: the README's rootfs has none either, and a drone makes them.
	for (const each of ['bin', 'etc']) {
		// eslint-disable-next-line no-await-in-loop -- a few directories
		await fs.mkdir(path.join(dir, each));
	}

	await fs.copyFile(busybox, path.join(dir, 'bin', 'busybox'));
	await fs.chmod(path.join(dir, 'bin', 'busybox'), 0o755);
	const {stdout} = await run(busybox, ['--list']);
	await Promise.all(stdout.split('\n').filter(tool => tool !== '' && tool !== 'busybox').map(async tool => fs.symlink('busybox', path.join(dir, 'bin', tool))));
	await fs.writeFile(path.join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
	return {
		dir,
		async remove() {
			await fs.rm(dir, {recursive: true, force: true});
		},
	};
}

/**
Whether this machine can run a container with runc (undefined), or why not: root, `runc` and
`busybox-static` installed, and a busybox container that prints and exits. Tests that need runc skip
with this reason.
*/
export async function whyNoRunc(): Promise<string | undefined> {
	if (process.platform !== 'linux') {
		return `containers need Linux, this is ${process.platform}`;
	}

	if (process.getuid?.() !== 0) {
		return 'runc runs containers as root, and the tests do not run as root';
	}

	if (!existsSync(busybox)) {
		return `${busybox} is missing (apt-get install busybox-static)`;
	}

	try {
		await run('runc', ['--version']);
	} catch (error: unknown) {
		return `runc does not run here (apt-get install runc): ${(error as Error).message.split('\n')[0]!}`;
	}

	const rootfs = await buildBusyboxRootfs();
	const bundle = await fs.mkdtemp(path.join(os.tmpdir(), 'hive-probe-'));
	const id = `hive-probe-${randomUUID()}`;
	try {
		await run('runc', ['spec', '--bundle', bundle]);
		const config = JSON.parse(await fs.readFile(path.join(bundle, 'config.json'), 'utf8')) as {process: {terminal: boolean; args: string[]}; root: {path: string}};
		config.process.terminal = false;
		config.process.args = ['sh', '-c', 'echo ok'];
		config.root.path = rootfs.dir;
		await fs.writeFile(path.join(bundle, 'config.json'), JSON.stringify(config));
		const {stdout} = await run('runc', ['--root', path.join(bundle, 'state'), 'run', '--bundle', bundle, id], {timeout: 20_000});
		return stdout.trim() === 'ok' ? undefined : `a busybox container printed ${JSON.stringify(stdout)}, not "ok"`;
	} catch (error: unknown) {
		const stderr = (error as {stderr?: string}).stderr?.trim();
		return `runc cannot run a busybox container here: ${stderr || (error as Error).message.split('\n')[0]!}`;
	} finally {
		await run('runc', ['--root', path.join(bundle, 'state'), 'delete', '--force', id]).catch(() => undefined);
		await fs.rm(bundle, {recursive: true, force: true});
		await rootfs.remove();
	}
}
