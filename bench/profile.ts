import {readFileSync} from 'node:fs';

/**
Summarizes a V8 `.cpuprofile` (what `node --cpu-prof` writes): self time per function and per module.
A profile is a call tree (`nodes`, each with a `callFrame`) and a list of samples (`samples`: node ids,
`timeDeltas`: µs since the previous sample). A sample's time is the self time of its node.
*/

export type CallFrame = {
	readonly functionName: string;
	readonly url: string;
	readonly lineNumber: number;
	readonly columnNumber?: number;
	readonly scriptId?: string | number;
};

export type CpuProfile = {
	readonly nodes: ReadonlyArray<{readonly id: number; readonly callFrame: CallFrame; readonly children?: readonly number[]}>;
	readonly startTime: number;
	readonly endTime: number;
	readonly samples: readonly number[];
	readonly timeDeltas: readonly number[];
};

export type SelfTime = {readonly name: string; readonly selfMs: number; readonly share: number};

export type ProfileSummary = {
	readonly totalMs: number;
	/** Time not idle: everything but `(idle)`. */
	readonly activeMs: number;
	readonly idleMs: number;
	readonly byFunction: readonly SelfTime[];
	readonly byModule: readonly SelfTime[];
	readonly byCategory: readonly SelfTime[];
};

/** Packages grouped into the categories the report talks about. */
const categories: ReadonlyArray<readonly [string, RegExp]> = [
	['got (client)', /^(got|@sindresorhus\/is|byte-counter|cacheable-lookup|cacheable-request|decompress-response|form-data-encoder|http2-wrapper|keyv|lowercase-keys|p-cancelable|responselike|@szmarczak\/http-timer|mimic-response|normalize-url|defer-to-connect|get-stream|quick-lru|resolve-alpn|http-cache-semantics|@keyv\/serialize|chunk-data|type-fest)$/],
	['koa (server)', /^(koa|koa-compose|@koa\/router|koa-convert|http-errors|statuses|on-finished|ee-first|content-disposition|cache-content-type|accepts|negotiator|type-is|mime-types|mime-db|content-type|cookies|keygrip|delegates|depd|destroy|encodeurl|escape-html|fresh|http-assert|only|parseurl|vary|path-to-regexp|debug|ms|media-typer)$/],
	['body parser', /^(koa-bodyparser|co-body|raw-body|inflation|qs|iconv-lite|bytes|unpipe|safer-buffer|copy-to|side-channel.*|object-inspect|get-intrinsic|call-bind.*|es-.*|function-bind|has-.*|hasown|gopd|dunder-proto|math-intrinsics)$/],
	['zod (validation)', /^zod$/],
	['pino (logs)', /^(pino.*|sonic-boom|thread-stream|fast-redact|quick-format-unescaped|atomic-sleep|on-exit-leak-free|real-require|safe-stable-stringify|process-warning|@pinojs\/.*|fast-copy|colorette|dateformat)$/],
	['p-queue', /^(p-queue|p-timeout|eventemitter3)$/],
];

/** The module of a call frame: an npm package, hive's own code, a node: internal, or a V8 pseudo-frame. */
export function moduleOf(frame: CallFrame): string {
	const {url, functionName} = frame;
	if (url === '') {
		// (garbage collector), (program), (idle), (root), and native functions such as JSON.parse.
		return functionName.startsWith('(') ? functionName : `(native) ${functionName || 'anonymous'}`;
	}

	const packages = /node_modules\/((?:@[^/]+\/)?[^/]+)\//g;
	let last: string | undefined;
	for (const match of url.matchAll(packages)) {
		last = match[1];
	}

	if (last) {
		return last;
	}

	if (url.startsWith('node:')) {
		const parts = url.slice(5).split('/');
		return `node:${parts[0] === 'internal' ? parts.slice(0, 2).join('/') : parts[0]}`;
	}

	const hive = /\/dist\/(source|bench)\/(.+?)\.js$/.exec(url);
	if (hive) {
		return `hive ${hive[1]}/${hive[2]}`;
	}

	return url.replace(/^file:\/\//, '');
}

/** The category of a module: the groups of `categories`, hive's code, node's http/net, V8. */
export function categoryOf(module: string): string {
	for (const [name, pattern] of categories) {
		if (pattern.test(module)) {
			return name;
		}
	}

	if (module.startsWith('hive source/queen/store/')) {
		return 'hive: store';
	}

	if (module.startsWith('hive source/http/') || module.startsWith('hive source/client/') || module === 'hive source/larve' || module === 'hive source/queen/routes') {
		return 'hive: http (routes, auth, clients)';
	}

	if (module.startsWith('hive ')) {
		return 'hive: state, events, dispatch';
	}

	if (module === '(garbage collector)') {
		return 'GC';
	}

	if (module === '(idle)' || module === '(program)' || module === '(root)') {
		return module;
	}

	if (/^node:(_http|http|internal\/http|internal\/streams|stream|internal\/stream|net|internal\/net|internal\/js_stream|internal\/stream_base|events|internal\/timers|timers|internal\/process|internal\/async_hooks|buffer|internal\/buffer|internal\/url|url|internal\/util|util|internal\/errors|internal\/validators|internal\/perf)/.test(module)) {
		return 'node core (http, net, streams)';
	}

	if (/^\(native\) (writev|writeBuffer|writeUtf8String|writeLatin1String|writeAsciiString|readStart|shutdown|close)$/.test(module)) {
		return 'socket syscalls (native writes)';
	}

	if (module.startsWith('node:internal/modules') || module === 'node:internal/vm') {
		return 'module loading (startup)';
	}

	if (module.startsWith('(native)')) {
		return module.includes('JSON') || module.includes('stringify') || module.includes('parse') ? 'JSON (native)' : 'native builtins';
	}

	return module.startsWith('node:') ? 'node core (other)' : 'other';
}

function rank(map: Map<string, number>, total: number, limit: number): SelfTime[] {
	return [...map.entries()]
		.sort((a, b) => b[1] - a[1])
		.slice(0, limit)
		.map(([name, us]) => ({name, selfMs: us / 1000, share: total > 0 ? us / total : 0}));
}

/**
A span of a profile's clock: µs of the monotonic clock that `process.hrtime` reads too (V8 stamps its
samples with it), so a bench can keep only the samples of its measured run.
*/
export type ProfileWindow = {readonly fromUs: number; readonly toUs: number};

/** The monotonic clock of profiles, in µs (`process.hrtime`'s, as V8's sample stamps). */
export function profileClockUs(): number {
	return Number(process.hrtime.bigint() / 1000n);
}

/** Aggregates self time by function (name + file:line), by module and by category; only within `window` when given. */
export function summarizeProfile(profile: CpuProfile, limit = 25, window?: ProfileWindow): ProfileSummary {
	const frames = new Map<number, CallFrame>();
	for (const node of profile.nodes) {
		frames.set(node.id, node.callFrame);
	}

	const selfByNode = new Map<number, number>();
	let at = profile.startTime;
	for (const [index, id] of profile.samples.entries()) {
		const delta = profile.timeDeltas[index] ?? 0;
		at += delta;
		if (window && (at < window.fromUs || at > window.toUs)) {
			continue;
		}

		selfByNode.set(id, (selfByNode.get(id) ?? 0) + delta);
	}

	const byFunction = new Map<string, number>();
	const byModule = new Map<string, number>();
	const byCategory = new Map<string, number>();
	let total = 0;
	let idle = 0;
	for (const [id, us] of selfByNode) {
		const frame = frames.get(id);
		if (!frame) {
			continue;
		}

		total += us;
		const module = moduleOf(frame);
		if (module === '(idle)') {
			idle += us;
			continue;
		}

		const file = frame.url === '' ? '' : ` ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
		const functionKey = `${frame.functionName || '(anonymous)'}${file}`;
		byFunction.set(functionKey, (byFunction.get(functionKey) ?? 0) + us);
		byModule.set(module, (byModule.get(module) ?? 0) + us);
		const category = categoryOf(module);
		byCategory.set(category, (byCategory.get(category) ?? 0) + us);
	}

	const active = total - idle;
	return {
		totalMs: total / 1000,
		activeMs: active / 1000,
		idleMs: idle / 1000,
		byFunction: rank(byFunction, active, limit),
		byModule: rank(byModule, active, limit),
		byCategory: rank(byCategory, active, limit),
	};
}

export function readProfile(path: string): CpuProfile {
	return JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
}

function shortUrl(url: string): string {
	const packageMatch = /node_modules\/(.+)$/.exec(url);
	if (packageMatch) {
		return packageMatch[1]!;
	}

	const hive = /\/dist\/(.+)$/.exec(url);
	return hive ? hive[1]! : url.replace(/^file:\/\//, '');
}
