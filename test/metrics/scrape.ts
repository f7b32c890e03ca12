import assert from 'node:assert/strict';
import parsePrometheusTextFormat, {type Family} from 'parse-prometheus-text-format';

/** What `GET /metrics` answered, parsed by a Prometheus text parser (not by the code under test). */
export type Scrape = {
	readonly status: number;
	readonly contentType: string | null;
	/** The answer's body as it came. */
	readonly text: string;
	/** The metric families, by name (empty when the answer was not 200). */
	readonly families: ReadonlyMap<string, Family>;
};

/** `GET <url>/metrics` over real HTTP (fetch), with the token when given. */
export async function scrape(url: string, token?: string): Promise<Scrape> {
	const response = await fetch(`${url}/metrics`, {headers: token === undefined ? {} : {authorization: `Bearer ${token}`}, signal: AbortSignal.timeout(5000)});
	const text = await response.text();
	const families = response.status === 200 ? new Map(parsePrometheusTextFormat(text).map(family => [family.name, family])) : new Map<string, Family>();
	return {status: response.status, contentType: response.headers.get('content-type'), text, families};
}

function family(scraped: Scrape, name: string): Family {
	const found = scraped.families.get(name);
	assert.ok(found, `${name} is in /metrics (status ${scraped.status})`);
	return found;
}

/** The value of a counter's or gauge's sample with exactly these labels; undefined when there is none. */
export function sample(scraped: Scrape, name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
	const wanted = JSON.stringify(Object.entries(labels).sort());
	const found = family(scraped, name).metrics.find(each => JSON.stringify(Object.entries(each.labels ?? {}).sort()) === wanted);
	return found?.value === undefined ? undefined : Number(found.value);
}

/** Like `sample`, but the sample must be there. */
export function value(scraped: Scrape, name: string, labels: Readonly<Record<string, string>> = {}): number {
	const found = sample(scraped, name, labels);
	assert.notEqual(found, undefined, `${name}${JSON.stringify(labels)} has a sample`);
	return found!;
}

/** A histogram's (without labels) observation count and sum. */
export function histogram(scraped: Scrape, name: string): {readonly count: number; readonly sum: number; readonly buckets: Readonly<Record<string, number>>} {
	const found = family(scraped, name);
	assert.equal(found.type, 'HISTOGRAM', `${name} is a histogram`);
	const [only] = found.metrics;
	assert.ok(only, `${name} has a sample`);
	return {count: Number(only.count), sum: Number(only.sum), buckets: Object.fromEntries(Object.entries(only.buckets ?? {}).map(([bound, count]) => [bound, Number(count)]))};
}
