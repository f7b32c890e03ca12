import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
Takes a directory's `LOCK` for this process (a queen's store, a drone's containers): refused while the
larve that holds it runs, with the error `refuse` makes of the reason; the lock of one that died
(killed, crashed) is taken over. Resolves with the lock file, which the holder removes as it stops.
*/
export async function lockDirectory(dir: string, what: 'queen' | 'drone', refuse: (message: string) => Error): Promise<string> {
	const file = path.join(dir, 'LOCK');
	const mine = JSON.stringify({pid: process.pid, host: os.hostname(), since: new Date().toISOString()});
	for (let attempt = 0; attempt < 2; attempt++) {
		try {
			// eslint-disable-next-line no-await-in-loop
			await fs.writeFile(file, mine, {flag: 'wx', mode: 0o600});
			return file;
		} catch (error: unknown) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
				throw error;
			}
		}

		// eslint-disable-next-line no-await-in-loop
		const holder = await fs.readFile(file, 'utf8').then(text => JSON.parse(text) as {pid?: number; host?: string}, () => ({pid: undefined, host: undefined}));
		if (holder.pid !== undefined && holder.pid !== process.pid && (holder.host === undefined || holder.host === os.hostname()) && isRunning(holder.pid)) {
			throw refuse(`${dir} is in use by another ${what} (pid ${holder.pid}); stop it, or give this one another --data-dir`);
		}

		// The one that held it is gone: move its lock aside (one of two racing larves wins the rename).
		// eslint-disable-next-line no-await-in-loop
		await fs.rename(file, `${file}.stale-${process.pid}`).catch(() => undefined);
		// eslint-disable-next-line no-await-in-loop
		await fs.rm(`${file}.stale-${process.pid}`, {force: true});
	}

	throw refuse(`${dir} is in use by another ${what} that is starting; give this one another --data-dir`);
}

function isRunning(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (error: unknown) {
		return (error as NodeJS.ErrnoException).code === 'EPERM';
	}
}
