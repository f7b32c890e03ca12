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
			return pino(options, pino.destination({dest: destination.path, mkdir: true, sync: false}));
		}

		case 'stderr': {
			return process.stderr.isTTY
				? pino(options, pretty({destination: 2, sync: true, ignore: 'pid,hostname'}))
				: pino(options, pino.destination({dest: 2, sync: true}));
		}
	}
}
