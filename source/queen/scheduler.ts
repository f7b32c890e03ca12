import {runsOnDrone, type Drone, type Labels, type SchedulerName, type TaskKind} from '../model.js';

/**
Placement as small named steps, as the Kubernetes scheduler framework has them: filters say which
drones may take a task, a scorer ranks those left, ties are broken at random. Pure: no I/O, no state.
The scheduler only decides; the dispatcher applies the decision.
*/

export {schedulerNames, type SchedulerName} from '../model.js';

export type PlacementRequest = {
	readonly kind: TaskKind;
	readonly selector: Labels;
};

export type PlacementContext = {
	readonly task: PlacementRequest;
	/** Drones already asked for this task (they failed to take it). */
	readonly exclude: ReadonlySet<string>;
	/** In [0, 1); injectable so tests can pin it. */
	readonly random: () => number;
};

export type Filter = {
	readonly name: string;
	/** Why a drone does not pass, in the words of a pending task's reason. */
	readonly refusal: string;
	readonly accepts: (drone: Drone, context: PlacementContext) => boolean;
	/** A pending reason names the drones this filter turns away (a person did it, and may undo it). */
	readonly namesDrones?: boolean;
};

export type Scorer = (drone: Drone, context: PlacementContext) => number;

export const notTriedYet: Filter = {
	name: 'not-tried-yet',
	refusal: 'did not accept it',
	accepts: (drone, context) => !context.exclude.has(drone.name),
};

/** A cordoned drone (or one being drained) takes no new task, as kube-scheduler skips an unschedulable node. */
export const notCordoned: Filter = {
	name: 'not-cordoned',
	refusal: 'cordoned',
	accepts: drone => !drone.cordoned,
	namesDrones: true,
};

/** A suspect drone gets no work until it answers again. */
export const isReady: Filter = {
	name: 'ready',
	refusal: 'not ready',
	accepts: drone => drone.state === 'ready',
};

export const matchesSelector: Filter = {
	name: 'selector',
	refusal: "didn't match the selector",
	accepts(drone, context) {
		for (const key in context.task.selector) {
			if (drone.labels[key] !== context.task.selector[key]) {
				return false;
			}
		}

		return true;
	},
};

/** Command tasks only on drones started with `--allow-exec`, as Nomad's raw_exec. */
export const runsCommands: Filter = {
	name: 'allow-exec',
	refusal: 'do not run commands (no --allow-exec)',
	accepts: (drone, context) => context.task.kind !== 'command' || drone.allowExec,
};

/** Container tasks only on drones with a container runtime (`--runtime runc`), as Nomad places a task only where its driver is. */
export const runsContainers: Filter = {
	name: 'container-runtime',
	refusal: 'have no container runtime',
	accepts: (drone, context) => context.task.kind !== 'container' || (drone.runtimes?.length ?? 0) > 0,
};

/** A drone never runs more command and container tasks than its slots. Text tasks take no slot: they are done once printed. */
export const hasFreeSlot: Filter = {
	name: 'free-slot',
	refusal: 'have no free slot',
	accepts: (drone, context) => !runsOnDrone(context.task.kind) || drone.running < drone.slots,
};

export const filters: readonly Filter[] = [notTriedYet, notCordoned, isReady, matchesSelector, runsCommands, runsContainers, hasFreeSlot];

/** Fewest tasks per slot first. */
export const leastLoaded: Scorer = drone => -(drone.running / Math.max(1, drone.slots));

/** The seed's scheduler: every drone that passes the filters is as good as any other. */
export const anyDrone: Scorer = () => 0;

export const scorers: Readonly<Record<SchedulerName, Scorer>> = {'least-loaded': leastLoaded, random: anyDrone};

/** The best-scored drone that passes every filter, ties broken uniformly at random; undefined if none. */
export function pickDrone(drones: Iterable<Drone>, context: PlacementContext, score: Scorer = leastLoaded, steps: readonly Filter[] = filters): Drone | undefined {
	let chosen: Drone | undefined;
	let bestScore = Number.NEGATIVE_INFINITY;
	let ties = 0;
	for (const drone of drones) {
		if (!passes(drone, context, steps)) {
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

/**
Why no drone can take a task, counted by the first filter each drone fails, as kube-scheduler says
"0/3 nodes are available: 2 Insufficient cpu, 1 node(s) didn't match selector".
*/
export function explainNoFit(drones: Iterable<Drone>, context: PlacementContext, steps: readonly Filter[] = filters): string {
	const counts = new Map<Filter, number>();
	const named = new Map<Filter, string[]>();
	let total = 0;
	for (const drone of drones) {
		total += 1;
		const failed = steps.find(filter => !filter.accepts(drone, context));
		if (failed) {
			counts.set(failed, (counts.get(failed) ?? 0) + 1);
			if (failed.namesDrones) {
				const names = named.get(failed) ?? [];
				names.push(drone.name);
				named.set(failed, names);
			}
		}
	}

	if (total === 0) {
		return 'no drone is registered';
	}

	const parts = [...counts].map(([filter, count]) => {
		const names = named.get(filter);
		return names ? `${count} ${filter.refusal} (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''})` : `${count} ${filter.refusal}`;
	});
	return `0/${total} drones can take it: ${parts.join(', ')}`;
}

function passes(drone: Drone, context: PlacementContext, steps: readonly Filter[]): boolean {
	for (const filter of steps) {
		if (!filter.accepts(drone, context)) {
			return false;
		}
	}

	return true;
}
