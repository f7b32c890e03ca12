import type {Writable} from 'node:stream';
import type {TaskBody} from '../http/schemas.js';

export type Executor = {
	/** Does one task. A text task is printed, with a newline, on the drone's standard output. */
	run(task: TaskBody): void;
};

export function createExecutor(stdout: Writable): Executor {
	return {
		run(task) {
			stdout.write(`${task.text}\n`);
		},
	};
}
