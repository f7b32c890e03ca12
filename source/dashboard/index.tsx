import {render} from 'ink';
import {createHttpClient} from '../client/http.js';
import {createQueenClient, type QueenClient} from '../client/queen-client.js';
import {App} from './App.js';
import {feedHiveStore} from './feed.js';
import {HiveStore} from './hive-store.js';

export type DashboardOptions = {
	/**
	The queens of the hive, `host:port` each (`--queen-host a,b,c`): the dashboard reads the first that
	answers, and moves to the next when it stops answering.
	*/
	readonly queenHosts: readonly string[];
	readonly version: string;
	/** The hive's join secret, sent as `Authorization: Bearer` on every call. */
	readonly token?: string;
};

const enterAlternateScreen = '\u001B[?1049h\u001B[H';
const leaveAlternateScreen = '\u001B[?1049l';

/**
Shows the dashboard of the hive of `queenHosts` full-screen (the alternate screen, as k9s and less do),
reading it only through its HTTP API. Resolves when the user quits, the terminal restored.
*/
export async function runDashboard(options: DashboardOptions): Promise<void> {
	const http = createHttpClient({userAgent: `hive-dashboard/${options.version}`, timeoutMs: 5000, maxSockets: 8, token: options.token});
	const queens = options.queenHosts.map(host => createQueenClient(host, http));
	const store = new HiveStore({queenHost: options.queenHosts.join(',')});
	const feed = feedHiveStore(store, queens);
	// The prompt and the task details call the queen read now (it changes with a failover).
	const client: Pick<QueenClient, 'submitTask' | 'task'> = {
		async submitTask(task, submit) {
			return feed.client.submitTask(task, submit);
		},
		async task(id) {
			return feed.client.task(id);
		},
	};
	const {stdout} = process;
	let restored = false;
	const restore = (): void => {
		if (!restored) {
			restored = true;
			stdout.write(leaveAlternateScreen);
		}
	};

	stdout.write(enterAlternateScreen);
	process.once('exit', restore);
	const instance = render(<App store={store} client={client} version={options.version}/>, {exitOnCtrlC: false, maxFps: 10});
	try {
		await instance.waitUntilExit();
	} finally {
		instance.cleanup();
		feed.stop();
		store.close();
		http.close();
		restore();
		process.off('exit', restore);
	}
}
