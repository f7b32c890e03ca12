/**
The `store` bench's recovery probe, run in a fresh node process: `node store-recover.js <engine> <dir>`
opens a store, loads every record into memory, and prints `{"ms", "records", "heapMiB"}`. The clock
starts after the engine's modules are imported: it measures the open and the load, not node's start.
*/
import {lmdbOptions, recoveryRecords} from './store-engines.js';
import {loadClassicLevel, loadLmdb} from './optional.js';

const [engine, dir] = process.argv.slice(2);
if (engine === undefined || dir === undefined) {
	process.stderr.write('usage: store-recover.js hive|lmdb|classic-level <dir>\n');
	process.exit(2);
}

let ms: number;
let records: number;
let keep: unknown;
switch (engine) {
	case 'hive': {
		const {Hive} = await import('../source/queen/hive.js');
		const {openFileStore} = await import('../source/queen/store/file-store.js');
		const started = performance.now();
		const store = await openFileStore({dir});
		const hive = await Hive.open({store, taskHistory: recoveryRecords, maxPending: recoveryRecords});
		ms = performance.now() - started;
		records = hive.tasks({limit: 0}).total;
		keep = hive;
		await store.close();
		break;
	}

	case 'lmdb': {
		const {open} = await loadLmdb();
		const started = performance.now();
		const db = open({path: dir, ...lmdbOptions});
		const map = new Map<string, unknown>();
		for (const {key, value} of db.getRange()) {
			map.set(key, JSON.parse(value));
		}

		ms = performance.now() - started;
		records = map.size;
		keep = map;
		await db.close();
		break;
	}

	case 'classic-level': {
		const {ClassicLevel} = await loadClassicLevel();
		const started = performance.now();
		const db = new ClassicLevel(dir, {valueEncoding: 'utf8'});
		await db.open();
		const map = new Map<string, unknown>();
		for await (const [key, value] of db.iterator()) {
			map.set(key, JSON.parse(value));
		}

		ms = performance.now() - started;
		records = map.size;
		keep = map;
		await db.close();
		break;
	}

	default: {
		process.stderr.write(`store-recover: unknown engine ${engine}\n`);
		process.exit(2);
	}
}

const heapMiB = Math.round(process.memoryUsage().heapUsed / 2 ** 20);
process.stdout.write(`${JSON.stringify({ms, records, heapMiB, kept: keep === undefined ? 0 : 1})}\n`);
