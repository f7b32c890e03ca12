import type Koa from 'koa';
import type {Hive, HiveEvent} from './hive.js';

/**
Resolves with what `match` makes of the first event it picks (anything but undefined), or with undefined
once `signal` aborts: the client went away, or this queen's term ended (its hive hears nothing more). The
one way a request waits on the hive — for a task's end, a drain's end, a task to run — so that none
outlives its client or its term.
*/
export async function nextEvent<T>(hive: Hive, match: (event: HiveEvent) => T | undefined, signal: AbortSignal): Promise<T | undefined> {
	if (signal.aborted) {
		return undefined;
	}

	return new Promise(resolve => {
		const done = (value: T | undefined): void => {
			unsubscribe();
			signal.removeEventListener('abort', aborted);
			resolve(value);
		};

		const aborted = (): void => {
			done(undefined);
		};

		const unsubscribe = hive.subscribe(event => {
			const value = match(event);
			if (value !== undefined) {
				done(value);
			}
		});
		signal.addEventListener('abort', aborted);
	});
}

/** Aborts when the client of `ctx` goes away, or `ending` aborts (the term of the hive it waits on). */
export function requestSignal(ctx: Koa.Context, ending: AbortSignal): AbortSignal {
	const gone = new AbortController();
	const close = (): void => {
		gone.abort();
	};

	ctx.res.once('close', close);
	return AbortSignal.any([gone.signal, ending]);
}
