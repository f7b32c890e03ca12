import {setTimeout as sleep} from 'node:timers/promises';

/** Polls `condition` until it returns a truthy value (which is returned) or `timeoutMs` passes. */
export async function waitFor<T>(condition: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<NonNullable<T>> {
	const deadline = Date.now() + timeoutMs;
	let lastError: unknown;
	for (;;) {
		try {
			// eslint-disable-next-line no-await-in-loop
			const value = await condition();
			if (value) {
				return value as NonNullable<T>;
			}
		} catch (error: unknown) {
			lastError = error;
		}

		if (Date.now() > deadline) {
			throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`);
		}

		// eslint-disable-next-line no-await-in-loop
		await sleep(20);
	}
}
