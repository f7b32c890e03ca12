/** Names and addresses: what a drone name, a label and a `host:port` may be. The bottom layer. */

export type HostPort = {readonly host: string; readonly port: number};

/**
Parses `host:port` (or `[v6]:port`); undefined when it is not one. The host comes back in its canonical
form, as a URL parser (WHATWG) writes it: IP literals normalized (`127.1`, `127.000.000.001` and
`0x7f.0.0.1` are all `127.0.0.1`; `[::FFFF:127.0.0.1]` is `[::ffff:7f00:1]`), names in lower case. So
one drone is not taken for several because its address was spelled several ways.
*/
export function parseHostPort(value: string): HostPort | undefined {
	const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value.trim());
	if (!match) {
		return undefined;
	}

	const port = Number(match[2]);
	if (port < 1 || port > 65_535) {
		return undefined;
	}

	let host: string;
	try {
		host = new URL(`http://${match[1]!}`).hostname;
	} catch {
		// Not a host a URL can name (`foo.123` would be read as a bad IPv4 address).
		return undefined;
	}

	return host === '' ? undefined : {host, port};
}

/** The canonical `host:port` of an address (see `parseHostPort`); undefined when it is not one. */
export function canonicalAddress(value: string): string | undefined {
	const parsed = parseHostPort(value);
	return parsed && `${parsed.host}:${parsed.port}`;
}

/** The `host:port` form of a bound address, bracketing IPv6. */
export function formatHostPort(host: string, port: number): string {
	return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

const namePattern = /^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$/i;

/** A drone name: letters, digits, '.', '-' or '_', at most 64, starting and ending with a letter or digit. */
export function isValidName(name: string): boolean {
	return namePattern.test(name);
}

export const nameRule = "letters, digits, '.', '-' or '_' (at most 64)";

/** A label key, as Kubernetes has them: letters, digits, `.`, `_`, `/`, `-`, at most 64. */
export const labelKeyPattern = /^[a-z0-9]([a-z0-9._/-]{0,62}[a-z0-9])?$/i;

/** A label value: at most 256 characters. */
export const maxLabelValueLength = 256;
