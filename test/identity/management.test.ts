import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';

describe.each(ENGINES)('profiles, explain, split and identity rules on $name', (engine) => {
  let server: TestServer;
  const send = async (batch: Record<string, unknown>[]) => {
    const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, batch }) });
    expect(res.status).toBe(200);
    await server.rapport.core.pipeline.drain();
  };
  const json = async (path: string, init?: RequestInit) => {
    const res = await server.api(path, init);
    return { status: res.status, body: res.status === 204 ? null : await res.json() };
  };
  const find = async (ref: string) => (await json(`/api/v1/profiles?q=${encodeURIComponent(ref)}`)).body.data[0];

  beforeAll(async () => {
    server = await startServer(engine);
    await server.rapport.core.pipeline.stop();
    await send([
      { type: 'page', anonymousId: 'laptop', timestamp: '2026-04-01T08:00:00Z' },
      { type: 'identify', anonymousId: 'laptop', userId: 'fay', traits: { plan: 'free' }, timestamp: '2026-04-01T08:01:00Z' },
      { type: 'page', anonymousId: 'family-tablet', timestamp: '2026-04-01T09:00:00Z' },
      { type: 'identify', anonymousId: 'family-tablet', userId: 'fay', traits: { city: 'Oslo' }, timestamp: '2026-04-01T09:01:00Z' },
    ]);
  });
  afterAll(() => server?.close());

  it('finds profiles by identifier, by prefix and by trait, and lists them with a cursor', async () => {
    const fay = await find('user_id:fay');
    expect(fay.identifiers.map((i: { type: string; value: string }) => `${i.type}:${i.value}`).sort()).toEqual(['anonymous_id:family-tablet', 'anonymous_id:laptop', 'user_id:fay']);
    expect(fay.traits).toEqual({ plan: 'free', city: 'Oslo' });
    expect((await find('family')).id).toBe(fay.id);
    expect((await json('/api/v1/profiles?trait=city:Oslo')).body.data.map((p: { id: string }) => p.id)).toEqual([fay.id]);
    const page = await json('/api/v1/profiles?limit=1');
    expect(page.body.data).toHaveLength(1);
    expect(page.body.cursor.hasMore).toBe(false);
  });

  it('explains each identifier by the event or the merge that brought it', async () => {
    const fay = await find('user_id:fay');
    const { body } = await json(`/api/v1/profiles/${fay.id}/explain`);
    const reasons = Object.fromEntries(body.identifiers.map((i: { type: string; value: string; reason: unknown }) => [`${i.type}:${i.value}`, i.reason]));
    expect(reasons['anonymous_id:laptop']).toMatchObject({ kind: 'event' });
    expect(reasons['user_id:fay']).toMatchObject({ kind: 'event' });
    expect(reasons['anonymous_id:family-tablet']).toMatchObject({ kind: 'merge', linkedBy: 'One event carried user_id "fay" (on this profile) and anonymous_id "family-tablet" (on profile ' + reasons['anonymous_id:family-tablet'].fromProfileId + ').' });
    expect(body.history.map((h: { kind: string }) => h.kind)).toContain('merged');
  });

  it('splits a shared device off a profile, moving its events and rebuilding both profiles\' traits', async () => {
    const fay = await find('user_id:fay');
    const split = await json(`/api/v1/profiles/${fay.id}/split`, { method: 'POST', body: JSON.stringify({ type: 'anonymous_id', value: 'family-tablet' }) });
    expect(split.status).toBe(201);
    expect(split.body.movedEvents).toBe(2);
    const after = await find('user_id:fay');
    expect(after.id).toBe(fay.id);
    expect(after.identifiers).toHaveLength(2);
    expect(after.traits).toEqual({ plan: 'free' });
    const tablet = await find('anonymous_id:family-tablet');
    expect(tablet.id).toBe(split.body.newProfileId);
    expect(tablet.traits).toEqual({ city: 'Oslo' });
    const detail = await json(`/api/v1/profiles/${fay.id}`);
    expect(detail.body.mergeLog.find((m: { kind: string }) => m.kind === 'split')).toMatchObject({ rule: 'manual:split', otherProfileId: tablet.id });
    const timeline = await server.rapport.core.profiles.timeline(server.rapport.database.db, tablet.id);
    expect(timeline.map((t) => t.type)).toEqual(['page', 'identify']);
  });

  it('refuses to split the only identifier of a profile, or one it does not hold', async () => {
    const tablet = await find('anonymous_id:family-tablet');
    expect((await json(`/api/v1/profiles/${tablet.id}/split`, { method: 'POST', body: JSON.stringify({ type: 'anonymous_id', value: 'family-tablet' }) })).status).toBe(409);
    expect((await json(`/api/v1/profiles/${tablet.id}/split`, { method: 'POST', body: JSON.stringify({ type: 'email', value: 'x@y.z' }) })).status).toBe(404);
  });

  it('applies identity rules set through the API: a blocked value no longer links people', async () => {
    const rules = await json('/api/v1/identity/rules');
    expect(rules.body.data.find((r: { type: string }) => r.type === 'user_id')).toMatchObject({ priority: 1, limit: 1, custom: false });
    expect(rules.body.data.find((r: { type: string }) => r.type === 'anonymous_id')).toMatchObject({ limit: 5, windowDays: 7 });
    const put = await json('/api/v1/identity/rules/email', { method: 'PUT', body: JSON.stringify({ priority: 2, limit: 5, blocked: ['team@acme.com'] }) });
    expect(put.status).toBe(200);
    await send([
      { type: 'identify', anonymousId: 'g1', traits: { email: 'team@acme.com' } },
      { type: 'identify', anonymousId: 'g2', traits: { email: 'TEAM@acme.com' } },
    ]);
    expect((await find('anonymous_id:g1')).id).not.toBe((await find('anonymous_id:g2')).id);
    expect((await json('/api/v1/identity/rules/email', { method: 'PUT', body: JSON.stringify({ priority: 0, limit: 5 }) })).status).toBe(400);
    expect((await json('/api/v1/identity/rules/email', { method: 'DELETE' })).status).toBe(204);
  });

  it('keeps set-once traits at their first value', async () => {
    await json('/api/v1/profiles/settings', { method: 'PUT', body: JSON.stringify({ setOnceTraits: ['firstCampaign'] }) });
    await send([{ type: 'identify', userId: 'gus', traits: { firstCampaign: 'spring' }, timestamp: '2026-05-01T00:00:00Z' }]);
    await send([{ type: 'identify', userId: 'gus', traits: { firstCampaign: 'summer' }, timestamp: '2026-06-01T00:00:00Z' }]);
    expect((await find('user_id:gus')).traits).toEqual({ firstCampaign: 'spring' });
  });
});
