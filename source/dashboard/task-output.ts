/** STUB (components branch): only the exported types; helper "data"'s task-output.ts replaces this file at merge. */
export type OutputLine = {readonly stream: 'stdout' | 'stderr'; readonly text: string};
export type TaskOutputSnapshot = {
	readonly id: string;
	readonly lines: readonly OutputLine[];
	readonly following: boolean;
	readonly end: {readonly state: string; readonly exitCode: number | null; readonly signal: string | null; readonly error: string | null} | undefined;
	readonly error: string | undefined;
	readonly dropped: number;
};
