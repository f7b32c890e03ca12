import {createHash, randomBytes, timingSafeEqual} from 'node:crypto';
import type Koa from 'koa';
import {HiveError} from './errors.js';

/** A fresh join token: what `--local-drones` makes when the queen was given none. */
export function newToken(): string {
	return randomBytes(24).toString('base64url');
}

/**
The header in which a queen shows a drone the contact key the drone gave it when it registered: how a
drone tells its queen's calls from anyone's (a `hive-queen/` User-Agent proves nothing).
*/
export const contactKeyHeader = 'x-hive-contact-key';

/**
The header in which a leading queen shows its epoch (a decimal integer that rises with each election: its
election key's create revision in etcd) on every call to a drone: a drone refuses an epoch older than one
its queen has shown, so a deposed leader that wakes up commands nothing. A queen without etcd sends none.
*/
export const epochHeader = 'x-hive-epoch';

/** A fresh contact key: 32 random bytes, base64url (43 characters). */
export function newContactKey(): string {
	return randomBytes(32).toString('base64url');
}

/** Whether two secrets are equal, compared in constant time (on digests: the length does not show either). */
export function sameSecret(a: string, b: string): boolean {
	return timingSafeEqual(digest(a), digest(b));
}

function digest(value: string): Buffer {
	return createHash('sha256').update(value).digest();
}

/**
Koa middleware: the request needs `Authorization: Bearer <token>`. Compared in constant time (on
digests, so that the length does not show either); a refusal says what is missing, never the token.
With no token the hive is open, and the middleware lets everything through.
*/
export function requireToken(token: string | undefined): Koa.Middleware {
	if (token === undefined) {
		return async (_ctx, next) => {
			await next();
		};
	}

	const expected = digest(token);
	return async (ctx, next) => {
		const header = ctx.get('authorization');
		const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
		if (!match) {
			ctx.set('WWW-Authenticate', 'Bearer realm="hive"');
			throw new HiveError(401, 'this hive needs a token: send Authorization: Bearer <token> (the --token of the hive)', 'ERR_HIVE_UNAUTHORIZED');
		}

		if (!timingSafeEqual(digest(match[1]!), expected)) {
			ctx.set('WWW-Authenticate', 'Bearer realm="hive", error="invalid_token"');
			throw new HiveError(401, 'wrong token', 'ERR_HIVE_UNAUTHORIZED');
		}

		await next();
	};
}
