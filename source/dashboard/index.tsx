import {render} from 'ink';
import {createHttpClient} from '../client/http.js';
import {createQueenClient} from '../client/queen-client.js';
import {App} from './App.js';
import {feedHiveStore, HiveStore} from './hive-store.js';

export type DashboardOptions = {
	/** `http://host:port` of the queen to show. */
	readonly queenUrl: string;
	readonly version: string;
	/** The hive's join secret, sent as `Authorization: Bearer` on every call. */
	readonly token?: string;
};

const enterAlternateScreen = '\u001B[?1049h\u001B[H';
const leaveAlternateScreen = '\u001B[?1049l';

/**
Shows the dashboard of the queen at `queenUrl` full-screen (the alternate screen, as k9s and less do),
reading it only through its HTTP API. Resolves when the user quits, the terminal restored.
*/
export async function runDashboard(options: DashboardOptions): Promise<void> {
	const http = createHttpClient({userAgent: `hive-dashboard/${options.version}`, timeoutMs: 5000, maxSockets: 8, token: options.token});
	const client = createQueenClient(new URL(options.queenUrl).host, http);
	const store = new HiveStore({queenUrl: options.queenUrl});
	const feed = feedHiveStore(store, client);
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
