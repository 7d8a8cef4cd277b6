import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { logRows, startServer, type TestServer } from '../support/server.js';

async function send(server: TestServer, batch: Record<string, unknown>[]) {
  const res = await fetch(`${server.url}/v1/batch`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${server.setup.writeKey}:`).toString('base64')}` },
    body: JSON.stringify({ batch }),
  });
  expect(res.status).toBe(200);
}

describe.each(ENGINES)('audiences and computed traits on $name', (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(engine);
    await server.rapport.core.pipeline.stop();
  });
  afterAll(() => server?.close());

  const drain = () => server.rapport.core.pipeline.drain();
  const post = async (path: string, body: unknown, status = 201) => {
    const res = await server.api(path, { method: 'POST', body: JSON.stringify(body) });
    const json = await res.json();
    expect(res.status, JSON.stringify(json)).toBe(status);
    return json;
  };
  const profileApi = async (userId: string, cls: string) => {
    const res = await fetch(`${server.url}/v1/spaces/${server.setup.workspaceId}/collections/users/profiles/user_id:${userId}/traits?class=${cls}&limit=200`, {
      headers: { authorization: `Basic ${Buffer.from(`${server.setup.apiKey}:`).toString('base64')}` },
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { traits: Record<string, unknown> }).traits;
  };

  it('backfills a computed trait from past events and keeps it current', async () => {
    const now = Date.now();
    await send(server, [
      { type: 'identify', userId: 'ada', traits: { plan: 'pro' } },
      { type: 'track', userId: 'ada', event: 'Order Completed', properties: { total: 30 }, timestamp: new Date(now - 3600_000).toISOString() },
      { type: 'track', userId: 'ada', event: 'Order Completed', properties: { total: 12.5 } },
    ]);
    await drain();
    await post('/api/v1/computed-traits', { key: 'revenue', name: 'Revenue', kind: 'sum', event: { name: 'Order Completed' }, property: 'total' });
    await post('/api/v1/computed-traits', { key: 'orders_7d', name: 'Orders, 7 days', kind: 'count', event: { name: 'Order Completed' }, within: { last: 7, unit: 'days' } });
    await drain();
    expect(await profileApi('ada', 'computed_trait')).toEqual({ orders_7d: 2, revenue: 42.5 });
    await send(server, [{ type: 'track', userId: 'ada', event: 'Order Completed', properties: { total: 7.5 } }]);
    await drain();
    expect(await profileApi('ada', 'computed_trait')).toEqual({ orders_7d: 3, revenue: 50 });
  });

  it('puts a profile in an audience when an event qualifies it, once, and announces it on the log', async () => {
    const created = await post('/api/v1/audiences', {
      key: 'pro_buyers', name: 'Pro buyers',
      condition: { all: [{ trait: 'plan', op: 'eq', value: 'pro' }, { event: { name: 'Order Completed' }, count: { op: 'at_least', value: 4 }, within: { last: 30, unit: 'days' } }] },
    });
    expect(created.status).toBe('pending');
    await drain();
    expect(await profileApi('ada', 'audience')).toEqual({});
    await send(server, [{ type: 'track', userId: 'ada', event: 'Order Completed', properties: { total: 1 } }]);
    await drain();
    expect(await profileApi('ada', 'audience')).toEqual({ pro_buyers: true });
    const entered = (await logRows(server)).filter((r) => r.payload.event === 'Audience Entered');
    expect(entered).toHaveLength(1);
    expect(entered[0].payload).toMatchObject({ userId: 'ada', properties: { audience_key: 'pro_buyers' } });
    const audience = await (await server.api('/api/v1/audiences/pro_buyers')).json();
    expect(audience).toMatchObject({ status: 'ready', size: 1 });

    await send(server, [{ type: 'identify', userId: 'ada', traits: { plan: 'free' } }]);
    await drain();
    expect(await profileApi('ada', 'audience')).toEqual({});
    const rows = await logRows(server);
    expect(rows.filter((r) => r.payload.event === 'Audience Exited')).toHaveLength(1);
    const history = await (await server.api('/api/v1/audiences/pro_buyers/history')).json();
    expect(history.data).toHaveLength(1);
    expect(history.data[0].exitedAt).not.toBeNull();
  });

  it('previews a condition with its size and a sample, and rejects a bad one with a clear error', async () => {
    const preview = await post('/api/v1/audiences/preview', { condition: { computed_trait: 'revenue', op: 'gt', value: 10 } }, 200);
    expect(preview.size).toBe(1);
    const bad = await post('/api/v1/audiences', { key: 'bad', name: 'Bad', condition: { computed_trait: 'nope', op: 'exists' } }, 400);
    expect(bad.error.message).toMatch(/No computed trait "nope"/);
  });

  it('re-decides both profiles when a split takes events away', async () => {
    await post('/api/v1/audiences', { key: 'repeat_viewers', name: 'Repeat viewers', condition: { event: { type: 'page', name: 'Pricing' }, count: { op: 'at_least', value: 2 } } });
    await send(server, [
      { type: 'page', anonymousId: 'tablet-7', name: 'Pricing' },
      { type: 'page', anonymousId: 'tablet-7', name: 'Pricing' },
      { type: 'identify', anonymousId: 'tablet-7', userId: 'cy' },
    ]);
    await drain();
    expect(await profileApi('cy', 'audience')).toEqual({ repeat_viewers: true });
    const profileId = (await server.rapport.database.db.selectFrom('identifiers').select('profile_id').where('key', '=', 'users|user_id:cy').executeTakeFirstOrThrow()).profile_id as string;
    const res = await server.api(`/api/v1/profiles/${profileId}/split`, { method: 'POST', body: JSON.stringify({ type: 'anonymous_id', value: 'tablet-7' }) });
    expect(res.status).toBe(201);
    const { newProfileId } = (await res.json()) as { newProfileId: string };
    expect(await profileApi('cy', 'audience')).toEqual({});
    const members = await (await server.api('/api/v1/audiences/repeat_viewers/members')).json();
    expect(members.data.map((m: { profileId: string }) => m.profileId)).toEqual([newProfileId]);
  });

  it('keeps numbers and booleans in a definition typed through the API', async () => {
    await send(server, [{ type: 'identify', userId: 'dee', traits: { age: 30, vip: true } }]);
    await drain();
    const created = await post('/api/v1/audiences', { key: 'thirty_vips', name: 'Thirty, VIP', condition: { all: [{ trait: 'age', op: 'eq', value: 30 }, { trait: 'vip', op: 'in', values: [true] }] } });
    expect(created.condition).toEqual({ all: [{ trait: 'age', op: 'eq', value: 30 }, { trait: 'vip', op: 'in', values: [true] }] });
    await drain();
    expect(await profileApi('dee', 'audience')).toMatchObject({ thirty_vips: true });
    expect((await post('/api/v1/audiences/preview', { condition: { trait: 'age', op: 'eq', value: '30' } }, 200)).size).toBe(0);
  });

  it('charts an audience day by day: entered, exited and size at the end of each day', async () => {
    const res = await server.api('/api/v1/audiences/pro_buyers/daily?days=3');
    expect(res.status).toBe(200);
    const { data } = (await res.json()) as { data: { day: string; entered: number; exited: number; size: number }[] };
    expect(data).toHaveLength(3);
    expect(data[2]).toEqual({ day: new Date().toISOString().slice(0, 10), entered: 1, exited: 1, size: 0 });
    expect(data[0]).toMatchObject({ entered: 0, exited: 0, size: 0 });
  });
});
