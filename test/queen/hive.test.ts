import assert from 'node:assert/strict';
import {test} from 'node:test';
import {Hive, type HiveEvent} from '../../source/queen/hive.js';

function record(hive: Hive): HiveEvent[] {
	const events: HiveEvent[] = [];
	hive.subscribe(event => events.push(event));
	return events;
}

test('drones get names in order, and registering an address again keeps its name', () => {
	const hive = new Hive();
	assert.equal(hive.registerDrone({address: '127.0.0.1:5001'}).drone.name, 'drone-0');
	assert.equal(hive.registerDrone({address: '127.0.0.1:5002'}).drone.name, 'drone-1');
	const again = hive.registerDrone({address: '127.0.0.1:5001'});
	assert.equal(again.drone.name, 'drone-0');
	assert.equal(again.created, false);
	assert.deepEqual(hive.droneMap(), {'127.0.0.1:5001': 'drone-0', '127.0.0.1:5002': 'drone-1'});
});

test('a name is never given to a different drone after an eviction (the seed reuses drone-<len>)', () => {
	const hive = new Hive();
	hive.registerDrone({address: '127.0.0.1:5001'});
	hive.registerDrone({address: '127.0.0.1:5002'});
	hive.evictDrone('drone-0', 'test');
	assert.equal(hive.registerDrone({address: '127.0.0.1:5003'}).drone.name, 'drone-2');
	hive.deregisterDrone('127.0.0.1:5002');
	assert.equal(hive.registerDrone({address: '127.0.0.1:5004'}).drone.name, 'drone-3');
});

test('a generated name skips a name a drone chose for itself', () => {
	const hive = new Hive();
	hive.registerDrone({address: '127.0.0.1:5001', name: 'drone-0'});
	assert.equal(hive.registerDrone({address: '127.0.0.1:5002'}).drone.name, 'drone-1');
});

test('a named drone that registers from a new address moves, keeping its name', () => {
	const hive = new Hive();
	hive.registerDrone({address: '127.0.0.1:5001', name: 'worker-a'});
	const moved = hive.registerDrone({address: '127.0.0.1:6001', name: 'worker-a'});
	assert.equal(moved.created, false);
	assert.deepEqual(hive.droneMap(), {'127.0.0.1:6001': 'worker-a'});
});

test('failed heartbeats count up, make the drone suspect, and a success resets them', () => {
	const hive = new Hive();
	const events = record(hive);
	hive.registerDrone({address: '127.0.0.1:5001'});
	assert.equal(hive.heartbeatFailed('drone-0', 'ECONNREFUSED', 3), 1);
	assert.equal(hive.heartbeatFailed('drone-0', 'ECONNREFUSED', 3), 2);
	assert.equal(hive.drone('drone-0')?.state, 'suspect');
	hive.heartbeatSucceeded('drone-0');
	assert.equal(hive.drone('drone-0')?.state, 'ready');
	assert.equal(hive.drone('drone-0')?.failedAttempts, 0);
	assert.deepEqual(events.map(event => event.type), ['drone.registered', 'heartbeat.failed', 'heartbeat.failed', 'heartbeat.recovered']);
	const failed = events[2]!;
	assert.ok(failed.type === 'heartbeat.failed' && failed.attempt === 2 && failed.maxRetry === 3);
});

test('every listener sees events in id order, even those a listener causes while it is told of another', () => {
	const hive = new Hive();
	hive.subscribe(event => {
		if (event.type === 'drone.registered' && event.address === '127.0.0.1:5001') {
			hive.registerDrone({address: '127.0.0.1:5002'});
		}
	});
	const seen = record(hive);
	hive.registerDrone({address: '127.0.0.1:5001'});
	assert.deepEqual(seen.map(event => event.id), [1, 2]);
});

test('a drone that restarted (a new boot id) before its eviction gets its tasks back in the queue', () => {
	const hive = new Hive();
	hive.registerDrone({address: '127.0.0.1:5001', slots: 1, allowExec: true, bootId: 'first'});
	const task = hive.submitTask({kind: 'command', command: 'sleep 60'});
	hive.taskDispatched(task.id, 'drone-0');
	hive.taskRunning(task.id);
	assert.equal(hive.drone('drone-0')?.running, 1);
	hive.registerDrone({address: '127.0.0.1:5001', slots: 1, allowExec: true, bootId: 'first'});
	assert.equal(hive.task(task.id)?.state, 'running', 'the same process registering again keeps its tasks');
	hive.registerDrone({address: '127.0.0.1:5001', slots: 1, allowExec: true, bootId: 'second'});
	assert.equal(hive.task(task.id)?.state, 'pending');
	assert.equal(hive.task(task.id)?.retries, 1);
	assert.match(hive.task(task.id)?.reason ?? '', /drone-0 restarted/);
	assert.equal(hive.drone('drone-0')?.running, 0);
});

test('events have increasing ids and can be read again from the backlog', () => {
	const hive = new Hive({eventBacklog: 10});
	for (let index = 0; index < 50; index++) {
		hive.registerDrone({address: `127.0.0.1:${5000 + index}`});
	}

	const recent = hive.eventsSince(45);
	assert.deepEqual(recent.map(event => event.id), [46, 47, 48, 49, 50]);
	assert.ok(hive.eventsSince(0).length <= 20);
});

test('finished tasks beyond the history are forgotten, oldest first', () => {
	const hive = new Hive({taskHistory: 0});
	hive.registerDrone({address: '127.0.0.1:5001'});
	const task = hive.submitTask({kind: 'text', text: 'hello'});
	hive.taskDispatched(task.id, 'drone-0');
	hive.taskFinished(task.id, 'drone-0', {succeeded: true});
	assert.equal(hive.task(task.id), undefined);

	const keeping = new Hive({taskHistory: 100});
	const ids = Array.from({length: 300}, (_, index) => {
		const each = keeping.submitTask({kind: 'text', text: `task ${index}`});
		keeping.taskFailed(each.id, 'no drone');
		return each.id;
	});
	assert.equal(keeping.task(ids[0]!), undefined);
	assert.equal(keeping.task(ids.at(-1)!)?.text, 'task 299');
	assert.ok(keeping.tasks({limit: 10_000}).total < 300);
	assert.equal(keeping.tasks({limit: 1}).tasks[0]?.text, 'task 299');
});
