import {setTimeout as sleep} from 'node:timers/promises';
import {CallError} from '../client/http.js';
import type {QueenClient} from '../client/queen-client.js';
import type {Logger} from '../log.js';
import type {CommandResult} from './executor.js';

/**
Tells the queen how a command task ended, trying until it is heard (backing off to one try every 5 s)
or the drone stops: a result is not dropped because the queen was busy, restarting, or gone (the client
moves on to the next of several queens). A 4xx (404, 409) means the hive no longer counts this task as
ours (placed again, or a queen that never knew it): give up. A 408 or 429 is "not now", not "no".
*/
export async function reportResult(queen: QueenClient, log: Logger, drone: string, id: string, result: CommandResult, signal: AbortSignal): Promise<void> {
	let delayMs = 250;
	for (let attempt = 1; !signal.aborted; attempt++) {
		try {
			// eslint-disable-next-line no-await-in-loop
			await queen.reportResult(id, {...result, drone});
			log.debug({task: id, drone, exitCode: result.exitCode, queen: queen.baseUrl}, 'reported task result');
			return;
		} catch (error: unknown) {
			const message = error instanceof Error ? error.message : String(error);
			if (error instanceof CallError && error.code === 'ERR_HIVE_REFUSED' && final(error.status ?? 500)) {
				log.warn({task: id, drone, err: message, queen: queen.baseUrl}, 'the queen refused the task result');
				return;
			}

			log.warn({task: id, drone, attempt, err: message}, 'could not report task result; retrying');
			// eslint-disable-next-line no-await-in-loop
			await sleep(delayMs, undefined, {signal}).catch(() => undefined);
			delayMs = Math.min(delayMs * 2, 5000);
		}
	}

	log.warn({task: id, drone}, 'stopping before the task result was reported; the queen places the task again');
}

/** A queen's answer that asking again will not change. */
function final(status: number): boolean {
	return status >= 400 && status < 500 && status !== 408 && status !== 429;
}
