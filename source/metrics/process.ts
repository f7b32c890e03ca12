import {collectDefaultMetrics, Registry} from 'prom-client';

let shared: Registry | undefined;

/**
prom-client's default metrics (CPU, memory, event loop lag, GC, handles) in a registry of their own, made
once per process: they describe the process, not one larve, and each set runs an event-loop monitor and a
GC observer that are never stopped, so a test process that starts many larves must not make one each.
Every larve's registry is merged with this one (`Registry.merge`): the same metric objects, not copies.
*/
export function processMetrics(): Registry {
	shared ??= (() => {
		const registry = new Registry();
		collectDefaultMetrics({register: registry});
		return registry;
	})();
	return shared;
}

/** A larve's registry: its own metrics (all made already) and the process's. */
export function larveRegistry(own: Registry): Registry {
	return Registry.merge([processMetrics(), own]);
}
