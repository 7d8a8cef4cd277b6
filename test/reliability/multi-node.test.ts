import { afterEach, describe, expect, it } from 'vitest';
import { openRapport } from '../../src/app.js';
import { loadConfig } from '../../src/platform/config.js';
import { openDatabase } from '../../src/platform/db/database.js';
import { appliedEverywhere, partitionOf } from '../../src/pipeline/partitions.js';
import { freePort, setupWithCli, startServerProcess, type ServerProcess } from '../support/cli.js';
import { ENGINES, type EngineStore } from '../support/engines.js';
import { startServer } from '../support/server.js';
import { generatePopulation, resolvedProfiles, sameProfiles, type ResolvedProfiles } from '../identity/population.js';
import { basicAuth, metric } from '../collect/requests.js';

/**
 * Two API nodes and two worker nodes on one PostgreSQL, as `rapport start --role api|worker` runs them, with
 * a worker and an API node killed -9 along the way: every acknowledged call is in the log once, and the
 * profiles come out exactly as one node resolves the same calls (nothing lost, nothing applied twice).
 */
const postgres = ENGINES.find((e) => e.name === 'postgres');
const WORKSPACES = 4;
const BATCH = 250;
// Short hand-over, so the test does not wait out the production TTL (5 s).
const FAST = { RAPPORT_NODE_HEARTBEAT_MS: '200', RAPPORT_NODE_TTL_MS: '1500', LOG_LEVEL: 'warn' };

const populations = Array.from({ length: WORKSPACES }, (_, w) => generatePopulation({ people: 300, seed: 9_100 + w, prefix: `node${w}` }));
const batchesOf = (w: number) => {
  const calls = populations[w].calls.map((c) => c.message);
  return Array.from({ length: Math.ceil(calls.length / BATCH) }, (_, i) => JSON.stringify({ batch: calls.slice(i * BATCH, (i + 1) * BATCH) }));
};

async function until(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < ms) {
    if (await check().catch(() => false)) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

function post(url: string, writeKey: string, body: string): Promise<number> {
  return fetch(`${url}/v1/batch`, {
    method: 'POST',
    headers: { authorization: basicAuth(writeKey), 'content-type': 'application/json' },
    body,
  }).then((r) => r.status);
}

async function inStore<T>(store: EngineStore, read: (db: import('kysely').Kysely<any>) => Promise<T>): Promise<T> {
  const database = openDatabase({ dataDir: store.dataDir, databaseUrl: store.databaseUrl, poolSize: 2 });
  try {
    return await read(database.db);
  } finally {
    await database.close();
  }
}

describe.skipIf(!postgres)('many nodes on one PostgreSQL', () => {
  const stores: EngineStore[] = [];
  const nodes: ServerProcess[] = [];
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.kill9();
    for (const s of stores.splice(0)) await s.drop();
  });

  async function start(store: EngineStore, role: 'api' | 'worker' | 'all'): Promise<ServerProcess> {
    const node = await startServerProcess(store, await freePort(), { args: ['--role', role], env: FAST });
    nodes.push(node);
    return node;
  }

  /**
   * The workspaces' write keys. With `split`, chosen so that both workers get some: two workers take the even
   * and the odd partitions, and a workspace's partition follows from its (random) id.
   */
  async function workspaces(store: EngineStore, split = false): Promise<string[]> {
    const made: { writeKey: string; parity: number }[] = [];
    for (let n = 0; n < WORKSPACES || (split && new Set(made.map((m) => m.parity)).size < 2); n++) {
      const { writeKey, workspaceId } = await setupWithCli(store, `Workspace ${n}`);
      made.push({ writeKey, parity: partitionOf(workspaceId) % 2 });
    }
    const chosen = made.slice(0, WORKSPACES);
    const other = made.find((m) => m.parity !== chosen[0].parity);
    if (other && !chosen.includes(other)) chosen[WORKSPACES - 1] = other;
    return chosen.map((m) => m.writeKey);
  }

  /** One node doing everything: what the cluster must agree with. */
  async function reference(): Promise<ResolvedProfiles> {
    const store = await postgres!.create();
    stores.push(store);
    const keys = await workspaces(store);
    const node = await start(store, 'all');
    for (let w = 0; w < WORKSPACES; w++) for (const body of batchesOf(w)) expect(await post(node.url, keys[w], body)).toBe(200);
    await until('the single node drained', async () => (await metric(node, 'rapport_pipeline_lag_events')) === 0, 120_000);
    return inStore(store, resolvedProfiles);
  }

  it('splits the log between two workers, hands a killed one\'s share over within seconds, and resolves exactly as one node', async () => {
    const store = await postgres!.create();
    stores.push(store);
    const keys = await workspaces(store, true);
    const [api1, api2] = [await start(store, 'api'), await start(store, 'api')];
    const batches = Array.from({ length: WORKSPACES }, (_, w) => batchesOf(w));
    const rounds = Math.max(...batches.map((b) => b.length));
    const acknowledged = new Set<string>();
    const send = async (round: number, via: (w: number) => ServerProcess) => {
      for (let w = 0; w < WORKSPACES; w++) {
        const body = batches[w][round];
        if (!body) continue;
        let status = await post(via(w).url, keys[w], body).catch(() => 0);
        // An API node that died under the request: the client sends it again to the other one (dedup by messageId).
        if (status !== 200) status = await post(api1.url, keys[w], body);
        expect(status).toBe(200);
        for (const m of (JSON.parse(body) as { batch: { messageId: string }[] }).batch) acknowledged.add(m.messageId);
      }
    };

    // A backlog through both API nodes; then two workers share it while the rest arrives.
    const half = Math.floor(rounds / 2);
    for (let r = 0; r < half; r++) await send(r, (w) => ((r + w) % 2 ? api2 : api1));
    const [w1, w2] = await Promise.all([start(store, 'worker'), start(store, 'worker')]);
    let lagAtKill = -1;
    let killedAtRound = -1;
    let handOverMs = -1;
    for (let r = half; r < rounds; r++) {
      // A worker killed in the middle of its share, once it has applied some of it. The first worker may have
      // drained the backlog alone before the two saw each other, so the second is given a round of its own
      // share first, and waited for (not merely checked once per round: under load the rounds could run out).
      if (lagAtKill < 0 && r > half) {
        await until('the second worker applied part of its share', async () => (await metric(w2, 'rapport_pipeline_events_processed_total')) > 0, 30_000);
        lagAtKill = await metric(w1, 'rapport_pipeline_lag_events');
        killedAtRound = r;
        await w2.kill9();
        handOverMs = await until('the survivor took every partition', async () => (await metric(w1, 'rapport_worker_partitions_owned')) === 16, 15_000);
      }
      // An API node killed under a request.
      if (lagAtKill >= 0 && api2.child.exitCode === null && api2.child.signalCode === null) {
        const inFlight = send(r, () => api2);
        await new Promise((resolve) => setTimeout(resolve, 3));
        await api2.kill9();
        await inFlight;
      } else await send(r, (w) => ((r + w) % 2 && api2.child.signalCode === null ? api2 : api1));
    }
    // Killed while calls were still to come (how many were waiting at that moment depends on the machine's speed).
    expect(lagAtKill, 'the second worker was never killed').toBeGreaterThanOrEqual(0);
    expect(killedAtRound).toBeLessThan(rounds - 1);
    expect(handOverMs).toBeLessThan(5_000);
    expect(api2.child.signalCode).toBe('SIGKILL');
    // The killed worker comes back and takes half again.
    const w2again = await start(store, 'worker');
    await until('the partitions split again', async () => (await metric(w2again, 'rapport_worker_partitions_owned')) === 8 && (await metric(w1, 'rapport_worker_partitions_owned')) === 8);
    await until('the cluster drained', async () => (await metric(w1, 'rapport_pipeline_lag_events')) === 0, 120_000);

    const sent = populations.reduce((n, p) => n + p.calls.length, 0);
    expect(acknowledged.size).toBe(sent);
    const logged = await inStore(store, async (db) => {
      const rows: { message_id: string }[] = await db.selectFrom('events').select('message_id').where('source_id', 'not like', 'rapport:%').execute();
      return { ids: rows.map((r) => r.message_id), upTo: await appliedEverywhere(db), end: Number((await db.selectFrom('events').select((eb) => eb.fn.max('offset').as('m')).executeTakeFirstOrThrow()).m) };
    });
    const inLog = new Set(logged.ids);
    expect([...acknowledged].filter((m) => !inLog.has(m)), 'acknowledged calls missing from the log').toEqual([]);
    expect(logged.ids.length - inLog.size, 'calls logged twice').toBe(0);
    expect(logged.upTo).toBe(logged.end);

    const cluster = await inStore(store, resolvedProfiles);
    for (const n of [api1, w1, w2again]) await n.stop();
    const single = await reference();
    console.log(`multi-node: ${sent} calls in ${WORKSPACES} workspaces; worker killed with ${lagAtKill} events waiting, share taken over in ${handOverMs} ms; ${single.liveProfiles} profiles`);
    expect(sameProfiles(cluster, single)).toEqual({ differing: 0, examples: [] });
  }, 300_000);

  it('keeps merges right when two workers both take every partition and race for the same people', async () => {
    // Ownership set aside: both pipelines try every partition on every batch, so only the row lock stands
    // between them and the same person's events applied twice or out of order.
    const population = generatePopulation({ people: 400, seed: 77, prefix: 'race' });
    const bodies = Array.from({ length: Math.ceil(population.calls.length / BATCH) }, (_, i) =>
      JSON.stringify({ batch: population.calls.slice(i * BATCH, (i + 1) * BATCH).map((c) => c.message) }));
    const server = await startServer(postgres!);
    const second = await openRapport({ ...loadConfig({ RAPPORT_DATA_DIR: server.store.dataDir, DATABASE_URL: server.store.databaseUrl!, LOG_LEVEL: 'warn' }), role: 'worker' });
    const reference = await startServer(postgres!);
    try {
      await reference.rapport.core.pipeline.stop();
      second.pipeline.start();
      for (const body of bodies) {
        expect(await post(server.url, server.setup.writeKey, body)).toBe(200);
        expect(await post(reference.url, reference.setup.writeKey, body)).toBe(200);
      }
      await until('both workers drained the log', async () => (await appliedEverywhere(server.rapport.database.db)) === Number((await server.rapport.database.db.selectFrom('events').select((eb) => eb.fn.max('offset').as('m')).executeTakeFirstOrThrow()).m), 120_000);
      const first = Number((await server.rapport.core.metrics.getSingleMetric('rapport_pipeline_events_processed_total')!.get()).values[0]?.value ?? 0);
      const other = Number((await second.metrics.getSingleMetric('rapport_pipeline_events_processed_total')!.get()).values[0]?.value ?? 0);
      // Both took part, and together they applied each call once.
      expect(first).toBeGreaterThan(0);
      expect(other).toBeGreaterThan(0);
      expect(first + other).toBe(population.calls.length);
      await reference.rapport.core.pipeline.drain();
      expect(sameProfiles(await resolvedProfiles(server.rapport.database.db), await resolvedProfiles(reference.rapport.database.db))).toEqual({ differing: 0, examples: [] });
    } finally {
      await second.pipeline.stop();
      await second.database.close();
      await server.close();
      await reference.close();
    }
  }, 180_000);
});
