import {readFileSync} from 'node:fs';

/** The version of the package this larve was built from (shown in `/healthz` and `--version`). */
export const version: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {version: string}).version;
