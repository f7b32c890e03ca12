import type {DroneSpec, Labels} from '../model.js';
import type {DroneHealth, RegisterBody} from '../http/schemas.js';

/**
Admission of a registration: the drone's word against the caller's. The queen has called the address
back and read what the drone says of itself (`/healthz`: its boot id, name, slots, exec, labels, and
whether it holds the contact key the registration offers). What the drone says decides; what it does
not say (the seed's drone says little), the body may. A body that contradicts the drone is refused, so
no one can rename or strip a live drone by registering its address.
*/
export type Admission =
	| {readonly admitted: true; readonly spec: DroneSpec}
	| {readonly admitted: false; readonly error: string};

export function admit(body: RegisterBody, health: DroneHealth): Admission {
	const refuse = (what: string): Admission => ({admitted: false, error: `the drone at ${body.address} ${what}`});
	if (body.contactKey !== undefined && health.contactKeyMatches === false) {
		// The process at the address is not the one that sent this registration.
		return refuse('does not hold the contact key of this registration: a drone registers itself (is its --advertise address right?)');
	}

	if (health.bootId !== undefined && body.bootId !== undefined && health.bootId !== body.bootId) {
		return refuse(`says its boot id is ${health.bootId}, not ${body.bootId}`);
	}

	if (typeof health.name === 'string' && body.name !== undefined && health.name !== body.name) {
		return refuse(`is named ${health.name}, not ${body.name}`);
	}

	if (health.slots !== undefined && body.slots !== undefined && health.slots !== body.slots) {
		return refuse(`says its slots are ${health.slots}, not ${body.slots}`);
	}

	if (health.allowExec !== undefined && body.allowExec !== undefined && health.allowExec !== body.allowExec) {
		return refuse(health.allowExec
			? `says it runs commands (allowExec true), not ${body.allowExec}`
			: `says it does not run commands (allowExec false), not ${body.allowExec}`);
	}

	if (health.runtimes !== undefined && body.runtimes !== undefined && health.runtimes.join(',') !== body.runtimes.join(',')) {
		return refuse(`says its container runtimes are [${health.runtimes.join(', ')}], not [${body.runtimes.join(', ')}]`);
	}

	if (health.labels !== undefined && body.labels !== undefined && labelsText(health.labels) !== labelsText(body.labels)) {
		return refuse(`says its labels are ${labelsText(health.labels)}, not ${labelsText(body.labels)}`);
	}

	return {
		admitted: true,
		spec: {
			address: body.address,
			name: health.name ?? body.name,
			slots: health.slots ?? body.slots,
			allowExec: health.allowExec ?? body.allowExec,
			contained: health.contained,
			runtimes: health.runtimes ?? body.runtimes,
			labels: health.labels ?? body.labels,
			bootId: health.bootId ?? body.bootId,
			// Kept only when the drone showed it is its own: then the registration is the drone's.
			contactKey: health.contactKeyMatches === true ? body.contactKey : undefined,
		},
	};
}

/** Labels as one text, keys in order: `{"zone":"a"}`. */
function labelsText(labels: Labels): string {
	return JSON.stringify(Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : (a > b ? 1 : 0)))));
}
