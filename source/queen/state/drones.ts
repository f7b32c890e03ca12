import type {Drone, DroneRecord, DroneState} from '../../model.js';

type Health = {
	state: DroneState;
	lastSeen: number | undefined;
	failedAttempts: number;
	lastError: string | undefined;
};

type Entry = {
	record: DroneRecord;
	readonly health: Health;
	tasksDone: number;
	running: number;
	/** Its view, made once per change and handed out as it is (readonly). */
	view: Drone | undefined;
};

/** What the store keeps of the registry. */
export type DroneRegistryData = {
	readonly nextNumber: number;
	readonly usedNames: readonly string[];
	readonly drones: ReadonlyArray<DroneRecord & {readonly tasksDone: number}>;
};

/**
The drone registry: who is in the hive, by name and by address, and the names ever given (a name is
never given to a different drone). Health (last seen, failed attempts) is kept here too, in memory
only: the store keeps records, heartbeats are timers (as Nomad keeps them).
*/
export class DroneRegistry {
	readonly #entries = new Map<string, Entry>();
	readonly #namesByAddress = new Map<string, string>();
	/** A drone process is one drone: by its boot id, whatever address it was registered at. */
	readonly #namesByBoot = new Map<string, string>();
	readonly #usedNames = new Set<string>();
	#nextNumber = 0;

	get size(): number {
		return this.#entries.size;
	}

	/** The next generated name (`drone-N`) and the counter after it; nothing changes until `put`. */
	nextName(): {readonly name: string; readonly nextNumber: number} {
		let number = this.#nextNumber;
		let name: string;
		do {
			name = `drone-${number++}`;
		} while (this.#usedNames.has(name));
		return {name, nextNumber: number};
	}

	get nextNumber(): number {
		return this.#nextNumber;
	}

	wasUsed(name: string): boolean {
		return this.#usedNames.has(name);
	}

	nameAt(address: string): string | undefined {
		return this.#namesByAddress.get(address);
	}

	/** The drone registered with this boot id: the same process, at whatever address. */
	nameWithBoot(bootId: string): string | undefined {
		return this.#namesByBoot.get(bootId);
	}

	/** The contact key the queen shows on its calls to the drone at this address. */
	contactKeyAt(address: string): string | undefined {
		const name = this.#namesByAddress.get(address);
		return name === undefined ? undefined : this.#entries.get(name)?.record.contactKey;
	}

	record(name: string): DroneRecord | undefined {
		return this.#entries.get(name)?.record;
	}

	/** Adds or replaces a drone's record; a drone registering is seen now and ready. */
	put(record: DroneRecord, nextNumber: number, seenAt: number): void {
		this.#nextNumber = Math.max(this.#nextNumber, nextNumber);
		this.#usedNames.add(record.name);
		const entry = this.#entries.get(record.name);
		if (entry) {
			if (entry.record.address !== record.address && this.#namesByAddress.get(entry.record.address) === record.name) {
				this.#namesByAddress.delete(entry.record.address);
			}

			this.#forgetBoot(entry.record);
			entry.record = record;
			Object.assign(entry.health, {state: 'ready', failedAttempts: 0, lastSeen: seenAt, lastError: undefined});
			entry.view = undefined;
		} else {
			this.#entries.set(record.name, {record, health: {state: 'ready', failedAttempts: 0, lastSeen: seenAt, lastError: undefined}, tasksDone: 0, running: 0, view: undefined});
		}

		this.#namesByAddress.set(record.address, record.name);
		if (record.bootId !== undefined) {
			this.#namesByBoot.set(record.bootId, record.name);
		}
	}

	remove(name: string): DroneRecord | undefined {
		const entry = this.#entries.get(name);
		if (!entry) {
			return undefined;
		}

		this.#entries.delete(name);
		if (this.#namesByAddress.get(entry.record.address) === name) {
			this.#namesByAddress.delete(entry.record.address);
		}

		this.#forgetBoot(entry.record);
		return entry.record;
	}

	/** Replaces what the store keeps of a drone (cordoned, a drain), its health left as it is. */
	amend(name: string, change: (record: DroneRecord) => DroneRecord): DroneRecord | undefined {
		const entry = this.#entries.get(name);
		if (!entry) {
			return undefined;
		}

		entry.record = change(entry.record);
		entry.view = undefined;
		return entry.record;
	}

	/** Names of the drones that take no new tasks. */
	cordoned(): string[] {
		const names: string[] = [];
		for (const [name, entry] of this.#entries) {
			if (entry.record.cordoned) {
				names.push(name);
			}
		}

		return names;
	}

	/** Counts a command task placed on it (+1) or ended (-1). */
	addRunning(name: string, delta: number): void {
		const entry = this.#entries.get(name);
		if (entry) {
			entry.running = Math.max(0, entry.running + delta);
			entry.view = undefined;
		}
	}

	countDone(name: string): void {
		const entry = this.#entries.get(name);
		if (entry) {
			entry.tasksDone += 1;
			entry.view = undefined;
		}
	}

	/** A heartbeat answered (at `at`; never moves `lastSeen` back): true when the drone was not healthy before (it recovered). */
	seen(name: string, at: number): boolean {
		const entry = this.#entries.get(name);
		if (!entry) {
			return false;
		}

		const {health} = entry;
		if (health.lastSeen === undefined || at > health.lastSeen) {
			health.lastSeen = at;
		}

		if (health.state === 'ready' && health.failedAttempts === 0) {
			// The hot path of 10,000 heartbeats: no new view, `lastSeen` is read from the health.
			return false;
		}

		Object.assign(health, {state: 'ready', failedAttempts: 0, lastError: undefined});
		entry.view = undefined;
		return true;
	}

	/** A heartbeat failed: the failures in a row now (0 when the drone is gone). */
	failed(name: string, error: string): number {
		const entry = this.#entries.get(name);
		if (!entry) {
			return 0;
		}

		entry.health.failedAttempts += 1;
		entry.health.state = 'suspect';
		entry.health.lastError = error;
		entry.view = undefined;
		return entry.health.failedAttempts;
	}

	/** A call to it failed outside a heartbeat: no work for it until it answers again. */
	suspect(name: string, error: string): void {
		const entry = this.#entries.get(name);
		if (entry) {
			entry.health.state = 'suspect';
			entry.health.lastError = error;
			entry.view = undefined;
		}
	}

	/** The drone as the queen sees it; the same object until it changes (`lastSeen` is read fresh). */
	get(name: string): Drone | undefined {
		const entry = this.#entries.get(name);
		return entry && this.#view(entry);
	}

	/** Every drone, in registration order (readonly views, made only for drones that changed). */
	* all(): IterableIterator<Drone> {
		for (const entry of this.#entries.values()) {
			yield this.#view(entry);
		}
	}

	names(): IterableIterator<string> {
		return this.#entries.keys();
	}

	/** The seed's map: address → name. */
	map(): Record<string, string> {
		return Object.fromEntries(this.#namesByAddress);
	}

	data(): DroneRegistryData {
		return {
			nextNumber: this.#nextNumber,
			usedNames: [...this.#usedNames],
			drones: [...this.#entries.values()].map(entry => ({...entry.record, tasksDone: entry.tasksDone})),
		};
	}

	/** Restores what the store kept: every drone seen at `seenAt` (a full grace period from there). */
	restore(data: DroneRegistryData, seenAt: number): void {
		this.#nextNumber = data.nextNumber;
		for (const name of data.usedNames) {
			this.#usedNames.add(name);
		}

		for (const {tasksDone, ...record} of data.drones) {
			this.put(record, data.nextNumber, seenAt);
			this.#entries.get(record.name)!.tasksDone = tasksDone;
		}
	}

	/** Marks every drone seen now: after a restart, each gets a whole grace period before an eviction. */
	seenAll(at: number): void {
		for (const entry of this.#entries.values()) {
			entry.health.lastSeen = at;
		}
	}

	#forgetBoot(record: DroneRecord): void {
		if (record.bootId !== undefined && this.#namesByBoot.get(record.bootId) === record.name) {
			this.#namesByBoot.delete(record.bootId);
		}
	}

	#view(entry: Entry): Drone {
		entry.view ??= {...entry.record, ...entry.health, tasksDone: entry.tasksDone, running: entry.running};
		if (entry.view.lastSeen !== entry.health.lastSeen) {
			entry.view = {...entry.view, lastSeen: entry.health.lastSeen};
		}

		return entry.view;
	}
}
