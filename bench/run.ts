/**
`npm run bench` — measures Hive with real larves on loopback and prints a table (and writes
bench/results/latest.json).

  npm run bench                      every scenario
  npm run bench -- dispatch failure  some scenarios
  npm run bench -- --quick           short runs (~1 minute in all)
*/
import {mkdirSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import {fileURLToPath} from 'node:url';
import {parseArgs} from 'node:util';
import type {BenchContext, Scenario, ScenarioOutcome} from './context.js';
import {closeHttpAgent, openFileLimit} from './procs.js';
import {checkBudgets, renderBudgets} from './budgets.js';
import {machine, renderMachine, renderTable} from './table.js';
import {runDispatch} from './dispatch.js';
import {runProfile} from './profile-dispatch.js';
import {runHeartbeat} from './heartbeat.js';
import {runFailure} from './failure.js';
import {runDashboard} from './dashboard.js';
import {runStartup} from './startup.js';
import {runStoreEngines} from './store-engines.js';
import {runRestart} from './restart.js';
import {runWatchers} from './watchers.js';
import {runDashboards} from './dashboards.js';
import {runQueens} from './queens.js';
import {runContainers} from './containers.js';

export const scenarios: readonly Scenario[] = [
	{name: 'startup', description: 'time from launch to a ready /healthz', run: runStartup},
	{name: 'dispatch', description: 'tasks/s and latency through one queen to two drones, vs the seed', run: runDispatch},
	{name: 'profile', description: 'the dispatch load with the queen under --cpu-prof: where the time goes', run: runProfile},
	{name: 'heartbeat', description: '1,000 and 10,000 drones: queen CPU, sweep time, false evictions', run: runHeartbeat},
	{name: 'failure', description: 'kill -9 a drone: time to eviction and to its tasks running elsewhere', run: runFailure},
	{name: 'dashboard', description: 'CPU of the dashboard at 1,000 drones and 1,000 events/s', run: runDashboard},
	{name: 'store', description: 'store engines: our log vs lmdb vs classic-level, durable writes/s, p99, recovery of 100k records', run: runStoreEngines},
	{name: 'watchers', description: 'queen CPU per task with 0 and 200 clients of /events', run: runWatchers},
	{name: 'dashboards', description: 'queen CPU per task, tasks/s, p99 with 3 dashboards and 200 clients of /events vs none; each dashboard\'s cores', run: runDashboards},
	{name: 'restart', description: 'kill -9 a queen holding 100,000 tasks: time until it serves again on its data directory', run: runRestart},
	{name: 'queens', description: 'three queens on a three-member etcd: tasks/s at 64 connections vs one queen and the seed; 10 kill -9s of the leader', run: runQueens},
	{name: 'containers', description: 'one drone with runc: a container\'s start-to-exit latency and containers/s beside a bare command\'s', run: runContainers},
];

const {values, positionals} = parseArgs({
	allowPositionals: true,
	options: {
		quick: {type: 'boolean', default: false},
		help: {type: 'boolean', short: 'h', default: false},
	},
});

if (values.help) {
	process.stdout.write(`Usage: npm run bench -- [--quick] [${scenarios.map(s => s.name).join('|')} ...]\n\n${scenarios.map(s => `  ${s.name.padEnd(10)} ${s.description}`).join('\n')}\n`);
	process.exit(0);
}

const unknown = positionals.filter(name => !scenarios.some(s => s.name === name));
if (unknown.length > 0) {
	process.stderr.write(`bench: unknown scenario ${unknown.join(', ')} (known: ${scenarios.map(s => s.name).join(', ')})\n`);
	process.exit(2);
}

const selected = positionals.length === 0 ? scenarios : scenarios.filter(s => positionals.includes(s.name));
const resultsDir = fileURLToPath(new URL('../../bench/results/', import.meta.url));
mkdirSync(resultsDir, {recursive: true});
const started = performance.now();
const context: BenchContext = {
	quick: values.quick,
	durationS: values.quick ? 3 : 10,
	warmupS: values.quick ? 1 : 2,
	resultsDir,
	progress(message) {
		process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${message}\n`);
	},
};

const host = machine();
const limits = openFileLimit();
const outcomes: Record<string, ScenarioOutcome | {readonly error: string}> = {};
const output: string[] = [
	`# Hive bench — ${new Date().toISOString()}${values.quick ? ' (--quick)' : ''}`,
	renderMachine(host),
	`Open files limit: ${limits ? `${limits.soft} (hard ${limits.hard})` : 'unknown'}`,
];

for (const scenario of selected) {
	context.progress(`${scenario.name}: ${scenario.description}`);
	try {
		// eslint-disable-next-line no-await-in-loop
		const outcome = await scenario.run(context);
		outcomes[scenario.name] = outcome;
		for (const table of outcome.tables) {
			output.push('', renderTable(table));
		}

		if (outcome.failure !== undefined) {
			output.push('', `## ${scenario.name}: FAILED`, outcome.failure);
			context.progress(`${scenario.name} failed: ${outcome.failure}`);
		}
	} catch (error: unknown) {
		const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
		outcomes[scenario.name] = {error: message};
		output.push('', `## ${scenario.name}: FAILED`, message);
		context.progress(`${scenario.name} failed: ${message}`);
	}
}

const budgets = checkBudgets(outcomes);
if (budgets.length > 0) {
	output.push('', renderBudgets(budgets));
}

const elapsedS = Math.round((performance.now() - started) / 1000);
output.push('', `Bench took ${elapsedS} s; load average ${os.loadavg().map(load => load.toFixed(2)).join(', ')} at the end. JSON: bench/results/latest.json`);
const report = {
	startedAt: new Date(Date.now() - (elapsedS * 1000)).toISOString(),
	quick: values.quick,
	elapsedS,
	machine: host,
	openFiles: limits,
	scenarios: outcomes,
	budgets,
};
writeFileSync(`${resultsDir}latest.json`, `${JSON.stringify(report, null, '\t')}\n`);
process.stdout.write(`${output.join('\n')}\n`);
closeHttpAgent();
process.exit(Object.values(outcomes).some(outcome => 'error' in outcome || outcome.failure !== undefined) ? 1 : 0);
