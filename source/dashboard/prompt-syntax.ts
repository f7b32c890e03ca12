/**
What a line typed at the dashboard's prompt asks for, as the queen's `POST /submit_task` takes it:

- `hello` → a text task;
- `$ uname -a` → a command task (run by `/bin/sh -c` on a drone started with `--allow-exec`);
- `@zone=a,gpu=yes hello`, `@zone=a @disk=ssd $ df -h` → the same, only on drones with those labels;
- `\$5 off`, `\@home` → the rest as typed, as text (the way out of the syntax).

Pure, so that the help and the tests say the same thing as the prompt does.
*/

export type TaskLine =
	| {readonly text: string; readonly selector?: Record<string, string>}
	| {readonly command: string; readonly selector?: Record<string, string>};

export type ParsedLine = {readonly task: TaskLine; readonly error?: undefined} | {readonly task?: undefined; readonly error: string};

const selectorWord = /^@(\S*)(?:\s+|$)/;

export function parseTaskLine(line: string): ParsedLine {
	let rest = line.trim();
	if (rest.startsWith('\\')) {
		const text = rest.slice(1);
		return text.trim() === '' ? {error: 'nothing after \\ to send'} : {task: {text}};
	}

	let selector: Record<string, string> | undefined;
	for (let match = selectorWord.exec(rest); match; match = selectorWord.exec(rest)) {
		for (const pair of match[1]!.split(',')) {
			const equals = pair.indexOf('=');
			if (equals <= 0 || equals === pair.length - 1) {
				return {error: `@${match[1]!}: a selector is @key=value (several: @zone=a,disk=ssd)`};
			}

			selector = {...selector, [pair.slice(0, equals)]: pair.slice(equals + 1)};
		}

		rest = rest.slice(match[0].length);
	}

	const withSelector = selector === undefined ? {} : {selector};
	if (rest.startsWith('$')) {
		const command = rest.slice(1).trim();
		return command === '' ? {error: 'nothing after $ to run'} : {task: {command, ...withSelector}};
	}

	if (rest === '') {
		return {error: 'a selector, and no task after it'};
	}

	return {task: {text: rest, ...withSelector}};
}

/** A task line as it is shown in the outcome line: `$ uname -a @zone=a`. */
export function describeTaskLine(task: TaskLine): string {
	const what = 'command' in task ? `$ ${task.command}` : task.text;
	const selector = task.selector === undefined ? '' : ` @${Object.entries(task.selector).map(([key, value]) => `${key}=${value}`).join(',')}`;
	return `${what}${selector}`;
}
