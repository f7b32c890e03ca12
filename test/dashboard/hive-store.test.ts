import assert from 'node:assert/strict';
import {test} from 'node:test';
import {HiveStore, describeEvent, withRecord} from '../../source/dashboard/hive-store.js';
import {droneView, event, t0, task} from './fixtures.js';

function store(options: {logSize?: number; taskLimit?: number} = {}) {
	let now = t0;
	const hive = new HiveStore({queenHost: '127.0.0.1:8080', flushMs: 60_000, now: () => now, ...options});
	const advance = (ms: number) => {
		now += ms;
	};

	return {hive, advance};
}

test('updates show only after a flush, and a flush tells listeners once however many events came', () => {
	const {hive} = store();
	let calls = 0;
	hive.subscribe(() => {
		calls++;
	});
	const before = hive.getSnapshot();
	for (let index = 0; index < 1000; index++) {
		hive.pushEvent(event('drone.registered', {drone: `drone-${index}`, address: `127.0.0.1:${6000 + index}`, again: false}));
	}

	assert.equal(hive.getSnapshot(), before);
	assert.equal(calls, 0);
	hive.flush();
	assert.equal(calls, 1);
	assert.equal(hive.getSnapshot().drones.length, 1000);
	assert.equal(hive.getSnapshot().readyDrones, 1000);
	hive.close();
});

test('cordons, drains and cancels: the drone rows say it, and the log tells who did it', () => {
	const {hive} = store();
	hive.setDrones({drones: [droneView(0), droneView(1)], maxRetry: 3, heartbeatIntervalMs: 2000});
	hive.pushEvent(event('drone.cordoned', {drone: 'drone-0', address: '127.0.0.1:5000', by: 'ops@box'}));
	hive.pushEvent(event('drone.draining', {drone: 'drone-1', address: '127.0.0.1:5001', by: 'ops@box', deadline: null}));
	hive.flush();
	assert.deepEqual(hive.getSnapshot().drones.map(drone => [drone.name, drone.cordoned, drone.drain === null || drone.drain === undefined ? 'no drain' : 'drain']), [
		['drone-0', true, 'no drain'],
		['drone-1', true, 'drain'],
	]);
	hive.pushEvent(event('drone.drained', {drone: 'drone-1', address: '127.0.0.1:5001'}));
	hive.pushEvent(event('drone.uncordoned', {drone: 'drone-0', address: '127.0.0.1:5000', by: 'ops@box'}));
	hive.pushEvent(event('task.cancelled', {task: task('0123456789', {state: 'cancelled'}), by: 'alice'}));
	hive.flush();
	assert.deepEqual(hive.getSnapshot().drones.map(drone => [drone.name, drone.cordoned, drone.drain ?? 'no drain']), [
		['drone-0', false, 'no drain'],
		['drone-1', true, 'no drain'],
	]);
	assert.deepEqual(hive.getSnapshot().log.map(entry => entry.text), [
		'drone-0 cordoned by ops@box: no new tasks',
		'drone-1 draining (by ops@box)',
		'drone-1 drained: nothing runs there',
		'drone-0 uncordoned by ops@box',
		'task 01234567 cancelled by alice',
	]);
	hive.close();
});

test('drone events: registration, failed attempts, recovery, eviction and departure', () => {
	const {hive} = store();
	hive.setDrones({drones: [droneView(0), droneView(1), droneView(2)], maxRetry: 3, heartbeatIntervalMs: 2000});
	hive.pushEvent(event('heartbeat.failed', {drone: 'drone-1', address: '127.0.0.1:5001', attempt: 2, maxRetry: 3, error: 'ECONNREFUSED'}));
	hive.pushEvent(event('drone.evicted', {drone: 'drone-2', address: '127.0.0.1:5002', reason: '3 failed heartbeats'}));
	hive.pushEvent(event('drone.registered', {drone: 'drone-10', address: '127.0.0.1:5010', again: false}));
	hive.flush();
	const snapshot = hive.getSnapshot();
	assert.deepEqual(snapshot.drones.map(drone => [drone.name, drone.state, drone.failedAttempts]), [
		['drone-0', 'ready', 0],
		['drone-1', 'suspect', 2],
		['drone-10', 'ready', 0],
	]);
	assert.equal(snapshot.readyDrones, 2);
	assert.equal(snapshot.maxRetry, 3);
	assert.deepEqual(snapshot.log.map(entry => entry.text), [
		'drone-1 heartbeat failed 2/3: ECONNREFUSED',
		'drone-2 evicted: 3 failed heartbeats',
		'drone-10 registered at 127.0.0.1:5010',
	]);

	hive.pushEvent(event('heartbeat.recovered', {drone: 'drone-1', address: '127.0.0.1:5001'}));
	hive.pushEvent(event('drone.left', {drone: 'drone-0', address: '127.0.0.1:5000'}));
	hive.flush();
	assert.deepEqual(hive.getSnapshot().drones.map(drone => [drone.name, drone.state, drone.failedAttempts]), [['drone-1', 'ready', 0], ['drone-10', 'ready', 0]]);
	hive.close();
});

test('every task.* event upserts the task by id, whatever its type, and a dispatch is counted once', () => {
	const {hive} = store();
	hive.pushEvent(event('task.submitted', {task: task('a', {state: 'pending', drone: null})}));
	hive.pushEvent(event('task.pending', {task: task('b', {state: 'pending', drone: null, kind: 'command', command: 'uname -a', reason: 'no drone with room'})}));
	hive.pushEvent(event('task.dispatched', {task: task('a')}));
	hive.pushEvent(event('task.running', {task: task('a', {state: 'running'})}));
	hive.pushEvent(event('task.succeeded', {task: task('a', {state: 'succeeded', result: {exitCode: 0, stdout: 'Linux\n', stderr: '', durationMs: 3, signal: null, timedOut: false}})}));
	hive.flush();
	const {tasks, dispatched} = hive.getSnapshot();
	assert.deepEqual(tasks.map(item => [item.id, item.state]), [['b', 'pending'], ['a', 'succeeded']]);
	assert.equal(tasks[1]!.result?.stdout, 'Linux\n');
	assert.equal(tasks[0]!.command, 'uname -a');
	assert.equal(dispatched, 1);
	hive.close();
});

test('the backlog replayed over a snapshot does not take a task back: older pictures of it are left, its dispatch counted once', () => {
	const {hive} = store();
	const at = (ms: number) => new Date(t0 + ms).toISOString();
	hive.reload({drones: [], maxRetry: 3, heartbeatIntervalMs: 1000}, [task('a', {state: 'succeeded', updatedAt: at(30)})]);
	hive.pushEvent(event('task.submitted', {task: task('a', {state: 'pending', drone: null, updatedAt: at(10)})}));
	hive.pushEvent(event('task.dispatched', {task: task('a', {updatedAt: at(20)})}));
	hive.pushEvent(event('task.succeeded', {task: task('a', {state: 'succeeded', updatedAt: at(30)})}));
	hive.flush();
	const {tasks, dispatched} = hive.getSnapshot();
	assert.deepEqual(tasks.map(item => [item.id, item.state, item.drone]), [['a', 'succeeded', 'drone-0']]);
	assert.equal(dispatched, 1);
	hive.close();
});

test('the event log and the task list are bounded', () => {
	const {hive} = store({logSize: 5, taskLimit: 3});
	for (let index = 0; index < 20; index++) {
		hive.pushEvent(event('drone.left', {drone: `drone-${index}`, address: 'x:1'}));
		hive.pushEvent(event('task.dispatched', {task: task(`t${index}`)}));
	}

	hive.flush();
	const snapshot = hive.getSnapshot();
	assert.deepEqual(snapshot.log.map(entry => entry.text), ['drone-15 left (x:1)', 'drone-16 left (x:1)', 'drone-17 left (x:1)', 'drone-18 left (x:1)', 'drone-19 left (x:1)']);
	assert.deepEqual(snapshot.tasks.map(item => item.id), ['t19', 't18', 't17']);
	assert.equal(snapshot.dispatched, 20);
	hive.close();
});

test('heartbeat ages come from GET /drones on this machine\'s clock; GET /tasks arrives newest first', () => {
	const {hive, advance} = store();
	hive.setDrones({drones: [droneView(0, {lastSeenAgoMs: 1500}), droneView(1, {lastSeen: null, lastSeenAgoMs: null})], maxRetry: 5, heartbeatIntervalMs: 2000});
	hive.setTasks([task('new'), task('old')]);
	advance(500);
	hive.flush();
	const snapshot = hive.getSnapshot();
	assert.equal(snapshot.now - snapshot.drones[0]!.lastSeenAt!, 2000);
	assert.equal(snapshot.drones[1]!.lastSeenAt, undefined);
	assert.deepEqual(snapshot.tasks.map(item => item.id), ['new', 'old']);
	assert.equal(snapshot.maxRetry, 5);
	hive.close();
});

test('sweeps go to the header, not the log; unknown events are logged by type', () => {
	assert.equal(describeEvent(event('heartbeat.sweep', {checked: 3, failed: 0, durationMs: 2})), undefined);
	assert.equal(describeEvent(event('queen.something'))?.text, 'queen.something');
	assert.equal(describeEvent(event('task.failed', {task: task('0123456789', {state: 'failed', error: 'no drone accepted'})}))?.text, 'task 01234567 failed: no drone accepted');
});

test('a failed heartbeat reads without the request line', () => {
	assert.equal(describeEvent(event('heartbeat.failed', {drone: 'drone-0', address: 'x:1', attempt: 1, maxRetry: 3, error: 'GET http://x:1/healthz: timed out'}))?.text, 'drone-0 heartbeat failed 1/3: timed out');
});

test('a flush that changes nothing shown tells no one and keeps the snapshot; a refresh keeps the rows of unchanged drones', () => {
	const {hive, advance} = store();
	let calls = 0;
	hive.subscribe(() => {
		calls++;
	});
	const drones = [droneView(0), droneView(1), droneView(2)];
	hive.setDrones({drones, maxRetry: 3, heartbeatIntervalMs: 2000}, t0);
	hive.pushEvent(event('heartbeat.sweep', {checked: 3, failed: 0, durationMs: 2}));
	hive.flush();
	assert.equal(calls, 1);
	const first = hive.getSnapshot();

	// The same answer and sweep again, the uptime still `0.0s`, an empty flush: nothing to show.
	hive.setDrones({drones: drones.map(drone => ({...drone, labels: {...drone.labels}})), maxRetry: 3, heartbeatIntervalMs: 2000}, t0);
	hive.pushEvent(event('heartbeat.sweep', {checked: 3, failed: 0, durationMs: 2}));
	hive.flush();
	hive.flush();
	assert.equal(calls, 1);
	assert.equal(hive.getSnapshot(), first);

	// One drone answered later: a new snapshot in which the other two rows are the same objects.
	advance(100);
	hive.setDrones({drones: [drones[0]!, {...drones[1]!, tasksDone: 5}, drones[2]!], maxRetry: 3, heartbeatIntervalMs: 2000}, t0);
	hive.flush();
	assert.equal(calls, 2);
	const second = hive.getSnapshot();
	assert.equal(second.drones[0], first.drones[0]);
	assert.notEqual(second.drones[1], first.drones[1]);
	assert.equal(second.drones[1]!.tasksDone, 5);
	assert.equal(second.drones[2], first.drones[2]);
	assert.equal(second.log, first.log);
	assert.equal(second.tasks, first.tasks);

	// Time alone moves the header's uptime: shown, so a new snapshot.
	advance(1000);
	hive.flush();
	assert.equal(calls, 3);
	assert.equal(hive.getSnapshot().now, t0 + 1100);
	hive.close();
});

test('drones keep their order by name through refreshes, arrivals and departures', () => {
	const {hive} = store();
	hive.setDrones({drones: [droneView(10), droneView(2), droneView(1)], maxRetry: 3, heartbeatIntervalMs: 2000});
	hive.flush();
	assert.deepEqual(hive.getSnapshot().drones.map(drone => drone.name), ['drone-1', 'drone-2', 'drone-10']);
	hive.pushEvent(event('drone.registered', {drone: 'drone-3', address: '127.0.0.1:5003', again: false}));
	hive.pushEvent(event('drone.left', {drone: 'drone-1', address: '127.0.0.1:5001'}));
	hive.flush();
	assert.deepEqual(hive.getSnapshot().drones.map(drone => drone.name), ['drone-2', 'drone-3', 'drone-10']);
	hive.setDrones({drones: [droneView(3, {tasksDone: 1}), droneView(10), droneView(2)], maxRetry: 3, heartbeatIntervalMs: 2000});
	hive.flush();
	assert.deepEqual(hive.getSnapshot().drones.map(drone => [drone.name, drone.tasksDone]), [['drone-2', 0], ['drone-3', 1], ['drone-10', 0]]);
	hive.setDrones({drones: [droneView(0), droneView(10)], maxRetry: 3, heartbeatIntervalMs: 2000});
	hive.flush();
	assert.deepEqual(hive.getSnapshot().drones.map(drone => drone.name), ['drone-0', 'drone-10']);
	assert.equal(hive.getSnapshot().readyDrones, 2);
	hive.close();
});

test('the first update after a quiet spell shows after flushMs; under a flood, batches come minIntervalMs apart', t => {
	t.mock.timers.enable({apis: ['setTimeout']});
	const hive = new HiveStore({queenHost: '127.0.0.1:8080', flushMs: 100, minIntervalMs: 10_000, now: () => t0});
	let calls = 0;
	hive.subscribe(() => {
		calls++;
	});
	hive.pushEvent(event('drone.registered', {drone: 'drone-0', address: '127.0.0.1:5000', again: false}));
	t.mock.timers.tick(100);
	assert.equal(calls, 1);
	hive.pushEvent(event('drone.registered', {drone: 'drone-1', address: '127.0.0.1:5001', again: false}));
	t.mock.timers.tick(100);
	assert.equal(calls, 1);
	hive.pushEvent(event('drone.registered', {drone: 'drone-2', address: '127.0.0.1:5002', again: false}));
	t.mock.timers.tick(9900);
	assert.equal(calls, 2);
	assert.equal(hive.getSnapshot().drones.length, 3);
	hive.close();
});

test('the detail of a task takes its output, text and command from the task\'s record, and its state from the list', () => {
	const record = task('a', {state: 'running', text: 'x'.repeat(5000), result: {exitCode: 0, stdout: 'Linux\n', stderr: '', durationMs: 3, signal: null, timedOut: false}});
	const summary = task('a', {state: 'succeeded', text: `${'x'.repeat(1024)}…`, result: {exitCode: 0, durationMs: 3, signal: null, timedOut: false}});
	const shown = withRecord(summary, record);
	assert.equal(shown.state, 'succeeded');
	assert.equal(shown.text, record.text);
	assert.equal(shown.result?.stdout, 'Linux\n');
	assert.equal(shown.result?.exitCode, 0);
	assert.equal(withRecord(task('b', {state: 'failed'}), task('b', {state: 'running'})).state, 'failed');
	// A container's command as the record has it, not as the list cut it.
	const whole = ['sh', '-c', 'x'.repeat(2000)];
	const container = withRecord(task('c', {kind: 'container', container: {rootfs: '/r', command: ['sh', '-c', `${'x'.repeat(1000)}…`]}}), task('c', {kind: 'container', container: {rootfs: '/r', command: whole}}));
	assert.deepEqual(container.container?.command, whole);
});

test('a reload replaces drones and tasks (nothing of the old leader\'s kept), forgets the sweep, and counts no dispatch twice', () => {
	const {hive} = store();
	hive.setDrones({drones: [droneView(0), droneView(1)], maxRetry: 3, heartbeatIntervalMs: 2000});
	hive.setTasks([task('a'), task('b', {state: 'running'})]);
	hive.pushEvent(event('heartbeat.sweep', {checked: 2, failed: 0, durationMs: 1}));
	hive.flush();
	assert.equal(hive.getSnapshot().dispatched, 2);

	// The new leader has drone-1 and drone-5, task b (finished meanwhile) and c; then events after its snapshot.
	hive.reload({drones: [droneView(5), droneView(1)], maxRetry: 4, heartbeatIntervalMs: 2000}, [task('c', {drone: 'drone-5'}), task('b', {state: 'succeeded'})]);
	hive.pushEvent(event('task.succeeded', {task: task('c', {drone: 'drone-5', state: 'succeeded'})}));
	hive.note('info', 'leader is now 127.0.0.1:8082 (epoch 3)');
	hive.flush();
	const snapshot = hive.getSnapshot();
	assert.deepEqual(snapshot.drones.map(drone => drone.name), ['drone-1', 'drone-5']);
	assert.deepEqual(snapshot.tasks.map(item => [item.id, item.state]), [['c', 'succeeded'], ['b', 'succeeded']]);
	assert.equal(snapshot.lastSweep, undefined);
	assert.equal(snapshot.maxRetry, 4);
	assert.equal(snapshot.dispatched, 3);
	assert.deepEqual(snapshot.log.map(entry => [entry.tone, entry.text]), [['info', 'leader is now 127.0.0.1:8082 (epoch 3)']]);
	hive.close();
});

test('while not connected the snapshot says since when; the queen seen is kept, and a same answer changes nothing', () => {
	const {hive, advance} = store();
	const queen = {address: '127.0.0.1:8081', version: '0.1.0', role: 'leader', leader: '127.0.0.1:8081', epoch: 2, startedAt: '2030-01-01T11:00:00.000Z'} as const;
	hive.setQueen(queen);
	hive.setStatus(true);
	hive.flush();
	assert.equal(hive.getSnapshot().staleSince, undefined);
	assert.equal(hive.getSnapshot().queenVersion, '0.1.0');
	const connected = hive.getSnapshot();
	hive.setQueen({...queen});
	hive.flush();
	assert.equal(hive.getSnapshot(), connected);
	advance(3000);
	hive.setStatus(false, 'ECONNREFUSED');
	hive.flush();
	advance(3000);
	hive.setStatus(false, 'no leader');
	hive.flush();
	assert.equal(hive.getSnapshot().staleSince, t0 + 3000);
	assert.equal(hive.getSnapshot().queen, connected.queen);
	// The same queen started again: another queen to the header (its uptime starts over).
	hive.setQueen({...queen, startedAt: '2030-01-01T12:00:05.000Z'});
	hive.flush();
	assert.equal(hive.getSnapshot().queen?.startedAt, '2030-01-01T12:00:05.000Z');
	hive.close();
});

test('the last update is when data last came from a queen (events, drones, tasks, a reload), not a status, a note or a tick', () => {
	const {hive, advance} = store();
	assert.equal(hive.getSnapshot().lastUpdateAt, undefined);
	const updates: Array<[string, () => void]> = [
		['an event', () => {
			hive.pushEvent(event('drone.registered', {drone: 'drone-0', address: '127.0.0.1:5000', again: false}));
		}],
		['a drones answer', () => {
			hive.setDrones({drones: [droneView(0, {tasksDone: 1})], maxRetry: 3, heartbeatIntervalMs: 2000});
		}],
		['a tasks answer', () => {
			hive.setTasks([task('a')]);
		}],
		['a reload', () => {
			hive.reload({drones: [droneView(1)], maxRetry: 3, heartbeatIntervalMs: 2000}, [task('b')]);
		}],
	];
	let now = t0;
	for (const [what, update] of updates) {
		advance(1000);
		now += 1000;
		update();
		// Applied a little later: the time it came counts, not the flush's.
		advance(50);
		now += 50;
		hive.flush();
		assert.equal(hive.getSnapshot().lastUpdateAt, now - 50, what);
	}

	const last = hive.getSnapshot().lastUpdateAt;
	advance(5000);
	hive.setStatus(false, 'ECONNREFUSED');
	hive.note('warn', 'no leader');
	hive.tick();
	hive.flush();
	assert.equal(hive.getSnapshot().error, 'ECONNREFUSED');
	assert.equal(hive.getSnapshot().lastUpdateAt, last);
	hive.close();
});

test('each reload raises the generation (a new hive: the UI resets what it showed by position); other updates do not', () => {
	const {hive} = store();
	assert.equal(hive.getSnapshot().generation, 0);
	const drones = {drones: [droneView(0)], maxRetry: 3, heartbeatIntervalMs: 2000};
	hive.reload(drones, [task('a')]);
	hive.flush();
	assert.equal(hive.getSnapshot().generation, 1);
	hive.setDrones(drones);
	hive.setTasks([task('b')]);
	hive.pushEvent(event('task.dispatched', {task: task('c')}));
	hive.flush();
	assert.equal(hive.getSnapshot().generation, 1);
	// Two reloads in one batch count as two; the same hive read again still says it was replaced.
	hive.reload(drones, [task('a')]);
	hive.reload(drones, [task('a')]);
	hive.flush();
	assert.equal(hive.getSnapshot().generation, 3);
	assert.deepEqual(hive.getSnapshot().tasks.map(item => item.id), ['a']);
	hive.close();
});
