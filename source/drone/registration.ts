import {setTimeout as sleep} from 'node:timers/promises';
import {CallError} from '../client/http.js';
import type {DroneSpecBody, QueenClient} from '../client/queen-client.js';
import {newContactKey, sameSecret} from '../http/auth.js';
import type {Logger} from '../log.js';

export type RegistrationOptions = {
	/** What the queen should know of this drone: the address to call, a name, slots, labels, its boot id. */
	readonly drone: Omit<DroneSpecBody, 'contactKey'>;
	/** How long to keep trying at start. */
	readonly timeoutMs: number;
};

/**
The queen's answers that are final: it said no, and asking again will not change its mind (a bad body,
a wrong token, a conflict with what it knows, no drone at the advertised address). Anything else — no
answer, a callback that timed out (503, 504), a full queue (429) — is tried again until the time is up.
*/
const refusals: ReadonlySet<number> = new Set([400, 401, 403, 409, 422]);

/**
What a call to the drone showed of itself: `stale` when it carries an epoch older than one its queen has
shown (a deposed leader's: refuse it, and let it count for nothing); else whether its contact key is this
drone's (undefined: it showed none).
*/
export type QueenCallVerdict =
	| {readonly stale: true; readonly highest: number}
	| {readonly stale: false; readonly proven: boolean | undefined};

/** The drone gave up registering at start: the CLI prints the seed's words and exits non-zero. */
export class RegistrationError extends Error {
	override readonly name = 'RegistrationError';
	readonly code = 'ERR_HIVE_REGISTER';
}

/**
A drone's membership of its queen, as Nomad's client keeps its node registered: register at start with
backoff, notice when the queen has stopped calling (an eviction, a restarted queen) and register again
under the same name, and say goodbye on stop.

Each registration gives the queen a new contact key, a secret the queen then shows on every call to
this drone (as Nomad's client gives its servers a node secret). A call counts as the queen's only when
it shows the key: anyone can send a `hive-queen/` User-Agent, and a stranger's calls must not keep a
drone that its queen has lost from registering again.
*/
export class Registration {
	readonly #queen: QueenClient;
	readonly #log: Logger;
	readonly #options: RegistrationOptions;
	#name: string | undefined;
	#heartbeatIntervalMs = 2000;
	#lastQueenContact = Date.now();
	#watchdog: NodeJS.Timeout | undefined;
	#registering = false;
	/** The key given with the last registration the queen accepted. */
	#contactKey: string | undefined;
	/** The key given with the registration under way (or the last one that got no answer: the queen may have it). */
	#offeredKey: string | undefined;
	/** The highest epoch a call proven with this drone's keys has shown; undefined: none yet (a queen without etcd). */
	#epoch: number | undefined;
	/** The highest epoch shown with the offered key: the registration under way's callback. */
	#offeredEpoch: number | undefined;
	/** The queen that accepted the last registration (`http://host:port`). */
	#queenUrl: string | undefined;
	readonly #abort = new AbortController();

	constructor(queen: QueenClient, log: Logger, options: RegistrationOptions) {
		this.#queen = queen;
		this.#log = log;
		this.#options = options;
		this.#name = options.drone.name;
	}

	get name(): string | undefined {
		return this.#name;
	}

	/** The highest epoch its queen has shown; undefined when none has (a single queen, no etcd). */
	get epoch(): number | undefined {
		return this.#epoch;
	}

	/** Registers, retrying with backoff until `timeoutMs` has passed; then throws a `RegistrationError`. */
	async register(): Promise<string> {
		const deadline = Date.now() + this.#options.timeoutMs;
		let delayMs = 100;
		for (let attempt = 1; ; attempt++) {
			try {
				// eslint-disable-next-line no-await-in-loop -- one attempt after another
				return await this.#registerOnce();
			} catch (error: unknown) {
				const message = error instanceof Error ? error.message : String(error);
				const final = error instanceof CallError && error.code === 'ERR_HIVE_REFUSED' && refusals.has(error.status ?? 0);
				if (final || Date.now() + delayMs > deadline || this.#abort.signal.aborted) {
					throw new RegistrationError(`Could not register to queen ${this.#queen.baseUrl}: ${message}`);
				}

				this.#log.info({attempt, err: message, retryInMs: delayMs}, 'queen not reachable yet; retrying');
				// eslint-disable-next-line no-await-in-loop
				await sleep(delayMs * (0.5 + (Math.random() / 2)), undefined, {signal: this.#abort.signal}).catch(() => undefined);
				delayMs = Math.min(delayMs * 2, 2000);
			}
		}
	}

	/**
	A call showed `key` (undefined: none) and `epoch` (undefined: none, a queen without etcd). Refused
	(stale) when the epoch is older than the highest its queen has shown; `readOnly` calls showing the key
	of the registration under way are the exception: that is its callback, from a queen that may lead now
	with a lower epoch. A call that shows a key this drone gave is the queen's: it counts as contact and
	may raise the epoch. Keys are compared in constant time.
	*/
	queenCall(key: string | undefined, epoch: number | undefined, readOnly: boolean): QueenCallVerdict {
		const offered = key !== undefined && this.#offeredKey !== undefined && this.#offeredKey !== this.#contactKey && sameSecret(this.#offeredKey, key);
		if (epoch !== undefined && this.#epoch !== undefined && epoch < this.#epoch && !(offered && readOnly)) {
			return {stale: true, highest: this.#epoch};
		}

		if (key === undefined) {
			return {stale: false, proven: undefined};
		}

		const proven = offered || (this.#contactKey !== undefined && sameSecret(this.#contactKey, key));
		if (proven) {
			this.#lastQueenContact = Date.now();
			if (epoch !== undefined) {
				this.#epoch = Math.max(this.#epoch ?? epoch, epoch);
				if (offered) {
					this.#offeredEpoch = Math.max(this.#offeredEpoch ?? epoch, epoch);
				}
			}
		}

		return {stale: false, proven};
	}

	/**
	Registers again when the queen has not called for 2.5 heartbeat intervals: it has evicted this
	drone or forgotten it. The drone keeps its name, so it comes back as itself.
	*/
	watch(): void {
		const check = async () => {
			const silentMs = Date.now() - this.#lastQueenContact;
			if (silentMs > this.#heartbeatIntervalMs * 2.5 && !this.#registering) {
				this.#log.warn({silentMs}, 'no heartbeat from the queen; registering again');
				try {
					await this.#registerOnce();
				} catch (error: unknown) {
					this.#log.warn({err: error instanceof Error ? error.message : String(error)}, 'could not register again; will retry');
				}
			}

			this.#scheduleWatch(check);
		};

		this.#scheduleWatch(check);
	}

	/** Stops watching, and tells the queen this drone is leaving (bounded: the queen may be gone). */
	async leave(): Promise<void> {
		this.stop();
		if (this.#name === undefined) {
			return;
		}

		try {
			await this.#queen.deregister(this.#options.drone.address);
			this.#log.info({queen: this.#queen.baseUrl}, 'left the queen');
		} catch (error: unknown) {
			this.#log.warn({err: error instanceof Error ? error.message : String(error)}, 'could not tell the queen this drone is leaving');
		}
	}

	stop(): void {
		clearTimeout(this.#watchdog);
		this.#watchdog = undefined;
		this.#abort.abort();
	}

	#scheduleWatch(check: () => Promise<void>): void {
		if (this.#abort.signal.aborted) {
			return;
		}

		this.#watchdog = setTimeout(() => {
			void check();
		}, Math.max(50, this.#heartbeatIntervalMs / 2));
		this.#watchdog.unref();
	}

	async #registerOnce(): Promise<string> {
		this.#registering = true;
		try {
			const contactKey = newContactKey();
			this.#offeredKey = contactKey;
			this.#offeredEpoch = undefined;
			const answer = await this.#queen.register({...this.#options.drone, ...(this.#name === undefined ? {} : {name: this.#name}), contactKey});
			this.#contactKey = contactKey;
			if (this.#offeredEpoch !== undefined) {
				this.#epoch = this.#offeredEpoch;
			}

			this.#name = answer.name;
			if (typeof answer.heartbeatIntervalMs === 'number' && answer.heartbeatIntervalMs > 0) {
				this.#heartbeatIntervalMs = answer.heartbeatIntervalMs;
			}

			this.#lastQueenContact = Date.now();
			// The queen that answered: the client moves on from queens that do not.
			const queenUrl = this.#queen.baseUrl;
			if (this.#queenUrl !== undefined && this.#queenUrl !== queenUrl) {
				this.#log.warn({queen: queenUrl, previous: this.#queenUrl, name: answer.name}, `moved to queen ${queenUrl} (from ${this.#queenUrl})`);
			}

			this.#queenUrl = queenUrl;
			this.#log.info({queen: queenUrl, name: answer.name}, `Registered to ${queenUrl}`);
			return answer.name;
		} finally {
			this.#registering = false;
		}
	}
}
