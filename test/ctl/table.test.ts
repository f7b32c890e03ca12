import assert from 'node:assert/strict';
import {test} from 'node:test';
import stringWidth from 'string-width';
import {age, ageOf, cutToWidth, oneLine, renderRow, renderTable} from '../../source/ctl/table.js';
import {terminalWidth} from '../../source/ctl/output.js';

test('a table has its header in capitals and its columns aligned, three spaces apart, as kubectl get', () => {
	const text = renderTable(['name', 'state', 'task'], [['drone-0', 'ready', 'echo hi'], ['drone-10', 'suspect', 'x']]);
	assert.equal(text, [
		'NAME       STATE     TASK',
		'drone-0    ready     echo hi',
		'drone-10   suspect   x',
		'',
	].join('\n'));
});

test('columns are aligned by terminal columns: a wide character takes two', () => {
	const text = renderTable(['text', 'after'], [['蜂蜂', 'a'], ['bee', 'b'], ['🐝', 'c']]);
	const lines = text.trimEnd().split('\n');
	const starts = lines.map(line => stringWidth(line.slice(0, line.lastIndexOf(' ') + 1)));
	assert.deepEqual(new Set(starts).size, 1, `the last column starts at one place: ${JSON.stringify(lines)}`);
});

test('given a width, no row is wider, wide characters included; a cut row ends with …', () => {
	const rows = [['3f2a9c1e', 'running', 'drone-0', '任务'.repeat(40)], ['0b1c2d3e', 'pending', '-', 'sleep 60; '.repeat(20)], ['aa', 'b', 'c', 'short']];
	for (const width of [10, 25, 33, 40, 80]) {
		const lines = renderTable(['id', 'state', 'drone', 'task'], rows, width).trimEnd().split('\n');
		for (const line of lines) {
			assert.ok(stringWidth(line) <= width, `width ${width}: ${JSON.stringify(line)} is ${stringWidth(line)} wide`);
		}

		assert.ok(lines[1]!.endsWith('…'), lines[1]);
	}

	// Wide enough, nothing is cut.
	assert.ok(!renderTable(['a'], [['short']], 80).includes('…'));
});

test('a cut keeps whole graphemes: a wide character at the edge is dropped, not split', () => {
	assert.equal(cutToWidth('ab蜂蜂', 5), 'ab蜂…');
	assert.equal(cutToWidth('ab蜂蜂', 4), 'ab…');
	assert.equal(cutToWidth('e\u0301e\u0301e\u0301', 3), 'e\u0301e\u0301e\u0301');
	assert.equal(cutToWidth('e\u0301e\u0301e\u0301x', 3), 'e\u0301e\u0301…');
	assert.equal(cutToWidth('👩‍👩‍👧abc', 3), '👩‍👩‍👧…');
	assert.equal(cutToWidth('abc', 0), '');
});

test('a cell is one line with no control characters: a task text cannot break the table or drive the terminal', () => {
	assert.equal(oneLine('a\nb\tc\r\n'), 'a b c ');
	assert.equal(oneLine('red \u001B[31mtext\u001B[0m'), 'red [31mtext[0m');
	const text = renderTable(['task'], [['one\ntwo']]);
	assert.equal(text, 'TASK\none two\n');
});

test('rows printed one at a time keep the given widths', () => {
	assert.equal(renderRow(['5s', 'task.running', 'task/3f2a9c1e', 'running'], [4, 14, 14]), '5s     task.running     task/3f2a9c1e    running\n');
	assert.ok(stringWidth(renderRow(['5s', 'x', 'y', 'z'.repeat(100)], [4, 14, 14], 30).trimEnd()) <= 30);
});

test('ages read as kubectl\'s: seconds, minutes, hours, days', () => {
	assert.equal(age(0), '0s');
	assert.equal(age(5400), '5s');
	assert.equal(age(119_000), '119s');
	assert.equal(age(3 * 60_000), '3m');
	assert.equal(age(119 * 60_000), '119m');
	assert.equal(age(2 * 3_600_000), '2h');
	assert.equal(age(47 * 3_600_000), '47h');
	assert.equal(age(3 * 86_400_000), '3d');
	assert.equal(age(-5000), '0s');
	assert.equal(ageOf('2030-01-01T00:00:00.000Z', Date.parse('2030-01-01T00:03:00.000Z')), '3m');
	assert.equal(ageOf(null, 0), '<unknown>');
});

test('tables are cut to the terminal\'s width only on a terminal; COLUMNS, when set, is that width', () => {
	assert.equal(terminalWidth({isTTY: false, columns: 80}, {COLUMNS: '40'}), undefined);
	assert.equal(terminalWidth({isTTY: true, columns: 80}, {}), 80);
	assert.equal(terminalWidth({isTTY: true, columns: 80}, {COLUMNS: '40'}), 40);
	assert.equal(terminalWidth({isTTY: true, columns: 80}, {COLUMNS: 'wide'}), 80);
});
