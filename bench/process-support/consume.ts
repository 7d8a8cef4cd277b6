import { parseArgs } from 'node:util';
import { openRapport } from '../../src/app.js';
import { eventLog } from '../../src/modules/collect/index.js';
import { loadConfig } from '../../src/platform/config.js';
import type { Database } from '../../src/platform/db/database.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { createPipeline } from '../../src/pipeline/processor.js';

/**
 * Child process: consumes the backlog already in the store's log and prints one JSON line with the rate.
 *   --mode pipeline  the processing pipeline (identity resolution, traits, timelines), its micro-batch size
 *   --mode floor     the floor any consumer pays: the same micro-batches read and parsed, one plain INSERT
 *                    row per event, and the offset, in one transaction per batch
 * The store comes from RAPPORT_DATA_DIR / DATABASE_URL, as for `rapport start`.
 */
const { values: flags } = parseArgs({ options: { mode: { type: 'string', default: 'pipeline' }, batch: { type: 'string', default: '1000' } } });
const batchSize = Number(flags.batch);

const core = await openRapport({ ...loadConfig(), logLevel: 'warn' });
const { database } = core;
const end = await eventLog.end(database.db);

async function floorBatch(db: Database): Promise<number> {
  return db.db.transaction().execute(async (tx) => {
    const from = await eventLog.position(tx, 'bench-floor', db.engine === 'postgres');
    const events = await eventLog.read(tx, from, batchSize);
    if (events.length === 0) return 0;
    const rows = events.map((e) => ({ event_offset: e.offset, workspace_id: e.workspaceId, type: e.type, user_key: String(e.message.userId ?? e.message.anonymousId) }));
    for (let i = 0; i < rows.length; i += 200) await tx.insertInto('bench_floor').values(rows.slice(i, i + 200)).execute();
    await eventLog.commit(tx, 'bench-floor', events[events.length - 1].offset);
    return events.length;
  });
}

let step: () => Promise<number>;
if (flags.mode === 'floor') {
  await database.db.schema.createTable('bench_floor').ifNotExists()
    .addColumn('event_offset', 'bigint', (c) => c.primaryKey()).addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull()).addColumn('user_key', 'text', (c) => c.notNull()).execute();
  step = () => floorBatch(database);
} else {
  const pipeline = createPipeline({ database, identity: core.identity, profiles: core.profiles, audiences: core.audiences, destinations: core.destinations, crm: core.crm, privacy: core.privacy, log: core.log, metrics: createMetrics(), options: { batchSize } });
  step = () => pipeline.processBatch();
}

// Rates per tenth of the backlog show whether the pace holds as the graph grows.
const batchMs: number[] = [];
const windows: { events: number; ms: number }[] = [];
const windowSize = Math.max(batchSize, Math.round(end / 10));
let done = 0;
let windowStart = performance.now();
let windowEvents = 0;
const started = performance.now();
const cpuBefore = process.cpuUsage();
for (;;) {
  const t = performance.now();
  const n = await step();
  if (n === 0) break;
  batchMs.push(performance.now() - t);
  done += n;
  windowEvents += n;
  if (windowEvents >= windowSize) {
    windows.push({ events: windowEvents, ms: performance.now() - windowStart });
    windowStart = performance.now();
    windowEvents = 0;
  }
}
const ms = performance.now() - started;
const cpu = process.cpuUsage(cpuBefore);
if (windowEvents > 0) windows.push({ events: windowEvents, ms: performance.now() - windowStart });
batchMs.sort((a, b) => a - b);
const q = (p: number) => batchMs[Math.min(batchMs.length - 1, Math.floor(p * batchMs.length))];
const counts = flags.mode === 'floor' ? {} : {
  profiles: Number((await database.db.selectFrom('profiles').select((eb) => eb.fn.countAll().as('n')).where('merged_into', 'is', null).executeTakeFirst())?.n),
  merged: Number((await database.db.selectFrom('profiles').select((eb) => eb.fn.countAll().as('n')).where('merged_into', 'is not', null).executeTakeFirst())?.n),
  traits: Number((await database.db.selectFrom('profile_traits').select((eb) => eb.fn.countAll().as('n')).executeTakeFirst())?.n),
};
process.stdout.write(JSON.stringify({
  mode: flags.mode, batchSize, events: done, ms, rate: (done / ms) * 1000,
  windowRates: windows.map((w) => Math.round((w.events / w.ms) * 1000)),
  batchMs: { p50: q(0.5), p99: q(0.99), max: batchMs[batchMs.length - 1] },
  cpuMsPerThousand: ((cpu.user + cpu.system) / 1000 / done) * 1000,
  ...counts,
}) + '\n');
await database.close();
