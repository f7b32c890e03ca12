import type * as Dashboard from './index.js';

/**
Loads the dashboard (React, Ink) on demand: a queen or a drone without `--tui` never pays for it, and the
dashboard gets React's production build unless NODE_ENV says otherwise. React picks its build once, when
it is first loaded (`process.env.NODE_ENV === 'production'`); the development build checks and times
every render (performance.measure per component), which costs the dashboard a third of its CPU under
an event flood. NODE_ENV is put back afterwards, so that nothing else in the process (the queen's Koa,
local drones started from it) sees a changed environment.

Ink also decides once, when loaded, whether it runs in CI (`CI` or `CONTINUOUS_INTEGRATION` set), and
then draws nothing until it exits. The dashboard only starts on a terminal (the CLI checks), so it is
interactive wherever it runs: those variables are hidden from Ink's load and put back too.
*/
export async function loadDashboard(): Promise<typeof Dashboard> {
	const saved = {NODE_ENV: process.env.NODE_ENV, CI: process.env.CI, CONTINUOUS_INTEGRATION: process.env.CONTINUOUS_INTEGRATION};
	process.env.NODE_ENV = saved.NODE_ENV ?? 'production';
	delete process.env.CI;
	delete process.env.CONTINUOUS_INTEGRATION;
	try {
		return await import('./index.js');
	} finally {
		for (const [key, value] of Object.entries(saved)) {
			if (value === undefined) {
				delete process.env[key];
			} else {
				process.env[key] = value;
			}
		}
	}
}
