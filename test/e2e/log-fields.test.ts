import assert from 'node:assert/strict';
import {test} from 'node:test';
import {spawnLarve} from '../helpers/binary.js';
import {request} from '../helpers/larves.js';
import {waitFor} from '../helpers/wait.js';

type LogLine = {readonly level: number; readonly msg: string; readonly task?: string; readonly drone?: string | null; readonly [key: string]: unknown};

function linesAbout(stderr: string, id: string): LogLine[] {
	return stderr.split('\n').filter(Boolean).map(line => JSON.parse(line) as LogLine).filter(line => line.task === id);
}

test('log lines carry the task id and the drone name as fields: one task is followed through the queen\'s log and its drone\'s', async t => {
	const queen = spawnLarve(t, ['--queen', '--port', '0', '--store', 'memory', '--log-level', 'debug']);
	const queenUrl = await queen.url();
	const drone = spawnLarve(t, ['--queen-host', queenUrl.replace('http://', ''), '--port', '0', '--allow-exec']);
	await drone.url();
	const answer = await request(`${queenUrl}/submit_task?wait=true`, {body: {command: 'echo hi'}});
	assert.equal(answer.body.task.state, 'succeeded');
	const {id, drone: name} = answer.body.task as {id: string; drone: string};

	const queenLines = await waitFor(() => {
		const lines = linesAbout(queen.stderr, id);
		return lines.some(line => line.msg.startsWith('task.succeeded')) ? lines : undefined;
	}, 'the queen to log the task\'s end');
	const steps = queenLines.filter(line => line.msg.startsWith('task.'));
	assert.deepEqual(steps.map(line => line.msg), ['task.submitted', 'task.dispatched', 'task.running', 'task.succeeded'].map(type => `${type} ${id}`));
	assert.ok(queenLines.filter(line => line.msg !== `task.submitted ${id}`).every(line => line.drone === name), 'each line after the placement names the drone');
	const droneLines = await waitFor(() => {
		const lines = linesAbout(drone.stderr, id);
		return lines.length >= 2 ? lines : undefined;
	}, 'the drone to log the task');
	assert.deepEqual(droneLines.map(line => [line.msg, line.drone]), [[`task ${id} started`, name], [`task ${id} succeeded`, name]]);

	// Cancelled: at info, with who did it.
	const pending = await request(`${queenUrl}/submit_task`, {body: {command: 'true', selector: {zone: 'none'}}});
	await request(`${queenUrl}/tasks/${pending.body.task.id}`, {method: 'DELETE', headers: {'X-Hive-User': 'dave'}});
	const cancelled = await waitFor(() => linesAbout(queen.stderr, pending.body.task.id as string).find(line => line.msg.startsWith('task.cancelled')), 'the cancel logged');
	assert.equal(cancelled.by, 'dave');
	assert.equal(cancelled.level, 30);
});
