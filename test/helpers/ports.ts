import {readFileSync} from 'node:fs';
import net from 'node:net';

/** The kernel's ephemeral range: the local ports it gives outgoing connections (and `listen(0)`). */
function ephemeralRange(): {readonly low: number; readonly high: number} {
	try {
		const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
		if (Number.isInteger(low) && Number.isInteger(high)) {
			return {low: low!, high: high!};
		}
	} catch {}

	return {low: 32_768, high: 60_999};
}

async function canListen(port: number): Promise<boolean> {
	return new Promise(resolve => {
		const server = net.createServer();
		server.once('error', () => {
			resolve(false);
		});
		server.listen(port, '127.0.0.1', () => {
			server.close(() => {
				resolve(true);
			});
		});
	});
}

/**
A free loopback port for a process the test kills and starts again on the same port (a queen, an etcd
member). Taken from below the kernel's ephemeral range: a port from `listen(0)` is one the kernel also
gives outgoing connections, and after a kill -9 a client reconnecting elsewhere may hold it as its own
local port, so that the restart cannot bind it (EADDRINUSE).
*/
export async function stablePort(): Promise<number> {
	const {low} = ephemeralRange();
	const first = Math.max(1024, low - 12_000);
	for (let tries = 0; tries < 100; tries++) {
		const port = first + Math.floor(Math.random() * (low - first));
		// eslint-disable-next-line no-await-in-loop
		if (await canListen(port)) {
			return port;
		}
	}

	throw new Error(`no free port below ${low} after 100 tries`);
}
