/**
lmdb and classic-level, loaded only by `npm run bench -- store` when they are installed
(`npm install --no-save lmdb@3 classic-level@3`). They are not dependencies: `npm ci` would build
them from source wherever npm runs install scripts, for a comparison nobody else needs. The types
here are the little of their APIs the bench uses.
*/

export type LmdbPut = Promise<boolean> & {readonly flushed?: Promise<void>};

export type LmdbDatabase = {
	put(key: string, value: string): LmdbPut;
	getRange(): Iterable<{readonly key: string; readonly value: string}>;
	close(): Promise<void>;
};

export type LmdbModule = {
	readonly open: (options: Readonly<Record<string, unknown>>) => LmdbDatabase;
};

export type ClassicLevelDatabase = {
	open(): Promise<void>;
	put(key: string, value: string, options?: {readonly sync?: boolean}): Promise<void>;
	batch(operations: ReadonlyArray<{readonly type: 'put'; readonly key: string; readonly value: string}>, options?: {readonly sync?: boolean}): Promise<void>;
	iterator(): AsyncIterable<[string, string]>;
	close(): Promise<void>;
};

export type ClassicLevelModule = {
	ClassicLevel: new (location: string, options: Readonly<Record<string, unknown>>) => ClassicLevelDatabase;
};

/** A module by a name TypeScript does not resolve at build time (it may not be installed). */
async function load<T>(name: string): Promise<T> {
	return (await import(name)) as T;
}

export async function loadLmdb(): Promise<LmdbModule> {
	return load<LmdbModule>('lmdb');
}

export async function loadClassicLevel(): Promise<ClassicLevelModule> {
	return load<ClassicLevelModule>('classic-level');
}
