/**
The hive's domain types: drones, tasks, their states and results. The bottom layer: imported by
`http/`, `options.ts`, `queen/` and the clients alike, importing nothing of theirs.
*/

export type Labels = Readonly<Record<string, string>>;

/** `ready`: takes work; `suspect`: a heartbeat or a call failed, no work until it answers again. */
export type DroneState = 'ready' | 'suspect';

/** What a drone says of itself when it registers: the part of a drone that the store keeps. */
export type DroneSpec = {
	readonly address: string;
	readonly name?: string | undefined;
	readonly slots?: number | undefined;
	readonly allowExec?: boolean | undefined;
	readonly labels?: Labels | undefined;
	readonly bootId?: string | undefined;
	/**
	The contact key of this registration, only when the drone was shown to hold it (so the registration is
	the drone's own); undefined: whoever registered it, the key the queen has for this boot of the drone stays.
	*/
	readonly contactKey?: string | undefined;
	/** Whether its commands run contained (a pid namespace each), as its `/healthz` says; undefined: it does not say. */
	readonly contained?: boolean | undefined;
	/** The container runtimes it runs container tasks with (`--runtime runc`), as its `/healthz` says. */
	readonly runtimes?: readonly Runtime[] | undefined;
};

/** A drone as the queen's store keeps it: who it is and what it can take. */
export type DroneRecord = {
	readonly name: string;
	readonly address: string;
	readonly registeredAt: number;
	/** Command tasks it may run at once. */
	readonly slots: number;
	/** Whether it runs command tasks (`--allow-exec`). */
	readonly allowExec: boolean;
	/** Whether its commands run contained (a pid namespace each); undefined: the drone does not say. */
	readonly contained?: boolean | undefined;
	/** The container runtimes it has (`--runtime runc`); undefined or empty: it runs no container task. */
	readonly runtimes?: readonly Runtime[] | undefined;
	readonly labels: Labels;
	/** Takes no new tasks (`kubectl cordon`); the ones it runs finish. Kept across a restart of the queen. */
	readonly cordoned?: boolean | undefined;
	/** A drain under way: cordoned, and once nothing runs there, drained; past `deadline`, what runs is moved. */
	readonly drain?: Drain | undefined;
	/** Changes each time the drone process starts: a new one means its old tasks are gone. */
	readonly bootId: string | undefined;
	/**
	The secret the drone gave with its registration. The queen shows it on every call to the drone, which
	is how the drone tells its queen's calls from anyone's. Never logged, never in an answer. Missing in
	records written before it existed: the queen then calls without one, and the drone registers again.
	*/
	readonly contactKey?: string | undefined;
};

/** A drain of a drone (`kubectl drain`, `nomad node drain`): who asked, when, and until when running tasks may finish. */
export type Drain = {
	readonly by: string;
	readonly startedAt: number;
	/** Past it (ms since the epoch), the commands still running there are stopped and placed elsewhere; undefined: no deadline. */
	readonly deadline: number | undefined;
};

/** A drone as the queen sees it: its record, its health (kept in memory only) and its load. */
export type Drone = DroneRecord & {
	readonly state: DroneState;
	/** When the drone last answered (ms since the epoch). */
	readonly lastSeen: number | undefined;
	/** Failed heartbeat attempts in a row. */
	readonly failedAttempts: number;
	readonly lastError: string | undefined;
	readonly tasksDone: number;
	/** Command and container tasks placed on it and not finished (text tasks take no slot: they are done once printed). */
	readonly running: number;
};

export type TaskState = 'pending' | 'dispatched' | 'running' | 'succeeded' | 'failed' | 'lost' | 'cancelled';
export type TaskKind = 'text' | 'command' | 'container';

/** Whether a task of this kind runs on its drone until the drone reports its end, in one of its slots (a text is done once printed). */
export function runsOnDrone(kind: TaskKind): boolean {
	return kind !== 'text';
}

/** A container runtime a drone may have: Debian's `runc`. */
export type Runtime = 'runc';
export const runtimes: readonly Runtime[] = ['runc'];

/**
A container task (HIVE.md §11): a command run by a drone's container runtime in a root filesystem
already on the drone (a directory or a tar file: no image is pulled), in namespaces of its own, with no
network, a read-only root and a writable `/tmp`, and the limits the kernel enforces.
*/
export type ContainerSpec = {
	/** An absolute path on the drone: a directory, or a tar file of one. */
	readonly rootfs: string;
	/** The program and its arguments, as `execve` takes them: `["sh", "-c", "echo hi"]`. */
	readonly command: readonly string[];
	readonly env?: Readonly<Record<string, string>> | undefined;
	/** An absolute path inside the container. @default '/' */
	readonly workdir?: string | undefined;
	/** The most memory it may use, as given (`64M`, `1G`, `65536`: bytes, or K, M, G, T of 1024). */
	readonly memory?: string | undefined;
	/** CPU time, in CPUs (`0.5`: half of one). */
	readonly cpus?: number | undefined;
	/** The most processes (and threads) it may have at once. */
	readonly pids?: number | undefined;
};

/** `64M`, `512k`, `1.5G`, `1GiB`, `65536` → bytes; undefined when it does not parse. */
export function parseMemory(value: string): number | undefined {
	const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(value.trim());
	if (!match) {
		return undefined;
	}

	const power = ['', 'k', 'm', 'g', 't'].indexOf(match[2]!.toLowerCase());
	const bytes = Math.floor(Number(match[1]) * (1024 ** power));
	return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** A container's limits as words: `memory=64M cpus=0.5 pids=32` (those it has). */
export function containerLimits({memory, cpus, pids}: ContainerSpec): string[] {
	return [memory === undefined ? '' : `memory=${memory}`, cpus === undefined ? '' : `cpus=${cpus}`, pids === undefined ? '' : `pids=${pids}`].filter(Boolean);
}

/**
A container task in one line, in the dashboard's prompt's form: `$[/srv/busybox memory=64M] echo hi`
for `sh -c 'echo hi'`; another command as a shell reads it back (`$[/srv/busybox] uname -a`). Its
environment and working directory are left out (a task's page shows them).
*/
export function describeContainer(spec: ContainerSpec): string {
	const {rootfs, command} = spec;
	const script = command.length === 3 && command[0] === 'sh' && command[1] === '-c' ? command[2]! : command.map(arg => shellQuote(arg)).join(' ');
	return `$[${[rootfs, ...containerLimits(spec)].join(' ')}] ${script}`;
}

/** An argument as a POSIX shell would read it back: as it is when it is plain, else in single quotes. */
export function shellQuote(arg: string): string {
	return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", String.raw`'\''`)}'`;
}

/** What a task does, in one line: its text, its command, or its container (`describeContainer`); a record or the API's answer (nulls). */
export function taskWhat(task: {readonly kind: TaskKind; readonly text?: string | null | undefined; readonly command?: string | null | undefined; readonly container?: ContainerSpec | null | undefined}): string {
	if (task.kind === 'container') {
		return task.container ? describeContainer(task.container) : '';
	}

	return (task.kind === 'command' ? task.command : task.text) ?? '';
}

export const taskStates: readonly TaskState[] = ['pending', 'dispatched', 'running', 'succeeded', 'failed', 'lost', 'cancelled'];
export const finalTaskStates: ReadonlySet<TaskState> = new Set(['succeeded', 'failed', 'lost', 'cancelled']);

/** A task's short name in lists, logs and messages: the first 8 characters of its id (`:task 3f2a1b4c`). */
export function shortId(id: string): string {
	return id.slice(0, 8);
}

/** How a command task ended: what a drone reports, what the queen keeps, what clients read. */
export type TaskResult = {
	readonly exitCode: number | null;
	readonly signal: string | null;
	readonly stdout: string;
	readonly stderr: string;
	readonly durationMs: number;
	readonly timedOut: boolean;
};

/** A task as a user submits it. */
export type TaskSpec =
	| {readonly kind: 'text'; readonly text: string; readonly selector?: Labels | undefined}
	| {readonly kind: 'command'; readonly command: string; readonly selector?: Labels | undefined}
	| {readonly kind: 'container'; readonly container: ContainerSpec; readonly selector?: Labels | undefined};

export type Task = {
	readonly id: string;
	/** Its place in the queue: first submitted, first placed (the store's revision of its submission). */
	readonly seq: number;
	readonly kind: TaskKind;
	readonly text: string | undefined;
	readonly command: string | undefined;
	/** What a container task runs (kind `container`). */
	readonly container?: ContainerSpec | undefined;
	readonly selector: Labels;
	readonly state: TaskState;
	readonly drone: string | undefined;
	readonly submittedAt: number;
	readonly updatedAt: number;
	/** Drones that were asked to take it. */
	readonly attempts: number;
	/** Times it was placed again after its drone was lost. */
	readonly retries: number;
	/** Why it is pending. */
	readonly reason: string | undefined;
	/** Why it failed or was lost. */
	readonly error: string | undefined;
	readonly result: TaskResult | undefined;
	/** The client's `Idempotency-Key`: a submit with the same key gets this task back. */
	readonly idempotencyKey: string | undefined;
	/** Who cancelled it, and when (state `cancelled`). */
	readonly cancelled?: {readonly by: string; readonly at: number} | undefined;
};

/** How a queen places tasks: `--scheduler`. */
export type SchedulerName = 'least-loaded' | 'random';
export const schedulerNames: readonly SchedulerName[] = ['least-loaded', 'random'];

/** How a command task ended, without its output: what lists and events carry. */
export type TaskOutcome = Omit<TaskResult, 'stdout' | 'stderr'>;

/**
A task as lists and events carry it: no output, and its long strings cut (marked with `…`). The whole
record, with its output, is one task's own (`GET /tasks/:id`): a list of many tasks stays small.
*/
export type TaskSummary = Omit<Task, 'result'> & {readonly result: TaskOutcome | undefined};

/** Characters of a task's text, command, reason or error that a summary keeps. */
export const summaryTextLength = 1024;

export function summarizeTask(task: Task | TaskSummary): TaskSummary {
	const {result} = task;
	// Most tasks have nothing to leave out: the record itself is its summary (records never change).
	if (result === undefined && isShort(task.text) && isShort(task.command) && isShort(task.reason) && isShort(task.error) && (task.container === undefined || summarizeContainer(task.container) === task.container)) {
		return task;
	}

	return {
		...task,
		text: cut(task.text),
		command: cut(task.command),
		...(task.container === undefined ? {} : {container: summarizeContainer(task.container)}),
		reason: cut(task.reason),
		error: cut(task.error),
		result: result === undefined ? undefined : {exitCode: result.exitCode, signal: result.signal, durationMs: result.durationMs, timedOut: result.timedOut},
	};
}

/** A container as summaries carry it: its arguments cut past the summary length, its environment left out when it is longer. */
function summarizeContainer(container: ContainerSpec): ContainerSpec {
	const {env, ...rest} = container;
	const longEnv = env !== undefined && argsLength(Object.entries(env).flat()) > summaryTextLength;
	if (!longEnv && argsLength(container.command) <= summaryTextLength) {
		return container;
	}

	return {...rest, command: cutArgs(container.command), ...(env === undefined || longEnv ? {} : {env})};
}

function argsLength(args: readonly string[]): number {
	let length = 0;
	for (const arg of args) {
		length += arg.length;
	}

	return length;
}

/** A container's arguments, kept until they hold `summaryTextLength` characters; the one that passes it cut. */
function cutArgs(args: readonly string[]): readonly string[] {
	if (argsLength(args) <= summaryTextLength) {
		return args;
	}

	const kept: string[] = [];
	let room = summaryTextLength;
	for (const arg of args) {
		if (arg.length > room) {
			const end = room > 0 && /[\ud800-\udbff]/.test(arg[room - 1]!) ? room - 1 : room;
			kept.push(`${arg.slice(0, end)}…`);
			break;
		}

		kept.push(arg);
		room -= arg.length;
	}

	return kept;
}

function isShort(text: string | undefined): boolean {
	return text === undefined || text.length <= summaryTextLength;
}

function cut(text: string | undefined): string | undefined {
	if (text === undefined || text.length <= summaryTextLength) {
		return text;
	}

	// A copy, not a slice: V8's slice of a long string keeps the whole string alive.
	const end = /[\ud800-\udbff]/.test(text[summaryTextLength - 1]!) ? summaryTextLength - 1 : summaryTextLength;
	return Buffer.from(`${text.slice(0, end)}…`).toString();
}
