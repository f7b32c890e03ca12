import type {Readable} from 'node:stream';
import {readEventStream, type StreamEvent} from '../client/event-stream.js';
import {booleanFlag, noArguments, type CommandContext, type CommandSpec} from './command.js';
import {printJson} from './output.js';
import {renderRow, renderTable} from './table.js';
import {eventColumns, eventRow, eventWidths, isNoise} from './views.js';

export const events: CommandSpec = {
	name: 'events',
	synopsis: '',
	summary: 'Show the queen\'s recent events (--follow: then as they happen)',
	help: `
	Usage
	  $ hive-larve events [--follow]

	Shows what the queen keeps of what happened, oldest first: drones registered, evicted, cordoned,
	drained; tasks submitted, placed, ended, cancelled. The heartbeat monitor's turns are left out of
	the table (they are in -o json).

	Options
	  -f, --follow    then go on showing events as they happen, until interrupted (Ctrl-C); a lost
	                  connection is made again, without missing or repeating an event
	  -o json         the queen's answer; with --follow, one event a line

	Examples
	  $ hive-larve events
	  $ hive-larve events --follow -o json | jq -c 'select(.type == "task.failed")'
	`,
	flags: {
		follow: {type: 'boolean', shortFlag: 'f'},
	},
	async run(context, args, flags) {
		noArguments('events', args);
		if (booleanFlag(flags, 'follow')) {
			return followEvents(context);
		}

		const answer = await context.queen.eventBacklog();
		const {output} = context;
		if (output.format === 'json') {
			printJson(output, answer);
			return 0;
		}

		const shown = answer.events.filter(event => !isNoise(event));
		if (shown.length === 0) {
			output.stderr.write('No events found.\n');
			return 0;
		}

		const now = context.now();
		output.stdout.write(renderTable(eventColumns, shown.map(event => eventRow(event, now)), output.width));
		return 0;
	},
};

/**
The backlog, then events as they come, until the process is interrupted: as `kubectl get events -w`.
The first connection must succeed (else exit 1, as any command); later drops are reconnected after the
last event read, as the dashboard does.
*/
async function followEvents(context: CommandContext): Promise<number> {
	const {output, queen} = context;
	const first = await queen.openAnsweredEvents(0);
	if (output.format === 'table') {
		output.stdout.write(renderRow(eventColumns.map(column => column.toUpperCase()), eventWidths, output.width));
	}

	let connections = 0;
	let lost = false;
	const open = async (since: number | undefined): Promise<Readable> => {
		connections += 1;
		if (connections === 1) {
			return first;
		}

		const stream = await queen.openAnsweredEvents(since);
		if (lost) {
			lost = false;
			output.stderr.write(`hive-larve: following the queen's events again at ${queen.baseUrl.replace('http://', '')}\n`);
		}

		return stream;
	};

	const print = (event: StreamEvent) => {
		if (output.format === 'json') {
			printJson(output, event);
		} else if (!isNoise(event)) {
			output.stdout.write(renderRow(eventRow(event, context.now()), eventWidths, output.width));
		}
	};

	return new Promise<number>(() => {
		readEventStream({
			since: 0,
			open,
			onEvent: print,
			onStatus(status) {
				if (!status.connected && !lost) {
					lost = true;
					output.stderr.write(`hive-larve: lost the queen's event stream (${status.error ?? 'no reason given'}); connecting again\n`);
				}
			},
		});
	});
}
