import type {Readable} from 'node:stream';
import {readEventStream, type StreamEvent} from '../client/event-stream.js';
import {CallError} from '../client/http.js';
import type {QueenClient} from '../client/queen-client.js';
import {errorText} from './format.js';
import {clockTime, type HiveStore, type QueenSeen} from './hive-store.js';

/**
The dashboard's network side: it finds a queen that answers, reads its snapshot and its event stream
into a `HiveStore`, and follows a failover. Several queens may share one store; one leads and the
others pass every call (the event stream too) on to it. When the stream ends, the queens are asked
again (`/healthz`, answered by each queen itself), the one read before first; a queen that does not
answer, or knows no leader, gives way to the next of the list. After a change of leader (its address or
its epoch), a restarted queen (its `/healthz` `startedAt` changed), or a stream whose ids count anew, the
snapshot is read again and replaces what was shown: a new leader has the stored state but not the old
one's backlog, so no event replays what was missed. A queen that refuses the token (401) says so in the
store's error, plainly: an empty hive it is not.
*/

export type HiveFeed = {
	/** The queen read now: the one the prompt and the task details call. */
	readonly client: QueenClient;
	stop(): void;
};

export type HiveFeedOptions = {
	/** `GET /drones` (the heartbeat ages) and `/healthz` (who leads) this often. @default 1000 */
	readonly refreshMs?: number;
	/** Pause before asking the queens again after a failure, doubled up to `maxRetryMs`. @default 250 */
	readonly retryMs?: number;
	/** @default 2000 */
	readonly maxRetryMs?: number;
	/** Tasks read with a snapshot. @default 1000 */
	readonly taskLimit?: number;
};

/** Events held while a snapshot is read, at most (the oldest go first: the snapshot shows what they did). */
const maxHeld = 10_000;

/** The store's error when the queen answers 401: the dashboard was given no token, or another hive's. */
export const tokenRefused = 'the queen refused the token (401): give the hive\'s token (HIVE_TOKEN or --token-file)';

/** What the dashboard reads of a queen's `/healthz`: role, leader, epoch, address, version, start (each optional). */
export function readQueen(health: unknown, dialled: string): QueenSeen {
	const said = (typeof health === 'object' && health !== null ? health : {}) as Record<string, unknown>;
	const address = typeof said.address === 'string' ? said.address : dialled;
	const role = said.role === 'leader' || said.role === 'follower' ? said.role : undefined;
	// A follower that names no leader knows none; a queen that leads, or does not say, leads itself.
	const leader = typeof said.leader === 'string' ? said.leader : (role === 'follower' ? null : address);
	return {
		address,
		version: typeof said.version === 'string' ? said.version : undefined,
		role,
		leader,
		epoch: typeof said.epoch === 'number' ? said.epoch : null,
		startedAt: typeof said.startedAt === 'string' ? said.startedAt : undefined,
	};
}

/** "leader 127.0.0.1:8081 (epoch 12)", as the event log says it. */
export function leaderText(queen: QueenSeen): string {
	return `${queen.leader ?? 'no one'}${queen.epoch === null ? '' : ` (epoch ${queen.epoch})`}`;
}

function hostOf(client: QueenClient): string {
	return new URL(client.baseUrl).host;
}

function describe(error: unknown): string {
	return errorText(error instanceof Error ? error.message : String(error));
}

/** The queen is gone or has no leader: time to ask the queens again. */
function isLost(error: unknown): boolean {
	return error instanceof CallError && (error.code === 'ERR_HIVE_UNREACHABLE' || error.status === 503);
}

function isRefused(error: unknown): boolean {
	return error instanceof CallError && error.status === 401;
}

/** The shown state comes from this queen: the leader and epoch it named, and the queen read (its address and start). */
type Source = {readonly leader: string | null; readonly epoch: number | null; readonly address: string; readonly startedAt: string | undefined};

function sourceOf(seen: QueenSeen): Source {
	return {leader: seen.leader, epoch: seen.epoch, address: seen.address, startedAt: seen.startedAt};
}

function leaderChanged(known: Source, seen: QueenSeen): boolean {
	return known.leader !== seen.leader || known.epoch !== seen.epoch;
}

/**
The same queen, started again since it was read: its memory (the events' backlog, what was pending in it)
is new. Another queen of the list (a follower) has its own start: that is no restart.
*/
function restarted(known: Source, seen: QueenSeen): boolean {
	return known.address === seen.address && known.startedAt !== seen.startedAt;
}

/** Feeds `store` from the first of `queens` that answers with a leader, and moves on when it stops. */
export function feedHiveStore(store: HiveStore, queens: readonly QueenClient[], options: HiveFeedOptions = {}): HiveFeed {
	if (queens.length === 0) {
		throw new TypeError('feedHiveStore needs at least one queen');
	}

	const taskLimit = options.taskLimit ?? 1000;
	let stopped = false;
	let current = 0;
	/** The next round starts after the current queen: it did not answer the last refresh. */
	let passOver = false;
	/** The leadership and queen the shown state comes from (undefined until the first snapshot is asked for). */
	let known: Source | undefined;
	/** The current connection was answered 401: the store's error says so, whatever the stream says. */
	let refused = false;
	let lostLeader = false;
	/** Counts connections: an answer to an older one is not applied. */
	let attachment = 0;
	let streamUp = false;
	/** Events that came while a snapshot is read: applied after it, in order. */
	let held: StreamEvent[] | undefined;
	let reloads = 0;
	let reloadWanted = false;

	/** One round over the queens: the first that answers and knows a leader. */
	const findQueen = async (): Promise<{index: number; seen: QueenSeen}> => {
		const failures: Array<{host: string; reason: string}> = [];
		let leaderless: QueenSeen | undefined;
		const first = passOver ? current + 1 : current;
		passOver = false;
		for (let step = 0; step < queens.length && !stopped; step++) {
			const index = (first + step) % queens.length;
			const client = queens[index]!;
			try {
				// eslint-disable-next-line no-await-in-loop
				const seen = readQueen(await client.healthz(), hostOf(client));
				if (seen.leader !== null) {
					return {index, seen};
				}

				leaderless ??= seen;
			} catch (error: unknown) {
				failures.push({host: hostOf(client), reason: describe(error)});
			}
		}

		if (leaderless) {
			store.setQueen(leaderless);
			if (!lostLeader) {
				lostLeader = true;
				store.note('warn', `no leader (${leaderless.address} says): a failover is under way`);
			}

			throw new Error(`no leader (${leaderless.address} says)`);
		}

		// "a:1, b:2: ECONNREFUSED" when all say the same; each with its own reason otherwise.
		const reasons = new Set(failures.map(failure => failure.reason));
		throw new Error(reasons.size === 1
			? `${failures.map(failure => failure.host).join(', ')}: ${failures[0]!.reason}`
			: failures.map(failure => `${failure.host}: ${failure.reason}`).join(', ') || 'stopped');
	};

	/** Reads drones and tasks again; events meanwhile are held and applied after them. */
	const reload = (): void => {
		held ??= [];
		reloadWanted = false;
		const reload = ++reloads;
		const client = queens[current]!;
		const fetchedAt = Date.now();
		Promise.all([client.drones(), client.tasks({limit: taskLimit})]).then(([drones, tasks]) => {
			if (stopped || reload !== reloads) {
				return;
			}

			store.reload(drones, tasks.tasks, fetchedAt);
			for (const event of held ?? []) {
				store.pushEvent(event);
			}

			held = undefined;
		}, (error: unknown) => {
			// The next refresh tries again; a queen that is gone ends the stream too.
			if (!stopped && reload === reloads) {
				reloadWanted = true;
				if (isRefused(error)) {
					refused = true;
					reader.restart(tokenRefused);
				}
			}
		});
	};

	const open = async (since: number | undefined): Promise<Readable> => {
		streamUp = false;
		refused = false;
		const {index, seen} = await findQueen();
		if (stopped) {
			throw new Error('stopped');
		}

		current = index;
		attachment++;
		lostLeader = false;
		store.setQueen(seen);
		const changed = known !== undefined && leaderChanged(known, seen);
		const again = known !== undefined && !changed && restarted(known, seen);
		if (changed) {
			store.note('info', `leader is now ${leaderText(seen)}`);
		} else if (again) {
			store.note('warn', `queen ${seen.address} restarted at ${seen.startedAt === undefined ? '--:--:--' : clockTime(seen.startedAt)}: its state replaces what was shown`);
		}

		if (known === undefined || changed || again) {
			reload();
		}

		known = sourceOf(seen);
		const stream = queens[index]!.openEvents(since);
		stream.once('response', (response: {statusCode: number}) => {
			refused ||= response.statusCode === 401;
		});
		return stream;
	};

	const reader = readEventStream({
		open,
		// The queen's backlog first: the log starts with what happened lately.
		since: 0,
		retryMs: options.retryMs,
		maxRetryMs: options.maxRetryMs,
		onEvent(event) {
			if (held) {
				held.push(event);
				if (held.length > maxHeld) {
					held.splice(0, held.length - maxHeld);
				}
			} else {
				store.pushEvent(event);
			}
		},
		onRewind() {
			// The ids count anew: a queen that lost its history. What was shown cannot be trusted.
			reload();
		},
		onStatus(status) {
			streamUp = status.connected;
			store.setStatus(status.connected, !status.connected && refused ? tokenRefused : status.error);
		},
	});

	const refresh = async (): Promise<void> => {
		const client = queens[current]!;
		const at = attachment;
		try {
			const [drones, health] = await Promise.all([held ? undefined : client.drones(), client.healthz()]);
			if (stopped || at !== attachment) {
				return;
			}

			const seen = readQueen(health, hostOf(client));
			if (known && leaderChanged(known, seen)) {
				// Another leader, and the stream has not ended (yet): ask the queens again now.
				reader.restart(seen.leader === null ? 'no leader' : 'the leader changed');
			} else if (known && restarted(known, seen)) {
				// Seen before the stream's end: connect again, and the reconnection reloads.
				reader.restart('the queen restarted');
			} else if (drones) {
				store.setDrones(drones);
			}
		} catch (error: unknown) {
			if (!stopped && at === attachment && isRefused(error)) {
				refused = true;
				reader.restart(tokenRefused);
			} else if (!stopped && at === attachment && isLost(error)) {
				// A queen stopped dead keeps its connections open, without a word: do not wait for TCP.
				passOver = true;
				reader.restart(describe(error));
			}
		}
	};

	let refreshing = false;
	const timer = setInterval(() => {
		if (stopped || refreshing || !streamUp) {
			return;
		}

		if (reloadWanted) {
			reload();
			return;
		}

		refreshing = true;
		void refresh().finally(() => {
			refreshing = false;
		});
	}, options.refreshMs ?? 1000);

	return {
		get client() {
			return queens[current]!;
		},
		stop() {
			stopped = true;
			clearInterval(timer);
			reader.close();
		},
	};
}
