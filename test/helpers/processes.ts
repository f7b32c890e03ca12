import {readdirSync, readFileSync} from 'node:fs';

export type ProcessInfo = {readonly pid: number; readonly ppid: number; readonly argv: readonly string[]};

/** Every process on the machine whose command line holds `marker`, read from /proc (as `pgrep -f` does). */
export function processesWith(marker: string): ProcessInfo[] {
	const found: ProcessInfo[] = [];
	for (const entry of readdirSync('/proc')) {
		if (!/^\d+$/.test(entry)) {
			continue;
		}

		try {
			const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
			if (!argv.some(arg => arg.includes(marker))) {
				continue;
			}

			// The state line: "pid (comm) S ppid ...", and comm may hold spaces or parentheses.
			const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
			const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
			found.push({pid: Number(entry), ppid, argv});
		} catch {
			// Gone while read.
		}
	}

	return found;
}

/** The processes holding `marker` whose parent does not: one per process tree that was started. */
export function treesWith(marker: string): ProcessInfo[] {
	const all = processesWith(marker);
	const pids = new Set(all.map(each => each.pid));
	return all.filter(each => !pids.has(each.ppid));
}

/** Kills what a test left running by its marker (what it started, found by a marker only it uses). */
export function killProcessesWith(marker: string): void {
	for (const {pid} of processesWith(marker)) {
		try {
			process.kill(pid, 'SIGKILL');
		} catch {}
	}
}

let counter = 0;

/**
A `sleep` argument unique to this test process and call (`sleep 901.12345`): long enough to outlive any
test, and a marker no other test, engineer or process on the machine uses.
*/
export function uniqueSleep(): string {
	counter += 1;
	return `${900 + counter}.${process.pid}`;
}
