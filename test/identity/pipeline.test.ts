import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';

async function send(server: TestServer, batch: Record<string, unknown>[]) {
  const res = await fetch(`${server.url}/v1/batch`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${server.setup.writeKey}:`).toString('base64')}` },
    body: JSON.stringify({ batch }),
  });
  expect(res.status).toBe(200);
}

describe.each(ENGINES)('the processing pipeline on $name', (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(engine);
    await server.rapport.core.pipeline.stop();
  });
  afterAll(() => server?.close());

  const db = () => server.rapport.database.db;
  const profileOf = async (key: string) => (await db().selectFrom('identifiers').select('profile_id').where('key', '=', `users|${key}`).executeTakeFirst())?.profile_id as string | undefined;

  it('merges an anonymous visitor into the account that logs in, with traits and timeline', async () => {
    await send(server, [
      { type: 'page', anonymousId: 'anon-1', name: 'Pricing', timestamp: '2026-01-01T10:00:00Z' },
      { type: 'identify', userId: 'ada', traits: { email: 'ADA@example.com', plan: 'free' }, timestamp: '2026-01-01T09:00:00Z' },
      { type: 'identify', userId: 'ada', anonymousId: 'anon-1', traits: { plan: 'pro' }, timestamp: '2026-01-01T11:00:00Z' },
    ]);
    expect(await server.rapport.core.pipeline.drain()).toBe(3);
    const profile = await profileOf('user_id:ada');
    expect(profile).toBeDefined();
    expect(await profileOf('anonymous_id:anon-1')).toBe(profile);
    expect(await profileOf('email:ada@example.com')).toBe(profile);
    const traits = await server.rapport.core.profiles.traits(db(), profile!);
    expect(Object.fromEntries(traits.map((t) => [t.name, JSON.parse(t.value)]))).toEqual({ email: 'ADA@example.com', plan: 'pro' });
    const timeline = await server.rapport.core.profiles.timeline(db(), profile!);
    expect(timeline).toHaveLength(3);
    const log = await db().selectFrom('merge_log').selectAll().where('profile_id', '=', profile!).where('kind', '=', 'merged').execute();
    expect(log).toHaveLength(1);
  });

  it('lets a newer event win a trait whatever order the events arrive in', async () => {
    await send(server, [{ type: 'identify', userId: 'bo', traits: { city: 'Paris' }, timestamp: '2026-02-02T00:00:00Z' }]);
    await server.rapport.core.pipeline.drain();
    await send(server, [{ type: 'identify', userId: 'bo', traits: { city: 'Lyon', createdAt: '2020' }, timestamp: '2026-02-01T00:00:00Z' }]);
    await server.rapport.core.pipeline.drain();
    const traits = await server.rapport.core.profiles.traits(db(), (await profileOf('user_id:bo'))!);
    expect(Object.fromEntries(traits.map((t) => [t.name, JSON.parse(t.value)]))).toEqual({ city: 'Paris', createdAt: '2020' });
  });

  it('keeps two people apart on a shared device and drains the lag to zero', async () => {
    await send(server, [
      { type: 'identify', userId: 'cy', anonymousId: 'kiosk' },
      { type: 'identify', userId: 'di', anonymousId: 'kiosk' },
    ]);
    await server.rapport.core.pipeline.drain();
    expect(await profileOf('user_id:cy')).not.toBe(await profileOf('user_id:di'));
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^rapport_pipeline_lag_events 0$/m);
  });
});
