import os from 'node:os';
import type {Table} from './context.js';

/** Renders a table as aligned text columns, numbers right-aligned. */
export function renderTable(table: Table): string {
	const cells = table.rows.map(row => row.map(cell => (cell === undefined ? '–' : String(cell))));
	const widths = table.columns.map((column, index) => Math.max(column.length, ...cells.map(row => (row[index] ?? '').length)));
	const numeric = table.columns.map((_, index) => table.rows.every(row => row[index] === undefined || typeof row[index] === 'number'));
	const line = (values: readonly string[]) => values.map((value, index) => (numeric[index] ? value.padStart(widths[index]!) : value.padEnd(widths[index]!))).join('  ').trimEnd();
	const out = [`## ${table.title}`, '', line(table.columns), line(widths.map(width => '-'.repeat(width))), ...cells.map(row => line(row))];
	for (const note of table.notes ?? []) {
		out.push(`  · ${note}`);
	}

	return out.join('\n');
}

export type Machine = {
	readonly cpu: string;
	readonly cores: number;
	readonly memoryGiB: number;
	readonly node: string;
	readonly platform: string;
	readonly kernel: string;
	/** The 1, 5 and 15 minute load averages when the bench started: other work on the machine moves every figure. */
	readonly loadAverage: readonly number[];
};

export function machine(): Machine {
	const cpus = os.cpus();
	return {
		cpu: cpus[0]?.model.trim() ?? 'unknown',
		cores: os.availableParallelism?.() ?? cpus.length,
		memoryGiB: Math.round(os.totalmem() / 2 ** 30),
		node: process.version,
		platform: `${os.platform()} ${os.arch()}`,
		kernel: os.release(),
		loadAverage: os.loadavg().map(load => Math.round(load * 100) / 100),
	};
}

export function renderMachine(m: Machine): string {
	return `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.platform} (kernel ${m.kernel}), Node ${m.node}; load average ${m.loadAverage.join(', ')} at start`;
}
