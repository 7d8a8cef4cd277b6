import { sql, type Kysely } from 'kysely';
import { Counter, Histogram } from 'prom-client';
import { eventLog } from '../modules/collect/index.js';
import type { IdentityService } from '../modules/identity/index.js';
import type { ProfilesService } from '../modules/profiles/index.js';
import type { Database } from '../platform/db/database.js';
import type { Log } from '../platform/log.js';
import type { Metrics } from '../platform/metrics.js';

export const PIPELINE_CONSUMER = 'pipeline';
const PAGE_CACHE_KIB = 64 * 1024;

export interface PipelineOptions {
  batchSize: number;
  idleMs: number;
}

/**
 * The log consumer: reads micro-batches in offset order and applies identity resolution, then traits
 * and timelines, committing its offset in the same transaction as those effects. A crash replays the
 * batch (nothing was committed) and never skips or applies it twice. On PostgreSQL the consumer's offset
 * row is locked for the transaction, so two workers never apply the same batch.
 */
export function createPipeline(deps: { database: Database; identity: IdentityService; profiles: ProfilesService; log: Log; metrics: Metrics; options?: Partial<PipelineOptions> }) {
  const { database, identity, profiles, log } = deps;
  const options: PipelineOptions = { batchSize: 1000, idleMs: 25, ...deps.options };
  const processed = new Counter({ name: 'rapport_pipeline_events_processed_total', help: 'Log events applied by the pipeline.', registers: [deps.metrics] });
  const failures = new Counter({ name: 'rapport_pipeline_batch_failures_total', help: 'Micro-batches that failed and will be retried.', registers: [deps.metrics] });
  const duration = new Histogram({
    name: 'rapport_pipeline_batch_seconds', help: 'Time to apply one micro-batch.', registers: [deps.metrics],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  });

  let running = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;

  // The pipeline's effects are derived from the log, and its offset commits with them: a batch lost in a
  // power cut is replayed, never skipped. So its commits need not wait for the disk; every acknowledged
  // append still does (on SQLite the WAL is one file, synced in order; on PostgreSQL the WAL likewise).
  const sqlite = database.sqlite;
  const synchronous = sqlite ? Number(sqlite.pragma('synchronous', { simple: true })) : 0;
  // Every batch reads and rewrites the graph's, traits' and timelines' indexes; SQLite's default 2 MB page
  // cache would fetch them from the OS again each time.
  if (sqlite && Number(sqlite.pragma('cache_size', { simple: true })) > -PAGE_CACHE_KIB) sqlite.pragma(`cache_size = -${PAGE_CACHE_KIB}`);

  async function applyNext(tx: Kysely<any>): Promise<number> {
    if (database.engine === 'postgres') await sql`set local synchronous_commit = off`.execute(tx);
    const from = await eventLog.position(tx, PIPELINE_CONSUMER, database.engine === 'postgres');
    const events = await eventLog.read(tx, from, options.batchSize);
    if (events.length === 0) return 0;
    const resolution = await identity.resolveBatch(tx, events, sqlite);
    await profiles.applyBatch(tx, events, resolution.events, resolution.merges, sqlite);
    await eventLog.commit(tx, PIPELINE_CONSUMER, events[events.length - 1].offset);
    return events.length;
  }

  async function processBatch(): Promise<number> {
    const stop = duration.startTimer();
    const count = !sqlite || synchronous < 2
      ? await database.db.transaction().execute(applyNext)
      : await database.db.connection().execute(async (conn) => {
          // SQLite's durability is per connection, not per transaction: lower it for this batch only.
          await sql`pragma synchronous = NORMAL`.execute(conn);
          try {
            return await conn.transaction().execute(applyNext);
          } finally {
            await sql.raw(`pragma synchronous = ${synchronous}`).execute(conn);
          }
        });
    if (count > 0) {
      stop();
      processed.inc(count);
    }
    return count;
  }

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  async function run(): Promise<void> {
    let backoff = 100;
    while (running) {
      try {
        const n = await processBatch();
        backoff = 100;
        if (n < options.batchSize && running) await sleep(options.idleMs);
        else await new Promise<void>((resolve) => setImmediate(resolve));
      } catch (error) {
        failures.inc();
        log.error({ err: error }, 'pipeline batch failed; retrying');
        if (running) await sleep(backoff);
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  return {
    processBatch,
    /** Applies everything in the log now; for tests and the CLI. */
    async drain(): Promise<number> {
      let total = 0;
      for (let n = await processBatch(); n > 0; n = await processBatch()) total += n;
      return total;
    },
    start() {
      if (running) return;
      running = true;
      loop = run();
    },
    /** Lets the batch in flight commit, then stops. */
    async stop() {
      running = false;
      wake?.();
      await loop;
    },
    /** A hint that the log grew: skip the idle wait. */
    poke: () => wake?.(),
  };
}

export type Pipeline = ReturnType<typeof createPipeline>;
