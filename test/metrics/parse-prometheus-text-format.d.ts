// The part of parse-prometheus-text-format's API the tests use (it ships no types).
declare module 'parse-prometheus-text-format' {
	type Sample = {
		readonly value?: string;
		readonly labels?: Readonly<Record<string, string>>;
		/** A histogram's: cumulative counts by upper bound (`le`). */
		readonly buckets?: Readonly<Record<string, string>>;
		readonly count?: string;
		readonly sum?: string;
	};

	type Family = {
		readonly name: string;
		readonly help: string;
		readonly type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
		readonly metrics: readonly Sample[];
	};

	function parsePrometheusTextFormat(text: string): Family[];
	export default parsePrometheusTextFormat;
	export type {Family, Sample};
}
