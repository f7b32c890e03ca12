import fs from 'node:fs';
import path from 'node:path';
import {pino, type Logger} from 'pino';
import pretty from 'pino-pretty';
import type {LogLevel} from './options.js';

export type {Logger} from 'pino';

export type LogDestination =
	| {readonly kind: 'stderr'}
	| {readonly kind: 'file'; readonly path: string}
	| {readonly kind: 'silent'};

/**
Logs are JSON lines on standard error, pretty when standard error is a terminal, and go to a file while
the dashboard owns the screen. Standard output is never a log's: a drone's belongs to its tasks.
*/
export function createLogger(level: LogLevel, destination: LogDestination): Logger {
	const options = {level, base: {pid: process.pid}};
	switch (destination.kind) {
		case 'silent': {
			return pino({level: 'silent'});
		}

		case 'file': {
			// Opened here, not by the destination in the background: a larve that exits at once (a port in use)
			// would otherwise flush a file that is not open yet, and crash on its way out.
			fs.mkdirSync(path.dirname(path.resolve(destination.path)), {recursive: true});
			return pino(options, pino.destination({dest: fs.openSync(destination.path, 'a'), sync: false}));
		}

		case 'stderr': {
			return process.stderr.isTTY
				? pino(options, pretty({destination: 2, sync: true, ignore: 'pid,hostname'}))
				: pino(options, pino.destination({dest: 2, sync: true}));
		}
	}
}
