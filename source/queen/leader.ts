import {EventEmitter} from 'node:events';
import type {Etcd3, Lease, Watcher} from 'etcd3';
import type {Logger} from '../log.js';

/** Who leads a hive: the queen's address and its epoch (undefined for a queen alone, without etcd). */
export type LeaderInfo = {readonly address: string; readonly epoch: number | undefined};

/**
What a leader writes under: its election key and that key's create revision. A write holds only while
the key is still the one this leader created (a store's fence).
*/
export type Fence = {readonly key: string; readonly createRevision: string};

/** One term of leadership: its epoch, and the fence of its writes (none for a queen alone). */
export type Term = {readonly epoch: number | undefined; readonly fence: Fence | undefined};

export type Role = 'leader' | 'follower';

/**
Who leads, as this queen sees it. `holds()` is this queen's own word that it leads right now: checked
before every call to a drone, from the local clock, so that a leader paused past its lease (SIGSTOP, a
long GC) does nothing when it wakes, before any timer of its own has run.
*/
export type Leadership = {
	readonly role: Role;
	/** The leader as last seen (this queen, or another); undefined while none leads. */
	readonly leader: LeaderInfo | undefined;
	holds(): boolean;
	/** A term starts: this queen leads. */
	on(event: 'elected', listener: (term: Term) => void): unknown;
	/** The term ends (its lease could not be renewed in time, its store failed, or the queen stops). */
	on(event: 'deposed', listener: (reason: string) => void): unknown;
	/** The leader seen changed (any queen). */
	on(event: 'changed', listener: () => void): unknown;
	start(): void;
	/** Ends this term now (its store failed): another queen may take over. */
	stepDown(reason: string): void;
	/** Steps down (and gives the lease back) and stops campaigning. */
	stop(): Promise<void>;
};

/** A queen alone (file or memory store): it leads from start to stop. */
export class SoleLeadership extends EventEmitter implements Leadership {
	readonly role = 'leader';
	readonly #address: () => string;
	#leading = false;

	constructor(address: () => string) {
		super();
		this.#address = address;
	}

	get leader(): LeaderInfo {
		return {address: this.#address(), epoch: undefined};
	}

	holds(): boolean {
		return this.#leading;
	}

	start(): void {
		this.#leading = true;
		this.emit('elected', {epoch: undefined, fence: undefined} satisfies Term);
	}

	stepDown(reason: string): void {
		if (this.#leading) {
			this.#leading = false;
			this.emit('deposed', reason);
		}
	}

	async stop(): Promise<void> {
		this.stepDown('the queen stops');
	}
}

export type ElectionOptions = {
	readonly client: Etcd3;
	/** The election key: `<prefix>leader`. */
	readonly key: string;
	/** This queen's address, as the others call it. */
	readonly address: string;
	/** The leader's lease, in ms (etcd counts it in whole seconds: rounded up, at least 2). */
	readonly leaseMs: number;
	readonly log: Logger;
	/** How often a follower looks at the election key. @default a tenth of the lease, at most 250 ms */
	readonly pollMs?: number;
	/** Milliseconds of a monotonic clock. @default performance.now */
	readonly now?: () => number;
};

/**
Leader election on an etcd lease, by one key (`<prefix>leader`): created in a transaction only if it does
not exist, bound to the creator's lease. Whoever created it leads; its create revision is the term's
epoch (it only grows) and fences the leader's writes.

The leader renews its lease every third of the lease and counts its lease valid until the lease's
length after it *sent* the last renewal that etcd accepted (etcd counts from when it received it, which
is later); it steps down by itself a margin before that, without waiting for the client library's
`lost` event (which comes after twice the lease). Followers read the key a few times a second and
campaign as soon as it is gone (its leader's lease ran out, or it resigned).
*/
export class EtcdElection extends EventEmitter implements Leadership {
	readonly #options: ElectionOptions;
	readonly #now: () => number;
	readonly #leaseSeconds: number;
	/** Stop leading this long before the lease would run out by our own count. */
	readonly #marginMs: number;
	#role: Role = 'follower';
	#leader: LeaderInfo | undefined;
	#lease: Lease | undefined;
	#epoch: number | undefined;
	/** By our own clock, the lease holds until then. */
	#validUntil = 0;
	#timer: NodeJS.Timeout | undefined;
	#renewTimer: NodeJS.Timeout | undefined;
	#stopped = false;
	#looking = false;
	#again = false;
	/** The look under way (or the last): `stop` waits for it, so that a campaign it started ends first. */
	#lookDone: Promise<void> = Promise.resolve();
	#watcher: Watcher | undefined;

	constructor(options: ElectionOptions) {
		super();
		this.#options = options;
		// A monotonic clock: a wall clock stepped back would stretch the lease as this queen counts it.
		this.#now = options.now ?? (() => performance.now());
		this.#leaseSeconds = Math.max(2, Math.ceil(options.leaseMs / 1000));
		// etcd counts a lease from when it got the renewal, later than this queen sent it, and expires it
		// later still (it looks every 0.5 s): no other queen can win before `#validUntil`. The margin is for
		// what this queen does between a look at its clock and its effect (a call already on its way).
		this.#marginMs = Math.min(500, (this.#leaseSeconds * 1000) / 8);
	}

	get role(): Role {
		return this.#role;
	}

	get leader(): LeaderInfo | undefined {
		return this.#leader;
	}

	holds(): boolean {
		return this.#role === 'leader' && this.#now() < this.#validUntil - this.#marginMs;
	}

	start(): void {
		this.#scheduleLook(0);
		void this.#watch();
	}

	/**
	A watch on the key tells a follower the moment it goes (its leader's lease ran out): the look that
	follows campaigns at once, rather than at the next poll. The polls stay, in case the watch is lost.
	*/
	async #watch(): Promise<void> {
		try {
			const watcher = await this.#options.client.watch().key(this.#options.key).create();
			if (this.#stopped) {
				await watcher.cancel();
				return;
			}

			this.#watcher = watcher;
			watcher.on('error', () => undefined);
			watcher.on('delete', kv => {
				// (A watch may deliver the deletion of the previous leader's key after this queen won: only a
				// change after its own key was made speaks of its term.)
				if (this.role === 'leader' && Number(kv.mod_revision) > (this.#epoch ?? 0)) {
					// Its key is gone (its lease revoked, or deleted by hand): another may win it now.
					this.stepDown('its election key was deleted');
				} else if (this.role !== 'leader') {
					this.#scheduleLook(0);
				}
			});
			watcher.on('put', kv => {
				if (this.role === 'leader' && Number(kv.mod_revision) > (this.#epoch ?? 0) && Number(kv.create_revision) !== this.#epoch) {
					this.stepDown(`another queen holds the election key (epoch ${kv.create_revision})`);
				} else if (this.role !== 'leader') {
					this.#scheduleLook(0);
				}
			});
		} catch (error: unknown) {
			this.#options.log.debug({err: messageOf(error)}, 'could not watch the election key (the polls go on)');
		}
	}

	stepDown(reason: string): void {
		if (this.#role !== 'leader') {
			return;
		}

		const lease = this.#lease;
		this.#depose(reason);
		// Give the key back at once, so that another queen need not wait for the lease to run out.
		void this.#resign(lease);
	}

	async stop(): Promise<void> {
		this.#stopped = true;
		clearTimeout(this.#timer);
		clearTimeout(this.#renewTimer);
		await this.#watcher?.cancel().catch(() => undefined);
		await this.#lookDone;
		if (this.#role === 'leader') {
			const lease = this.#lease;
			this.#depose('the queen stops');
			await this.#resign(lease);
		}
	}

	#scheduleLook(ms: number): void {
		if (this.#stopped) {
			return;
		}

		clearTimeout(this.#timer);
		this.#timer = setTimeout(() => {
			this.#lookDone = this.#look();
		}, ms);
	}

	get #pollMs(): number {
		return this.#options.pollMs ?? Math.min(250, this.#leaseSeconds * 100);
	}

	/** A follower's look at the key: who leads; none, then campaign. */
	async #look(): Promise<void> {
		if (this.#looking) {
			// The key changed while a look was under way: look again once it ends.
			this.#again = true;
			return;
		}

		if (this.#stopped || this.#role === 'leader') {
			return;
		}

		this.#again = false;

		this.#looking = true;
		try {
			const {client, key} = this.#options;
			const found = await client.get(key).exec();
			const kv = found.kvs[0];
			if (kv) {
				this.#see(leaderOf(kv.value, kv.create_revision));
			} else {
				this.#see(undefined);
				await this.#campaign();
			}
		} catch (error: unknown) {
			this.#options.log.warn({err: messageOf(error)}, 'could not read who leads the hive from etcd');
			this.#see(undefined);
		} finally {
			this.#looking = false;
			if (this.role !== 'leader') {
				this.#scheduleLook(this.#again ? 0 : this.#pollMs);
			}
		}
	}

	async #campaign(): Promise<void> {
		const {client, key, address} = this.#options;
		const lease = client.lease(this.#leaseSeconds, {autoKeepAlive: false});
		lease.on('lost', () => undefined);
		const sentAt = this.#now();
		let won = false;
		try {
			const id = await lease.grant();
			const result = await client.if(key, 'Create', '==', 0)
				.then(client.put(key).value(JSON.stringify({address})).lease(id))
				.else(client.get(key))
				.commit();
			if (!result.succeeded) {
				const kv = result.responses[0]?.response_range?.kvs[0];
				this.#see(kv ? leaderOf(kv.value, kv.create_revision) : undefined);
				return;
			}

			if (this.#stopped) {
				// Stopped while it campaigned: the key it just won goes at once, not a lease later.
				await client.if(key, 'Create', '==', result.header.revision).then(client.delete().key(key)).commit().catch(() => undefined);
				return;
			}

			won = true;
			this.#lease = lease;
			this.#epoch = Number(result.header.revision);
			this.#validUntil = sentAt + (this.#leaseSeconds * 1000);
			this.#role = 'leader';
			this.#see({address, epoch: this.#epoch});
			this.#options.log.info({epoch: this.#epoch, address}, `this queen leads the hive (epoch ${this.#epoch})`);
			this.#scheduleRenewal();
			this.emit('elected', {epoch: this.#epoch, fence: {key, createRevision: result.header.revision}} satisfies Term);
		} finally {
			if (!won) {
				void lease.revoke().catch(() => undefined);
			}
		}
	}

	#scheduleRenewal(): void {
		clearTimeout(this.#renewTimer);
		const renewIn = (this.#leaseSeconds * 1000) / 3;
		const dueIn = this.#validUntil - this.#marginMs - this.#now();
		this.#renewTimer = setTimeout(() => {
			void this.#renew();
		}, Math.max(0, Math.min(renewIn, dueIn)));
	}

	async #renew(): Promise<void> {
		if (this.#role !== 'leader' || this.#stopped) {
			return;
		}

		const lease = this.#lease!;
		for (;;) {
			// A wake-up past the lease (the process was paused), or renewals that failed until now: this term
			// is over, whatever etcd would say.
			const remaining = this.#validUntil - this.#marginMs - this.#now();
			if (remaining <= 0) {
				this.stepDown(`it could not renew its lease of ${this.#leaseSeconds} s in time`);
				return;
			}

			// Several short tries rather than one long one: a member that hangs must not eat the whole budget.
			const sentAt = this.#now();
			let ttl: number;
			try {
				// eslint-disable-next-line no-await-in-loop
				ttl = await this.#keepAlive(lease, Math.min(1000, Math.max(100, remaining / 2)));
			} catch (error: unknown) {
				if (lease !== this.#lease) {
					return;
				}

				this.#options.log.warn({err: messageOf(error)}, 'could not renew the leader\'s lease; trying again');
				continue;
			}

			if (lease !== this.#lease) {
				return;
			}

			if (ttl <= 0) {
				this.stepDown('etcd says its lease is gone');
				return;
			}

			this.#validUntil = sentAt + (ttl * 1000);
			break;
		}

		this.#scheduleRenewal();
	}

	/**
	One renewal on a keep-alive stream of its own, given up after `ms` (its stream cancelled): etcd3's
	`keepaliveOnce` has no deadline, and throws rather than answer TTL 0 for a lease that is gone.
	*/
	async #keepAlive(lease: Lease, ms: number): Promise<number> {
		const id = await lease.grant();
		const opening = this.#options.client.leaseClient.leaseKeepAlive({deadline: Date.now() + ms});
		let stream: Awaited<typeof opening> | undefined;
		try {
			stream = await withTimeout(opening, ms);
			const open = stream;
			return await withTimeout(new Promise<number>((resolve, reject) => {
				open.on('data', answer => {
					resolve(Number(answer.TTL));
				});
				open.on('error', reject);
				open.on('end', () => {
					reject(new Error('etcd ended the keep-alive stream'));
				});
				open.write({ID: id});
			}), ms);
		} finally {
			if (stream) {
				stream.cancel();
			} else {
				void opening.then(late => {
					late.on('error', () => undefined);
					late.cancel();
				}, () => undefined);
			}
		}
	}

	#depose(reason: string): void {
		this.#role = 'follower';
		// Its key stays this term's (resigned or not): a renewal in flight is for a lease no longer used.
		this.#lease = undefined;
		this.#validUntil = 0;
		clearTimeout(this.#renewTimer);
		this.#see(undefined);
		this.#options.log.warn({epoch: this.#epoch, reason}, `this queen no longer leads the hive: ${reason}`);
		this.emit('deposed', reason);
		this.#scheduleLook(this.#pollMs);
	}

	/** Deletes the key if it is still this term's, and gives the lease back. */
	async #resign(lease: Lease | undefined): Promise<void> {
		const epoch = this.#epoch;
		if (!lease || epoch === undefined) {
			return;
		}

		try {
			const {client, key} = this.#options;
			await client.if(key, 'Create', '==', epoch).then(client.delete().key(key)).commit();
			await lease.revoke();
		} catch (error: unknown) {
			this.#options.log.debug({err: messageOf(error)}, 'could not resign (the lease runs out by itself)');
		}
	}

	#see(leader: LeaderInfo | undefined): void {
		if (leader?.address !== this.#leader?.address || leader?.epoch !== this.#leader?.epoch) {
			this.#leader = leader;
			this.emit('changed');
		}
	}
}

function leaderOf(value: Buffer, createRevision: string): LeaderInfo | undefined {
	try {
		const {address} = JSON.parse(value.toString('utf8')) as {address?: unknown};
		return typeof address === 'string' ? {address, epoch: Number(createRevision)} : undefined;
	} catch {
		return undefined;
	}
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	try {
		return await Promise.race([promise, new Promise<never>((_, reject) => {
			timer = setTimeout(() => {
				reject(new Error(`no answer from etcd within ${ms} ms`));
			}, ms);
		})]);
	} finally {
		clearTimeout(timer);
	}
}

function messageOf(error: unknown): string {
	return error instanceof Error ? error.message : String(error);
}
