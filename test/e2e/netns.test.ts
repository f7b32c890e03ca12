import assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import {test} from 'node:test';
import type {Spawned} from '../helpers/binary.js';
import {etcdMissing, startEtcd} from '../helpers/etcd.js';
import {makeHosts, namespacesMade, netnsMissing, type Hosts} from '../helpers/netns.js';
import {waitFor} from '../helpers/wait.js';

const missing = netnsMissing();
const fast = ['--heartbeat-interval', '0.2', '--max-retry', '2', '--retry-delay', '0.1', '--heartbeat-timeout', '0.3'];

type DroneEntry = {readonly name: string; readonly address: string};

/** The root namespace's own routes and addresses, as `ip` prints them. */
function rootSays(...args: string[]): string {
	const answer = spawnSync('ip', args, {encoding: 'utf8'});
	assert.equal(answer.status, 0, answer.stderr);
	return answer.stdout;
}

/** The routes and addresses of this network, and every route that would carry a packet to `address`, in the root namespace. */
function rootRoutesTo(hosts: Hosts, address: string): {readonly own: string; readonly matching: string[]} {
	const [a, b, c] = address.split('.');
	const own = rootSays('-o', 'address').split('\n').filter(line => line.includes(` ${a!}.${b!}.${c!}.`)).join('\n')
		+ rootSays('route', 'show', 'table', 'all').split('\n').filter(line => line.includes(hosts.network)).join('\n');
	const matching = rootSays('route', 'show', 'table', 'all', 'to', 'match', address).split('\n').filter(Boolean);
	return {own, matching};
}

/**
Each host has its address and no default route (no way off its network), and the root namespace has
no address or route of the hosts' network: only the hosts can reach one another.
*/
async function assertSealed(hosts: Hosts): Promise<void> {
	for (const host of hosts.names) {
		// eslint-disable-next-line no-await-in-loop
		const routes = await hosts.exec(host, ['ip', 'route', 'show', 'table', 'all']);
		assert.equal(routes.status, 0);
		assert.doesNotMatch(routes.stdout, /^default/m, `no default route in ${host}: ${routes.stdout}`);
		// eslint-disable-next-line no-await-in-loop
		const out = await hosts.exec(host, ['ip', 'route', 'get', '1.1.1.1']);
		assert.notEqual(out.status, 0, `${host} has no way off its network: ${out.stdout}`);
		assert.match(out.stderr, /unreachable/i);
		// eslint-disable-next-line no-await-in-loop
		const address = await hosts.exec(host, ['ip', '-o', '-4', 'address', 'show', 'dev', 'eth0']);
		assert.match(address.stdout, new RegExp(` ${hosts.address(host).replaceAll('.', String.raw`\.`)}/24 `));
	}

	for (const host of hosts.names) {
		const root = rootRoutesTo(hosts, hosts.address(host));
		assert.equal(root.own, '', 'no address and no route of the hosts\' network in the root namespace');
		assert.ok(root.matching.every(route => route.startsWith('default ')), `only the root's default route (off the machine) matches ${host}: ${root.matching.join('; ')}`);
	}
}

test('hosts in network namespaces: their own addresses, no default route, nothing of them in the root namespace, and nothing left after', {skip: missing}, async t => {
	const before = namespacesMade(true);
	const rootLinks = rootSays('-o', 'link');
	const hosts = await makeHosts(['a', 'b'], t);
	assert.match(hosts.address('a'), /^10\.\d+\.\d+\.2$/);
	assert.notEqual(hosts.address('a'), hosts.address('b'));
	assert.equal(namespacesMade(true).length, before.length + 3, 'two hosts and the switch');
	await assertSealed(hosts);
	assert.equal(rootSays('-o', 'link'), rootLinks, 'no link appeared in the root namespace');

	// The hosts reach one another over the switch; a cut host is reached by no one until mended.
	const server = hosts.spawn('b', [process.execPath, '-e', 'require("node:http").createServer((q, s) => s.end("b")).listen(8080, process.argv[1])', hosts.address('b')], {stdio: 'ignore'});
	t.after(() => server.kill('SIGKILL'));
	await waitFor(async () => (await hosts.request('a', `http://${hosts.address('b')}:8080/`)).body === 'b', 'a to reach b');
	assert.deepEqual(hosts.processesInside(), [server.pid], 'the server runs inside, and nothing else');
	await hosts.cut('b');
	await assert.rejects(hosts.request('a', `http://${hosts.address('b')}:8080/`, {timeoutMs: 500}), /abort|timeout|unreachable/i);
	await hosts.mend('b');
	await waitFor(async () => (await hosts.request('a', `http://${hosts.address('b')}:8080/`)).body === 'b', 'a to reach b again');

	server.kill('SIGKILL');
	await waitFor(() => hosts.processesInside().length === 0, 'no process left inside');
	await hosts.remove();
	assert.deepEqual(namespacesMade(true), before, 'every namespace made is gone');
	assert.equal(rootSays('-o', 'link'), rootLinks);
});

test('a queen and two drones on three hosts: a task crosses the switch, a cut drone is evicted while the other works, and mended it comes back under its name', {skip: missing, timeout: 90_000}, async t => {
	const before = namespacesMade(true);
	const hosts = await makeHosts(['q', 'd1', 'd2', 'user'], t);
	await assertSealed(hosts);
	const queenHost = `${hosts.address('q')}:8080`;
	const queen = hosts.larve(t, 'q', ['--queen', '--host', hosts.address('q'), '--port', '8080', '--store', 'memory', ...fast]);
	assert.equal(await queen.url(), `http://${queenHost}`);
	const drones: Record<string, Spawned> = {};
	for (const host of ['d1', 'd2']) {
		drones[host] = hosts.larve(t, host, ['--queen-host', queenHost, '--host', hosts.address(host), '--port', '5001', '--label', `host=${host}`]);
	}

	const list = async (): Promise<DroneEntry[]> => {
		const answer = await hosts.request('q', `http://${queenHost}/drones`);
		assert.equal(answer.status, 200);
		return answer.body.drones as DroneEntry[];
	};

	const registered = await waitFor(async () => {
		const found = await list();
		return found.length === 2 ? found : undefined;
	}, 'two drones', 20_000);
	const names = Object.fromEntries(['d1', 'd2'].map(host => [host, registered.find(drone => drone.address === `${hosts.address(host)}:5001`)?.name]));
	assert.ok(names.d1 && names.d2, `each drone registered with its namespace's address: ${JSON.stringify(registered)}`);
	assert.equal(new Set(hosts.processesInside()).size, 3);
	for (const pid of [queen.child.pid, drones.d1!.child.pid, drones.d2!.child.pid]) {
		assert.ok(hosts.processesInside().includes(pid!), `larve ${pid} runs inside a namespace`);
	}

	// A user on a fourth host submits; each task goes to the drone its selector names, across the switch.
	const submit = async (text: string, host: string) => hosts.request('user', `http://${queenHost}/submit_task`, {body: {text, selector: {host}}});
	for (const host of ['d1', 'd2']) {
		// eslint-disable-next-line no-await-in-loop
		const answer = await submit(`hello ${host}`, host);
		assert.equal(answer.status, 200, JSON.stringify(answer.body));
		assert.equal(answer.body.task.drone, names[host]);
		// eslint-disable-next-line no-await-in-loop
		await waitFor(() => drones[host]!.stdout === `hello ${host}\n`, `${host} to print its task (got ${JSON.stringify(drones[host]!.stdout)})`);
	}

	// The partition: d1's cable is out. The queen evicts it; d2 keeps working.
	await hosts.cut('d1');
	await assert.rejects(hosts.request('q', `http://${hosts.address('d1')}:5001/healthz`, {timeoutMs: 500}), /abort|timeout|unreachable/i, 'q cannot reach d1');
	await waitFor(async () => !(await list()).some(drone => drone.name === names.d1), 'd1 to be evicted', 15_000);
	assert.ok((await list()).some(drone => drone.name === names.d2), 'd2 is still registered');
	const duringCut = await submit('during the cut', 'd2');
	assert.equal(duringCut.status, 200, JSON.stringify(duringCut.body));
	assert.equal(duringCut.body.task.drone, names.d2);
	await waitFor(() => drones.d2!.stdout === 'hello d2\nduring the cut\n', `d2 to print (got ${JSON.stringify(drones.d2!.stdout)})`);
	const waiting = await submit('for d1, when it is back', 'd1');
	assert.equal(waiting.status, 202, `no drone matches while d1 is cut: ${JSON.stringify(waiting.body)}`);

	// Mended, d1 hears no heartbeat from the queen, registers again under its name, and gets the waiting task.
	await hosts.mend('d1');
	await waitFor(async () => (await list()).some(drone => drone.name === names.d1 && drone.address === `${hosts.address('d1')}:5001`), 'd1 to come back under its name', 20_000);
	await waitFor(() => drones.d1!.stdout === 'hello d1\nfor d1, when it is back\n', `d1 to print the task that waited (got ${JSON.stringify(drones.d1!.stdout)})`, 15_000);
	assert.deepEqual((await list()).map(drone => drone.name).sort(), [names.d1, names.d2].sort());

	// Nothing is left: the larves end, then the namespaces go.
	for (const larve of [queen, drones.d1!, drones.d2!]) {
		larve.child.kill('SIGKILL');
		// eslint-disable-next-line no-await-in-loop
		await larve.exited;
	}

	assert.deepEqual(hosts.processesInside(), []);
	await hosts.remove();
	assert.deepEqual(namespacesMade(true), before);
});

test('an etcd cluster of three members on three hosts is healthy, asked from a fourth; stopped, it leaves nothing', {skip: missing ?? etcdMissing(), timeout: 60_000}, async t => {
	const before = namespacesMade(true);
	const hosts = await makeHosts(['e1', 'e2', 'e3', 'user'], t);
	const etcd = await startEtcd({places: ['e1', 'e2', 'e3'].map(host => hosts.etcdPlace(host, 'user'))});
	t.after(async () => etcd.stop());
	assert.equal(etcd.storeFlag, `etcd://${['e1', 'e2', 'e3'].map((host, index) => `${hosts.address(host)}:${etcd.endpoints[index]!.split(':')[2]!}`).join(',')}`);
	assert.equal(hosts.processesInside().length, 3, 'each member runs inside its host');
	for (const endpoint of etcd.endpoints) {
		// eslint-disable-next-line no-await-in-loop
		const members = await hosts.request('user', `${endpoint}/v3/cluster/member/list`, {body: {}});
		assert.equal(members.status, 200);
		assert.deepEqual((members.body.members as Array<{peerURLs: string[]}>).flatMap(member => member.peerURLs.map(url => new URL(url).hostname)).sort(), ['e1', 'e2', 'e3'].map(host => hosts.address(host)).sort());
	}

	await etcd.stop();
	assert.deepEqual(hosts.processesInside(), []);
	await hosts.remove();
	assert.deepEqual(namespacesMade(true), before);
});

test('three queens on three hosts and an etcd on a fourth: the leader cut off steps down by itself, another leads, the drone moves to it, and mended the old leader follows', {skip: missing ?? etcdMissing(), timeout: 120_000}, async t => {
	const before = namespacesMade(true);
	const hosts = await makeHosts(['e1', 'q1', 'q2', 'q3', 'd1', 'user'], t);
	await assertSealed(hosts);
	const etcd = await startEtcd({places: [hosts.etcdPlace('e1', 'user')]});
	t.after(async () => etcd.stop());
	const queenHosts = ['q1', 'q2', 'q3'];
	const queenAddress = (host: string) => `${hosts.address(host)}:8080`;
	const queens = Object.fromEntries(queenHosts.map(host => [host, hosts.larve(t, host, [
		'--queen', '--host', hosts.address(host), '--port', '8080', '--advertise', queenAddress(host), '--store', etcd.storeFlag, '--leader-lease', '2', ...fast,
	])]));
	await Promise.all(Object.values(queens).map(async queen => queen.url()));
	const healthOf = async (host: string, from = 'user') => {
		try {
			const answer = await hosts.request(from, `http://${queenAddress(host)}/healthz`, {timeoutMs: 1000});
			return answer.body as {role: string; leader: string | null; status: string};
		} catch {
			return undefined;
		}
	};

	const leaderHost = async (among: readonly string[]) => waitFor(async () => {
		const seen = await Promise.all(among.map(async host => healthOf(host)));
		const leaders = among.filter((_, index) => seen[index]?.role === 'leader' && seen[index]?.status === 'Status.READY');
		return leaders.length === 1 && seen.every(each => each?.leader === queenAddress(leaders[0]!)) ? leaders[0] : undefined;
	}, 'one queen to lead, named by the others', 20_000);
	const first = await leaderHost(queenHosts);
	const drone = hosts.larve(t, 'd1', ['--queen-host', queenHosts.map(host => queenAddress(host)).join(','), '--host', hosts.address('d1'), '--port', '5001', ...fast]);
	await drone.url();
	const submitVia = async (host: string, text: string) => hosts.request('user', `http://${queenAddress(host)}/submit_task`, {body: {text}, timeoutMs: 3000});
	await waitFor(async () => (await hosts.request('user', `http://${queenAddress(first)}/drones`)).body.drones?.length === 1, 'the drone', 20_000);
	const follower = queenHosts.find(host => host !== first)!;
	const before1 = await submitVia(follower, 'through a follower');
	assert.equal(before1.status, 200, JSON.stringify(before1.body));
	await waitFor(() => drone.stdout === 'through a follower\n', `the drone to print it (got ${JSON.stringify(drone.stdout)})`);

	// The partition: the leader's cable is out. It cannot renew its lease, and says so itself.
	const cutAt = Date.now();
	await hosts.cut(first);
	await waitFor(async () => (await healthOf(first, first))?.role === 'follower', 'the cut leader to step down by itself', 10_000);
	// When it did, by its own log line (asking it from inside its namespace takes a process start each time).
	const steppedDown = queens[first]!.logs().find(line => String(line.msg).includes('no longer leads') && Number(line.time) >= cutAt);
	assert.ok(steppedDown, 'it logs that it no longer leads');
	assert.match(String(steppedDown.reason), /lease/);
	const steppedDownMs = Number(steppedDown.time) - cutAt;
	const others = queenHosts.filter(host => host !== first);
	const second = await leaderHost(others);
	const failoverMs = Date.now() - cutAt;
	t.diagnostic(`cut leader stepped down after ${steppedDownMs} ms; ${second} led after ${failoverMs} ms`);
	assert.ok(steppedDownMs < 2000, `the cut leader stepped down within its lease, before etcd let another lead (${steppedDownMs} ms)`);
	const during = await waitFor(async () => {
		const answer = await submitVia(others.find(host => host !== second)!, 'during the cut');
		return answer.status === 200 ? answer : undefined;
	}, 'a submit through the remaining follower to succeed', 20_000);
	assert.equal(during.body.task.state, 'succeeded');
	await waitFor(() => drone.stdout === 'through a follower\nduring the cut\n', `the drone, moved to the new leader, to print (got ${JSON.stringify(drone.stdout)})`, 15_000);

	// Mended, the old leader follows the new one.
	await hosts.mend(first);
	await waitFor(async () => {
		const seen = await healthOf(first);
		return seen?.role === 'follower' && seen.leader === queenAddress(second);
	}, 'the mended queen to follow the new leader', 15_000);
	const after = await submitVia(first, 'through the mended queen');
	assert.equal(after.status, 200, JSON.stringify(after.body));

	for (const larve of [...Object.values(queens), drone]) {
		larve.child.kill('SIGKILL');
		// eslint-disable-next-line no-await-in-loop
		await larve.exited;
	}

	await etcd.stop();
	assert.deepEqual(hosts.processesInside(), []);
	await hosts.remove();
	assert.deepEqual(namespacesMade(true), before);
});
