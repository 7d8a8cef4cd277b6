import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { openRapport } from '../src/app.js';
import { loadConfig } from '../src/platform/config.js';
import { setupWorkspace } from '../src/workflows/setup-workspace.js';
import { callStream } from './process-support/calls.js';
import { Child, runJson } from './process-support/child.js';
import { appendCalls } from './process-support/fill.js';
import { machine, percentiles, quietMachine, round } from './process-support/machine.js';
import { openLoop } from './process-support/open-loop.js';
import { createStore, type BenchEngine, type BenchStore } from './support/stores.js';

/**
 * The processing pipeline against the numbers of issue 3, on one engine:
 *
 *   throughput  a backlog of mixed calls (20% identify) drained by the pipeline in a child process, after a
 *               warm-up backlog has built the graph; against the floor any consumer pays (the same batches
 *               read and parsed, one plain INSERT per event, the offset) in the same run. Target >= 30,000/s.
 *   latency     `rapport` in a child process taking 5,000 events/s on /v1/batch at a fixed rate; an
 *               observer polls the pipeline's committed offset, and each event's latency runs from its
 *               request's 200 to the commit that applied it. Target p99 < 250 ms.
 *   backlog     the collection API's latency while the pipeline works through a backlog, per micro-batch
 *               size: on SQLite a batch holds the one connection, and the event loop, until it commits.
 *
 *   npm run bench:process -- [--engine sqlite|postgres] [--only throughput|latency|backlog] [--rounds 2]
 *     [--warm 100000] [--events 300000] [--people 40000] [--batch 1000] [--rate 5000] [--seconds 30]
 *     [--backlog 100000] [--batches 250,1000,5000] [--split] [--profile]
 */
const { values: flags } = parseArgs({
  options: {
    engine: { type: 'string', default: 'sqlite' },
    only: { type: 'string' },
    rounds: { type: 'string', default: '2' },
    warm: { type: 'string', default: '100000' },
    events: { type: 'string', default: '300000' },
    people: { type: 'string' },
    batch: { type: 'string' },
    rate: { type: 'string', default: '5000' },
    'per-request': { type: 'string', default: '25' },
    seconds: { type: 'string', default: '30' },
    backlog: { type: 'string', default: '100000' },
    batches: { type: 'string', default: '250,1000,5000' },
    // The pipeline in a process of its own (`rapport start --role worker`) beside `--role api`.
    split: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'idle-wait': { type: 'string', default: '60' },
  },
});
const engine = flags.engine as BenchEngine;
if (engine !== 'sqlite' && engine !== 'postgres') throw new Error('--engine is sqlite or postgres');
const warm = Number(flags.warm);
const measured = Number(flags.events);
const people = Number(flags.people ?? Math.round((warm + measured) / 10));
const RESULTS = 'bench/results';
const PROFILE_DIR = `${RESULTS}/profiles`;

const storeEnv = (store: BenchStore): Record<string, string> => ({ RAPPORT_DATA_DIR: store.dataDir, ...(store.databaseUrl ? { DATABASE_URL: store.databaseUrl } : {}) });
const open = (store: BenchStore) => openRapport({ ...loadConfig(storeEnv(store)), logLevel: 'warn' });

async function quiet(label: string): Promise<number | null> {
  const busy = Number(flags['idle-wait']) > 0 ? await quietMachine(Number(flags['idle-wait']) * 1000) : null;
  if (busy !== null && busy > 0.15) console.log(`  ! the machine was still ${Math.round(busy * 100)}% busy before ${label}`);
  return busy;
}

/** A fresh store with a workspace; the stream keeps its state (who has identified) across fills. */
async function prepare(seed: number) {
  const store = await createStore(engine);
  const core = await open(store);
  const setup = await setupWorkspace({ access: core.access.service, collect: core.collect.service }, { workspace: 'Bench', email: 'owner@bench.test', password: 'correct horse battery staple' });
  await core.database.close();
  const stream = callStream({ seed, people });
  const append = async (count: number) => {
    const c = await open(store);
    try {
      return await appendCalls(c.database, setup, () => stream.next(), count);
    } finally {
      await c.database.close();
    }
  };
  return { store, setup, stream, append };
}

interface DrainResult {
  mode: string;
  batchSize: number;
  events: number;
  ms: number;
  rate: number;
  windowRates: number[];
  batchMs: { p50: number; p99: number; max: number };
  cpuMsPerThousand: number;
  profiles?: number;
  merged?: number;
  traits?: number;
}

async function throughput() {
  const batch = flags.batch ?? '1000';
  const rounds: { pipeline: DrainResult; floor: DrainResult; warm: DrainResult; appendRate: number; busy: (number | null)[] }[] = [];
  for (let r = 0; r < Number(flags.rounds); r++) {
    const { store, append } = await prepare(1000 + r);
    try {
      await append(warm);
      const warmRun = await runJson<DrainResult>('./consume.ts', ['--mode', 'pipeline', '--batch', batch], storeEnv(store));
      const appended = await append(measured);
      // The floor consumer starts where the measured backlog starts, as the pipeline does.
      const c = await open(store);
      await c.database.db.insertInto('log_consumers').values({ name: 'bench-floor', offset: warmRun.events, updated_at: new Date().toISOString() }).execute();
      await c.database.close();
      const results: Record<string, DrainResult> = {};
      const busy: (number | null)[] = [];
      for (const mode of r % 2 === 0 ? ['pipeline', 'floor'] : ['floor', 'pipeline']) {
        busy.push(await quiet(`the ${mode} run`));
        const prof = flags.profile && mode === 'pipeline' ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}/process-${engine}-${Date.now()}`] : [];
        results[mode] = await runJson<DrainResult>('./consume.ts', ['--mode', mode, '--batch', batch], storeEnv(store), prof);
      }
      rounds.push({ pipeline: results.pipeline, floor: results.floor, warm: warmRun, appendRate: (appended.events / appended.ms) * 1000, busy });
      const p = results.pipeline;
      console.log(
        `  round ${r + 1}: pipeline ${round(p.rate)} events/s (windows ${p.windowRates.join(' ')}), floor ${round(results.floor.rate)} events/s, ` +
          `ratio ${round(p.rate / results.floor.rate, 3)}; batch p50 ${round(p.batchMs.p50)} ms p99 ${round(p.batchMs.p99)} ms; ${round(p.cpuMsPerThousand)} ms CPU per 1000 events; ` +
          `${p.profiles} profiles, ${p.merged} merged, ${p.traits} traits; warm-up ${round(warmRun.rate)} events/s; log append ${round((appended.events / appended.ms) * 1000)} events/s`,
      );
    } finally {
      await store.drop();
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const summary = {
    pipelineRate: median(rounds.map((x) => x.pipeline.rate)),
    floorRate: median(rounds.map((x) => x.floor.rate)),
    ratio: median(rounds.map((x) => x.pipeline.rate / x.floor.rate)),
    target: 30_000,
  };
  console.log(`throughput on ${engine}: ${round(summary.pipelineRate)} events/s (target >= 30,000), ${round(summary.ratio, 3)} of the floor consumer's ${round(summary.floorRate)} events/s`);
  return { batch: Number(batch), warm, measured, people, rounds, summary };
}

/** Rapport in one child process (role all), or with --split an api process and a worker process; the port takes the events. */
async function startRapport(store: BenchStore, batch: string | undefined, nodeArgs: string[] = []) {
  const env = { ...storeEnv(store), ...(batch ? { BENCH_PIPELINE_BATCH: batch } : {}) };
  if (!flags.split) {
    const server = await Child.start('./serve.ts', env, nodeArgs);
    return { port: server.port, stop: () => server.stop() };
  }
  const api = await Child.start('./serve.ts', { ...env, BENCH_ROLE: 'api' });
  const worker = await Child.start('./serve.ts', { ...env, BENCH_ROLE: 'worker' }, nodeArgs);
  return { port: api.port, stop: async () => void (await Promise.all([api.stop(), worker.stop()])) };
}

/** Watches the pipeline's committed offset from outside the server: [performance.now(), offset] at each change. */
async function offsetWatcher(store: BenchStore, everyMs = 2) {
  let read: () => Promise<number>;
  let logEnd: () => Promise<number>;
  let close: () => Promise<void>;
  // Applied everywhere: the slowest of the pipeline's partitions (src/pipeline/partitions.ts, appliedEverywhere).
  const CONSUMER = `select min("offset") as "offset" from log_consumers where name like 'pipeline/%'`;
  const END = `select max("offset") as "offset" from events`;
  if (store.databaseUrl) {
    const client = new pg.Client({ connectionString: store.databaseUrl });
    await client.connect();
    const one = async (text: string) => Number((await client.query(text)).rows[0]?.offset ?? 0);
    read = () => one(CONSUMER);
    logEnd = () => one(END);
    close = () => client.end();
  } else {
    const db = new BetterSqlite3(join(store.dataDir, 'rapport.db'), { readonly: true });
    const consumer = db.prepare(CONSUMER);
    const end = db.prepare(END);
    const one = (statement: BetterSqlite3.Statement) => Number((statement.get() as { offset?: number } | undefined)?.offset ?? 0);
    read = async () => one(consumer);
    logEnd = async () => one(end);
    close = async () => {
      db.close();
    };
  }
  const seen: [number, number][] = [[performance.now(), await read()]];
  let running = true;
  const loop = (async () => {
    while (running) {
      const offset = await read();
      if (offset !== seen[seen.length - 1][1]) seen.push([performance.now(), offset]);
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    seen,
    current: () => seen[seen.length - 1][1],
    logEnd: () => logEnd(),
    /** The first time the committed offset reached `offset`. */
    reached(offset: number): number | undefined {
      let lo = 0;
      let hi = seen.length - 1;
      if (seen[hi][1] < offset) return undefined;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (seen[mid][1] >= offset) hi = mid;
        else lo = mid + 1;
      }
      return seen[lo][0];
    },
    async stop() {
      running = false;
      await loop;
      await close();
    },
  };
}

/** Drives /v1/batch at `rate` events/s for `seconds`; returns every request's timing and its events' message ids. */
async function ingest(port: number, writeKey: string, stream: ReturnType<typeof callStream>, rate: number, seconds: number) {
  const perRequest = Number(flags['per-request']);
  const messageIds: string[][] = [];
  const auth = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
  const sent = await openLoop({
    port, rate: rate / perRequest, seconds,
    request: (i) => {
      const batch = Array.from({ length: perRequest }, () => stream.next());
      messageIds[i] = batch.map((c) => c.messageId as string);
      return { method: 'POST', path: '/v1/batch', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify({ batch }) };
    },
  });
  return { sent, messageIds };
}

async function offsetsOf(store: BenchStore, workspaceId: string): Promise<Map<string, number>> {
  const c = await open(store);
  try {
    const rows = await c.database.db.selectFrom('events').select(['message_id', 'offset']).where('workspace_id', '=', workspaceId).execute();
    return new Map(rows.map((r: { message_id: string; offset: unknown }) => [r.message_id, Number(r.offset)]));
  } finally {
    await c.database.close();
  }
}

async function latency() {
  const rate = Number(flags.rate);
  const seconds = Number(flags.seconds);
  const warmupSeconds = 5;
  const { store, setup, stream, append } = await prepare(2000);
  try {
    // A graph to resolve against, already processed, so the run measures steady state.
    await append(warm);
    await runJson<DrainResult>('./consume.ts', ['--mode', 'pipeline'], storeEnv(store));
    const busy = await quiet('the latency run');
    const prof = flags.profile ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}/latency-${engine}-${Date.now()}`] : [];
    const server = await startRapport(store, flags.batch, prof);
    const watcher = await offsetWatcher(store);
    let load: Awaited<ReturnType<typeof ingest>>;
    try {
      load = await ingest(server.port, setup.writeKey, stream, rate, seconds + warmupSeconds);
      const deadline = performance.now() + 60_000;
      const end = await watcher.logEnd();
      while (watcher.current() < end && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      await watcher.stop();
      await server.stop();
    }
    const offsets = await offsetsOf(store, setup.workspaceId);
    const from = load.sent[0].due + warmupSeconds * 1000;
    const toProfile: number[] = [];
    const fromDue: number[] = [];
    const ack: number[] = [];
    let failed = 0;
    let missing = 0;
    for (const s of load.sent) {
      if (s.due < from) continue;
      if (s.status !== 200) {
        failed++;
        continue;
      }
      ack.push(s.done - s.due);
      for (const id of load.messageIds[s.tag]) {
        const offset = offsets.get(id);
        const at = offset === undefined ? undefined : watcher.reached(offset);
        if (at === undefined) {
          missing++;
          continue;
        }
        toProfile.push(Math.max(0, at - s.done));
        fromDue.push(at - s.due);
      }
    }
    const summary = {
      rate, seconds, perRequest: Number(flags['per-request']), batch: flags.batch ? Number(flags.batch) : 1000, split: flags.split, busy,
      acceptedToProfile: percentiles(toProfile), sentToProfile: percentiles(fromDue), ingestAck: percentiles(ack), failedRequests: failed, eventsNeverApplied: missing,
      target: { p99Ms: 250 },
    };
    const a = summary.acceptedToProfile;
    console.log(
      `latency on ${engine}${flags.split ? ' (api and worker processes)' : ''} at ${rate} events/s: accepted -> profile updated p50 ${round(a['p50'], 1)} ms, p99 ${round(a['p99'], 1)} ms, max ${round(a.max, 1)} ms over ${a.n} events (target p99 < 250 ms); ` +
        `request -> 200 p50 ${round(summary.ingestAck['p50'], 1)} ms p99 ${round(summary.ingestAck['p99'], 1)} ms; ${failed} failed requests, ${missing} events not applied`,
    );
    return summary;
  } finally {
    await store.drop();
  }
}

async function backlog() {
  const rate = 1000;
  const seconds = 15;
  const out = [];
  for (const batch of flags.batches!.split(',').map(Number)) {
    const { store, setup, stream, append } = await prepare(3000);
    try {
      await append(Number(flags.backlog));
      const busy = await quiet(`the backlog run (batch ${batch})`);
      const server = await startRapport(store, String(batch));
      const watcher = await offsetWatcher(store);
      let load: Awaited<ReturnType<typeof ingest>>;
      try {
        load = await ingest(server.port, setup.writeKey, stream, rate, seconds);
      } finally {
        await watcher.stop();
        await server.stop();
      }
      const ack = load.sent.filter((s) => s.status === 200).map((s) => s.done - s.due);
      const start = load.sent[0].due;
      const drained = watcher.reached(Number(flags.backlog));
      const row = {
        batch, split: flags.split, busy, ingestAck: percentiles(ack), failed: load.sent.filter((s) => s.status !== 200).length,
        backlog: Number(flags.backlog), drainedAfterSeconds: drained === undefined ? null : (drained - start) / 1000, appliedInWindow: watcher.current(),
      };
      console.log(
        `backlog on ${engine}${flags.split ? ' (api and worker processes)' : ''}, batch ${batch}: /v1/batch (25 events) at ${rate} events/s answered p50 ${round(row.ingestAck['p50'], 1)} ms, p99 ${round(row.ingestAck['p99'], 1)} ms, max ${round(row.ingestAck.max, 1)} ms; ` +
          (drained === undefined ? `the pipeline applied ${row.appliedInWindow} of the ${row.backlog} waiting in ${seconds} s` : `the pipeline applied the ${row.backlog} waiting in ${round(row.drainedAfterSeconds!, 1)} s`),
      );
      out.push(row);
    } finally {
      await store.drop();
    }
  }
  return out;
}

const report: Record<string, unknown> = { engine, machine: machine() };
console.log(`bench:process on ${engine}: ${report.machine && JSON.stringify(report.machine)}`);
if (!flags.only || flags.only === 'throughput') report.throughput = await throughput();
if (!flags.only || flags.only === 'latency') report.latency = await latency();
if (!flags.only || flags.only === 'backlog') report.backlog = await backlog();
mkdirSync(RESULTS, { recursive: true });
const file = `${RESULTS}/process-${engine}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
writeFileSync(file, JSON.stringify(report, null, 2));
console.log(`results: ${file}`);
