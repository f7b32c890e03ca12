import type {Drone} from './hive.js';

/**
Placement as small named steps, as the Kubernetes scheduler framework has them: filters say which
drones may take a task, a scorer ranks those left, ties are broken at random. Pure: no I/O, no state.
*/

export type PlacementContext = {
	/** Drones already asked for this task (they failed to take it). */
	readonly exclude: ReadonlySet<string>;
	/** In [0, 1); injectable so tests can pin it. */
	readonly random: () => number;
};

export type Filter = {
	readonly name: string;
	readonly accepts: (drone: Drone, context: PlacementContext) => boolean;
};

export type Scorer = (drone: Drone, context: PlacementContext) => number;

export const notTriedYet: Filter = {name: 'not-tried-yet', accepts: (drone, context) => !context.exclude.has(drone.name)};

/** Only drones whose last heartbeat or call succeeded: a suspect drone gets no work until it answers. */
export const isReady: Filter = {name: 'ready', accepts: drone => drone.state === 'ready'};

export const defaultFilters: readonly Filter[] = [notTriedYet, isReady];

/** The seed's scheduler: every drone that passes the filters is as good as any other. */
export const randomScore: Scorer = () => 0;

/** The best-scored drone that passes every filter, ties broken uniformly at random; undefined if none. */
export function pickDrone(
	drones: Iterable<Drone>,
	context: PlacementContext,
	filters: readonly Filter[] = defaultFilters,
	score: Scorer = randomScore,
): Drone | undefined {
	let chosen: Drone | undefined;
	let bestScore = Number.NEGATIVE_INFINITY;
	let ties = 0;
	for (const drone of drones) {
		if (!filters.every(filter => filter.accepts(drone, context))) {
			continue;
		}

		const value = score(drone, context);
		if (value > bestScore) {
			bestScore = value;
			chosen = drone;
			ties = 1;
		} else if (value === bestScore) {
			// Reservoir sampling: the k-th tie replaces the choice with probability 1/k.
			ties += 1;
			if (context.random() * ties < 1) {
				chosen = drone;
			}
		}
	}

	return chosen;
}
