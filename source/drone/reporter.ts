import {setTimeout as sleep} from 'node:timers/promises';
import {CallError} from '../client/http.js';
import type {QueenClient} from '../client/queen-client.js';
import type {Logger} from '../log.js';
import type {CommandResult} from './executor.js';

/**
Tells the queen how a command task ended, trying a few times over ~15 s: the queen may be busy or
restarting. A 4xx means the queen no longer counts this task as ours (it was placed again): give up.
*/
export async function reportResult(queen: QueenClient, log: Logger, drone: string, id: string, result: CommandResult): Promise<void> {
	let delayMs = 250;
	for (let attempt = 1; attempt <= 7; attempt++) {
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
			await sleep(delayMs);
			delayMs = Math.min(delayMs * 2, 4000);
		}
	}

	log.error({task: id}, 'gave up reporting task result');
}
