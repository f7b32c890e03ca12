import assert from 'node:assert/strict';
import {once} from 'node:events';
import net, {type AddressInfo} from 'node:net';
import {test} from 'node:test';
import {setTimeout} from 'node:timers/promises';
import {spawnLarve} from '../helpers/binary.js';
import {deadAddress} from '../helpers/servers.js';
import {hasTmux, isRunning, runInTerminal} from '../helpers/tmux.js';
import {waitFor} from '../helpers/wait.js';

const fast = ['--heartbeat-interval', '0.2', '--retry-delay', '0.1', '--heartbeat-timeout', '0.3'];
const skip = hasTmux ? false : 'tmux is not installed';

test('a queen with the dashboard in a real terminal: drones come, a task typed at the prompt is printed by a drone and shown, a killed drone is evicted, Ctrl-C exits 0', {skip}, async t => {
	const terminal = runInTerminal(t, ['--queen', '--tui', '--port', '0', '--local-drones', '0', ...fast]);
	const queenUrl = await terminal.queenUrl();
	const queenHost = queenUrl.replace('http://', '');
	await terminal.waitForScreen(`● leader ${queenHost}`);
	const drones = [spawnLarve(t, ['--queen-host', queenHost, '--port', '0']), spawnLarve(t, ['--queen-host', queenHost, '--port', '0'])];
	await Promise.all(drones.map(async drone => drone.url()));
	await terminal.waitForScreen('drones 2/2 ready');
	await terminal.waitForScreen(/drone-0 +127\.0\.0\.1:\d+ +ready/);
	await terminal.waitForScreen(/drone-1 +127\.0\.0\.1:\d+ +ready/);

	terminal.type('hello from the prompt');
	await terminal.waitForScreen('› hello from the prompt');
	terminal.press('Enter');
	const printedBy = await waitFor(() => drones.findIndex(drone => drone.stdout === 'hello from the prompt\n') + 1, 'a drone to print the task') - 1;
	const screen = await terminal.waitForScreen(/✓ task [\da-f]{8} → drone-\d: "hello from the prompt"/);
	const name = /✓ task [\da-f]{8} → (drone-\d): "hello from the prompt"/.exec(screen)![1]!;
	await terminal.waitForScreen(new RegExp(`hello from the prompt +${name} +(dispatched|succeeded)`));

	// The other drone dies without a word: heartbeats fail, the queen evicts it, the dashboard shows it.
	const victim = drones[1 - printedBy]!;
	const victimName = name === 'drone-0' ? 'drone-1' : 'drone-0';
	victim.child.kill('SIGKILL');
	await terminal.waitForScreen(new RegExp(`${victimName} heartbeat failed 1/3`));
	await terminal.waitForScreen(`${victimName} evicted`);
	await terminal.waitForScreen('drones 1/1 ready');

	// Logs went to the log file, never over the screen.
	assert.ok(terminal.logs().some(entry => entry.mode === 'queen'));
	assert.doesNotMatch(terminal.screen(), /"level":/);

	terminal.press('C-c');
	assert.equal(await terminal.exited(), 0);
});

test('--local-drones 2: the dashboard shows two drones of this machine, and Ctrl-C stops them', {skip}, async t => {
	const terminal = runInTerminal(t, ['--queen', '--tui', '--port', '0', '--local-drones', '2', ...fast], {width: 80, height: 24});
	await terminal.queenUrl();
	await terminal.waitForScreen('drones 2/2 ready');
	const pids = await waitFor(() => {
		const found = terminal.logs().filter(entry => entry.mode === 'drone' && typeof entry.url === 'string').map(entry => entry.pid as number);
		return found.length === 2 ? found : undefined;
	}, 'the two local drones\' listening lines in the log file');
	assert.ok(pids.every(pid => isRunning(pid)));

	// Their task output goes to a file, not over the dashboard.
	terminal.type('quiet please');
	await terminal.waitForScreen('› quiet please');
	terminal.press('Enter');
	await terminal.waitForScreen(/✓ task [\da-f]{8} → local-\d: "quiet please"/);
	assert.doesNotMatch(terminal.screen(), /^quiet please$/m);

	terminal.press('C-c');
	assert.equal(await terminal.exited(), 0);
	await waitFor(() => pids.every(pid => !isRunning(pid)), 'the local drones to be gone');
});

test('the dashboard attaches to a queen elsewhere with --tui --queen-host (the first of a list that answers); ? typed at the prompt is text, Esc then ? shows the keys', {skip}, async t => {
	const queen = spawnLarve(t, ['--queen', '--port', '0', ...fast]);
	const queenHost = (await queen.url()).replace('http://', '');
	const terminal = runInTerminal(t, ['--tui', '--queen-host', `${await deadAddress()},${queenHost}`], {width: 200, height: 60});
	await terminal.waitForScreen(`● leader ${queenHost}`);
	terminal.press('?');
	await terminal.waitForScreen('› ?');
	// Esc, then ? once Esc shows (sent at once, the two can be read as one key: Alt-?).
	terminal.press('Escape');
	await terminal.waitForScreen('Enter describe');
	terminal.press('?');
	await terminal.waitForScreen('Keys  (Esc or ? to close)');
	terminal.press('Escape');
	await terminal.waitForScreen('Drones 0');
	terminal.press('C-c');
	assert.equal(await terminal.exited(), 0);
	// The queen it showed runs on.
	assert.equal(queen.child.exitCode, null);
});

test('--tui without a terminal exits 2 with one line', async t => {
	const larve = spawnLarve(t, ['--queen', '--tui', '--port', '0']);
	assert.equal(await larve.exited, 2);
	assert.equal(larve.stderr, 'hive-larve: --tui needs a terminal (standard input and output must be a TTY)\n');
});

test('a queen with the dashboard on a port in use: one line that says so, exit 1, no stack trace', {skip}, async t => {
	const taken = net.createServer();
	taken.listen(0, '127.0.0.1');
	await once(taken, 'listening');
	t.after(() => taken.close());
	const {port} = taken.address() as AddressInfo;
	const terminal = runInTerminal(t, ['--queen', '--tui', '--port', String(port), '--local-drones', '1', '--store', 'memory']);
	assert.equal(await terminal.exited(), 1);
	assert.equal(terminal.stderr(), `hive-larve: cannot listen on 127.0.0.1:${port}: EADDRINUSE\n`);
});

test('a queen with a dashboard attached stops as fast as one without: the dashboard\'s streams do not hold it for its grace period', {skip}, async t => {
	const queen = spawnLarve(t, ['--queen', '--port', '0', '--store', 'memory']);
	const queenHost = (await queen.url()).replace('http://', '');
	const terminal = runInTerminal(t, ['--tui', '--queen-host', queenHost]);
	await terminal.waitForScreen(`● leader ${queenHost}`);
	queen.child.kill('SIGTERM');
	// Its grace for requests in flight is 5 s: a queen that waits for the dashboard's streams takes all of it.
	assert.equal(await Promise.race([queen.exited, setTimeout(4000, 'still running 4 s after SIGTERM')]), 0);
	assert.ok(!queen.logs().some(entry => /still open after/.test(String(entry.msg))));
	await terminal.waitForScreen('○');
});
