import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { parseArgs, promisify } from 'node:util';
import pg from 'pg';
import { freePort, setupWithCli, startServerProcess, type ServerProcess } from '../test/support/cli.js';
import { createStore, type BenchStore } from './support/stores.js';
import { basicAuth, metric } from '../test/collect/requests.js';

/**
 * Faults and load on the multi-node shape (two API nodes and two workers on one PostgreSQL, every one a
 * `rapport start --role …` process), with clients that do what an SDK does: send batches of `Order Completed`
 * and send a batch again until it is answered 200. A computed trait counts each user's orders, so an event
 * applied twice shows as a count above the user's events in the log.
 *
 *   --scenario pg-restart   PostgreSQL restarted (pg_ctlcluster restart) in the middle of the load
 *   --scenario hot          one user receives --hot-share of the events (default 0.5)
 *   --scenario soak         a steady --rate events/s for --minutes, memory and lag sampled every 10 s
 *
 * Reports acknowledged events lost (acknowledged, not in the log), duplicates applied (counted more often than
 * logged), answers by status and the time to drain. Exits 1 when either count is not 0. PostgreSQL is shared
 * by everything on the machine: run it alone, never beside the tests.
 *
 *   npm run bench:faults -- --scenario pg-restart [--seconds 30] [--users 200] [--clients 8] [--batch 50]
 */
const { values: flags } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'pg-restart' },
    seconds: { type: 'string', default: '30' },
    minutes: { type: 'string', default: '60' },
    rate: { type: 'string', default: '1000' },
    users: { type: 'string', default: '200' },
    clients: { type: 'string', default: '8' },
    batch: { type: 'string', default: '50' },
    'hot-share': { type: 'string', default: '0.5' },
  },
});
const scenario = flags.scenario!;
if (!['pg-restart', 'hot', 'soak'].includes(scenario)) throw new Error('--scenario is pg-restart, hot or soak');
const USERS = Number(flags.users);
const BATCH = Number(flags.batch);
const CLIENTS = Number(flags.clients);
const HOT = scenario === 'hot' ? Number(flags['hot-share']) : 0;
const durationMs = scenario === 'soak' ? Number(flags.minutes) * 60_000 : Number(flags.seconds) * 1000;
// The soak's rate, spread over the clients; the other scenarios send as fast as the nodes answer.
const requestIntervalMs = scenario === 'soak' ? (CLIENTS * BATCH * 1000) / Number(flags.rate) : 0;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const store: BenchStore = await createStore('postgres');
const nodes: ServerProcess[] = [];
const start = async (role: string) => {
  const node = await startServerProcess(store, await freePort(), { args: ['--role', role], env: { LOG_LEVEL: 'error' } });
  nodes.push(node);
  return node;
};
let exitCode = 0;
try {
  const { writeKey, apiKey, workspaceId } = await setupWithCli(store, 'Faults');
  const [api1, api2] = [await start('api'), await start('api')];
  const workers = [await start('worker'), await start('worker')];
  const created = await fetch(`${api1.url}/api/v1/computed-traits`, {
    method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ key: 'orders', name: 'Orders', kind: 'count', event: { name: 'Order Completed' } }),
  });
  if (created.status !== 201) throw new Error(`computed trait: ${created.status} ${await created.text()}`);

  const acknowledged = new Set<string>();
  const statuses = new Map<string, number>();
  const count = (key: string) => statuses.set(key, (statuses.get(key) ?? 0) + 1);
  let seq = 0;
  let stopAt = Date.now() + durationMs;
  let firstFailureAt = 0;
  let lastFailureAt = 0;
  const userOf = (n: number) => (HOT > 0 && (n * 7919) % 1000 < HOT * 1000 ? 'hot' : `u${n % USERS}`);
  const client = async (c: number) => {
    const apis = [api1, api2];
    while (Date.now() < stopAt) {
      const began = Date.now();
      const batch = Array.from({ length: BATCH }, () => {
        const n = seq++;
        return { type: 'track', event: 'Order Completed', userId: userOf(n), messageId: `f-${n}`, properties: { total: 10 } };
      });
      const body = JSON.stringify({ batch });
      // As an SDK does: again, with backoff, until it is answered 200; the other API node on a refused connection.
      for (let attempt = 0; ; attempt++) {
        const via = apis[(c + attempt) % apis.length];
        const status = await fetch(`${via.url}/v1/batch`, {
          method: 'POST', headers: { authorization: basicAuth(writeKey), 'content-type': 'application/json' }, body,
          signal: AbortSignal.timeout(10_000),
        }).then((r) => r.status, (e: Error) => (e.name === 'TimeoutError' ? 'timeout' : 'connection error'));
        count(String(status));
        if (status === 200) break;
        lastFailureAt = Date.now();
        firstFailureAt ||= lastFailureAt;
        await sleep(Math.min(100 * 2 ** attempt, 2_000));
      }
      for (const e of batch) acknowledged.add(e.messageId);
      if (requestIntervalMs) await sleep(Math.max(0, requestIntervalMs - (Date.now() - began)));
    }
  };

  const samples: string[] = [];
  const sampler = scenario === 'soak' ? setInterval(async () => {
    const rss = await Promise.all(nodes.map((n) => metric(n, 'rapport_process_process_resident_memory_bytes').catch(() => NaN)));
    const lag = await metric(workers[0], 'rapport_pipeline_lag_events').catch(() => NaN);
    samples.push(`${new Date().toISOString().slice(11, 19)} acknowledged ${acknowledged.size} lag ${lag} rss MB ${rss.map((b) => Math.round(b / 1e6)).join('/')}`);
    process.stderr.write(`${samples[samples.length - 1]}\n`);
  }, 10_000) : undefined;

  let restartedAt = 0;
  const fault = scenario === 'pg-restart' ? (async () => {
    await sleep(durationMs / 3);
    const version = readdirSync('/etc/postgresql')[0];
    restartedAt = Date.now();
    process.stderr.write(`restarting PostgreSQL ${version}…\n`);
    // Not execFileSync: the clients live in this process and must keep sending while PostgreSQL is down.
    await promisify(execFile)('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart', '-m', 'fast']);
    process.stderr.write(`PostgreSQL back after ${Date.now() - restartedAt} ms\n`);
  })() : Promise.resolve();

  const progress = setInterval(() => process.stderr.write(`  ${Math.round((Date.now() - began) / 1000)} s: acknowledged ${acknowledged.size}, answers ${JSON.stringify(Object.fromEntries(statuses))}\n`), 5_000);
  const began = Date.now();
  await Promise.all([fault, ...Array.from({ length: CLIENTS }, (_, c) => client(c))]);
  const sendSeconds = (Date.now() - began) / 1000;
  stopAt = 0;
  clearInterval(progress);
  if (sampler) clearInterval(sampler);

  // A node that died is a failure of the scenario, reported with its last words.
  const dead = nodes.filter((n) => n.child.exitCode !== null || n.child.signalCode !== null);
  for (const n of dead) process.stderr.write(`a node died (exit ${n.child.exitCode ?? n.child.signalCode}):\n${n.output().slice(-3_000)}\n`);
  if (dead.length) exitCode = 1;
  const drainStarted = Date.now();
  for (;;) {
    const lags = await Promise.all(workers.filter((w) => !dead.includes(w)).map((w) => metric(w, 'rapport_pipeline_lag_events').catch(() => NaN)));
    if (lags.every((l) => l === 0)) break;
    if (Date.now() - drainStarted > 600_000) throw new Error('the pipeline did not drain within 10 minutes');
    if ((Date.now() - drainStarted) % 5_000 < 200) process.stderr.write(`  draining: lag ${lags.join(', ')}\n`);
    await sleep(200);
  }
  const drainSeconds = (Date.now() - drainStarted) / 1000;

  // What the log holds, and what the computed trait counted, per user.
  const client_ = new pg.Client({ connectionString: store.databaseUrl });
  await client_.connect();
  const logged = new Map<string, number>();
  const inLog = new Set<string>();
  try {
    const rows = (await client_.query<{ message_id: string; user_id: string }>(`select message_id, user_id from events where workspace_id = $1 and source_id not like 'rapport:%'`, [workspaceId])).rows;
    for (const r of rows) {
      inLog.add(r.message_id);
      logged.set(r.user_id, (logged.get(r.user_id) ?? 0) + 1);
    }
  } finally {
    await client_.end();
  }
  const lost = [...acknowledged].filter((m) => !inLog.has(m)).length;
  let duplicates = 0;
  let undercounted = 0;
  for (const [user, n] of logged) {
    const res = await fetch(`${api1.url}/v1/spaces/${workspaceId}/collections/users/profiles/user_id:${user}/traits?class=computed_trait`, {
      headers: { authorization: basicAuth(apiKey) },
    });
    const orders = Number(((await res.json()) as { traits?: Record<string, unknown> }).traits?.orders ?? 0);
    if (orders > n) duplicates += orders - n;
    if (orders < n) undercounted += n - orders;
  }
  const figures = {
    scenario, nodesDied: dead.length, sendSeconds, acknowledged: acknowledged.size, logged: inLog.size, lost, duplicatesApplied: duplicates, undercounted,
    acknowledgedPerSecond: Math.round(acknowledged.size / sendSeconds), drainSeconds,
    answers: Object.fromEntries(statuses),
    ...(restartedAt ? { failuresFromRestartMs: firstFailureAt ? lastFailureAt - restartedAt : 0 } : {}),
    ...(HOT ? { hotShare: HOT, hotEvents: logged.get('hot') ?? 0 } : {}),
  };
  console.log(JSON.stringify(figures, null, 2));
  if (samples.length) console.log(samples.join('\n'));
  if (lost !== 0 || duplicates !== 0 || undercounted !== 0) exitCode = 1;
} finally {
  for (const n of nodes) await n.stop();
  await store.drop();
}
process.exit(exitCode);
