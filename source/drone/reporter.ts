import {setTimeout as sleep} from 'node:timers/promises';
import {CallError} from '../client/http.js';
import type {QueenClient} from '../client/queen-client.js';
import type {Logger} from '../log.js';
import type {CommandResult} from './executor.js';

/**
Tells the queen how a command task ended, trying until it is heard (backing off to one try every 5 s)
or the drone stops: a result is not dropped because the queen was busy or restarting. A 4xx means the
queen no longer counts this task as ours (placed again, or a restarted queen that never knew it): give up.
*/
export async function reportResult(queen: QueenClient, log: Logger, drone: string, id: string, result: CommandResult, signal: AbortSignal): Promise<void> {
	let delayMs = 250;
	for (let attempt = 1; !signal.aborted; attempt++) {
		try {
			// eslint-disable-next-line no-await-in-loop
			await queen.reportResult(id, {...result, drone});
			log.debug({task: id, exitCode: result.exitCode}, 'reported task result');
			return;
		} catch (error: unknown) {
			const message = error instanceof Error ? error.message : String(error);
			if (error instanceof CallError && error.code === 'ERR_HIVE_REFUSED' && (error.status ?? 500) < 500) {
				log.warn({task: id, err: message}, 'the queen refused the task result');
				return;
			}

			log.warn({task: id, attempt, err: message}, 'could not report task result; retrying');
			// eslint-disable-next-line no-await-in-loop
			await sleep(delayMs, undefined, {signal}).catch(() => undefined);
			delayMs = Math.min(delayMs * 2, 5000);
		}
	}

	log.warn({task: id}, 'stopping before the task result was reported; the queen places the task again');
}
