/** Small statistics for the bench: percentiles by nearest rank, medians, rounding for tables. */

/** The p-th percentile (0–100) of `values` by nearest rank; undefined for no values. */
export function percentile(values: readonly number[], p: number): number | undefined {
	if (values.length === 0) {
		return undefined;
	}

	if (p < 0 || p > 100 || Number.isNaN(p)) {
		throw new RangeError(`percentile must be from 0 to 100, got ${p}`);
	}

	const sorted = [...values].sort((a, b) => a - b);
	const rank = Math.ceil((p / 100) * sorted.length);
	return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function median(values: readonly number[]): number | undefined {
	return percentile(values, 50);
}

export type Summary = {
	readonly count: number;
	readonly min: number | undefined;
	readonly p50: number | undefined;
	readonly p99: number | undefined;
	readonly max: number | undefined;
	readonly mean: number | undefined;
};

export function summarize(values: readonly number[]): Summary {
	return {
		count: values.length,
		min: values.length === 0 ? undefined : Math.min(...values),
		p50: percentile(values, 50),
		p99: percentile(values, 99),
		max: values.length === 0 ? undefined : Math.max(...values),
		mean: values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0) / values.length,
	};
}

/** Rounds to `digits` decimals (for JSON and tables). */
export function round(value: number | undefined, digits = 1): number | undefined {
	if (value === undefined || !Number.isFinite(value)) {
		return undefined;
	}

	const factor = 10 ** digits;
	return Math.round(value * factor) / factor;
}
