import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { openRapport } from '../../src/app.js';
import { loadConfig } from '../../src/platform/config.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { createPipeline } from '../../src/pipeline/processor.js';

/**
 * Child process: where a batch's time goes. Drains the store's backlog like consume.ts (pipeline mode), with
 * timers around the pipeline's stages (identity, profiles, audiences: the service objects wrapped) and
 * around every SQL statement (better-sqlite3's statements, or pg's query), grouped by statement text.
 * The timers cost time themselves: read the shares, not the rate. Prints one JSON line.
 */
const statements = new Map<string, { n: number; ms: number }>();
const record = (text: string, ms: number) => {
  const key = text.replace(/\s+/g, ' ').replace(/(\?, )+\?/g, '?…').replace(/(\$\d+, )+\$\d+/g, '$…').slice(0, 240);
  const s = statements.get(key) ?? statements.set(key, { n: 0, ms: 0 }).get(key)!;
  s.n++;
  s.ms += ms;
};
const originalPrepare = BetterSqlite3.prototype.prepare;
BetterSqlite3.prototype.prepare = function (this: BetterSqlite3.Database, source: string) {
  const statement = originalPrepare.call(this, source);
  for (const method of ['run', 'get', 'all'] as const) {
    const f = statement[method] as (...args: unknown[]) => unknown;
    (statement as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      const t = performance.now();
      try {
        return f.apply(statement, args);
      } finally {
        record(source, performance.now() - t);
      }
    };
  }
  return statement;
} as typeof BetterSqlite3.prototype.prepare;
const originalQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string } | undefined)?.text ?? '?';
  const t = performance.now();
  const result = (originalQuery as (...a: unknown[]) => unknown).apply(this, args);
  if (result && typeof (result as Promise<unknown>).then === 'function') void (result as Promise<unknown>).then(() => record(text, performance.now() - t), () => record(text, performance.now() - t));
  return result;
} as typeof pg.Client.prototype.query;

const core = await openRapport({ ...loadConfig(), logLevel: 'warn' });
const stages = new Map<string, number>();
function timed<T extends object>(name: string, service: T, method: keyof T): T {
  const f = service[method] as (...args: unknown[]) => Promise<unknown>;
  return {
    ...service,
    [method]: async (...args: unknown[]) => {
      const t = performance.now();
      try {
        return await f.apply(service, args);
      } finally {
        stages.set(name, (stages.get(name) ?? 0) + performance.now() - t);
      }
    },
  };
}
const pipeline = createPipeline({
  database: core.database,
  identity: timed('identity.resolveBatch', core.identity, 'resolveBatch'),
  profiles: timed('profiles.applyBatch', core.profiles, 'applyBatch'),
  audiences: timed('audiences.applyBatch', core.audiences, 'applyBatch'),
  destinations: core.destinations,
  crm: { profileStep: timed('crm.profileStep.applyBatch', core.crm.profileStep, 'applyBatch') },
  privacy: core.privacy,
  log: core.log, metrics: createMetrics(), options: { batchSize: Number(process.env.BENCH_BATCH ?? 1000) },
});
let events = 0;
const started = performance.now();
for (let n = await pipeline.processBatch(); n > 0; n = await pipeline.processBatch()) events += n;
const ms = performance.now() - started;
await core.database.close();
const top = [...statements].sort((a, b) => b[1].ms - a[1].ms).slice(0, 30).map(([sql, s]) => ({ ms: Math.round(s.ms), n: s.n, sql }));
process.stdout.write(JSON.stringify({ events, ms: Math.round(ms), stages: Object.fromEntries([...stages].map(([k, v]) => [k, Math.round(v)])), sqlMs: Math.round([...statements.values()].reduce((a, s) => a + s.ms, 0)), statements: top }) + '\n');
