import type {BenchContext, ScenarioOutcome, Table} from './context.js';
import {followEvents, requestJson, sleep, spawnDrone, spawnQueen, waitFor, type EventFollower, type Larve, type SeenEvent} from './procs.js';
import {round, summarize, type Summary} from './stats.js';

/**
Failure: a queen and three drones at defaults (no timing flags), tasks submitted continuously; one drone
is killed with SIGKILL. Measured from the kill: its `drone.evicted` event; the first submit started
after the kill that succeeds on another drone; submits that failed; and — for tasks that were still
unfinished on the dead drone — the time from the eviction to their next `task.*` event placing them on
another drone (the task lifecycle of HIVE.md section 5; text tasks finish when dispatched, so today
there are none). A new drone replaces the dead one before the next kill.
*/

const finalStates = new Set(['succeeded', 'failed', 'lost']);
/** Command tasks (`sleep`) put on the drones before each kill; drones run with `--allow-exec`. */
const longTasksPerTrial = 6;
const longTaskSeconds = 8;
const placedStates = new Set(['dispatched', 'running']);

type Submit = {
	readonly started: number;
	readonly ended: number;
	readonly status: number;
	readonly drone: string | undefined;
	readonly attempts: number | undefined;
	readonly taskId: string | undefined;
};

export type FailureTrial = {
	readonly victim: string;
	readonly evictionMs: number | undefined;
	/** Kill → end of the first submit started after the kill that succeeded on another drone. */
	readonly firstSuccessElsewhereMs: number | undefined;
	/** Submits started between the kill and one second after the eviction. */
	readonly submitsAfterKill: number;
	readonly failedSubmits: number;
	/** Submits that tried the dead drone first and were then placed on another (attempts > 1). */
	readonly retriedSubmits: number;
	readonly maxSubmitMs: number | undefined;
	/** Tasks unfinished on the victim at the kill. */
	readonly unfinishedOnVictim: number;
	/** For each of those placed again: eviction → placed on another drone. */
	readonly replacementMs: readonly number[];
	readonly lostTasks: number;
};

export type FailureData = {
	readonly trials: readonly FailureTrial[];
	readonly evictionMs: Summary;
	readonly replacementAfterEvictionMs: Summary;
	readonly replacementNote: string;
};

/** Submits tasks in `parallel` loops, a few ms apart, until stopped; records every answer. */
function startSubmitting(queenUrl: string, parallel: number, pauseMs: number) {
	const submits: Submit[] = [];
	let running = true;
	const loops = Array.from({length: parallel}, async () => {
		while (running) {
			const started = performance.now();
			try {
				// eslint-disable-next-line no-await-in-loop
				const answer = await requestJson('POST', `${queenUrl}/submit_task`, {text: 'bench'}, 10_000);
				const task = answer.body?.task as {id?: string; drone?: string; attempts?: number} | undefined;
				submits.push({started, ended: performance.now(), status: answer.status, drone: task?.drone ?? undefined, attempts: task?.attempts, taskId: task?.id});
			} catch {
				submits.push({started, ended: performance.now(), status: 0, drone: undefined, attempts: undefined, taskId: undefined});
			}

			// eslint-disable-next-line no-await-in-loop
			await sleep(pauseMs);
		}
	});
	return {
		submits,
		async stop() {
			running = false;
			await Promise.all(loops);
		},
	};
}

/** Tasks whose last event before `time` put them on `drone` and was not final. */
export function unfinishedTasksOn(events: readonly SeenEvent[], drone: string, time: number): Set<string> {
	const last = new Map<string, {drone: string | undefined; state: string}>();
	for (const event of events) {
		if (event.at > time) {
			break;
		}

		if (event.type.startsWith('task.') && event.task?.id) {
			last.set(event.task.id as string, {drone: event.task.drone ?? undefined, state: String(event.task.state)});
		}
	}

	return new Set([...last].filter(([, task]) => task.drone === drone && !finalStates.has(task.state)).map(([id]) => id));
}

async function droneName(queenUrl: string, address: string): Promise<string> {
	return waitFor(async () => ((await requestJson('GET', `${queenUrl}/drones`)).body?.drones as Array<{name: string; address: string}> | undefined)?.find(drone => drone.address === address)?.name, `the name of ${address}`);
}

async function trial(queen: Larve, victim: Larve, events: EventFollower, context: BenchContext): Promise<FailureTrial> {
	const victimName = await droneName(queen.url, victim.address);
	const submitter = startSubmitting(queen.url, 2, 5);
	try {
		// Steady load first: tasks are reaching the victim.
		await waitFor(() => submitter.submits.filter(submit => submit.drone === victimName).length >= 20, `tasks on ${victimName}`, 10_000);
		// Long command tasks on every drone, so that the victim dies with unfinished work to place again.
		const longTasks = await Promise.all(Array.from({length: longTasksPerTrial}, async () => requestJson('POST', `${queen.url}/submit_task`, {command: `sleep ${longTaskSeconds}`})));
		const accepted = longTasks.filter(answer => answer.status === 200 || answer.status === 202).length;
		if (accepted > 0) {
			await waitFor(() => unfinishedTasksOn(events.events, victimName, performance.now()).size > 0, `a command task running on ${victimName}`, 5000).catch(() => undefined);
		}
		const killedAt = performance.now();
		victim.child.kill('SIGKILL');
		context.progress(`failure: killed ${victimName} (pid ${victim.pid})`);
		let evicted: SeenEvent | undefined;
		try {
			evicted = await events.waitFor(event => event.type === 'drone.evicted' && event.drone === victimName && event.at >= killedAt, `${victimName} evicted`, 20_000);
		} catch {}

		// Keep submitting for a second after the eviction, to see the hive settle.
		const settleUntil = (evicted?.at ?? performance.now()) + 1000;
		await waitFor(() => performance.now() >= settleUntil, 'a second after the eviction', 5000);
		// Give the victim's unfinished tasks up to 5 s after the eviction to be placed again (or lost).
		const orphans = unfinishedTasksOn(events.events, victimName, killedAt);
		await waitFor(() => [...orphans].every(id => events.events.some(event => event.at > killedAt && event.task?.id === id && ((placedStates.has(String(event.task?.state)) && event.task?.drone !== victimName) || finalStates.has(String(event.task?.state))))), 'the dead drone\'s tasks to be placed again', 5000).catch(() => undefined);
		await submitter.stop();
		await victim.exited;

		const after = submitter.submits.filter(submit => submit.started >= killedAt && submit.started <= settleUntil);
		const elsewhere = after.filter(submit => submit.status >= 200 && submit.status < 300 && submit.drone !== undefined && submit.drone !== victimName).sort((a, b) => a.ended - b.ended)[0];
		const unfinished = unfinishedTasksOn(events.events, victimName, killedAt);
		const replacementMs: number[] = [];
		let lost = 0;
		for (const id of unfinished) {
			const placed = events.events.find(event => event.at > killedAt && event.task?.id === id && placedStates.has(String(event.task?.state)) && event.task?.drone !== victimName);
			if (placed && evicted) {
				replacementMs.push(round(Math.max(0, placed.at - evicted.at), 1)!);
			}

			if (events.events.some(event => event.at > killedAt && event.task?.id === id && event.task?.state === 'lost')) {
				lost++;
			}
		}

		return {
			victim: victimName,
			evictionMs: evicted ? round(evicted.at - killedAt, 0) : undefined,
			firstSuccessElsewhereMs: elsewhere ? round(elsewhere.ended - killedAt, 1) : undefined,
			submitsAfterKill: after.length,
			failedSubmits: after.filter(submit => submit.status < 200 || submit.status > 299).length,
			retriedSubmits: after.filter(submit => (submit.attempts ?? 1) > 1).length,
			maxSubmitMs: after.length > 0 ? round(Math.max(...after.map(submit => submit.ended - submit.started)), 1) : undefined,
			unfinishedOnVictim: unfinished.size,
			replacementMs,
			lostTasks: lost,
		};
	} finally {
		await submitter.stop();
	}
}

export async function runFailure(context: BenchContext): Promise<ScenarioOutcome<FailureData>> {
	const trials: FailureTrial[] = [];
	const count = context.quick ? 1 : 3;
	const queen = await spawnQueen('queen (failure)');
	const events = await followEvents(queen.url, type => type.startsWith('task.') || type.startsWith('drone.'));
	const drones: Larve[] = [];
	let next = 0;
	const addDrone = async () => {
		// --allow-exec for the long command tasks (HIVE.md section 5); enough slots that a re-placed task finds room.
		const drone = await spawnDrone(queen, `drone-${next++} (failure)`, ['--allow-exec', '--slots', '16']);
		drones.push(drone);
		return drone;
	};

	try {
		await Promise.all([addDrone(), addDrone(), addDrone()]);
		for (let index = 0; index < count; index++) {
			const victim = drones.find(drone => drone.alive)!;
			context.progress(`failure: kill ${index + 1} of ${count}`);
			// eslint-disable-next-line no-await-in-loop
			trials.push(await trial(queen, victim, events, context));
			// eslint-disable-next-line no-await-in-loop
			await addDrone();
			// Drop old events: each trial looks only at its own.
			events.events.length = 0;
		}
	} finally {
		events.close();
		await Promise.all(drones.map(async drone => drone.stop(2000)));
		await queen.stop();
	}

	const evictionMs = summarize(trials.flatMap(t => (t.evictionMs === undefined ? [] : [t.evictionMs])));
	const replacement = summarize(trials.flatMap(t => t.replacementMs));
	const replacementNote = trials.every(t => t.unfinishedOnVictim === 0)
		? 'no task was unfinished on the dead drone (text tasks finish when accepted; no command task ran there — a build without --allow-exec?)'
		: `${trials.reduce((sum, t) => sum + t.unfinishedOnVictim, 0)} unfinished task(s) on the dead drones, ${trials.reduce((sum, t) => sum + t.replacementMs.length, 0)} placed again, ${trials.reduce((sum, t) => sum + t.lostTasks, 0)} lost: eviction → first task.dispatched/running event on another drone`;
	const table: Table = {
		title: `Failure: kill -9 one of three drones at defaults, text tasks submitted continuously (2 loops, 5 ms apart), ${longTasksPerTrial} 'sleep ${longTaskSeconds}' command tasks running`,
		columns: ['kill', 'drone', 'evicted after ms', 'first ok elsewhere ms', 'submits', 'failed', 'retried', 'max submit ms', 'unfinished on it', 'placed again after eviction ms', 'lost'],
		rows: trials.map((t, index) => [index + 1, t.victim, t.evictionMs, t.firstSuccessElsewhereMs, t.submitsAfterKill, t.failedSubmits, t.retriedSubmits, t.maxSubmitMs, t.unfinishedOnVictim, t.replacementMs.length > 0 ? Math.max(...t.replacementMs) : undefined, t.lostTasks]),
		notes: [
			'evicted after = kill → drone.evicted event on GET /events; first ok elsewhere = kill → end of the first submit started after it that a live drone accepted.',
			'submits/failed/retried: started from the kill to 1 s after the eviction; retried = the queen tried the dead drone first (attempts > 1) and placed it elsewhere.',
			`placed again: ${replacementNote}. The killed drone's own 'sleep' children end by themselves within ${longTaskSeconds} s.`,
		],
	};
	return {data: {trials, evictionMs, replacementAfterEvictionMs: replacement, replacementNote}, tables: [table]};
}
