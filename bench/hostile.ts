import { parseArgs } from 'node:util';
import { metric } from '../test/collect/requests.js';
import { hostileRequest, sendHostile } from '../test/support/hostile-payloads.js';
import { startServer } from '../test/support/server.js';

/**
 * 100,000 malformed and hostile requests (test/support/hostile-payloads.ts) against one server on a fresh
 * store, in process so that its Object.prototype can be checked afterwards. Prints the answers by status and
 * by kind, then waits for the pipeline to take everything accepted. Exits 1 on a 5xx, a dropped connection,
 * a polluted prototype, a pipeline failure or a server that stops answering /healthz.
 *
 *   npm run bench:hostile -- [--count 100000] [--seed 1] [--concurrency 8] [--engine sqlite|postgres]
 */
const { values: flags } = parseArgs({
  options: {
    count: { type: 'string', default: '100000' },
    seed: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '8' },
    engine: { type: 'string', default: 'sqlite' },
  },
});
const count = Number(flags.count);
const seed = Number(flags.seed);
if (flags.engine === 'postgres') process.env.TEST_DATABASE_URL ??= process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
// Imported after TEST_DATABASE_URL is set: the engines list is read from it once.
const { ENGINES } = await import('../test/support/engines.js');
const engine = ENGINES.find((e) => e.name === flags.engine);
if (!engine) throw new Error('--engine is sqlite or postgres');

const server = await startServer(engine);
const credentials = { writeKey: server.setup.writeKey, apiKey: server.setup.apiKey };
const byStatus = new Map<number, number>();
const byKind = new Map<string, Map<number, number>>();
const failures: string[] = [];
const started = Date.now();
let next = 0;
let done = 0;
const progress = setInterval(() => process.stderr.write(`  ${done} / ${count}\n`), 10_000);
await Promise.all(Array.from({ length: Number(flags.concurrency) }, async () => {
  while (next < count) {
    const index = next++;
    const request = hostileRequest(seed, index);
    const status = await sendHostile(server.url, request, credentials);
    done++;
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    const kind = byKind.get(request.kind) ?? new Map<number, number>();
    byKind.set(request.kind, kind.set(status, (kind.get(status) ?? 0) + 1));
    if (status === 0 || status >= 500) failures.push(`seed ${seed} index ${index} (${request.kind} ${request.method} ${request.path}): ${status}`);
  }
}));
clearInterval(progress);
const sentSeconds = (Date.now() - started) / 1000;

const healthy = (await fetch(`${server.url}/healthz`)).status === 200;
const polluted = ['polluted', 'isAdmin'].filter((name) => name in {});
const drainStarted = Date.now();
while ((await metric(server, 'rapport_pipeline_lag_events')) > 0 && Date.now() - drainStarted < 300_000) await new Promise((r) => setTimeout(r, 200));
const lag = await metric(server, 'rapport_pipeline_lag_events');
const batchFailures = await metric(server, 'rapport_pipeline_batch_failures_total');
const accepted = await metric(server, 'rapport_events_received_total');
const rss = Math.round(process.memoryUsage().rss / 2 ** 20);
await server.close();

const statuses = (m: Map<number, number>) => [...m].sort(([a], [b]) => a - b).map(([s, n]) => `${s === 0 ? 'no answer' : s}: ${n}`).join(', ');
console.log(`hostile payloads, ${engine.name}, seed ${seed}: ${count} requests in ${sentSeconds.toFixed(1)} s (${Math.round(count / sentSeconds)}/s)`);
console.log(`  by status: ${statuses(byStatus)}`);
for (const [kind, m] of [...byKind].sort()) console.log(`  ${kind.padEnd(15)} ${statuses(m)}`);
console.log(`  events accepted into the log: ${accepted}; pipeline lag after ${((Date.now() - drainStarted) / 1000).toFixed(1)} s: ${lag}; failed batches: ${batchFailures}`);
console.log(`  /healthz afterwards: ${healthy ? 200 : 'not 200'}; Object.prototype polluted: ${polluted.length ? polluted.join(', ') : 'no'}; rss ${rss} MB`);
for (const f of failures.slice(0, 20)) console.log(`  FAILED ${f}`);
process.exit(failures.length > 0 || !healthy || polluted.length > 0 || lag > 0 || batchFailures > 0 ? 1 : 0);
