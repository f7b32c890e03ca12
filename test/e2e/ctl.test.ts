import assert from 'node:assert/strict';
import {execFileSync, spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, before, describe, test, type TestContext} from 'node:test';
import stringWidth from 'string-width';
import {cliPath, spawnLarve, type Spawned} from '../helpers/binary.js';
import {clientEnv, startCtl as start, type Run, type Running} from '../helpers/ctl.js';
import {request} from '../helpers/larves.js';
import {killProcessesWith, processesWith, uniqueSleep} from '../helpers/processes.js';
import {deadAddress} from '../helpers/servers.js';
import {waitFor} from '../helpers/wait.js';

/** The client's subcommands, driven as people and scripts run them: the built binary against a real hive. */

const token = 'ctl-test-token';

/** util-linux's `script`, which gives a command a pseudo-terminal. */
const hasScript = (() => {
	try {
		execFileSync('script', ['--version'], {stdio: 'ignore'});
		return true;
	} catch {
		return false;
	}
})();
const fast = ['--heartbeat-interval', '0.2', '--retry-delay', '0.1', '--heartbeat-timeout', '0.5'];

function stop(running: Running): void {
	if (running.child.exitCode === null && running.child.signalCode === null) {
		running.child.kill('SIGKILL');
	}
}

/** One line on standard error, as every failure says it. */
function oneLine(run: Run): string {
	const lines = run.stderr.trimEnd().split('\n');
	assert.equal(lines.length, 1, `one line on stderr: ${JSON.stringify(run.stderr)}`);
	assert.match(lines[0]!, /^hive-larve: /);
	return lines[0]!;
}

describe('hive-larve\'s commands against a hive', () => {
	let queen: Spawned;
	let queenHost: string;
	let queenUrl: string;
	const drones: Spawned[] = [];
	const markers: string[] = [];
	const auth = {authorization: `Bearer ${token}`};
	/** Drone bee-a has zone=a, bee-b zone=b; both pool=x. */
	const droneAddress: Record<string, string> = {};

	const ctl = async (args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> => start(args, {HIVE_QUEEN: queenHost, HIVE_TOKEN: token, ...env}).done;
	const follow = (args: readonly string[]): Running => start(args, {HIVE_QUEEN: queenHost, HIVE_TOKEN: token});
	const taskJson = async (id: string) => (await request(`${queenUrl}/tasks/${id}`, {headers: auth})).body.task;
	const submitJson = async (body: Record<string, unknown>) => {
		const answer = await request(`${queenUrl}/submit_task`, {body, headers: auth});
		assert.ok(answer.status === 200 || answer.status === 202, JSON.stringify(answer.body));
		return answer.body.task;
	};

	/** A file a command waits for: the test decides when the command goes on. */
	const gateFile = (t: TestContext): string => {
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hive-ctl-'));
		t.after(() => {
			fs.rmSync(dir, {recursive: true, force: true});
		});
		return path.join(dir, 'go');
	};

	const sleeper = () => {
		const marker = uniqueSleep();
		markers.push(marker);
		return marker;
	};

	before(async () => {
		queen = spawnLarve(undefined, ['--queen', '--port', '0', '--store', 'memory', ...fast], {HIVE_TOKEN: token});
		queenUrl = await queen.url();
		queenHost = queenUrl.replace('http://', '');
		for (const [name, zone] of [['bee-a', 'a'], ['bee-b', 'b']] as const) {
			const drone = spawnLarve(undefined, ['--queen-host', queenHost, '--port', '0', '--allow-exec', '--name', name, '--label', `zone=${zone}`, '--label', 'pool=x'], {HIVE_TOKEN: token});
			drones.push(drone);
			// eslint-disable-next-line no-await-in-loop
			droneAddress[name] = (await drone.url()).replace('http://', '');
		}

		await waitFor(async () => Object.keys((await request(`${queenUrl}/healthz`)).body.drones).length === 2, 'two drones registered');
	});

	after(async () => {
		for (const larve of [...drones, queen]) {
			larve.child.kill('SIGKILL');
		}

		await Promise.all([...drones, queen].map(async larve => larve.exited));
		for (const marker of markers) {
			killProcessesWith(marker);
		}
	});

	test('submit TEXT prints the task\'s whole id and where it went; -o json is the queen\'s answer', async () => {
		const run = await ctl(['submit', 'hello', 'bees']);
		assert.equal(run.status, 0, run.stderr);
		const [, id] = /^task ([\da-f-]{36}) succeeded on bee-[ab]\n$/.exec(run.stdout) ?? [];
		assert.ok(id, run.stdout);
		assert.equal((await taskJson(id)).text, 'hello bees');

		const json = await ctl(['submit', '-o', 'json', 'as json']);
		assert.equal(json.status, 0, json.stderr);
		const answer = JSON.parse(json.stdout);
		assert.equal(answer.result, 'OK');
		assert.equal(answer.task.text, 'as json');
		assert.equal(answer.task.kind, 'text');
	});

	test('submit --command --wait prints how it ended and the output, and exits 0 only if it succeeded', async () => {
		const good = await ctl(['submit', '--command', 'echo out; echo err >&2', '--wait']);
		assert.equal(good.status, 0, good.stderr);
		assert.match(good.stdout, /^task [\da-f-]{36} succeeded on bee-[ab] \(exit 0, \d+ms\)\nout\n$/);
		assert.equal(good.stderr, 'err\n');

		const bad = await ctl(['submit', '--command', 'echo failing; exit 3', '--wait']);
		assert.equal(bad.status, 1);
		assert.match(bad.stdout, /failed on bee-[ab] \(\d+ms\): exited with 3\n/);
		assert.match(bad.stdout, /\nfailing\n$/);

		const json = await ctl(['submit', '--command', 'printf "%s" json-out', '--wait', '--output', 'json']);
		assert.equal(json.status, 0, json.stderr);
		const answer = JSON.parse(json.stdout);
		assert.equal(answer.task.state, 'succeeded');
		assert.equal(answer.task.result.stdout, 'json-out');
		assert.equal(answer.task.result.exitCode, 0);
	});

	test('submit --idempotency-key twice makes one task', async () => {
		const first = JSON.parse((await ctl(['submit', '-o', 'json', '--idempotency-key', 'ctl-key-1', 'once'])).stdout);
		const second = JSON.parse((await ctl(['submit', '-o', 'json', '--idempotency-key', 'ctl-key-1', 'once'])).stdout);
		assert.equal(second.task.id, first.task.id);
	});

	test('tasks: a table with its header, 8-character ids, newest first; --state filters; -o json parses', async () => {
		const task = await submitJson({command: 'true'});
		await waitFor(async () => (await taskJson(task.id)).state === 'succeeded', 'the task to succeed');
		const run = await ctl(['tasks']);
		assert.equal(run.status, 0, run.stderr);
		const lines = run.stdout.trimEnd().split('\n');
		assert.match(lines[0]!, /^ID {9}STATE +DRONE +AGE +KIND +TASK$/);
		assert.match(lines[1]!, new RegExp(`^${task.id.slice(0, 8)} +succeeded +bee-[ab] +\\d+s +command +true$`));

		const failed = await ctl(['tasks', '--state', 'failed', '-o', 'json']);
		const answer = JSON.parse(failed.stdout);
		assert.ok(answer.tasks.length > 0);
		assert.ok(answer.tasks.every((each: {state: string}) => each.state === 'failed'));
		assert.equal(typeof answer.total, 'number');

		const limited = JSON.parse((await ctl(['tasks', '--limit', '1', '-o', 'json'])).stdout);
		assert.equal(limited.tasks.length, 1);
	});

	test('task ID takes the 8 characters a list shows, and describes the task with its output', async () => {
		const task = await submitJson({command: 'echo described'});
		await waitFor(async () => (await taskJson(task.id)).state === 'succeeded', 'the task to succeed');
		const run = await ctl(['task', task.id.slice(0, 8)]);
		assert.equal(run.status, 0, run.stderr);
		assert.match(run.stdout, new RegExp(`^ID: +${task.id}\n`));
		assert.match(run.stdout, /\nState: +succeeded\n/);
		assert.match(run.stdout, /\nStdout:\n {2}described\n/);

		const json = JSON.parse((await ctl(['task', task.id.slice(0, 8), '-o', 'json'])).stdout);
		assert.equal(json.task.id, task.id);
	});

	test('an ambiguous prefix: exit 1, one line naming the matches; an unknown id: exit 1', async () => {
		const ids: string[] = [];
		for (let index = 0; index < 40; index++) {
			// eslint-disable-next-line no-await-in-loop
			ids.push((await submitJson({text: `many ${index}`})).id);
		}

		const counts = new Map<string, number>();
		for (const id of ids) {
			counts.set(id[0]!, (counts.get(id[0]!) ?? 0) + 1);
		}

		// 40 ids over 16 hex digits: one digit starts several.
		const [prefix] = [...counts].find(([, count]) => count >= 2)!;
		const run = await ctl(['task', prefix]);
		assert.equal(run.status, 1);
		const line = oneLine(run);
		assert.match(line, new RegExp(`'${prefix}' matches \\d+ tasks`));
		const shown = ids.filter(id => id.startsWith(prefix)).filter(id => line.includes(id.slice(0, 4)));
		assert.ok(shown.length >= 2, line);

		const unknown = await ctl(['task', 'ffffffff-0000']);
		assert.equal(unknown.status, 1);
		assert.match(oneLine(unknown), /no task/);
	});

	test('cancel of a pending task: it leaves the queue, says who; a second cancel is refused (409)', async () => {
		const task = await submitJson({text: 'never', selector: {zone: 'nowhere'}});
		assert.equal(task.state, 'pending');
		const run = await ctl(['cancel', task.id.slice(0, 8)], {USER: 'alice'});
		assert.equal(run.status, 0, run.stderr);
		assert.match(run.stdout, new RegExp(`^task ${task.id} cancelled by alice@`));
		const record = await taskJson(task.id);
		assert.equal(record.state, 'cancelled');
		assert.match(record.cancelled.by, /^alice@/);

		const again = await ctl(['cancel', task.id]);
		assert.equal(again.status, 1);
		assert.match(oneLine(again), /already cancelled/);
	});

	test('cancel of a running command: the drone no longer holds it and its processes are gone', async () => {
		const marker = sleeper();
		const submitted = await ctl(['submit', '-o', 'json', '--command', `sleep ${marker} & sleep ${marker}; echo never`]);
		const {task} = JSON.parse(submitted.stdout);
		await waitFor(() => processesWith(marker).length >= 2, 'both sleeps to run');
		const drone = droneAddress[(await waitFor(async () => (await taskJson(task.id)).drone as string | null, 'the task placed'))]!;
		assert.ok(((await request(`http://${drone}/healthz`, {headers: auth})).body.tasks as string[]).includes(task.id));

		const run = await ctl(['cancel', task.id]);
		assert.equal(run.status, 0, run.stderr);
		assert.match(run.stdout, /cancelled/);
		await waitFor(() => processesWith(marker).length === 0, `no process with ${marker} left`);
		await waitFor(async () => !((await request(`http://${drone}/healthz`, {headers: auth})).body.tasks as string[]).includes(task.id), 'the drone to let go of the task');
		assert.equal((await taskJson(task.id)).state, 'cancelled');
	});

	test('cordon: drones shows it, a task only it could take waits and says why; uncordon lets it run', async () => {
		const cordoned = await ctl(['cordon', 'bee-a']);
		assert.equal(cordoned.status, 0, cordoned.stderr);
		assert.equal(cordoned.stdout, 'drone bee-a cordoned\n');
		try {
			const list = await ctl(['drones']);
			assert.match(list.stdout, /^NAME +STATUS +ADDRESS +RUNNING +DONE +EXEC +LABELS +AGE\n/);
			assert.match(list.stdout, /\nbee-a +ready,cordoned +/);
			assert.match(list.stdout, /\nbee-b +ready +/);

			const waiting = JSON.parse((await ctl(['submit', '-o', 'json', '--selector', 'zone=a', 'for a'])).stdout).task;
			assert.equal(waiting.state, 'pending');
			const shown = await ctl(['task', waiting.id]);
			assert.match(shown.stdout, /\nReason: +.*cordoned \(bee-a\)/);

			const uncordoned = await ctl(['uncordon', 'bee-a']);
			assert.equal(uncordoned.stdout, 'drone bee-a uncordoned\n');
			await waitFor(async () => (await taskJson(waiting.id)).state === 'succeeded', 'the waiting task to run on bee-a');
		} finally {
			await ctl(['uncordon', 'bee-a']);
		}
	});

	test('drain waits for the command in flight to end, and the drone stays cordoned', async t => {
		const gate = gateFile(t);
		const task = await submitJson({command: `while [ ! -e ${gate} ]; do sleep 0.05; done; echo done`, selector: {zone: 'b'}});
		await waitFor(async () => (await taskJson(task.id)).state === 'running', 'the command to run');
		try {
			const draining = follow(['drain', 'bee-b']);
			t.after(() => {
				stop(draining);
			});
			await waitFor(async () => (await request(`${queenUrl}/drones/bee-b`, {headers: auth})).body.drone.drain, 'the drain to begin');
			assert.equal(draining.child.exitCode, null, 'the drain waits while the command runs');
			fs.writeFileSync(gate, '');
			const run = await draining.done;
			assert.equal(run.status, 0, run.stderr);
			assert.equal(run.stdout, 'drone bee-b drained\n');
			// It ended before the drain did: it was let finish, not moved.
			const record = await taskJson(task.id);
			assert.equal(record.state, 'succeeded');
			assert.equal(record.drone, 'bee-b');
			const drone = JSON.parse((await ctl(['drones', '-o', 'json'])).stdout).drones.find((each: {name: string}) => each.name === 'bee-b');
			assert.equal(drone.cordoned, true);
			assert.equal(drone.drain, null);
		} finally {
			await ctl(['uncordon', 'bee-b']);
		}
	});

	test('drain --deadline 1: the command still running is killed and placed on another drone', async () => {
		const marker = sleeper();
		await ctl(['cordon', 'bee-a']);
		const task = await submitJson({command: `sleep ${marker}`, selector: {pool: 'x'}});
		await waitFor(async () => (await taskJson(task.id)).state === 'running', 'the command to run on bee-b');
		assert.equal((await taskJson(task.id)).drone, 'bee-b');
		await ctl(['uncordon', 'bee-a']);
		try {
			const run = await ctl(['drain', 'bee-b', '--deadline', '1', '-o', 'json']);
			assert.equal(run.status, 0, run.stderr);
			assert.equal(JSON.parse(run.stdout).drone.name, 'bee-b');
			await waitFor(async () => {
				const record = await taskJson(task.id);
				return record.drone === 'bee-a' && record.state === 'running';
			}, 'the command to run again on bee-a');
		} finally {
			await ctl(['cancel', task.id]);
			await ctl(['uncordon', 'bee-b']);
		}
	});

	test('drain --no-wait returns at once with the drain begun', async () => {
		const marker = sleeper();
		const task = await submitJson({command: `sleep ${marker}`, selector: {zone: 'a'}});
		await waitFor(async () => (await taskJson(task.id)).state === 'running', 'the command to run');
		try {
			const run = await ctl(['drain', 'bee-a', '--no-wait', '--deadline', '600']);
			assert.equal(run.status, 0, run.stderr);
			assert.match(run.stdout, /^drone bee-a cordoned, draining \(deadline in \d+m\)\n$/);
			assert.equal((await taskJson(task.id)).state, 'running');
			const list = await ctl(['drones']);
			assert.match(list.stdout, /\nbee-a +ready,draining +/);
		} finally {
			await ctl(['cancel', task.id]);
			await ctl(['uncordon', 'bee-a']);
		}
	});

	test('logs --follow prints a command\'s lines as it prints them, then exits with its outcome', async t => {
		const gate = gateFile(t);
		const task = await submitJson({command: `echo line1; while [ ! -e ${gate} ]; do sleep 0.05; done; echo line2; echo line3; echo warn >&2`});
		const logs = follow(['logs', task.id.slice(0, 8), '--follow']);
		t.after(() => {
			stop(logs);
		});
		await waitFor(() => logs.stdout.startsWith('line1\n'), 'the first line');
		// Seen while the command still runs (it waits for the gate): streamed, not printed at the end.
		assert.equal((await taskJson(task.id)).state, 'running');
		assert.equal(logs.child.exitCode, null);
		fs.writeFileSync(gate, '');
		const run = await logs.done;
		assert.equal(run.status, 0, run.stderr);
		assert.equal(run.stdout, 'line1\nline2\nline3\n');
		assert.equal(run.stderr, 'warn\n');

		// Afterwards, without --follow: what it kept, on the same streams.
		const again = await ctl(['logs', task.id]);
		assert.equal(again.status, 0);
		assert.equal(again.stdout, 'line1\nline2\nline3\n');
		assert.equal(again.stderr, 'warn\n');

		const json = await ctl(['logs', task.id, '-o', 'json']);
		const lines = json.stdout.trimEnd().split('\n').map(line => JSON.parse(line));
		assert.deepEqual(lines.at(-1).end.state, 'succeeded');
		assert.ok(lines.some(line => line.stream === 'stdout' && line.data.includes('line2')));
	});

	test('logs --follow of a command that fails exits 1', async () => {
		const task = await submitJson({command: 'sleep 0.2; echo bye; exit 4'});
		const run = await ctl(['logs', task.id, '--follow']);
		assert.equal(run.status, 1);
		assert.equal(run.stdout, 'bye\n');
	});

	test('events: the backlog as a table and as JSON; --follow goes on with what happens', async t => {
		const table = await ctl(['events']);
		assert.equal(table.status, 0, table.stderr);
		assert.match(table.stdout, /^AGE +TYPE +OBJECT +MESSAGE\n/);
		assert.match(table.stdout, /\n\d+[smhd] +drone\.registered +drone\/bee-a +registered at /);
		assert.match(table.stdout, /\n\d+[smhd] +task\.submitted +task\/[\da-f]{8} /);

		const json = JSON.parse((await ctl(['events', '-o', 'json'])).stdout);
		assert.ok(json.events.some((event: {type: string}) => event.type === 'drone.cordoned'));

		const following = follow(['events', '--follow', '-o', 'json']);
		t.after(() => {
			stop(following);
		});
		await waitFor(() => following.stdout.includes('"drone.registered"'), 'the backlog');
		const task = await submitJson({text: 'seen live'});
		await waitFor(() => following.stdout.split('\n').filter(Boolean).map(line => JSON.parse(line)).some(event => event.type === 'task.submitted' && event.task.id === task.id), 'the live submit');
		assert.equal(following.child.exitCode, null);

		const followingTable = follow(['events', '--follow']);
		t.after(() => {
			stop(followingTable);
		});
		const live = await submitJson({text: 'seen in the table'});
		await waitFor(() => followingTable.stdout.includes(`task/${live.id.slice(0, 8)}`), 'the live row');
		assert.match(followingTable.stdout, /^AGE +TYPE +OBJECT +MESSAGE\n/);
	});

	test('several queens: the next is asked when the first does not answer', async () => {
		const run = await ctl(['drones', '--queen-host', `${await deadAddress()},${queenHost}`]);
		assert.equal(run.status, 0, run.stderr);
		assert.match(run.stdout, /\nbee-a /);
	});

	test('a token from --token-file; --token works and warns', async t => {
		const {writeFileSync, mkdtempSync, rmSync} = await import('node:fs');
		const {tmpdir} = await import('node:os');
		const dir = mkdtempSync(`${tmpdir()}/hive-ctl-`);
		t.after(() => {
			rmSync(dir, {recursive: true, force: true});
		});
		writeFileSync(`${dir}/token`, `${token}\n`);
		const fromFile = await ctl(['drones', '--token-file', `${dir}/token`], {HIVE_TOKEN: ''});
		assert.equal(fromFile.status, 0, fromFile.stderr);

		const onLine = await ctl(['drones', '--token', token], {HIVE_TOKEN: ''});
		assert.equal(onLine.status, 0);
		assert.match(onLine.stderr, /--token is readable by every user/);
	});

	test('a wrong token: exit 1, one line saying 401 and what to set', async () => {
		const run = await ctl(['tasks'], {HIVE_TOKEN: 'wrong'});
		assert.equal(run.status, 1);
		assert.match(oneLine(run), /the queen refused the token \(401\): set HIVE_TOKEN/);
		assert.equal(run.stdout, '');
	});

	test('on a terminal, table rows are cut to its width', {skip: hasScript ? false : 'no script(1) here'}, async () => {
		// A long command makes a wide row; `script` gives the client a pseudo-terminal 40 columns wide.
		const wide = await submitJson({text: `wide ${'蜂'.repeat(60)} ${'x'.repeat(80)}`});
		const command = `stty cols 40 rows 50; exec '${process.execPath}' '${cliPath}' tasks`;
		const script = spawn('script', ['-qec', command, '/dev/null'], {env: clientEnv({HIVE_QUEEN: queenHost, HIVE_TOKEN: token}), stdio: ['ignore', 'pipe', 'pipe']});
		let screen = '';
		script.stdout.on('data', (chunk: Buffer) => {
			screen += chunk.toString();
		});
		const status = await new Promise(resolve => script.on('close', resolve));
		assert.equal(status, 0, screen);
		const lines = screen.split(/\r?\n/).filter(Boolean);
		assert.match(lines[0]!, /^ID +STATE/);
		assert.ok(lines.some(line => line.startsWith(wide.id.slice(0, 8)) && line.endsWith('…')), screen);
		for (const line of lines) {
			assert.ok(stringWidth(line) <= 40, `${JSON.stringify(line)} is ${stringWidth(line)} columns`);
		}

		// Piped, nothing is cut.
		const piped = await ctl(['tasks']);
		assert.ok(piped.stdout.includes('x'.repeat(80)));
	});
});

describe('hive-larve\'s commands without a hive', () => {
	test('an unreachable queen: exit 1, one line naming it', async () => {
		const address = await deadAddress();
		const run = await start(['drones', '--queen-host', address], {}).done;
		assert.equal(run.status, 1);
		assert.equal(oneLine(run), `hive-larve: cannot reach the queen at ${address}: ECONNREFUSED`);
	});

	test('usage errors exit 2 with one line: an unknown command or flag, a missing argument, a bad value', async () => {
		const cases: Array<[string[], RegExp]> = [
			[['bogus'], /unknown command 'bogus'/],
			[['task'], /task needs a task ID/],
			[['cancel', 'a', 'b'], /cancel takes one a task ID|takes one/],
			[['tasks', '--bogus'], /unknown flag --bogus/],
			[['tasks', '--limit', 'lots'], /--limit must be a whole number/],
			[['tasks', '--state', 'done'], /--state must be one of pending, .*, got 'done'/],
			[['drones', '-o', 'yaml'], /--output must be table or json, got 'yaml'/],
			[['drones', '--queen-host', 'nohost'], /--queen-host must be HOST:PORT/],
			[['submit'], /submit needs a TEXT, --command CMD or --image DIR -- PROGRAM/],
			[['submit', '--image', '/srv/x'], /--image DIR needs the program to run after --/],
			[['submit', '--image', '/srv/x', '--'], /--image DIR needs the program to run after --/],
			[['submit', '--image', '/srv/x', 'hello', '--', 'true'], /takes its program after --, not a TEXT \(got 'hello'\)/],
			[['submit', '--image', '/srv/x', '--command', 'true'], /--command CMD or --image DIR, not both/],
			[['submit', '--image', '/srv/x', '--cpus', 'half', '--', 'true'], /--cpus must be a number of CPUs .*got 'half'/],
			[['submit', '--image', '/srv/x', '--pids', 'many', '--', 'true'], /--pids must be a whole number of processes, got 'many'/],
			[['submit', '--image', '/srv/x', '--env', 'NOVALUE', '--', 'true'], /--env must be KEY=VALUE, got 'NOVALUE'/],
			[['submit', '--memory', '64M', 'hello'], /--memory is for a container task: submit --image DIR/],
			[['submit', '--command', 'true', 'text'], /not both/],
			[['submit', '--selector', 'novalue', 'x'], /--selector must be KEY=VALUE/],
			[['drain', 'bee-a', '--deadline', 'soon'], /--deadline must be a number of seconds/],
			[['--queen-host', '127.0.0.1:1', 'drones'], /a command comes first: hive-larve drones/],
		];
		await Promise.all(cases.map(async ([args, message]) => {
			const run = await start(args, {HIVE_QUEEN: '127.0.0.1:1'}).done;
			assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
			assert.match(oneLine(run), message, args.join(' '));
		}));
	});

	test('--help lists the commands as kubectl\'s does; COMMAND --help shows its usage', async () => {
		const help = await start(['--help'], {}).done;
		assert.equal(help.status, 0);
		const section = help.stdout.slice(help.stdout.indexOf('Commands'), help.stdout.indexOf('Options'));
		for (const name of ['submit', 'tasks', 'task', 'logs', 'cancel', 'drones', 'cordon', 'uncordon', 'drain', 'events']) {
			assert.match(section, new RegExp(`\n {4}${name} .* [A-Z]`), name);
		}

		const submit = await start(['submit', '--help'], {}).done;
		assert.equal(submit.status, 0);
		assert.match(submit.stdout, /\$ hive-larve submit --command CMD/);
		assert.match(submit.stdout, /\$ hive-larve submit --image DIR .*\n.* -- PROGRAM ARGS\.\.\./);
		assert.match(submit.stdout, /Common options/);
	});
});
