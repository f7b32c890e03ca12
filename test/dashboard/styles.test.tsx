import './force-color.js';
import assert from 'node:assert/strict';
import {test} from 'node:test';
import {Box} from 'ink';
import type {ReactNode} from 'react';
import {DroneTable} from '../../source/dashboard/DroneTable.js';
import {EventLog} from '../../source/dashboard/EventLog.js';
import {Header} from '../../source/dashboard/Header.js';
import {HelpOverlay} from '../../source/dashboard/HelpOverlay.js';
import type {HiveSnapshot} from '../../source/dashboard/hive-store.js';
import {Prompt} from '../../source/dashboard/Prompt.js';
import {findMatches, type ViewLine} from '../../source/dashboard/task-lines.js';
import {TaskList} from '../../source/dashboard/TaskList.js';
import {TaskView} from '../../source/dashboard/TaskView.js';
import {ansi, styledLine, stylesOf, type StyledChar, type Style} from './ansi.js';
import {t0} from './fixtures.js';
import {rawFrame} from './render.js';
import {drones, hiveSnapshot, log, tasks} from './scenario.js';

process.env.TZ = 'UTC';

/** Colours, inverse and dim, read off the raw frame (this file forces colours on: see force-color.ts). */

function lines(node: ReactNode, width = 80): StyledChar[][] {
	return rawFrame(<Box flexDirection="column">{node}</Box>, width).split('\n').map(line => styledLine(line));
}

function styles(line: readonly StyledChar[] | undefined, text: string): Style[] {
	const found = stylesOf(line ?? [], text);
	assert.ok(found, `"${text}" is not on the line: ${(line ?? []).map(char => char.char).join('')}`);
	return found;
}

const every = (found: readonly Style[], check: (style: Style) => boolean) => found.length > 0 && found.every(style => check(style));
const byName = {column: 'name', descending: false} as const;

test('the frames of this file carry colours (else the checks below would see none)', () => {
	const [title] = lines(<Box><TaskView id="abc" lines={[]} width={40} rows={1} scroll={0} following={false} search="" searching={false} matches={[]} match={undefined} state={undefined}/></Box>);
	assert.ok(every(styles(title, 'Task abc'), style => style.inverse && style.bold));
});

test('DroneTable: the selected row inverse while the table has the focus, states in colour; stale, every row grey without colours', () => {
	const table = (focused: boolean, stale: boolean) => lines(<DroneTable drones={drones} total={30} maxRetry={3} now={t0} width={80} rows={6} offset={0} selected={3} focused={focused} filter="" filtering={false} sort={byName} stale={stale}/>);
	const live = table(true, false);
	assert.ok(every(styles(live[5], 'local-4  127.0.0.1:40104 suspect'), style => style.inverse));
	assert.ok(every(styles(live[5], 'ECONNREFUSED'), style => style.inverse && style.color === ansi.red));
	assert.ok(every(styles(live[2], 'local-1'), style => !style.inverse && !style.dim));
	assert.ok(every(styles(live[2], 'ready'), style => style.color === ansi.green));
	assert.ok(every(styles(live[5], 'suspect'), style => style.color === ansi.yellow));
	// Not focused: no row inverse.
	assert.ok(table(false, false).slice(2).every(row => row.every(char => !char.style.inverse)));

	const stale = table(false, true);
	for (const row of stale.slice(2)) {
		assert.ok(row.every(char => char.char === ' ' || (char.style.dim && char.style.color === undefined)), row.map(char => char.char).join(''));
	}

	assert.ok(every(styles(stale[5], 'ECONNREFUSED'), style => style.dim && style.color === undefined));
});

test('TaskList: the selected task inverse, states in colour; stale, grey without colours', () => {
	const list = (stale: boolean) => lines(<TaskList tasks={tasks} total={12} width={80} rows={4} offset={0} selected={1} focused filter="" filtering={false} sort={{column: 'time', descending: true}} stale={stale}/>);
	const live = list(false);
	assert.ok(every(styles(live[3], '1f2a1b4c'), style => style.inverse));
	assert.ok(every(styles(live[3], 'exit code 2'), style => style.color === ansi.red));
	assert.ok(every(styles(live[2], 'running'), style => style.color === ansi.blue));
	const stale = list(true);
	for (const row of stale.slice(2)) {
		assert.ok(row.every(char => char.char === ' ' || (char.style.dim && char.style.color === undefined)), row.map(char => char.char).join(''));
	}
});

test('EventLog: tones in colour, the title inverse when focused; stale, grey without colours', () => {
	const live = lines(<EventLog entries={log} width={80} rows={5} focused/>);
	assert.ok(every(styles(live[0], 'Events'), style => style.inverse));
	assert.ok(every(styles(live[2], 'local-7 heartbeat failed'), style => style.color === ansi.yellow));
	const stale = lines(<EventLog entries={log} width={80} rows={5} stale/>);
	assert.ok(stale.slice(1).every(row => row.every(char => char.style.dim && char.style.color === undefined)));
});

test('TaskView: stderr red, rules dim; the matches of a search highlighted, the current one inverse', () => {
	const view: ViewLine[] = [
		{text: '── output ──', tone: 'meta'},
		{text: 'an error here, and an Error there'},
		{text: 'error: on stderr', tone: 'stderr'},
		{text: 'nothing'},
	];
	const matches = findMatches(view, 'error');
	assert.deepEqual(matches, [1, 2]);
	const frame = lines(<TaskView id="abc" lines={view} width={80} rows={5} scroll={0} following={false} search="error" searching={false} matches={matches} match={1} state="failed"/>);
	assert.ok(every(styles(frame[1], '── output ──'), style => style.dim));
	// Line 1 matches twice (any case), highlighted yellow; the text around them is not.
	assert.ok(every(styles(frame[2], 'error'), style => style.background === ansi.bgYellow && !style.inverse));
	assert.ok(every(styles(frame[2], 'Error'), style => style.background === ansi.bgYellow));
	assert.ok(every(styles(frame[2], 'an '), style => style.background === undefined));
	// Line 2 is the current match: inverse, on a red stderr line.
	assert.ok(every(styles(frame[3], 'error'), style => style.inverse && style.color === ansi.red));
	assert.ok(every(styles(frame[3], ': on stderr'), style => !style.inverse && style.color === ansi.red));
	assert.ok(every(styles(frame[4], 'nothing'), style => !style.inverse && style.background === undefined && style.color === undefined));
});

test('Prompt: the cursor inverse on the character under it, wide characters counted in columns; ⏎ dim; a question yellow', () => {
	const value = 'ab你好cd\nef';
	for (const [cursor, under, column] of [[3, '好', 6], [0, 'a', 2], [2, '你', 4], [6, '⏎', 10], [value.length, ' ', 13]] as const) {
		const [line] = lines(<Prompt value={value} cursor={cursor} focused width={40} outcome={undefined} sigil="›" hint=""/>);
		const inverse = line!.filter(char => char.style.inverse);
		assert.deepEqual(inverse.map(char => char.char), [under], `cursor ${cursor}`);
		// Its column: the columns of what comes before it on the row (a wide character takes two).
		const before = line!.slice(0, line!.indexOf(inverse[0]!)).map(char => char.char).join('');
		assert.equal(before.replaceAll(/[你好]/g, 'xx').length, column, `cursor ${cursor}: ${before}`);
	}

	const [line] = lines(<Prompt value={value} cursor={0} focused width={40} outcome={undefined} sigil="›" hint=""/>);
	assert.ok(every(styles(line, '⏎'), style => style.dim));
	assert.ok(every(styles(line, 'ef'), style => !style.dim));
	const [question] = lines(<Prompt value="" cursor={0} focused width={40} outcome={undefined} sigil="›" hint="" question="drain local-4? y/N"/>);
	assert.ok(every(styles(question, 'drain local-4? y/N'), style => style.color === ansi.yellow));
});

function snapshot(change: Partial<HiveSnapshot>): HiveSnapshot {
	return hiveSnapshot(change, {ageMs: 60_000, withDrones: false});
}

test('Header: connected green; lost, line 1 red (and a long reason red on line 2), or the counts grey', () => {
	const [connected] = lines(<Header hive={snapshot({})} version="0.1.0" width={80}/>);
	assert.ok(every(styles(connected, '● leader 127.0.0.1:8080  up 1m00s'), style => style.color === ansi.green));
	const lost = lines(<Header hive={snapshot({connected: false, staleSince: t0 + 48_000, lastUpdateAt: t0 + 48_000, error: 'ECONNREFUSED'})} version="0.1.0" width={80}/>);
	assert.ok(every(styles(lost[0], '○ lost at 12:00:48 · last update 12s ago: ECONNREFUSED'), style => style.color === ansi.red));
	assert.ok(every(styles(lost[1], 'drones 0/0 ready'), style => style.dim));
	const refused = lines(<Header hive={snapshot({connected: false, staleSince: t0 + 48_000, lastUpdateAt: t0 + 48_000, error: 'the queen refused the token (401): give the hive\'s token (HIVE_TOKEN, --token-file)'})} version="0.1.0" width={80}/>);
	assert.ok(every(styles(refused[1], 'token (401)'), style => style.color === ansi.red));
});

test('HelpOverlay: section titles bold', () => {
	const frame = lines(<HelpOverlay width={80} rows={4} scroll={0}/>);
	assert.ok(every(styles(frame[1], 'Anywhere'), style => style.bold));
	assert.ok(every(styles(frame[2], 'Tab'), style => !style.bold));
});
