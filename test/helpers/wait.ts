import {setTimeout as sleep} from 'node:timers/promises';

export type WaitOptions = {
	/** Throw the condition's error at once instead of trying again. @default false */
	readonly rethrow?: boolean;
	/** Pause between two looks. @default 20 */
	readonly pollMs?: number;
};

/** Polls `condition` until it returns a truthy value (which is returned) or `timeoutMs` passes. */
export async function waitFor<T>(condition: () => T | Promise<T>, what: string, timeoutMs = 10_000, options: WaitOptions = {}): Promise<NonNullable<T>> {
	const deadline = Date.now() + timeoutMs;
	let lastError: unknown;
	for (;;) {
		try {
			// eslint-disable-next-line no-await-in-loop
			const value = await condition();
			if (value) {
				return value;
			}
		} catch (error: unknown) {
			if (options.rethrow) {
				throw error;
			}

			lastError = error;
		}

		if (Date.now() > deadline) {
			throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)})` : ''}`);
		}

		// eslint-disable-next-line no-await-in-loop
		await sleep(options.pollMs ?? 20);
	}
}
