/** What every scenario gets, and what it gives back. */

export type BenchContext = {
	/** Short runs (`--quick`): a few seconds per measurement instead of ~10. */
	readonly quick: boolean;
	/** Seconds of one measured load run. */
	readonly durationS: number;
	/** Seconds of warm-up before it. */
	readonly warmupS: number;
	/** Where results and profiles go (bench/results). */
	readonly resultsDir: string;
	/** A progress line on standard error. */
	progress(message: string): void;
};

export type Table = {
	readonly title: string;
	readonly columns: readonly string[];
	readonly rows: ReadonlyArray<ReadonlyArray<string | number | undefined>>;
	readonly notes?: readonly string[];
};

export type ScenarioOutcome<T = unknown> = {
	/** Machine-readable results, written to latest.json. */
	readonly data: T;
	readonly tables: readonly Table[];
	/** Set when the scenario ran but what it checks did not hold: the bench fails, its tables still printed. */
	readonly failure?: string;
};

export type Scenario = {
	readonly name: string;
	readonly description: string;
	run(context: BenchContext): Promise<ScenarioOutcome>;
};
