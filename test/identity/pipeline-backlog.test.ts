import { afterEach, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { generatePopulation } from './population.js';
import { appliedEverywhere } from '../../src/pipeline/partitions.js';

const BATCH = 500;
const population = generatePopulation({ people: 1750, seed: 99, prefix: 'backlog' });

describe.each(ENGINES)('a server working through a backlog, on $name', (engine) => {
  let server: TestServer | undefined;
  afterEach(() => server?.close());

  const post = (body: unknown) =>
    fetch(`${server!.url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${server!.setup.writeKey}:`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('keeps answering health checks and taking events in while the pipeline applies 20,000 events', async () => {
    server = await startServer(engine);
    await server.rapport.core.pipeline.stop();
    for (let i = 0; i < population.calls.length; i += BATCH) expect((await post({ batch: population.calls.slice(i, i + BATCH).map((c) => c.message) })).status).toBe(200);

    const applied = async () =>
      appliedEverywhere(server!.rapport.database.db);

    server.rapport.core.pipeline.start();
    let started = performance.now();
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const health = { ms: Math.round(performance.now() - started), applied: await applied() };
    started = performance.now();
    expect((await post({ batch: [{ type: 'track', event: 'Late Arrival', userId: 'backlog-late' }] })).status).toBe(200);
    const ingest = { ms: Math.round(performance.now() - started), applied: await applied() };
    console.log(`${engine.name}: with ${population.calls.length} events to apply, /healthz answered in ${health.ms} ms (${health.applied} applied), /v1/batch in ${ingest.ms} ms (${ingest.applied} applied)`);

    // Both answered while most of the backlog was still waiting, rather than after it.
    expect(health.applied, 'GET /healthz waited for the backlog').toBeLessThan(population.calls.length / 2);
    expect(ingest.applied, 'POST /v1/batch waited for the backlog').toBeLessThan(population.calls.length / 2);
    expect(health.ms).toBeLessThan(5_000);
    expect(ingest.ms).toBeLessThan(5_000);
  }, 60_000);
});
