import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {test} from 'node:test';
import stringWidth from 'string-width';
import {spawnLarve, temporaryDirectory} from '../helpers/binary.js';
import {request, startQuietDrone} from '../helpers/larves.js';
import {stablePort} from '../helpers/ports.js';
import {hasTmux, runInTerminal, type Terminal} from '../helpers/tmux.js';
import {waitFor} from '../helpers/wait.js';

/**
The dashboard's keys in a real terminal (tmux), against real larves: a command task typed at the prompt
and its output scrolled, searched and followed; cancel, cordon and drain from keys; a queen lost and
started again; the layout at 80×24 and 200×60 with thirty drones.
*/

const fast = ['--heartbeat-interval', '0.2', '--retry-delay', '0.1', '--heartbeat-timeout', '0.3'];
const skip = hasTmux ? false : 'tmux is not installed';
const token = 'dashboard-keys-test-token';

function tokenFile(): string {
	const file = path.join(temporaryDirectory(undefined, 'hive-token-'), 'token');
	fs.writeFileSync(file, `${token}\n`, {mode: 0o600});
	return file;
}

const auth = {authorization: `Bearer ${token}`};

/** No row of the screen is wider than the terminal (wide characters count two). */
function assertFits(screen: string, width: number, where: string): void {
	for (const line of screen.split('\n')) {
		assert.ok(stringWidth(line) <= width, `${where}: a row of ${stringWidth(line)} columns, wider than ${width}: ${JSON.stringify(line)}`);
	}
}

/**
The dim attribute and foreground colour in force at `index` of a `capture-pane -e` screen: tmux writes an
attribute only where it changes, so it is carried from line to line until a reset.
*/
function styleAt(coloured: string, index: number): {dim: boolean; foreground: number | undefined} {
	let dim = false;
	let foreground: number | undefined;
	for (const match of coloured.slice(0, index).matchAll(/\u001B\[([\d;]*)m/g)) {
		for (const code of (match[1] || '0').split(';').map(Number)) {
			if (code === 0) {
				dim = false;
				foreground = undefined;
			} else if (code === 2) {
				dim = true;
			} else if (code === 22) {
				dim = false;
			} else if (code === 39) {
				foreground = undefined;
			} else if ((code >= 30 && code <= 37) || (code >= 90 && code <= 97)) {
				foreground = code;
			}
		}
	}

	return {dim, foreground};
}

/** The task's id as the queen has it: the newest task. */
async function newestTask(queenUrl: string): Promise<{id: string; state: string}> {
	const answer = await request(`${queenUrl}/tasks?limit=1`, {headers: auth});
	return (answer.body as {tasks: Array<{id: string; state: string}>}).tasks[0]!;
}

/**
Presses Esc and waits until the screen shows what it did: a key sent at once after it may be read with
it as one (as Alt and that key), and lose the Esc.
*/
async function pressEscape(terminal: Terminal, shows: string | RegExp): Promise<void> {
	terminal.press('Escape');
	await terminal.waitForScreen(shows);
}

async function openNewestTask(terminal: Terminal, queenUrl: string): Promise<void> {
	// Once the dashboard lists it in the state the queen says (its list follows the queen's events a moment
	// after the API answers): a task opens at its top when it has ended, at its newest line when it runs.
	const {id, state} = await newestTask(queenUrl);
	const short = id.slice(0, 8);
	await terminal.waitForScreen(new RegExp(`^\\d\\d:\\d\\d:\\d\\d ${short} .* ${state}\\b`, 'm'));
	// Esc leaves the prompt for the drones, Tab goes on to the tasks (the newest is selected), Enter opens it.
	await pressEscape(terminal, 'Enter describe');
	terminal.press('Tab', 'Enter');
	await terminal.waitForScreen(`Task ${short}`);
}

test('a command task typed at the prompt: its output is scrolled (PgDn, End, Home), searched with /, and a running one is followed live', {skip}, async t => {
	const gateDir = temporaryDirectory(t, 'hive-gate-');
	const terminal = runInTerminal(t, ['--queen', '--tui', '--port', '0', '--local-drones', '1', '--allow-exec', '--token-file', tokenFile(), ...fast], {width: 80, height: 24});
	const queenUrl = await terminal.queenUrl();
	await terminal.waitForScreen('drones 1/1 ready');

	// Lines a timestamp or an id of the record cannot contain, so that a search finds them only.
	terminal.type('$ seq -f L%g 500; echo oops on stderr >&2; exit 3');
	await terminal.waitForScreen('› $ seq -f L%g 500');
	terminal.press('Enter');
	await terminal.waitForScreen(/✓ task [\da-f]{8} → local-0: "\$ seq -f L%g 500; echo oops on stderr >&2; exit 3"/);
	await waitFor(async () => (await newestTask(queenUrl)).state === 'failed', 'the command to end (exit 3)');

	await openNewestTask(terminal, queenUrl);
	let screen = await terminal.waitForScreen(/exit code +3/);
	assert.match(screen, /command +seq -f L%g 500/);
	terminal.press('End');
	screen = await terminal.waitForScreen(/^oops on stderr/m);
	assert.match(screen, /^L500 *$/m, `the end of stdout, then stderr: ${screen}`);
	assert.doesNotMatch(screen, /^L1 *$/m);
	terminal.press('Home');
	screen = await terminal.waitForScreen(/^id +[\da-f-]{36}/m);
	terminal.press('PageDown', 'PageDown');
	screen = await terminal.waitForScreen(/^L40 *$/m);
	assert.doesNotMatch(screen, /^id /m);

	terminal.press('/');
	terminal.type('L250');
	terminal.press('Enter');
	screen = await terminal.waitForScreen(/^L250 *$/m);
	assert.match(screen, /\/L250 +1 of 1/, 'the search says which match of how many');
	assertFits(terminal.screenJoined(), 80, 'the task page');
	// Esc drops the search, Esc again closes the page (one at a time: two read as one are one Esc).
	terminal.press('Escape');
	await waitFor(() => !terminal.screen().includes('/L250'), 'the search to be dropped');
	terminal.press('Escape');
	await terminal.waitForScreen(/Tasks/);

	// A running command: its page follows what it prints, with no key pressed.
	terminal.press('i');
	terminal.type(`$ echo started; while [ ! -e ${gateDir}/open ]; do sleep 0.05; done; echo finished`);
	terminal.press('Enter');
	await terminal.waitForScreen(/✓ task [\da-f]{8} → local-0: "\$ echo started/);
	await waitFor(async () => (await newestTask(queenUrl)).state === 'running', 'the command to run');
	await openNewestTask(terminal, queenUrl);
	await terminal.waitForScreen(/^started/m);
	await terminal.waitForScreen('following');
	fs.writeFileSync(path.join(gateDir, 'open'), '');
	screen = await terminal.waitForScreen(/^finished/m);
	await terminal.waitForScreen(/succeeded/);
	await pressEscape(terminal, 'Enter open');

	// A multi-line paste is one task: both lines run, in one shell.
	terminal.press('i');
	terminal.paste('$ echo first line\necho second line');
	await terminal.waitForScreen(/› \$ echo first line⏎echo second line/);
	terminal.press('Enter');
	await terminal.waitForScreen(/✓ task [\da-f]{8} → local-0: "\$ echo first line/);
	await waitFor(async () => (await newestTask(queenUrl)).state === 'succeeded', 'the pasted script to end');
	await openNewestTask(terminal, queenUrl);
	await terminal.waitForScreen(/^second line/m);
	assert.match(terminal.screen(), /^first line/m);

	terminal.press('C-c');
	assert.equal(await terminal.exited(), 0);
});

test('cancel a running command and cordon, uncordon and drain a drone from keys; destructive keys ask y/N first', {skip}, async t => {
	const terminal = runInTerminal(t, ['--queen', '--tui', '--port', '0', '--local-drones', '1', '--allow-exec', '--token-file', tokenFile(), ...fast], {width: 120, height: 40});
	const queenUrl = await terminal.queenUrl();
	await terminal.waitForScreen('drones 1/1 ready');
	const drone = async () => (await request(`${queenUrl}/drones/local-0`, {headers: auth})).body.drone as {cordoned: boolean; drain: unknown};

	terminal.type('$ sleep 300');
	terminal.press('Enter');
	await terminal.waitForScreen(/✓ task [\da-f]{8} → local-0: "\$ sleep 300"/);
	await waitFor(async () => (await newestTask(queenUrl)).state === 'running', 'the command to run');
	const {id} = await newestTask(queenUrl);
	await terminal.waitForScreen(new RegExp(`${id.slice(0, 8)} .* running`));

	// Cancel: on the tasks, x asks; n does nothing; x and y cancel.
	await pressEscape(terminal, 'Enter describe');
	terminal.press('Tab');
	await terminal.waitForScreen('x cancel');
	terminal.press('x');
	await terminal.waitForScreen(`Cancel task ${id.slice(0, 8)}? y/N  (running: $ sleep 300)`);
	terminal.press('n');
	await terminal.waitForScreen('nothing done');
	assert.equal((await newestTask(queenUrl)).state, 'running');
	terminal.press('x');
	await terminal.waitForScreen('Cancel task');
	terminal.press('y');
	await terminal.waitForScreen(`✓ task ${id.slice(0, 8)} cancelled`);
	assert.equal((await newestTask(queenUrl)).state, 'cancelled');
	await terminal.waitForScreen(/sleep 300 +local-0 +cancelled/);

	// Cordon and uncordon at once; a drain asks first. The table and the queen agree.
	terminal.press('BTab');
	await terminal.waitForScreen('c cordon');
	terminal.press('c');
	await terminal.waitForScreen('✓ local-0 cordoned');
	await terminal.waitForScreen(/local-0 +\S+ +cordoned/);
	assert.equal((await drone()).cordoned, true);
	terminal.press('u');
	await terminal.waitForScreen('✓ local-0 uncordoned');
	await terminal.waitForScreen(/local-0 +\S+ +ready/);
	assert.equal((await drone()).cordoned, false);

	// Enter describes the drone; its keys act there too.
	terminal.press('Enter');
	await terminal.waitForScreen(/Drone local-0/);
	terminal.press('d');
	await terminal.waitForScreen('Drain local-0?');
	terminal.press('y');
	await terminal.waitForScreen('✓ local-0 draining');
	await waitFor(async () => (await drone()).cordoned, 'the drain to cordon the drone');
	await terminal.waitForScreen(/local-0 drained/);

	// The hive's token, for a second dashboard.
	await pressEscape(terminal, 'Enter describe');
	terminal.press(':');
	terminal.type('token');
	terminal.press('Enter');
	await terminal.waitForScreen(`export HIVE_TOKEN=${token}`);
	assert.match(terminal.screen(), /^ +hive-larve --tui --queen-host 127\.0\.0\.1:\d+$/m);
	await pressEscape(terminal, 'Enter describe');
	terminal.press(':');
	terminal.type('q');
	terminal.press('Enter');
	assert.equal(await terminal.exited(), 0);
});

test('a queen that stops is shown lost (header red, rows grey, the last update\'s age); started again on its store, an open task page recovers by itself; another queen at that address replaces the view; a wrong token says 401', {skip}, async t => {
	const port = await stablePort();
	const fileQueen = ['--queen', '--port', String(port), '--data-dir', temporaryDirectory(t), ...fast];
	const first = spawnLarve(t, fileQueen);
	const queenUrl = await first.url();
	await startQuietDrone(t, `127.0.0.1:${port}`);
	const terminal = runInTerminal(t, ['--tui', '--queen-host', `127.0.0.1:${port}`], {width: 80, height: 24});
	await terminal.waitForScreen('drones 1/1 ready');
	await request(`${queenUrl}/submit_task`, {method: 'POST', body: {text: 'from the first queen'}});
	await terminal.waitForScreen('from the first queen');

	first.child.kill('SIGKILL');
	const lost = await terminal.waitForScreen(/lost at \d\d:\d\d:\d\d/);
	assert.match(lost, /last update \d+(\.\d)?s ago/);
	await terminal.waitForScreen(/last update ([2-9]|\d\d)(\.\d)?s ago/);
	const coloured = terminal.screenWithColours();
	assert.match(coloured.split('\n')[0]!, /\u001B\[[\d;]*31[;m]/, 'the header is red');
	const at = coloured.indexOf('drone-0 ');
	assert.ok(at !== -1, 'the drone is still listed');
	const style = styleAt(coloured, at);
	assert.ok(style.dim || style.foreground === 90, `its row is grey: ${JSON.stringify(style)}`);
	const row = coloured.slice(at, coloured.indexOf('\n', at));
	assert.doesNotMatch(row, /\u001B\[[\d;]*32[;m]/, 'not green: not drawn as live');

	// The task opened while its queen is away says why it has no output; the queen started again on its
	// store, the page reads it again with no key pressed.
	await pressEscape(terminal, 'Enter describe');
	terminal.press('Tab', 'Enter');
	await terminal.waitForScreen(/Task [\da-f]{8}/);
	await terminal.waitForScreen(/ECONNREFUSED/);
	const second = spawnLarve(t, fileQueen);
	await second.url();
	await terminal.waitForScreen(/ended: succeeded/);
	assert.doesNotMatch(terminal.screen(), /ECONNREFUSED/);
	assert.match(terminal.screen(), /^text +from the first queen/m);

	// The same address, another queen (nothing kept): the old task goes, the drone comes back.
	terminal.press('Escape');
	second.child.kill('SIGKILL');
	await terminal.waitForScreen(/lost at/);
	const third = spawnLarve(t, ['--queen', '--port', String(port), '--store', 'memory', ...fast]);
	await third.url();
	await terminal.waitForScreen(/● leader 127\.0\.0\.1:\d+/);
	await terminal.waitForScreen('no tasks yet');
	assert.doesNotMatch(terminal.screen(), /from the first queen/);
	await terminal.waitForScreen('drones 1/1 ready', 30_000);
	terminal.press('C-c');
	assert.equal(await terminal.exited(), 0);

	// A queen with a token, a dashboard with another.
	const closed = spawnLarve(t, ['--queen', '--port', '0', '--store', 'memory', '--token-file', tokenFile(), ...fast]);
	const closedHost = (await closed.url()).replace('http://', '');
	const wrong = runInTerminal(t, ['--tui', '--queen-host', closedHost, '--token', 'not-the-token'], {width: 80, height: 24});
	await wrong.waitForScreen('refused the token (401)');
	assert.doesNotMatch(wrong.screen(), /no drones yet/);
	wrong.press('C-c');
	assert.equal(await wrong.exited(), 0);
});

for (const size of [{width: 80, height: 24}, {width: 200, height: 60}]) {
	test(`the layout at ${size.width}×${size.height} with thirty drones: every screen fits, no row wider than the terminal, the help whole`, {skip}, async t => {
		const terminal = runInTerminal(t, ['--queen', '--tui', '--port', '0', '--store', 'memory', ...fast], size);
		const queenUrl = await terminal.queenUrl();
		const queenHost = queenUrl.replace('http://', '');
		await Promise.all(Array.from({length: 30}, async () => startQuietDrone(t, queenHost)));
		await terminal.waitForScreen('drones 30/30 ready');
		for (const text of ['plain words', '漢字のタスク 👍🏽 wide', 'a long task '.repeat(20)]) {
			// eslint-disable-next-line no-await-in-loop
			await request(`${queenUrl}/submit_task`, {method: 'POST', body: {text}});
		}

		await terminal.waitForScreen('漢字のタスク');
		const check = async (what: string, expected: string | RegExp) => {
			const screen = await terminal.waitForScreen(expected);
			// Joined: a row wider than the terminal, wrapped onto the next by the terminal, is one line again.
			const joined = terminal.screenJoined();
			assert.equal(joined.replace(/\n$/, '').split('\n').length, size.height, `${what}: the screen's rows, none wrapped`);
			assertFits(joined, size.width, what);
			return screen;
		};

		await check('the hive', /Drones 30/);
		await pressEscape(terminal, 'Enter describe');
		terminal.press(':');
		terminal.type('drones');
		terminal.press('Enter');
		const drones = await check(':drones', /Drones 30/);
		assert.match(drones, /drone-\d+ /);
		terminal.press('End');
		await check(':drones at its end', /drone-29 /);
		terminal.press(':');
		terminal.type('tasks');
		terminal.press('Enter');
		await check(':tasks', /Tasks/);
		terminal.press('Enter');
		await check('a task', /Task [\da-f]{8}/);
		await pressEscape(terminal, 'Enter open');
		terminal.press(':');
		terminal.type('events');
		terminal.press('Enter');
		await check(':events', /Events/);
		terminal.press('?');
		const help = await check('the help', /Keys/);
		// Its lines, between its title and the prompt (the header may cut its own counts).
		const body = help.split('\n').slice(3, size.height - 2).join('\n');
		assert.doesNotMatch(body, /…/, 'the help is wrapped, never cut');
		terminal.press('End');
		await check('the help at its end', /:q/);
		await pressEscape(terminal, /scroll +\/ filter/);
		terminal.press(':');
		terminal.type('hive');
		terminal.press('Enter');
		terminal.press('Enter');
		await check('a drone described', /Drone drone-/);
		terminal.press('C-c');
		assert.equal(await terminal.exited(), 0);
	});
}
