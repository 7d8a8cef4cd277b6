import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { machineCpu, processesCpu, waitForIdle } from './support/idle.js';
import { drive } from './support/load.js';
import { ServerProcess } from './support/server-process.js';
import { createStore, tmpFileSystem, type BenchEngine } from './support/stores.js';
import { batchWorkload, trackWorkload, type Workload } from './support/workload.js';

/**
 * The collection API against its floors, on one engine: /v1/batch against a bare node:http server that
 * inserts each batch in one transaction, /v1/track against a Fastify route that stores nothing. Every
 * server runs in its own child process on a fresh store; baseline and Rapport alternate round by round
 * and each figure is a ratio to the baseline measured in the same run.
 *
 *   npm run bench:collect -- [--engine sqlite|postgres] [--role api|all] [--rounds 3] [--duration 10]
 *                            [--warmup 3] [--only batch|track] [--profile] [--idle-wait 120] [--max-others 0.1]
 */
const { values: flags } = parseArgs({
  options: {
    engine: { type: 'string', default: 'sqlite' },
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    only: { type: 'string' },
    // api: the collection API alone; all: with the processing pipeline consuming the log in the same process.
    role: { type: 'string', default: 'api' },
    profile: { type: 'boolean', default: false },
    // Seconds to wait for an idle machine before each measurement (0: do not wait).
    'idle-wait': { type: 'string', default: '120' },
    // A round in which other processes used more than this share of the machine is measured again (up to 3 times).
    'max-others': { type: 'string', default: '0.1' },
  },
});
const engine = flags.engine as BenchEngine;
if (engine !== 'sqlite' && engine !== 'postgres') throw new Error('--engine is sqlite or postgres');
const role = flags.role!;
if (role !== 'api' && role !== 'all') throw new Error('--role is api or all');
const rounds = Number(flags.rounds);
const maxOthers = Number(flags['max-others']);
const seconds = Number(flags.duration);
const warmup = Number(flags.warmup);
const PROFILE_DIR = 'bench/results/profiles';

interface Scenario {
  name: 'batch' | 'track';
  unit: string;
  connections: number;
  baseline: string;
  /** Whether the baseline needs the store (the Fastify floor stores nothing). */
  baselineStores: boolean;
  workload(): Workload;
  target: number;
  p99TargetMs?: number;
}

const SCENARIOS: Scenario[] = [
  { name: 'batch', unit: 'events/s', connections: 10, baseline: 'store-baseline.ts', baselineStores: true, workload: () => batchWorkload(100), target: 0.7 },
  { name: 'track', unit: 'req/s', connections: 20, baseline: 'fastify-baseline.ts', baselineStores: false, workload: trackWorkload, target: 0.5, p99TargetMs: 25 },
];

interface Measurement {
  rate: number;
  /** The server process's event-loop utilisation and CPU time per request over the measured run. */
  elu: number;
  cpuUsPerRequest: number;
  /** Share of the machine's CPU that neither the server nor the load generator used during the run. */
  others: number;
  p50: number;
  p99: number;
  failed: number;
  acknowledged: number;
  stored: number | null;
}

async function measure(scenario: Scenario, contender: 'baseline' | 'rapport'): Promise<Measurement> {
  const needsStore = contender === 'rapport' || scenario.baselineStores;
  const store = needsStore ? await createStore(engine) : undefined;
  const env: Record<string, string> = {
    BENCH_ROLE: role,
    ...(store ? { RAPPORT_DATA_DIR: store.dataDir, ...(store.databaseUrl ? { DATABASE_URL: store.databaseUrl } : {}) } : {}),
  };
  const profile = flags.profile && contender === 'rapport' ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}/${scenario.name}-${engine}-${Date.now()}`] : [];
  const busy = Number(flags['idle-wait']) > 0 ? await waitForIdle(Number(flags['idle-wait']) * 1000) : null;
  if (busy !== null && busy > 0.1) console.log(`  ! the machine was still ${Math.round(busy * 100)}% busy before this ${contender} run`);
  const server = await ServerProcess.start(contender === 'rapport' ? 'rapport.ts' : scenario.baseline, env, profile);
  try {
    const workload = scenario.workload();
    const { port, writeKey } = server.ready;
    const warm = await drive(port, writeKey, workload, scenario.connections, warmup);
    await server.mark();
    // The PostgreSQL server works for the server under test: its CPU is ours, not another process's.
    const database = () => (engine === 'postgres' ? processesCpu('postgres') : 0);
    const [machineBefore, loadBefore, databaseBefore] = [machineCpu(), process.cpuUsage(), database()];
    const run = await drive(port, writeKey, workload, scenario.connections, seconds);
    const [machineAfter, loadGen, databaseMs] = [machineCpu(), process.cpuUsage(loadBefore), database() - databaseBefore];
    const { rows: stored, load } = await server.count();
    // Kernel threads flushing our own writes count as others too, so a quiet machine shows a few per cent.
    const ours = load.cpuMs + (loadGen.user + loadGen.system) / 1000 + databaseMs;
    const others = machineBefore && machineAfter
      ? Math.max(0, machineAfter.busyMs - machineBefore.busyMs - ours) / (machineAfter.totalMs - machineBefore.totalMs)
      : 0;
    return {
      rate: (run.ok * workload.events) / run.seconds,
      elu: load.elu,
      cpuUsPerRequest: (load.cpuMs * 1000) / Math.max(1, run.ok),
      others,
      p50: run.p50,
      p99: run.p99,
      failed: warm.failed + run.failed,
      acknowledged: (warm.ok + run.ok) * workload.events,
      stored,
    };
  } finally {
    await server.stop();
    await store?.drop();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const row = (cells: (string | number)[]) => cells.map((c, i) => String(c).padEnd([8, 7, 12, 12, 7, 10, 12, 16, 16][i] ?? 8)).join(' ');
const cpu = (m: Measurement) => `${Math.round(m.cpuUsPerRequest)} µs, ${Math.round(m.elu * 100)}%`;

const scenarios = SCENARIOS.filter((s) => !flags.only || s.name === flags.only);
const started = new Date();
if (flags.profile) mkdirSync(PROFILE_DIR, { recursive: true });
console.log(`Rapport collection benchmark on ${engine}, role ${role}: ${rounds} rounds of ${seconds} s after a ${warmup} s warm-up, alternating`);
console.log(`${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GB, Linux ${release()}, Node ${process.version}; temp dir ${tmpFileSystem()}\n`);

const report: Record<string, unknown>[] = [];
let allPass = true;
for (const scenario of scenarios) {
  console.log(`${scenario.name}: ${scenario.unit}, ${scenario.connections} connections, baseline ${scenario.baseline}`);
  console.log(row(['', 'round', 'baseline', 'rapport', 'ratio', 'base p99', 'rapport p99', 'base cpu/req,loop', 'rapport cpu/req,loop', 'others']));
  const pairs: { baseline: Measurement; rapport: Measurement; ratio: number; clean: boolean }[] = [];
  for (let round = 1; round <= rounds; round++) {
    const order: ('baseline' | 'rapport')[] = round % 2 ? ['baseline', 'rapport'] : ['rapport', 'baseline'];
    const got: Partial<Record<'baseline' | 'rapport', Measurement>> = {};
    for (let attempt = 1; ; attempt++) {
      for (const contender of order) got[contender] = await measure(scenario, contender);
      const others = Math.max(got.baseline!.others, got.rapport!.others);
      if (others <= maxOthers) break;
      console.log(`  ! other processes used ${Math.round(others * 100)}% of the machine during round ${round}${attempt < 3 ? '; measuring it again' : ''}`);
      if (attempt === 3) break;
    }
    const { baseline, rapport } = got as Record<'baseline' | 'rapport', Measurement>;
    for (const [who, m] of Object.entries(got)) {
      if (m.failed > 0) console.log(`  ! ${who}: ${m.failed} requests failed`);
      if (m.stored !== null && m.stored < m.acknowledged) console.log(`  ! ${who}: acknowledged ${m.acknowledged} events but stored ${m.stored}`);
    }
    const ratio = rapport.rate / baseline.rate;
    const clean = Math.max(baseline.others, rapport.others) <= maxOthers;
    pairs.push({ baseline, rapport, ratio, clean });
    console.log(row([scenario.name, clean ? round : `${round}*`, fmt(baseline.rate), fmt(rapport.rate), ratio.toFixed(2), `${baseline.p99} ms`, `${rapport.p99} ms`, cpu(baseline), cpu(rapport), `${Math.round(Math.max(baseline.others, rapport.others) * 100)}%`]));
  }
  // Rounds disturbed by other work on the machine (marked *) stay in the table but not in the medians.
  const counted = pairs.some((p) => p.clean) ? pairs.filter((p) => p.clean) : pairs;
  const ratio = median(counted.map((p) => p.ratio));
  const p99 = median(counted.map((p) => p.rapport.p99));
  const pass = ratio >= scenario.target && (scenario.p99TargetMs === undefined || p99 < scenario.p99TargetMs);
  allPass &&= pass;
  console.log(row([scenario.name, 'median', fmt(median(counted.map((p) => p.baseline.rate))), fmt(median(counted.map((p) => p.rapport.rate))), ratio.toFixed(2),
    `${median(counted.map((p) => p.baseline.p99))} ms`, `${p99} ms`]));
  if (counted.length < pairs.length) console.log(`(* not counted: other processes used more than ${maxOthers * 100}% of the machine)`);
  const target = `ratio >= ${scenario.target}${scenario.p99TargetMs ? `, p99 < ${scenario.p99TargetMs} ms` : ''}`;
  console.log(`target (${engine === 'sqlite' ? 'embedded store' : 'reported only'}): ${target} -> ${pass ? 'PASS' : 'FAIL'}\n`);
  report.push({ scenario: scenario.name, unit: scenario.unit, connections: scenario.connections, target, pass, ratio, rapportP99: p99, rounds: pairs });
}

mkdirSync('bench/results', { recursive: true });
const file = `bench/results/collect-${engine}-${role}-${started.toISOString().replace(/[:.]/g, '-')}.json`;
writeFileSync(file, JSON.stringify({ engine, role, started, rounds, seconds, warmup, machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version }, report }, null, 2));
console.log(`raw figures: ${file}`);
if (engine === 'sqlite' && !allPass) process.exitCode = 1;
