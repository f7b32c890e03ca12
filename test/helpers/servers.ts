import http from 'node:http';
import net from 'node:net';
import {once} from 'node:events';
import type {TestContext} from 'node:test';

/** A port where nothing listens: what a crashed drone looks like from the queen. */
export async function deadAddress(): Promise<string> {
	const server = net.createServer();
	server.listen(0, '127.0.0.1');
	await once(server, 'listening');
	const {port} = server.address() as net.AddressInfo;
	await new Promise(resolve => server.close(resolve));
	return `127.0.0.1:${port}`;
}

export type StuckServer = {
	readonly address: string;
	/** Requests it has received and not answered. */
	readonly held: http.ServerResponse[];
	/** Answers every held request with a 500. */
	release(): void;
};

/** A server that takes requests and never answers them: a drone hung in the middle of a call. */
export async function stuckServer(t: TestContext): Promise<StuckServer> {
	const held: http.ServerResponse[] = [];
	const server = http.createServer((_request, response) => {
		held.push(response);
	});
	server.listen(0, '127.0.0.1');
	await once(server, 'listening');
	t.after(() => {
		server.closeAllConnections();
		server.close();
	});
	return {
		address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
		held,
		release() {
			for (const response of held.splice(0)) {
				response.writeHead(500).end('{"error":"stuck"}');
			}
		},
	};
}
