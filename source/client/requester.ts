import os from 'node:os';

/** `$USER@hostname`, as the queen keeps it (`X-Hive-User`: at most 128 printable characters): who asked for a change. */
export function requester(env: NodeJS.ProcessEnv): string {
	let user = env.USER || env.LOGNAME;
	if (!user) {
		try {
			user = os.userInfo().username;
		} catch {
			user = 'unknown';
		}
	}

	return `${user}@${os.hostname()}`.replaceAll(/[^\u0020-\u007E]/g, '?').slice(0, 128);
}
