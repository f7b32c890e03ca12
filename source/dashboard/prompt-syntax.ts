/**
What a line typed at the dashboard's prompt asks for, as the queen's `POST /submit_task` takes it:

- `hello` → a text task;
- `$ uname -a` → a command task (run by `/bin/sh -c` on a drone started with `--allow-exec`);
- `$[/srv/busybox] uname -a` → a container task: `sh -c 'uname -a'` in that root filesystem (a path on
  the drone), by a drone started with `--runtime runc`; its limits inside the brackets:
  `$[/srv/busybox memory=64M cpus=0.5 pids=32] echo hi` (the shell's own `[` is `$ [`, with a blank);
- `@zone=a,gpu=yes hello`, `@zone=a @disk=ssd $ df -h` → the same, only on drones with those labels;
- `\$5 off`, `\@home` → the rest as typed, as text (the way out of the syntax).

Pure, so that the help and the tests say the same thing as the prompt does. Only the form is checked:
what a value means (a relative rootfs, memory=lots) is the queen's to judge, and its 400 shows.
*/

import {describeContainer, type ContainerSpec} from '../model.js';

export type TaskLine =
	| {readonly text: string; readonly selector?: Record<string, string>}
	| {readonly command: string; readonly selector?: Record<string, string>}
	| {readonly container: ContainerSpec; readonly selector?: Record<string, string>};

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
	if (rest.startsWith('$[')) {
		const container = parseContainer(rest);
		return typeof container === 'string' ? {error: container} : {task: {container, ...withSelector}};
	}

	if (rest.startsWith('$')) {
		const command = rest.slice(1).trim();
		return command === '' ? {error: 'nothing after $ to run'} : {task: {command, ...withSelector}};
	}

	if (rest === '') {
		return {error: 'a selector, and no task after it'};
	}

	return {task: {text: rest, ...withSelector}};
}

const containerForm = 'a container is $[/path/to/rootfs] command';
const limitKeys = ['memory', 'cpus', 'pids'] as const;
type LimitKey = typeof limitKeys[number];

/**
`$[ROOTFS key=value...] script` → the container that runs `sh -c script` in ROOTFS; a string says why
the line is not one.
*/
function parseContainer(line: string): ContainerSpec | string {
	const close = line.indexOf(']');
	if (close === -1) {
		return `$[ without ]: ${containerForm}`;
	}

	const [rootfs, ...words] = line.slice(2, close).split(/\s+/).filter(Boolean);
	if (rootfs === undefined || /^\w+=/.test(rootfs)) {
		return `$[${line.slice(2, close)}]: no rootfs: ${containerForm}`;
	}

	const limits: Partial<Record<LimitKey, string>> = {};
	for (const word of words) {
		const equals = word.indexOf('=');
		const key = word.slice(0, Math.max(0, equals));
		if (!(limitKeys as readonly string[]).includes(key) || equals === word.length - 1) {
			return `${word} in $[...]: the limits are memory=64M cpus=0.5 pids=32`;
		}

		limits[key as LimitKey] = word.slice(equals + 1);
	}

	const script = line.slice(close + 1).trim();
	if (script === '') {
		return `nothing after $[${line.slice(2, close)}] to run`;
	}

	// CPUs and processes are numbers in the API: one that is not a number cannot be sent (the queen judges the rest).
	for (const key of ['cpus', 'pids'] as const) {
		const value = limits[key];
		if (value !== undefined && !Number.isFinite(Number(value))) {
			return `${key}=${value}: ${key} is a number (${key}=${key === 'cpus' ? '0.5' : '32'})`;
		}
	}

	return {
		rootfs,
		command: ['sh', '-c', script],
		...(limits.memory === undefined ? {} : {memory: limits.memory}),
		...(limits.cpus === undefined ? {} : {cpus: Number(limits.cpus)}),
		...(limits.pids === undefined ? {} : {pids: Number(limits.pids)}),
	};
}

/** A task line as it is shown in the outcome line: `$ uname -a @zone=a`, `$[/srv/bb memory=64M] echo hi @zone=a`. */
export function describeTaskLine(task: TaskLine): string {
	const what = 'container' in task ? describeContainer(task.container) : ('command' in task ? `$ ${task.command}` : task.text);
	const selector = task.selector === undefined ? '' : ` @${Object.entries(task.selector).map(([key, value]) => `${key}=${value}`).join(',')}`;
	return `${what}${selector}`;
}
