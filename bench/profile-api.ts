import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { openRapport } from '../src/app.js';
import { loadConfig } from '../src/platform/config.js';
import { setupWorkspace } from '../src/workflows/setup-workspace.js';
import { prng } from './process-support/calls.js';
import { Child, runJson } from './process-support/child.js';
import { machine, percentiles, quietMachine, round } from './process-support/machine.js';
import { openLoop } from './process-support/open-loop.js';
import { fillProfiles, IDS_PER_PROFILE, TRAITS_PER_PROFILE, userIdOf } from './process-support/profiles-fill.js';
import { createStore, type BenchEngine, type BenchStore } from './support/stores.js';

/**
 * The Profile API's traits lookup with 1,000,000 profiles (issue 3: p99 < 5 ms), on one engine. The store is
 * built once per run in a temp dir (rows written in bulk in the pipeline's shapes), then:
 *   in process  the lookup without HTTP: the route's service calls against the two raw SELECTs
 *   over HTTP   Rapport (`--role api`, child process) against a bare node:http server doing the raw SELECTs
 *               (child process), each driven at fixed rates (open loop, random users), alternating rounds,
 *               then closed-loop with autocannon for capacity.
 *
 *   npm run bench:profile-api -- [--engine sqlite|postgres] [--profiles 1000000] [--rates 500,2000]
 *     [--seconds 15] [--rounds 2] [--connections 10] [--profile]
 */
const { values: flags } = parseArgs({
  options: {
    engine: { type: 'string', default: 'sqlite' },
    profiles: { type: 'string', default: '1000000' },
    rates: { type: 'string', default: '500,2000' },
    seconds: { type: 'string', default: '15' },
    rounds: { type: 'string', default: '2' },
    connections: { type: 'string', default: '10' },
    profile: { type: 'boolean', default: false },
    'idle-wait': { type: 'string', default: '60' },
  },
});
const engine = flags.engine as BenchEngine;
if (engine !== 'sqlite' && engine !== 'postgres') throw new Error('--engine is sqlite or postgres');
const count = Number(flags.profiles);
const seconds = Number(flags.seconds);
const PROFILE_DIR = 'bench/results/profiles';
const storeEnv = (store: BenchStore): Record<string, string> => ({ RAPPORT_DATA_DIR: store.dataDir, ...(store.databaseUrl ? { DATABASE_URL: store.databaseUrl } : {}) });

async function quiet(label: string): Promise<number | null> {
  const busy = Number(flags['idle-wait']) > 0 ? await quietMachine(Number(flags['idle-wait']) * 1000) : null;
  if (busy !== null && busy > 0.15) console.log(`  ! the machine was still ${Math.round(busy * 100)}% busy before ${label}`);
  return busy;
}

const report: Record<string, unknown> = { engine, profiles: count, machine: machine() };
console.log(`bench:profile-api on ${engine}: ${JSON.stringify(report.machine)}`);
const store = await createStore(engine);
try {
  const core = await openRapport({ ...loadConfig(storeEnv(store)), logLevel: 'warn' });
  const setup = await setupWorkspace({ access: core.access.service, collect: core.collect.service }, { workspace: 'Bench', email: 'owner@bench.test', password: 'correct horse battery staple' });
  let started = performance.now();
  await fillProfiles(core.database, setup, count, 50_000, (done) => {
    if (done % 200_000 === 0 || done === count) console.log(`  ${done} profiles written (${round((performance.now() - started) / 1000)} s)`);
  });
  const buildSeconds = (performance.now() - started) / 1000;
  await core.database.close();
  report.build = { seconds: round(buildSeconds, 1), rows: { profiles: count, identifiers: count * IDS_PER_PROFILE, profile_traits: count * TRAITS_PER_PROFILE } };
  console.log(`built ${count} profiles (${count * IDS_PER_PROFILE} identifiers, ${count * TRAITS_PER_PROFILE} traits) in ${round(buildSeconds)} s`);

  // Without HTTP: the route's own store calls against the raw SELECTs.
  await quiet('the in-process lookups');
  type P = ReturnType<typeof percentiles>;
  const inProcess = await runJson<{ raw: P[]; service: P[] }>('./lookup.ts', ['--profiles', String(count), '--workspace', setup.workspaceId], storeEnv(store));
  report.inProcess = inProcess;
  const worst = (list: P[]) => Math.max(...list.map((p) => p['p99']));
  console.log(`in process, one at a time: raw SELECTs p50 ${round(inProcess.raw[0]['p50'], 3)} ms p99 ${round(worst(inProcess.raw), 3)} ms; Rapport's store calls p50 ${round(inProcess.service[0]['p50'], 3)} ms p99 ${round(worst(inProcess.service), 3)} ms`);

  const auth = `Basic ${Buffer.from(`${setup.apiKey}:`).toString('base64')}`;
  const path = (userId: string) => `/v1/spaces/${setup.workspaceId}/collections/users/profiles/user_id:${userId}/traits`;
  const contenders = {
    rapport: () => Child.start('./serve.ts', { ...storeEnv(store), BENCH_ROLE: 'api' }, flags.profile ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}/profile-api-${engine}-${Date.now()}`] : []),
    baseline: () => Child.start('./traits-baseline.ts', { ...storeEnv(store), BENCH_API_KEY: setup.apiKey }),
  };

  const http: Record<string, unknown>[] = [];
  for (const rate of flags.rates!.split(',').map(Number)) {
    for (let r = 0; r < Number(flags.rounds); r++) {
      for (const name of (r % 2 === 0 ? ['baseline', 'rapport'] : ['rapport', 'baseline']) as (keyof typeof contenders)[]) {
        const busy = await quiet(`${name} at ${rate}/s`);
        const server = await contenders[name]();
        try {
          const rng = prng(7 + r);
          const request = () => ({ method: 'GET', path: path(userIdOf(rng.int(count))), headers: { authorization: auth } });
          await openLoop({ port: server.port, rate, seconds: 3, sockets: 32, request }); // warm-up, not counted
          const sent = await openLoop({ port: server.port, rate, seconds, sockets: 32, request });
          const ok = sent.filter((s) => s.status === 200);
          // From the moment the request was written; fromDue adds the client's timer lag (up to ~1 ms) and any queue.
          const row = { contender: name, rate, round: r + 1, busy, failed: sent.length - ok.length, latency: percentiles(ok.map((s) => s.done - s.sent)), fromDue: percentiles(ok.map((s) => s.done - s.due)) };
          http.push(row);
          console.log(`  ${name.padEnd(8)} at ${rate} req/s: p50 ${round(row.latency['p50'], 2)} ms, p95 ${round(row.latency['p95'], 2)} ms, p99 ${round(row.latency['p99'], 2)} ms, max ${round(row.latency.max, 1)} ms, ${row.failed} failed`);
        } finally {
          await server.stop();
        }
      }
    }
  }
  report.http = http;

  const capacity: Record<string, unknown> = {};
  for (const name of ['baseline', 'rapport'] as const) {
    await quiet(`${name} capacity`);
    const server = await contenders[name]();
    try {
      const rng = prng(11);
      const result = await autocannon({
        url: `http://127.0.0.1:${server.port}`, connections: Number(flags.connections), duration: 10,
        requests: [{ method: 'GET', headers: { authorization: auth }, setupRequest: (req) => ({ ...req, path: path(userIdOf(rng.int(count))) }) }],
      });
      capacity[name] = { requestsPerSecond: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx + result.errors };
      console.log(`  ${name.padEnd(8)} closed loop, ${flags.connections} connections: ${round(result.requests.average)} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms (autocannon, 1 ms resolution)`);
    } finally {
      await server.stop();
    }
  }
  report.capacity = capacity;

  const rapportRows = http.filter((h) => h.contender === 'rapport') as { rate: number; latency: P }[];
  const baselineRows = http.filter((h) => h.contender === 'baseline') as { rate: number; latency: P }[];
  for (const rate of flags.rates!.split(',').map(Number)) {
    const mine = Math.max(...rapportRows.filter((h) => h.rate === rate).map((h) => h.latency['p99']));
    const floor = Math.max(...baselineRows.filter((h) => h.rate === rate).map((h) => h.latency['p99']));
    console.log(`traits lookup over HTTP at ${rate} req/s on ${engine} with ${count} profiles: p99 ${round(mine, 2)} ms (target < 5 ms), raw-SELECT server p99 ${round(floor, 2)} ms, ratio ${round(mine / floor, 2)}`);
  }
} finally {
  await store.drop();
}
mkdirSync('bench/results', { recursive: true });
const file = `bench/results/profile-api-${engine}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
writeFileSync(file, JSON.stringify(report, null, 2));
console.log(`results: ${file}`);
