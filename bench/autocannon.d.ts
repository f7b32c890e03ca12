// The part of autocannon's API the bench uses (autocannon ships no types).
declare module 'autocannon' {
	type Histogram = {
		readonly average: number;
		readonly mean: number;
		readonly stddev: number;
		readonly min: number;
		readonly max: number;
		readonly total: number;
		readonly p50: number;
		readonly p90: number;
		readonly p97_5: number;
		readonly p99: number;
		readonly p99_9?: number;
	};

	type Result = {
		readonly requests: Histogram & {readonly sent: number};
		readonly latency: Histogram;
		readonly throughput: Histogram;
		readonly errors: number;
		readonly timeouts: number;
		readonly non2xx: number;
		readonly duration: number;
		readonly connections: number;
		readonly '1xx': number;
		readonly '2xx': number;
		readonly '4xx': number;
		readonly '5xx': number;
	};

	type Options = {
		readonly url: string;
		readonly method?: string;
		readonly body?: string;
		readonly headers?: Record<string, string>;
		readonly connections?: number;
		readonly duration?: number;
		readonly amount?: number;
		readonly overallRate?: number;
		readonly pipelining?: number;
		readonly timeout?: number;
		readonly workers?: number;
	};

	type Instance = Promise<Result> & {stop(): void};

	function autocannon(options: Options): Instance;
	export default autocannon;
	export type {Result, Options};
}
