/**
Loads the dashboard (React, Ink) on demand: a queen or a drone without `--tui` never pays for it, and the
dashboard gets React's production build unless NODE_ENV says otherwise. React picks its build once, when
it is first loaded (`process.env.NODE_ENV === 'production'`); the development build checks and times
every render (performance.measure per component), which costs the dashboard a third of its CPU under
an event flood. NODE_ENV is put back afterwards, so that nothing else in the process (the queen's Koa,
local drones started from it) sees a changed environment.
*/
export async function loadDashboard(): Promise<typeof import('./index.js')> {
	const previous = process.env.NODE_ENV;
	process.env.NODE_ENV = previous ?? 'production';
	try {
		return await import('./index.js');
	} finally {
		if (previous === undefined) {
			delete process.env.NODE_ENV;
		}
	}
}
