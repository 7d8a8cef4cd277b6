import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { openRapport } from '../src/app.js';
import { AUDIENCES_SOURCE } from '../src/modules/audiences/index.js';
import { loadConfig } from '../src/platform/config.js';
import { setupWorkspace } from '../src/workflows/setup-workspace.js';
import { ensureDataset, storeEnv } from './audiences-support/dataset.js';
import { PIPELINE_AUDIENCES, PIPELINE_TRAITS, PROBE_AUDIENCE } from './audiences-support/definitions.js';
import { storeWatcher } from './audiences-support/watch.js';
import { callStream } from './process-support/calls.js';
import { Child, runJson } from './process-support/child.js';
import { appendCalls } from './process-support/fill.js';
import { machine, percentiles, quietMachine, round } from './process-support/machine.js';
import { openLoop } from './process-support/open-loop.js';
import { createStore, type BenchEngine, type BenchStore } from './support/stores.js';

/**
 * Computed traits and audiences against the three numbers of issue 4, on one engine:
 *
 *   compute     1,000,000 profiles and 10,000,000 events (generated straight into the tables, cached under
 *               /tmp/rapport-bench-audiences): the full computation of an audience with a trait, an event
 *               count in a 30-day window and a computed trait (`membersBySql`), several rounds, with its
 *               query plan, each condition alone and `computeAudience` (transitions recorded, rolled back).
 *               Target < 5 s on SQLite; reported on PostgreSQL.
 *   throughput  the identity benchmark's workload (bench:process: mixed calls, 20% identify, a warm-up
 *               backlog, then a measured one drained by `processBatch` in a child process), on two stores
 *               built alike: without audiences and with 3 computed traits and 20 ready audiences; rounds
 *               alternate which runs first. Target: audiences cost < 10% of the throughput.
 *   latency     Rapport (serve.ts, role all) taking 5,000 events/s on /v1/batch; every other request carries
 *               one "probe": an Order Completed from a new user, which qualifies for `buyers_30d`. Latency
 *               runs from the probe's request being sent to its `Audience Entered` appearing in the log.
 *               Target p99 < 1 s. The same load without audiences gives the pipeline's own latency.
 *
 *   breakdown   (only with --only) the throughput workload again with timers around the pipeline's stages and
 *               every SQL statement: where the time goes, not a rate to quote.
 *
 *   npm run bench:audiences -- [--engine sqlite|postgres] [--only compute|throughput|latency|breakdown]
 *     [--profiles 1000000] [--events 10000000] [--regenerate] [--compute-rounds 7]
 *     [--rounds 3] [--warm 100000] [--measured 300000] [--people 40000] [--batch 1000]
 *     [--rate 5000] [--seconds 60] [--per-request 25] [--probe-every 2] [--latency-rounds 1] [--stable-plans] [--profile]
 */
const { values: flags } = parseArgs({
  options: {
    engine: { type: 'string', default: 'sqlite' },
    only: { type: 'string' },
    profiles: { type: 'string', default: '1000000' },
    events: { type: 'string' },
    regenerate: { type: 'boolean', default: false },
    'compute-rounds': { type: 'string', default: '7' },
    rounds: { type: 'string', default: '3' },
    warm: { type: 'string', default: '100000' },
    measured: { type: 'string', default: '300000' },
    people: { type: 'string' },
    batch: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '60' },
    'warmup-seconds': { type: 'string', default: '10' },
    'per-request': { type: 'string', default: '25' },
    'probe-every': { type: 'string', default: '2' },
    'latency-rounds': { type: 'string', default: '1' },
    // The identity workload re-draws a person's plan at every identify; with this, each person keeps one.
    'stable-plans': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'idle-wait': { type: 'string', default: '60' },
  },
});
const engine = flags.engine as BenchEngine;
if (engine !== 'sqlite' && engine !== 'postgres') throw new Error('--engine is sqlite or postgres');
const RESULTS = 'bench/results';
const PROFILE_DIR = `${RESULTS}/profiles`;
const warm = Number(flags.warm);
const measured = Number(flags.measured);
const people = Number(flags.people ?? Math.round((warm + measured) / 10));
const STEP_MS = 20;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const prof = (name: string) => (flags.profile ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}/audiences-${name}-${engine}-${Date.now()}`] : []);
const open = (store: { dataDir: string; databaseUrl?: string }) => openRapport({ ...loadConfig(storeEnv(store)), logLevel: 'warn' });

async function quiet(label: string): Promise<number | null> {
  const busy = Number(flags['idle-wait']) > 0 ? await quietMachine(Number(flags['idle-wait']) * 1000) : null;
  if (busy !== null && busy > 0.15) console.log(`  ! the machine was still ${Math.round(busy * 100)}% busy before ${label}`);
  return busy;
}

// ---------------------------------------------------------------------------------------------------------
// 1. Full computation on 1,000,000 profiles and 10,000,000 events.

interface ComputeResult {
  sql: string;
  timings: number[];
  members: number;
  queryPlan: string[];
  parts: Record<string, { ms: number[]; members: number }>;
  setBased?: { ms: number[]; members: number; same: boolean };
  transitions?: { firstMs: number; entered: number; againMs: number; enteredAgain: number };
  check: Record<string, number>;
}

async function compute() {
  const profiles = Number(flags.profiles);
  const events = Number(flags.events ?? profiles * 10);
  const { dataset, reused } = await ensureDataset({ engine, profiles, events, regenerate: flags.regenerate });
  console.log(reused ? `dataset reused: ${dataset.dataDir}${dataset.databaseUrl ? ` (${dataset.databaseUrl})` : ''}, built in ${dataset.buildSeconds} s` : `dataset built in ${dataset.buildSeconds} s: ${JSON.stringify(dataset.rows)}`);
  const busy = await quiet('the full computation');
  const result = await runJson<ComputeResult>('../audiences-support/compute.ts', ['--dataset', join(dataset.dataDir, 'dataset.json'), '--rounds', flags['compute-rounds']!, '--parts', '--transitions', '--set-based'], storeEnv(dataset), prof('compute'));
  const [first, ...rest] = result.timings;
  const summary = { first, median: median(rest), min: Math.min(...rest), max: Math.max(...rest), rounds: rest.length, members: result.members, target: engine === 'sqlite' ? '< 5000 ms' : 'reported' };
  console.log(`query plan:\n${result.queryPlan.map((l) => `  ${l}`).join('\n')}`);
  for (const [name, p] of Object.entries(result.parts)) console.log(`  ${name} alone: ${p.ms.join(' / ')} ms, ${p.members} members`);
  if (result.setBased) {
    const b = result.setBased;
    console.log(`  the same audience written as set intersections by hand: ${b.ms.join(' / ')} ms, ${b.members} members (${b.same ? 'the same members' : 'DIFFERENT members'})`);
  }
  if (result.transitions) {
    const t = result.transitions;
    console.log(`  computeAudience (rolled back): first computation ${t.firstMs} ms (${t.entered} entered, recorded and announced), again ${t.againMs} ms (${t.enteredAgain} entered)`);
  }
  console.log(
    `full computation on ${engine}, ${dataset.profiles} profiles and ${dataset.events} events: median ${round(summary.median)} ms (min ${round(summary.min)}, max ${round(summary.max)}, ${summary.rounds} rounds; ` +
      `first ${round(first)} ms), ${summary.members} members${engine === 'sqlite' ? ` (target < 5,000 ms: ${summary.median < 5000 ? 'met' : 'missed'})` : ''}`,
  );
  return { dataset, busy, ...result, summary };
}

// ---------------------------------------------------------------------------------------------------------
// 2. Pipeline throughput with and without 20 audiences.

/** Defines the computed traits and audiences and brings them to ready (backfills, first computations, their announcements processed). */
async function defineAudiences(store: BenchStore, workspaceId: string) {
  const c = await open(store);
  try {
    for (const t of PIPELINE_TRAITS) await c.audiences.saveComputedTrait(c.database.db, workspaceId, t);
    for (const a of PIPELINE_AUDIENCES) await c.audiences.saveAudience(c.database.db, workspaceId, a);
    const t = performance.now();
    await c.pipeline.drain();
    const ms = performance.now() - t;
    const rows = [...(await c.audiences.computedTraits(c.database.db, workspaceId)), ...(await c.audiences.audiences(c.database.db, workspaceId))];
    const notReady = rows.filter((r) => r.status !== 'ready').map((r) => r.key);
    if (notReady.length) throw new Error(`not ready after drain: ${notReady.join(', ')}`);
    const sizes = Object.fromEntries((await c.audiences.audiences(c.database.db, workspaceId)).map((a) => [a.key, a.size]));
    return { ms, sizes };
  } finally {
    await c.database.close();
  }
}

async function derivedCount(store: BenchStore): Promise<number> {
  const c = await open(store);
  try {
    return Number((await sql<{ n: number }>`select count(*) as n from events where source_id = ${AUDIENCES_SOURCE}`.execute(c.database.db)).rows[0].n);
  } finally {
    await c.database.close();
  }
}

const PLANS = ['free', 'starter', 'pro', 'team'];

/** bench:process's call stream; with --stable-plans a person's identify always carries the same plan. */
function workloadStream(seed: number, start: number) {
  const stream = callStream({ seed, people, start, stepMs: STEP_MS });
  if (!flags['stable-plans']) return stream;
  return {
    next() {
      const call = stream.next();
      if (call.type === 'identify') {
        const person = Number(/(\d+)$/.exec(String(call.userId))![1]);
        const h = (Math.imul(person, 2654435761) >>> 0) % 100;
        (call.traits as Record<string, unknown>).plan = PLANS[h < 55 ? 0 : h < 80 ? 1 : h < 95 ? 2 : 3];
      }
      return call;
    },
  };
}

/** Audience Entered / Exited appended after `afterOffset`, per audience: `key: +entered -exited`. */
async function transitionsByAudience(store: BenchStore, afterOffset: number): Promise<Record<string, string>> {
  const c = await open(store);
  try {
    const key = engine === 'postgres' ? sql`payload->'properties'->>'audience_key'` : sql`json_extract(payload, '$.properties.audience_key')`;
    const rows = await sql<{ k: string; event: string; n: number }>`select ${key} as k, event, count(*) as n from events
      where source_id = ${AUDIENCES_SOURCE} and "offset" > ${afterOffset} group by 1, 2 order by 1, 2`.execute(c.database.db);
    const out: Record<string, [number, number]> = {};
    for (const r of rows.rows) (out[r.k] ??= [0, 0])[r.event === 'Audience Entered' ? 0 : 1] += Number(r.n);
    return Object.fromEntries(Object.entries(out).map(([k, [a, b]]) => [k, `+${a} -${b}`]));
  } finally {
    await c.database.close();
  }
}

async function logEnd(store: BenchStore): Promise<number> {
  const c = await open(store);
  try {
    return Number((await sql<{ n: number }>`select max("offset") as n from events`.execute(c.database.db)).rows[0].n ?? 0);
  } finally {
    await c.database.close();
  }
}

/**
 * PostgreSQL plans with the statistics autovacuum gathers; this server runs with autovacuum off, so the
 * warmed-up store is analysed once, as autovacuum would have done by then (without statistics the set
 * queries of the audience computations are planned as nested loops and take minutes: see the docs).
 */
async function analyze(store: BenchStore) {
  const c = await open(store);
  try {
    await sql`analyze`.execute(c.database.db);
  } finally {
    await c.database.close();
  }
}

/**
 * A store as bench:process builds it (warm-up backlog drained by the pipeline in a child process), then,
 * with audiences, the definitions brought to ready, then `backlog` more calls appended. Event times end
 * a few minutes before now, so the windows see them as live traffic.
 */
async function prepareWorkload(seed: number, audiences: boolean, backlog: number) {
  const store = await createStore(engine);
  const c = await open(store);
  const setup = await setupWorkspace({ access: c.access.service, collect: c.collect.service }, { workspace: 'Bench', email: 'owner@bench.test', password: 'correct horse battery staple' });
  await c.database.close();
  const stream = workloadStream(seed, Date.now() - (warm + backlog) * STEP_MS - 5 * 60_000);
  const append = async (count: number) => {
    const a = await open(store);
    try {
      return await appendCalls(a.database, setup, () => stream.next(), count);
    } finally {
      await a.database.close();
    }
  };
  await append(warm);
  await runJson('./consume.ts', ['--mode', 'pipeline', '--batch', flags.batch!], storeEnv(store));
  if (engine === 'postgres') await analyze(store);
  const defined = audiences ? await defineAudiences(store, setup.workspaceId) : undefined;
  if (backlog) await append(backlog);
  return { store, setup, stream, defined, derivedBefore: audiences ? await derivedCount(store) : 0, end: await logEnd(store) };
}

interface DrainResult {
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
  const rounds = [];
  for (let r = 0; r < Number(flags.rounds); r++) {
    const plain = await prepareWorkload(5000 + r, false, measured);
    const withAudiences = await prepareWorkload(5000 + r, true, measured);
    try {
      const results: Record<string, DrainResult & { sourceEvents: number; derivedEvents: number; sourceRate: number; busy: number | null }> = {};
      for (const mode of r % 2 === 0 ? ['plain', 'audiences'] : ['audiences', 'plain']) {
        const w = mode === 'plain' ? plain : withAudiences;
        const busy = await quiet(`the ${mode} run`);
        const result = await runJson<DrainResult>('./consume.ts', ['--mode', 'pipeline', '--batch', flags.batch!], storeEnv(w.store), mode === 'audiences' ? prof('throughput') : []);
        const derived = mode === 'audiences' ? (await derivedCount(w.store)) - w.derivedBefore : 0;
        const sourceEvents = result.events - derived;
        results[mode] = { ...result, sourceEvents, derivedEvents: derived, sourceRate: (sourceEvents / result.ms) * 1000, busy };
      }
      // A re-check of the time-dependent definitions (the worker runs one a minute, between batches).
      const transitions = await transitionsByAudience(withAudiences.store, withAudiences.end);
      const c = await open(withAudiences.store);
      const t = performance.now();
      await c.pipeline.maintain();
      const recheckMs = performance.now() - t;
      await c.database.close();
      const p = results.plain;
      const a = results.audiences;
      const ratio = a.sourceRate / p.sourceRate;
      rounds.push({ plain: p, audiences: a, ratio, recheckMs, sizes: withAudiences.defined?.sizes, defineMs: withAudiences.defined?.ms, transitions });
      console.log(
        `  round ${r + 1}: without audiences ${round(p.sourceRate)} events/s (batch p50 ${round(p.batchMs.p50)} ms, ${round(p.cpuMsPerThousand)} ms CPU/1000), ` +
          `with 20 audiences ${round(a.sourceRate)} events/s (batch p50 ${round(a.batchMs.p50)} ms, ${round(a.cpuMsPerThousand)} ms CPU/1000; ${a.derivedEvents} Audience Entered/Exited events also processed), ` +
          `ratio ${round(ratio, 3)} (cost ${round((1 - ratio) * 100, 1)}%); a re-check of the time-dependent definitions ${round(recheckMs)} ms`,
      );
      if (r === 0) console.log(`    transitions in the run, per audience: ${Object.entries(transitions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    } finally {
      await plain.store.drop();
      await withAudiences.store.drop();
    }
  }
  const summary = {
    plainRate: median(rounds.map((x) => x.plain.sourceRate)),
    audiencesRate: median(rounds.map((x) => x.audiences.sourceRate)),
    ratio: median(rounds.map((x) => x.ratio)),
    ratios: rounds.map((x) => round(x.ratio, 3)),
    recheckMs: median(rounds.map((x) => x.recheckMs)),
    target: 'ratio >= 0.9',
  };
  console.log(
    `throughput on ${engine}: without audiences ${round(summary.plainRate)} events/s, with 20 audiences ${round(summary.audiencesRate)} events/s; ratio median ${round(summary.ratio, 3)} ` +
      `(rounds ${summary.ratios.join(', ')}), cost ${round((1 - summary.ratio) * 100, 1)}% (target < 10%: ${summary.ratio >= 0.9 ? 'met' : 'missed'})`,
  );
  return { warm, measured, people, batch: Number(flags.batch), rounds, summary };
}

/** Where the time goes (timers around the stages and every statement; not a rate to quote): `--only breakdown`. */
async function breakdown() {
  type Timed = { events: number; ms: number; stages: Record<string, number>; sqlMs: number; statements: { ms: number; n: number; sql: string }[] };
  const out: Record<string, Timed> = {};
  for (const mode of ['plain', 'audiences'] as const) {
    const w = await prepareWorkload(5000, mode === 'audiences', measured);
    try {
      await quiet(`the ${mode} breakdown`);
      out[mode] = await runJson<Timed>('../audiences-support/consume-timed.ts', [], { ...storeEnv(w.store), BENCH_BATCH: flags.batch! });
    } finally {
      await w.store.drop();
    }
    const b = out[mode];
    console.log(`  ${mode}: ${b.events} events in ${b.ms} ms; stages ${Object.entries(b.stages).map(([k, v]) => `${k} ${v} ms`).join(', ')}; all SQL ${b.sqlMs} ms`);
    for (const s of b.statements.slice(0, mode === 'audiences' ? 25 : 12)) console.log(`    ${String(s.ms).padStart(6)} ms ${String(s.n).padStart(6)}× ${s.sql}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// 3. Latency from a qualifying event to Audience Entered, at 5,000 events/s.

async function latencyRun(mode: 'audiences' | 'plain', seed: number) {
  const rate = Number(flags.rate);
  const seconds = Number(flags.seconds);
  const warmupSeconds = Number(flags['warmup-seconds']);
  const perRequest = Number(flags['per-request']);
  const probeEvery = Number(flags['probe-every']);
  const w = await prepareWorkload(seed, mode === 'audiences', 0);
  try {
    const busy = await quiet(`the latency run (${mode})`);
    const server = await Child.start('./serve.ts', storeEnv(w.store), mode === 'audiences' ? prof('latency') : []);
    const watcher = await storeWatcher(w.store);
    const auth = `Basic ${Buffer.from(`${w.setup.writeKey}:`).toString('base64')}`;
    const probes: { id: string; messageId: string; tag: number }[] = [];
    let sent: Awaited<ReturnType<typeof openLoop>>;
    try {
      sent = await openLoop({
        port: server.port, rate: rate / perRequest, seconds: seconds + warmupSeconds,
        request: (i) => {
          // Live traffic: the server stamps the time (received), as for a client without a clock.
          const batch = Array.from({ length: perRequest }, () => {
            const call = w.stream.next();
            delete call.timestamp;
            return call;
          });
          if (i % probeEvery === 0) {
            const n = probes.length;
            const probe = { id: `probe-${n}`, messageId: `probe-m-${n}`, tag: i };
            probes.push(probe);
            batch[Math.floor(perRequest / 2)] = { type: 'track', event: 'Order Completed', userId: probe.id, anonymousId: `probe-anon-${n}`, messageId: probe.messageId, properties: { value: 42, currency: 'EUR' } };
          }
          return { method: 'POST', path: '/v1/batch', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify({ batch }) };
        },
      });
      const deadline = performance.now() + 60_000;
      const end = await watcher.logEnd();
      while ((watcher.current() < end || (mode === 'audiences' && probes.some((p) => !watcher.entered.has(`${PROBE_AUDIENCE}|${p.id}`)))) && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      await watcher.stop();
      await server.stop();
    }
    const transitions = mode === 'audiences' ? await transitionsByAudience(w.store, w.end) : undefined;
    const c = await open(w.store);
    const offsets = new Map<string, number>();
    try {
      const rows = await c.database.db.selectFrom('events').select(['message_id', 'offset']).where('message_id', 'like', 'probe-m-%').execute();
      for (const r of rows as { message_id: string; offset: unknown }[]) offsets.set(r.message_id, Number(r.offset));
    } finally {
      await c.database.close();
    }
    const byTag = new Map(sent.map((s) => [s.tag, s]));
    const from = sent[0].due + warmupSeconds * 1000;
    const toEntered: number[] = [];
    const toCommitted: number[] = [];
    let missing = 0;
    let failed = 0;
    for (const p of probes) {
      const s = byTag.get(p.tag)!;
      if (s.due < from) continue;
      if (s.status !== 200) {
        failed++;
        continue;
      }
      const offset = offsets.get(p.messageId);
      const committed = offset === undefined ? undefined : watcher.reached(offset);
      if (committed !== undefined) toCommitted.push(committed - s.sent);
      if (mode === 'plain') continue;
      const entered = watcher.entered.get(`${PROBE_AUDIENCE}|${p.id}`);
      if (entered === undefined) missing++;
      else toEntered.push(entered - s.sent);
    }
    const measuredSent = sent.filter((s) => s.due >= from);
    const ack = measuredSent.filter((s) => s.status === 200).map((s) => s.done - s.sent);
    const result = {
      mode, rate, seconds, perRequest, probeEvery, busy,
      sentToEntered: mode === 'audiences' ? percentiles(toEntered) : undefined,
      sentToCommitted: percentiles(toCommitted),
      ingestAck: percentiles(ack),
      failedRequests: measuredSent.filter((s) => s.status !== 200).length,
      failedProbes: failed,
      probesNeverEntered: missing,
      derivedEventsSeen: watcher.derivedCount(),
      transitions,
    };
    const e = result.sentToEntered;
    const q = result.sentToCommitted;
    console.log(
      `  latency (${mode === 'audiences' ? 'with 20 audiences' : 'without audiences'}) at ${rate} events/s: ` +
        (e ? `probe sent -> Audience Entered in the log p50 ${round(e['p50'])} ms, p95 ${round(e['p95'])} ms, p99 ${round(e['p99'])} ms, max ${round(e.max)} ms over ${e.n} probes (${missing} never entered); ` : '') +
        `probe sent -> its batch committed p50 ${round(q['p50'])} ms, p99 ${round(q['p99'])} ms; request -> 200 p50 ${round(result.ingestAck['p50'], 1)} ms, p99 ${round(result.ingestAck['p99'], 1)} ms; ${result.failedRequests} failed requests` +
        (mode === 'audiences' ? `; ${result.derivedEventsSeen} Audience Entered/Exited events appended` : ''),
    );
    if (transitions) console.log(`    transitions during the run, per audience: ${Object.entries(transitions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    return result;
  } finally {
    await w.store.drop();
  }
}

async function latency() {
  const runs = [];
  for (let r = 0; r < Number(flags['latency-rounds']); r++) {
    for (const mode of r % 2 === 0 ? (['audiences', 'plain'] as const) : (['plain', 'audiences'] as const)) runs.push(await latencyRun(mode, 7000 + r));
  }
  const withAudiences = runs.filter((x) => x.mode === 'audiences');
  const p99s = withAudiences.map((x) => x.sentToEntered!['p99']);
  const summary = { p50: median(withAudiences.map((x) => x.sentToEntered!['p50'])), p95: median(withAudiences.map((x) => x.sentToEntered!['p95'])), p99: median(p99s), p99s, target: 'p99 < 1000 ms' };
  console.log(`latency on ${engine}: probe -> Audience Entered p50 ${round(summary.p50)} ms, p95 ${round(summary.p95)} ms, p99 ${round(summary.p99)} ms (target p99 < 1,000 ms: ${summary.p99 < 1000 ? 'met' : 'missed'})`);
  return { runs, summary };
}

const commit = (() => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
})();
const report: Record<string, unknown> = { engine, commit, machine: machine() };
if (engine === 'postgres') {
  const c = await createStore('postgres');
  const core = await open(c);
  report.autovacuum = (await sql<{ autovacuum: string }>`show autovacuum`.execute(core.database.db)).rows[0].autovacuum;
  await core.database.close();
  await c.drop();
}
console.log(`bench:audiences on ${engine} at ${commit}: ${JSON.stringify(report.machine)}${engine === 'postgres' ? `; PostgreSQL autovacuum ${report.autovacuum}` : ''}`);
if (!flags.only || flags.only === 'compute') report.compute = await compute();
if (!flags.only || flags.only === 'throughput') report.throughput = await throughput();
if (!flags.only || flags.only === 'latency') report.latency = await latency();
if (flags.only === 'breakdown') report.breakdown = await breakdown();
mkdirSync(RESULTS, { recursive: true });
const file = `${RESULTS}/audiences-${engine}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
writeFileSync(file, JSON.stringify(report, null, 2));
console.log(`results: ${file}`);
