import net from 'node:net';
import type {TestContext} from 'node:test';

export type Client = {readonly socket: net.Socket; closed: boolean; received: string};

/** A raw connection to `url`, closed when the test ends. */
export async function connect(t: TestContext, url: string): Promise<Client> {
	const {hostname, port} = new URL(url);
	const socket = net.connect(Number(port), hostname);
	const client: Client = {socket, closed: false, received: ''};
	socket.on('data', (chunk: Buffer) => {
		client.received += chunk.toString();
	});
	socket.on('error', () => undefined);
	socket.on('close', () => {
		client.closed = true;
	});
	t.after(() => {
		socket.destroy();
	});
	await new Promise<void>((resolve, reject) => {
		socket.once('connect', resolve);
		socket.once('error', reject);
	});
	return client;
}
