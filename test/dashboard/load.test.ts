import assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import {test} from 'node:test';
import {fileURLToPath} from 'node:url';

const load = fileURLToPath(new URL('../../source/dashboard/load.js', import.meta.url));

/** In a fresh process (React picks its build once): which React builds loadDashboard ran, and NODE_ENV after. */
function loadIn(env: Record<string, string | undefined>): {env: string | null; builds: string[]} {
	const script = `
		import {createRequire} from 'node:module';
		const {loadDashboard} = await import(${JSON.stringify(load)});
		const {runDashboard} = await loadDashboard();
		const cache = createRequire(import.meta.url).cache;
		const builds = Object.keys(cache).filter(key => /react(-reconciler)?\\/cjs\\/react(-reconciler)?\\.\\w+\\.js$/.test(key) && cache[key].loaded).map(key => key.replace(/.*node_modules\\//, ''));
		console.log(JSON.stringify({env: process.env.NODE_ENV ?? null, builds, run: typeof runDashboard}));
	`;
	const environment = {...process.env, ...env};
	for (const [key, value] of Object.entries(env)) {
		if (value === undefined) {
			delete environment[key];
		}
	}

	const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {encoding: 'utf8', env: environment});
	assert.equal(child.status, 0, child.stderr);
	const answer = JSON.parse(child.stdout) as {env: string | null; builds: string[]; run: string};
	assert.equal(answer.run, 'function');
	return {env: answer.env, builds: answer.builds.sort()};
}

test('the dashboard loads React\'s production build and leaves NODE_ENV as it was; NODE_ENV set by the user wins', () => {
	assert.deepEqual(loadIn({NODE_ENV: undefined}), {env: null, builds: ['react-reconciler/cjs/react-reconciler.production.js', 'react/cjs/react.production.js']});
	assert.deepEqual(loadIn({NODE_ENV: 'development'}), {env: 'development', builds: ['react-reconciler/cjs/react-reconciler.development.js', 'react/cjs/react.development.js']});
});
