import {render} from 'ink';
import {createHttpClient} from '../client/http.js';
import {createQueenClient} from '../client/queen-client.js';
import {requester} from '../client/requester.js';
import {App, type DashboardClient} from './App.js';
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

// The alternate screen (as k9s and less use it), and bracketed paste: a pasted text comes marked, so
// that its newlines are text and not Enter (a multi-line task is sent whole).
const enterAlternateScreen = '\u001B[?1049h\u001B[H\u001B[?2004h';
const leaveAlternateScreen = '\u001B[?2004l\u001B[?1049l';

/**
Shows the dashboard of the hive of `queenHosts` full-screen (the alternate screen, as k9s and less do),
reading it only through its HTTP API. Resolves when the user quits, the terminal restored.
*/
export async function runDashboard(options: DashboardOptions): Promise<void> {
	const http = createHttpClient({userAgent: `hive-dashboard/${options.version}`, timeoutMs: 5000, maxSockets: 8, token: options.token});
	const queens = options.queenHosts.map(host => createQueenClient(host, http));
	const store = new HiveStore({queenHost: options.queenHosts.join(',')});
	const feed = feedHiveStore(store, queens);
	// The prompt, the pages and the keys call the queen read now (it changes with a failover).
	const client: DashboardClient = {
		async submitTask(task, submit) {
			return feed.client.submitTask(task, submit);
		},
		async task(id) {
			return feed.client.task(id);
		},
		async openTaskLogs(id, logOptions) {
			return feed.client.openTaskLogs(id, logOptions);
		},
		async cancelTask(id, who) {
			return feed.client.cancelTask(id, who);
		},
		async cordon(name, who) {
			return feed.client.cordon(name, who);
		},
		async uncordon(name, who) {
			return feed.client.uncordon(name, who);
		},
		async drain(name, drainOptions) {
			return feed.client.drain(name, drainOptions);
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
	const instance = render(<App store={store} client={client} version={options.version} token={options.token} user={requester(process.env)}/>, {exitOnCtrlC: false, maxFps: 10});
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
