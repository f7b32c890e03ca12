import fs from 'node:fs/promises';
import {constants as fsConstants} from 'node:fs';
import path from 'node:path';
import {crc32} from 'node:zlib';
import {lockDirectory} from '../../lock.js';
import type {Fact, StoredFact} from '../state/facts.js';
import {acknowledgment, type Acknowledgment, type Loaded, type StateImage, type Store, type StoreStats} from './store.js';

/**
The embedded default store: an append-only log of facts in `--data-dir`, with group commit and
snapshots, as a database's write-ahead log is.

- `wal-<first revision>.log`: one line per batch, `<crc32> {"rev":N,"facts":[...]}`. The commands of one
  event-loop turn make one batch: one line, one write and one fdatasync; the next turn's wait for it (one
  flush at a time). A line is serialized when it is written, not per command (one `JSON.stringify` and
  one checksum per batch: at 64 connections a batch holds ~90 commands).
- `snapshot.json`: the whole state at a revision, written beside (`.tmp`, fsync, rename) when the log
  has grown past the snapshot's own size; the log segments it covers are then deleted.
- `LOCK`: the pid of the queen that has the directory; a second queen is refused while that pid lives.

Recovery loads the snapshot and replays the facts after it. A torn last line (the queen died while
writing it: it was never acknowledged) is dropped with a warning; any other damage stops the queen
with an error naming the file, and nothing is deleted.
*/

export type FileStoreOptions = {
	readonly dir: string;
	/**
	Log bytes after which a snapshot is written (at least; a large state waits for a log half as large as
	its snapshot, so that the work of snapshots stays in proportion, and a restart reads at most half as
	much log as snapshot). @default 8 MiB
	*/
	readonly compactBytes?: number;
};

/** The directory is in use by a queen that is still running. */
export class StoreLockedError extends Error {
	override readonly name = 'StoreLockedError';
	readonly code = 'ERR_HIVE_STORE_LOCKED';
}

/** A store file is damaged beyond a torn last line. */
export class CorruptStoreError extends Error {
	override readonly name = 'CorruptStoreError';
	readonly code = 'ERR_HIVE_STORE_CORRUPT';
}

export type FileStore = Store & {
	/** Hands the store the state it compacts its log into. */
	setImageSource(image: () => StateImage): void;
	/** Writes a snapshot now (tests, and a clean stop). */
	snapshot(): Promise<void>;
};

type Batch = Acknowledgment & {
	/** Revision of its first fact. */
	readonly first: number;
	/** The facts of the batch's commands, in order: one record of the log when written. */
	readonly facts: Fact[];
};

const segmentPattern = /^wal-(\d{16})\.log$/;
/** Directories this process has open: a second store on one of them is refused as another process's is. */
const openHere = new Set<string>();
const snapshotFile = 'snapshot.json';

/** Opens (and locks) a store directory. Load it with `load()` before the first `append`. */
export async function openFileStore(options: FileStoreOptions): Promise<FileStore> {
	const dir = path.resolve(options.dir);
	await fs.mkdir(dir, {recursive: true, mode: 0o700});
	if (openHere.has(dir)) {
		throw new StoreLockedError(`${dir} is in use by another queen in this process; give this one another --data-dir`);
	}

	const lockFile = await lockDirectory(dir, 'queen', message => new StoreLockedError(message));
	openHere.add(dir);
	const compactBytes = options.compactBytes ?? 8 * 1024 * 1024;

	let revision = 0;
	/** Revision of the last fact written to the log. */
	let written = 0;
	let handle: fs.FileHandle | undefined;
	let segmentBytes = 0;
	let snapshotBytes = 0;
	let loaded = false;
	let failure: Error | undefined;
	let imageSource: (() => StateImage) | undefined;
	let next: Batch | undefined;
	let flushing: Promise<void> | undefined;
	/** A snapshot was asked for (`snapshot()`): the flush loop writes it between two batches. */
	let snapshotWanted = false;
	let compacting: Promise<void> | undefined;
	const stats = {facts: 0, records: 0, syncs: 0, bytes: 0, snapshots: 0};

	const segmentPath = (first: number) => path.join(dir, `wal-${String(first).padStart(16, '0')}.log`);

	const openSegment = async (first: number): Promise<void> => {
		await handle?.close();
		handle = await fs.open(segmentPath(first), 'a', 0o600);
		segmentBytes = (await handle.stat()).size;
		await syncDirectory(dir);
	};

	const fail = (error: Error): Error => {
		failure ??= new Error(`the store in ${dir} failed: ${error.message}`);
		return failure;
	};

	/**
	Writes and syncs batches one after another until none is waiting. The one place that writes to the
	log, and so the one place that moves it to a new segment for a snapshot, between two batches.
	*/
	const flushAll = async (): Promise<void> => {
		while (next || (snapshotWanted && !compacting)) {
			const batch = next;
			next = undefined;
			if (batch) {
				try {
					if (failure) {
						throw failure;
					}

					// One record for the whole batch: one serialization and one checksum, however many commands it holds.
					const json = JSON.stringify({rev: batch.first, facts: batch.facts});
					const data = Buffer.from(`${checksum(json)} ${json}\n`);
					// eslint-disable-next-line no-await-in-loop
					await writeAll(handle!, data);
					// eslint-disable-next-line no-await-in-loop
					await handle!.datasync();
					stats.syncs += 1;
					stats.bytes += data.length;
					segmentBytes += data.length;
					written = batch.first + batch.facts.length - 1;
					batch.resolve();
				} catch (error: unknown) {
					batch.reject(fail(error as Error));
					continue;
				}
			}

			if (!compacting && imageSource && (snapshotWanted || segmentBytes > Math.max(compactBytes, snapshotBytes / 2))) {
				snapshotWanted = false;
				// eslint-disable-next-line no-await-in-loop
				await startCompaction().catch((error: unknown) => {
					fail(error as Error);
				});
			}
		}

		flushing = undefined;
	};

	/** Starts a new segment at the next revision and writes a snapshot of the state in the background. */
	const startCompaction = async (): Promise<void> => {
		const image = imageSource!();
		await openSegment(written + 1);
		compacting = writeSnapshot(image).finally(() => {
			compacting = undefined;
		});
	};

	const writeSnapshot = async (image: StateImage): Promise<void> => {
		const temporary = path.join(dir, `${snapshotFile}.tmp`);
		const file = await fs.open(temporary, 'w', 0o600);
		let size = 0;
		try {
			// The checksum goes first but is known last: a placeholder, then the JSON a part at a time (never the
			// whole state a second time in memory), then the checksum over the placeholder.
			const placeholder = Buffer.from('00000000 ');
			await writeAll(file, placeholder);
			size += placeholder.length;
			let crc = 0;
			for await (const part of snapshotParts(image)) {
				crc = crc32(part, crc);
				const data = Buffer.from(part);
				size += data.length;
				await writeAll(file, data);
			}

			await writeAll(file, Buffer.from('\n'));
			size += 1;
			await file.write(Buffer.from(crc.toString(16).padStart(8, '0')), 0, 8, 0);
			await file.sync();
		} finally {
			await file.close();
		}

		await fs.rename(temporary, path.join(dir, snapshotFile));
		await syncDirectory(dir);
		snapshotBytes = size;
		stats.snapshots += 1;
		// Segments wholly covered by the snapshot go.
		const segments = await listSegments(dir);
		for (const [index, {name}] of segments.entries()) {
			const nextFirst = segments[index + 1]?.first;
			if (nextFirst !== undefined && nextFirst - 1 <= image.revision) {
				// eslint-disable-next-line no-await-in-loop
				await fs.rm(path.join(dir, name), {force: true});
			}
		}
	};

	const startFlushing = (): void => {
		flushing ??= new Promise<void>(resolve => {
			setImmediate(() => {
				void flushAll().then(resolve);
			});
		});
	};

	const store: FileStore = {
		kind: 'file',
		location: dir,
		async load(): Promise<Loaded> {
			const warnings: string[] = [];
			let image: StateImage | undefined;
			const snapshotPath = path.join(dir, snapshotFile);
			const snapshotText = await fs.readFile(snapshotPath, 'utf8').catch((error: NodeJS.ErrnoException) => {
				if (error.code === 'ENOENT') {
					return undefined;
				}

				throw error;
			});
			if (snapshotText !== undefined) {
				image = verifiedLine(snapshotText.endsWith('\n') ? snapshotText.slice(0, -1) : snapshotText) as StateImage | undefined;
				if (image === undefined) {
					throw new CorruptStoreError(`${snapshotPath} is corrupt (its checksum does not match); the store cannot be loaded`);
				}

				snapshotBytes = snapshotText.length;
			}

			const facts: StoredFact[] = [];
			const segments = await listSegments(dir);
			let expected = image ? image.revision + 1 : 1;
			for (const [index, {first, name}] of segments.entries()) {
				const file = path.join(dir, name);
				const last = index === segments.length - 1;
				// eslint-disable-next-line no-await-in-loop
				const text = await fs.readFile(file, 'utf8');
				let offset = 0;
				let lineNumber = 0;
				if (first > expected) {
					throw new CorruptStoreError(`${file} starts at revision ${first}, but revision ${expected} is missing before it; the store cannot be loaded`);
				}

				while (offset < text.length) {
					lineNumber += 1;
					const end = text.indexOf('\n', offset);
					const line = text.slice(offset, end < 0 ? text.length : end);
					const record = end < 0 ? undefined : verifiedLine(line) as {rev: number; facts: Fact[]} | undefined;
					const isLastLine = end < 0 || end === text.length - 1;
					if (record === undefined) {
						if (last && isLastLine) {
							warnings.push(`${file}: dropped a torn last record at line ${lineNumber} (byte ${offset}): it was being written when the queen stopped, and was never acknowledged`);
							// eslint-disable-next-line no-await-in-loop
							await fs.truncate(file, Buffer.byteLength(text.slice(0, offset)));
							break;
						}

						throw new CorruptStoreError(`${file} is corrupt at line ${lineNumber} (byte ${offset}); the store cannot be loaded`);
					}

					if (record.rev + record.facts.length - 1 >= expected) {
						if (record.rev > expected) {
							throw new CorruptStoreError(`${file} is corrupt at line ${lineNumber}: revision ${record.rev} follows ${expected - 1}; the store cannot be loaded`);
						}

						for (const [index, fact] of record.facts.entries()) {
							if (record.rev + index >= expected) {
								facts.push({revision: record.rev + index, fact});
							}
						}

						expected = record.rev + record.facts.length;
					}

					offset = end + 1;
				}
			}

			revision = expected - 1;
			written = revision;
			await openSegment(segments.at(-1)?.first ?? revision + 1);
			loaded = true;
			return {image, facts, warnings};
		},
		append(facts) {
			if (!loaded) {
				throw new Error('load the store before writing to it');
			}

			const first = revision + 1;
			revision += facts.length;
			stats.facts += facts.length;
			stats.records += 1;
			if (failure) {
				return {revision: first, durable: Promise.reject(failure)};
			}

			if (!next) {
				next = {first, facts: [], ...acknowledgment()};
				// Everything appended in this turn of the event loop goes in the same write and fsync.
				startFlushing();
			}

			// Serialized when written (facts are never changed once made): one record per batch.
			for (const fact of facts) {
				next.facts.push(fact);
			}

			return {revision: first, durable: next.promise};
		},
		get revision() {
			return revision;
		},
		stats(): StoreStats {
			return {...stats};
		},
		setImageSource(image) {
			imageSource = image;
		},
		async snapshot() {
			if (!imageSource) {
				return;
			}

			// One under way holds an older state: wait for it, then have the flush loop write a new one.
			await compacting;
			snapshotWanted = true;
			while (snapshotWanted) {
				startFlushing();
				// eslint-disable-next-line no-await-in-loop
				await flushing;
				// eslint-disable-next-line no-await-in-loop
				await compacting;
			}
		},
		async close() {
			await flushing;
			await compacting;
			await handle?.close();
			handle = undefined;
			await fs.rm(lockFile, {force: true});
			openHere.delete(dir);
		},
	};
	return store;
}

/**
The JSON of an image, a part of about 1 MiB at a time, with a turn of the event loop between two, so
that a large state neither holds the event loop nor sits in memory twice. The image holds immutable
records: it stays the state at its revision meanwhile.
*/
async function * snapshotParts(image: StateImage): AsyncGenerator<string> {
	const {tasks, finished} = image.tasks;
	yield `{"revision":${image.revision},"drones":${JSON.stringify(image.drones)},"tasks":{"finished":${JSON.stringify(finished)},"tasks":[`;
	let part = '';
	for (const [index, task] of tasks.entries()) {
		part += (index > 0 ? ',' : '') + JSON.stringify(task);
		if (part.length >= 1024 * 1024) {
			yield part;
			part = '';
			// eslint-disable-next-line no-await-in-loop
			await new Promise(resolve => {
				setImmediate(resolve);
			});
		}
	}

	yield `${part}]}}`;
}

function checksum(json: string): string {
	return crc32(json).toString(16).padStart(8, '0');
}

/** What a `<crc32> <json>` line holds, or undefined when the line is not whole. */
function verifiedLine(line: string): unknown {
	if (line.length < 10 || line[8] !== ' ') {
		return undefined;
	}

	const json = line.slice(9);
	if (checksum(json) !== line.slice(0, 8)) {
		return undefined;
	}

	try {
		return JSON.parse(json) as unknown;
	} catch {
		return undefined;
	}
}

async function listSegments(dir: string): Promise<Array<{readonly first: number; readonly name: string}>> {
	const names = await fs.readdir(dir);
	return names
		.map(name => ({name, match: segmentPattern.exec(name)}))
		.filter(each => each.match !== null)
		.map(each => ({first: Number(each.match![1]), name: each.name}))
		.sort((a, b) => a.first - b.first);
}

async function writeAll(handle: fs.FileHandle, data: Buffer): Promise<void> {
	let offset = 0;
	while (offset < data.length) {
		// eslint-disable-next-line no-await-in-loop
		const {bytesWritten} = await handle.write(data, offset, data.length - offset);
		offset += bytesWritten;
	}
}

async function syncDirectory(dir: string): Promise<void> {
	const handle = await fs.open(dir, fsConstants.O_RDONLY);
	try {
		await handle.sync();
	} finally {
		await handle.close();
	}
}
