import {booleanFlag, noArguments, oneArgument, secondsFlag, type CommandSpec} from './command.js';
import {printAnswer, printJson} from './output.js';
import {age, renderTable} from './table.js';
import {byName, droneColumns, droneColumnsWithRuntimes, droneRow, hasRuntimes} from './views.js';

/** `drones`, `cordon`, `uncordon`, `drain`: the workers, and taking them out of service (as kubectl's nodes). */

export const drones: CommandSpec = {
	name: 'drones',
	synopsis: '',
	summary: 'List the drones: state, load, labels',
	help: `
	Usage
	  $ hive-larve drones

	Lists the drones registered with the queen: STATUS is ready or suspect (heartbeats failing), with
	',cordoned' (takes no new tasks) or ',draining'; RUNNING is commands and containers running / slots;
	RUNTIMES (once a drone has one: --runtime runc) what runs container tasks there.

	Examples
	  $ hive-larve drones
	  $ hive-larve drones -o json
	`,
	flags: {},
	async run(context, args) {
		noArguments('drones', args);
		const answer = await context.queen.drones();
		const {output} = context;
		if (output.format === 'json') {
			printJson(output, answer);
			return 0;
		}

		if (answer.drones.length === 0) {
			output.stderr.write('No drones found.\n');
			return 0;
		}

		const now = context.now();
		const withRuntimes = hasRuntimes(answer.drones);
		output.stdout.write(renderTable(withRuntimes ? droneColumnsWithRuntimes : droneColumns, [...answer.drones].sort(byName).map(drone => droneRow(drone, now, withRuntimes)), output.width));
		return 0;
	},
};

export const cordon: CommandSpec = {
	name: 'cordon',
	synopsis: 'NAME',
	summary: 'Mark a drone unschedulable: no new tasks, running ones finish',
	help: `
	Usage
	  $ hive-larve cordon NAME

	The drone takes no new tasks; what runs there goes on. Pending tasks that only it could take say so.
	Until 'hive-larve uncordon NAME'; the record says who ($USER@hostname).

	Examples
	  $ hive-larve cordon drone-1
	`,
	flags: {},
	async run(context, args) {
		const name = oneArgument('cordon', args, 'a drone NAME');
		printAnswer(context.output, await context.queen.cordon(name, {user: context.user}), `drone ${name} cordoned\n`);
		return 0;
	},
};

export const uncordon: CommandSpec = {
	name: 'uncordon',
	synopsis: 'NAME',
	summary: 'Mark a drone schedulable again (ends a drain under way)',
	help: `
	Usage
	  $ hive-larve uncordon NAME

	The drone takes tasks again; a drain under way ends.

	Examples
	  $ hive-larve uncordon drone-1
	`,
	flags: {},
	async run(context, args) {
		const name = oneArgument('uncordon', args, 'a drone NAME');
		printAnswer(context.output, await context.queen.uncordon(name, {user: context.user}), `drone ${name} uncordoned\n`);
		return 0;
	},
};

export const drain: CommandSpec = {
	name: 'drain',
	synopsis: 'NAME',
	summary: 'Cordon a drone and wait until nothing runs there',
	help: `
	Usage
	  $ hive-larve drain NAME [--deadline SECS] [--no-wait]

	Cordons the drone and lets what runs there finish; past the deadline, its running commands are
	killed and placed on other drones. Waits until nothing runs there (as kubectl drain), unless
	--no-wait. The drone stays cordoned: 'hive-larve uncordon NAME' to use it again.

	Options
	  --deadline SECS    how long running commands may take before they are moved (default 3600)
	  --no-wait          return once the drain has begun

	Examples
	  $ hive-larve drain drone-1
	  $ hive-larve drain drone-1 --deadline 60 --no-wait
	`,
	flags: {
		deadline: {type: 'string'},
		wait: {type: 'boolean', default: true},
	},
	async run(context, args, flags) {
		const name = oneArgument('drain', args, 'a drone NAME');
		const deadlineSeconds = secondsFlag(flags, 'deadline');
		const wait = booleanFlag(flags, 'wait');
		const {output} = context;
		if (wait && output.format === 'table' && (output.stderr as {isTTY?: boolean}).isTTY) {
			// A drain may take until its deadline: say what the silence is.
			output.stderr.write(`draining ${name}: waiting until nothing runs there${deadlineSeconds === undefined ? '' : ` (deadline ${deadlineSeconds}s)`}...\n`);
		}

		const answer = await context.queen.drain(name, {user: context.user, deadlineSeconds, wait});
		const deadline = answer.drone?.drain?.deadline;
		const line = answer.drone === null
			? `drone ${name}: ${answer.note ?? 'it left the hive before its drain ended'}`
			: (wait ? `drone ${name} drained` : `drone ${name} cordoned, draining${deadline ? ` (deadline in ${age(Date.parse(deadline) - context.now())})` : ''}`);
		printAnswer(context.output, answer, `${line}\n`);
		return 0;
	},
};
