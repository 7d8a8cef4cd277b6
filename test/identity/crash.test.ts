import type { Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/platform/db/database.js';
import { freePort, setupWithCli, startServerProcess, type ServerProcess } from '../support/cli.js';
import { ENGINES, type EngineStore } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { generatePopulation, resolvedProfiles, sameProfiles } from './population.js';
import { appliedEverywhere } from '../../src/pipeline/partitions.js';

const BATCH = 500;
// About 20,000 calls: logins merging devices, kiosks, email changes, out-of-order traits.
const population = generatePopulation({ people: 1750, seed: 424_242, prefix: 'crash' });
const bodies = Array.from({ length: Math.ceil(population.calls.length / BATCH) }, (_, i) =>
  JSON.stringify({ batch: population.calls.slice(i * BATCH, (i + 1) * BATCH).map((c) => c.message) }),
);

/** Sends the calls one batch after another, so the log holds them in the same order on every run. */
async function sendAll(url: string, writeKey: string) {
  for (const body of bodies) {
    const res = await fetch(`${url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`, 'content-type': 'application/json' },
      body,
    });
    expect(res.status).toBe(200);
  }
}

async function pipelineMetrics(url: string): Promise<{ lag: number; processed: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { lag: value('rapport_pipeline_lag_events'), processed: value('rapport_pipeline_events_processed_total') };
}

async function withStore<T>(store: EngineStore, read: (db: Kysely<any>) => Promise<T>): Promise<T> {
  const database = openDatabase({ dataDir: store.dataDir, databaseUrl: store.databaseUrl, poolSize: 2 });
  try {
    return await read(database.db);
  } finally {
    await database.close();
  }
}

const consumerState = (db: Kysely<any>) =>
  Promise.all([
    appliedEverywhere(db),
    db.selectFrom('events').select((eb) => eb.fn.max('offset').as('end')).executeTakeFirstOrThrow(),
  ]).then(([consumer, log]) => ({ committed: consumer, end: Number(log.end) }));

describe.each(ENGINES)('profiles after a kill -9 in the middle of processing, on $name', (engine) => {
  let store: EngineStore | undefined;
  let server: ServerProcess | undefined;
  let reference: TestServer | undefined;
  afterEach(async () => {
    await server?.stop();
    await store?.drop();
    await reference?.close();
  });

  it('resolves the same profiles, traits and timelines as an uninterrupted run of the same events', async () => {
    const timings: Record<string, number> = {};
    store = await engine.create();
    const { writeKey } = await setupWithCli(store);
    const port = await freePort();
    // The backlog: an API-only server takes the calls in, then a full server (which runs the pipeline) works through them.
    server = await startServerProcess(store, port, { args: ['--role', 'api'] });
    let started = Date.now();
    await sendAll(server.url, writeKey);
    timings.sendMs = Date.now() - started;
    await server.stop();

    // Watched from the store rather than through the server, whose HTTP answers may wait behind the pipeline.
    const watch = openDatabase({ dataDir: store.dataDir, databaseUrl: store.databaseUrl, poolSize: 1 });
    let killed = { committed: 0, end: 0 };
    let remaining = 0;
    try {
      started = Date.now();
      server = await startServerProcess(store, port, { waitUntilHealthy: false });
      // Kill once a quarter of the backlog is applied, while the rest is still waiting.
      for (const deadline = Date.now() + 60_000; Date.now() < deadline && server.child.exitCode === null; ) {
        const { committed, end } = await consumerState(watch.db);
        if (committed >= end / 4) break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await server.kill9();
      timings.killedAfterMs = Date.now() - started;

      // Not vacuous: the pipeline had committed part of the backlog, and not all of it, when it died.
      killed = await consumerState(watch.db);
      expect(killed.committed, `the pipeline had not started:\n${server.output()}`).toBeGreaterThan(0);
      expect(killed.committed, 'the pipeline had caught up before the kill').toBeLessThan(killed.end);
      remaining = Number((await watch.db.selectFrom('events').select((eb) => eb.fn.countAll().as('n')).where('offset', '>', killed.committed).executeTakeFirstOrThrow()).n);
    } finally {
      await watch.close();
    }

    started = Date.now();
    server = await startServerProcess(store, port);
    let after = { lag: -1, processed: 0 };
    for (const deadline = Date.now() + 90_000; Date.now() < deadline && after.lag !== 0; ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      after = await pipelineMetrics(server.url);
    }
    expect(after.lag, `the pipeline did not drain after the restart:\n${server.output()}`).toBe(0);
    timings.drainAfterRestartMs = Date.now() - started;
    // The restarted pipeline applied exactly what had not been committed: nothing skipped, nothing twice.
    expect(after.processed).toBe(remaining);
    await server.stop();
    const recovered = await withStore(store, resolvedProfiles);

    started = Date.now();
    reference = await startServer(engine);
    await reference.rapport.core.pipeline.stop();
    await sendAll(reference.url, reference.setup.writeKey);
    expect(await reference.rapport.core.pipeline.drain()).toBe(population.calls.length);
    timings.referenceRunMs = Date.now() - started;
    const expected = await resolvedProfiles(reference.rapport.database.db);

    console.log(`${engine.name}: ${population.calls.length} calls; killed with ${killed.committed} of ${killed.end} offsets committed; ${expected.liveProfiles} profiles; ${JSON.stringify(timings)}`);
    expect(sameProfiles(recovered, expected)).toEqual({ differing: 0, examples: [] });
  }, 180_000);
});
