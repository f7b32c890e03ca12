import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import http from 'node:http';
import {setTimeout as sleep} from 'node:timers/promises';
import {after, before, test, type TestContext} from 'node:test';
import type {Etcd3} from 'etcd3';
import {startLarve} from '../../source/larve.js';
import {Hive} from '../../source/queen/hive.js';
import {EtcdElection} from '../../source/queen/leader.js';
import {createLogger} from '../../source/log.js';
import {createEtcdClient} from '../../source/queen/store/etcd-client.js';
import {openEtcdStore} from '../../source/queen/store/etcd-store.js';
import {spawnLarve} from '../helpers/binary.js';
import {etcdMissing, startEtcd, type EtcdCluster} from '../helpers/etcd.js';
import {stablePort} from '../helpers/ports.js';
import {call} from '../helpers/queens.js';
import {fakeDrone} from '../helpers/servers.js';
import {waitFor} from '../helpers/wait.js';

const skip = etcdMissing();
const log = createLogger('silent', {kind: 'stderr'});
let etcd: EtcdCluster;
let client: Etcd3;
let prefixes = 0;

before(async () => {
	if (!skip) {
		etcd = await startEtcd();
		client = createEtcdClient({endpoints: etcd.endpoints});
	}
});

after(async () => {
	client?.close();
	await etcd?.stop();
});

function election(t: TestContext, key: string, address: string, leaseMs = 2000, on = client): EtcdElection {
	const made = new EtcdElection({client: on, key, address, leaseMs, log});
	t.after(async () => made.stop());
	return made;
}

test('a submit sent again with its key while its first write is refused is refused too, never acknowledged', {skip}, async () => {
	const prefix = `retry${prefixes++}/`;
	const put = await client.put(`${prefix}leader`).value('{"address":"a:1"}').exec();
	const store = await openEtcdStore({client, prefix, fence: {key: `${prefix}leader`, createRevision: put.header.revision}});
	const hive = await Hive.open({store});
	// Another queen takes the term: the key is made anew.
	await client.delete().key(`${prefix}leader`).exec();
	await client.put(`${prefix}leader`).value('{"address":"b:1"}').exec();
	const first = hive.submitNow({kind: 'text', text: 'hello'}, 'key-1');
	const again = hive.submitNow({kind: 'text', text: 'hello'}, 'key-1');
	assert.equal(again.created, false);
	const [a, b] = await Promise.allSettled([first.durable, again.durable]);
	assert.equal(a.status, 'rejected');
	assert.equal(b.status, 'rejected', 'the retry waits for its first write, and is refused with it');
	// And later retries too: nothing this hive holds is acknowledged once its store refused.
	const later = hive.submitNow({kind: 'text', text: 'hello'}, 'key-1');
	await assert.rejects(later.durable);
	assert.deepEqual(await client.getAll().prefix(`${prefix}tasks/`).keys(), []);
	await store.close();
});

test('a leader whose lease etcd drops steps down at once: two queens never both hold', {skip}, async t => {
	const key = `revoked${prefixes++}/leader`;
	const a = election(t, key, 'a:1', 5000);
	a.start();
	await waitFor(() => a.holds(), 'a to lead');
	const b = election(t, key, 'b:1', 5000);
	b.start();
	const kv = (await client.get(key).exec()).kvs[0]!;
	// etcd loses the lease (revoked here; a lease etcd counts out before the leader does is the same).
	await client.leaseClient.leaseRevoke({ID: kv.lease});
	let both = 0;
	const until = Date.now() + 3000;
	while (Date.now() < until && !b.holds()) {
		if (a.holds() && b.holds()) {
			both++;
		}

		// eslint-disable-next-line no-await-in-loop
		await sleep(10);
	}

	await waitFor(() => b.holds(), 'b to lead');
	assert.equal(a.holds(), false);
	assert.equal(a.role, 'follower');
	assert.equal(both, 0, 'never two leaders at once');
});

test('an election stopped while it campaigns does not keep the key', {skip}, async t => {
	const key = `stopped${prefixes++}/leader`;
	// A client whose lease grants wait for the test: the stop comes while the campaign waits on etcd.
	let campaigning = false;
	let letGrant: () => void = () => undefined;
	const granting = new Promise<void>(resolve => {
		letGrant = resolve;
	});
	const slow = new Proxy(client, {
		get(target, property, receiver) {
			if (property === 'lease') {
				return (...args: Parameters<Etcd3['lease']>) => {
					const lease = target.lease(...args);
					const grant = lease.grant.bind(lease);
					lease.grant = async () => {
						campaigning = true;
						await granting;
						return grant();
					};
					return lease;
				};
			}

			const value: unknown = Reflect.get(target, property, receiver);
			return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
		},
	});
	const stopped = election(t, key, 'a:1', 5000, slow);
	const elected: unknown[] = [];
	stopped.on('elected', term => elected.push(term));
	stopped.start();
	await waitFor(() => campaigning, 'the campaign to wait on its lease');
	const stopping = stopped.stop();
	letGrant();
	// `stop` resolves once the campaign under way has ended.
	await stopping;
	assert.deepEqual(elected, []);
	assert.equal(stopped.role, 'follower');
	assert.equal(await client.get(key).string(), null, 'the key is gone: another queen may lead at once');
});

test('one of three etcd members hung (SIGSTOP): the leader renews through the others and does not step down', {skip, timeout: 60_000}, async t => {
	const three = await startEtcd({members: 3});
	t.after(async () => three.stop());
	const status = JSON.parse(execFileSync('etcdctl', ['--endpoints', three.endpoints.join(','), 'endpoint', 'status', '-w', 'json'], {env: {...process.env, ETCDCTL_API: '3'}}).toString()) as Array<{Endpoint: string; Status: {header: {member_id: number}; leader: number}}>;
	const victim = three.endpoints.indexOf(status.find(member => member.Status.header.member_id !== member.Status.leader)!.Endpoint);
	const deposed: string[] = [];
	const queens = ['a:1', 'b:1', 'c:1'].map(address => {
		const own = createEtcdClient({endpoints: three.endpoints});
		t.after(() => {
			own.close();
		});
		const made = election(t, 'hung/leader', address, 5000, own);
		made.on('deposed', (reason: string) => deposed.push(`${address}: ${reason}`));
		made.start();
		return made;
	});
	await waitFor(() => queens.some(queen => queen.holds()), 'a leader');
	three.pause(victim);
	t.after(() => {
		three.resume(victim);
	});
	const until = Date.now() + 15_000;
	let leaderless = 0;
	while (Date.now() < until) {
		if (!queens.some(queen => queen.holds())) {
			leaderless++;
		}

		// eslint-disable-next-line no-await-in-loop
		await sleep(100);
	}

	three.resume(victim);
	assert.deepEqual(deposed, [], 'no step-down over 15 s with one member of three hung');
	assert.equal(leaderless, 0);
});

test('a queen whose term ends under a submit answers 503 and stays up, and another term begins', {skip}, async t => {
	const drone = await fakeDrone(t);
	drone.takeTasks();
	const port = await stablePort();
	const queen = spawnLarve(t, ['--queen', '--port', String(port), '--store', `etcd://${etcd.endpoints[0]!.slice('http://'.length)}`, '--etcd-prefix', `crash${prefixes++}/`, '--leader-lease', '2']);
	const url = `http://127.0.0.1:${port}`;
	await waitFor(async () => (await call(`${url}/healthz`))?.body.status === 'Status.READY', 'the queen to lead');
	const registered = await call(`${url}/register`, {body: {address: drone.address}});
	assert.equal(registered?.status, 200, JSON.stringify(registered));
	// Another writer moves the store under the leader (as a queen that won a term this one missed would):
	// its next write is refused by its fence.
	const meta = `crash${prefixes - 1}/meta`;
	await client.put(meta).value((await client.get(meta).string())!).exec();
	const answer = await call(`${url}/submit_task`, {body: {text: 'hello'}});
	assert.equal(answer?.status, 503, JSON.stringify(answer));
	assert.equal(answer.body.code, 'ERR_HIVE_NOT_LEADER');
	// A queen that crashed on the refusal would never lead again: this wait fails for it.
	await waitFor(async () => {
		const seen = await call(`${url}/healthz`);
		return seen?.body.role === 'leader' && seen.body.status === 'Status.READY';
	}, 'the queen to lead again, a new term', 10_000);
	assert.equal(queen.child.exitCode, null, `the queen is still up (stderr: ${queen.stderr.slice(-2000)})`);
	const after = await call(`${url}/submit_task`, {body: {text: 'after'}});
	assert.equal(after?.status, 200, JSON.stringify(after));
	assert.equal(queen.child.exitCode, null);
});

test('a leader stopped gracefully gives its term back first: another queen leads while its connections close', {skip}, async t => {
	const prefix = `graceful${prefixes++}/`;
	const drone = await fakeDrone(t);
	drone.takeTasks();
	const store = `etcd://${etcd.endpoints[0]!.slice('http://'.length)}`;
	const a = await startLarve({mode: 'queen', port: 0, store, etcdPrefix: prefix, leaderLeaseMs: 5000}, {log});
	t.after(async () => a.stop());
	await waitFor(() => a.hive, 'a to lead');
	const b = await startLarve({mode: 'queen', port: 0, store, etcdPrefix: prefix, leaderLeaseMs: 5000}, {log});
	t.after(async () => b.stop());
	assert.equal((await call(`${a.url}/register`, {body: {address: drone.address, allowExec: true}}))?.status, 200);
	// A client waits on a command at a: when a's term ends it is answered with the task as it is then.
	const waiting = call(`${a.url}/submit_task?wait=true`, {body: {command: 'sleep 60'}, timeoutMs: 10_000});
	await waitFor(() => a.hive?.taskCount === 1, 'the waiting submit');
	// Another is still sending its request: a's connections stay open for their grace.
	const slow = http.request(`${a.url}/submit_task`, {method: 'POST', agent: false, headers: {'content-type': 'application/json', 'content-length': '100'}});
	slow.on('error', () => undefined);
	t.after(() => {
		slow.destroy();
	});
	slow.write('{"text": ');
	await new Promise<void>(resolve => {
		slow.once('socket', socket => {
			socket.once('connect', resolve);
		});
	});
	// A round trip after it: a has read the slow request's headers by the time it answers.
	assert.equal((await call(`${a.url}/healthz`))?.status, 200);
	let aStopped = false;
	const stopped = a.stop().then(() => {
		aStopped = true;
	});
	const answer = await waiting;
	assert.equal(answer?.status, 200, 'the waiting submit is answered as its term ends');
	assert.equal(answer?.body.task.state, 'running');
	await waitFor(() => b.hive, 'b to lead');
	assert.equal(aStopped, false, 'b leads while a still closes its connections');
	slow.destroy();
	await stopped;
	assert.equal(b.hive?.taskCount, 1, 'with the task a acknowledged');
});
