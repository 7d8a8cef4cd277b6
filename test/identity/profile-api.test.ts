import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';

describe.each(ENGINES)('the Segment-compatible Profile API on $name', (engine) => {
  let server: TestServer;
  let space: string;
  const get = (path: string, key = server.setup.apiKey) =>
    fetch(`${server.url}/v1/spaces/${space}/collections/${path}`, { headers: { authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` } });

  beforeAll(async () => {
    server = await startServer(engine);
    await server.rapport.core.pipeline.stop();
    space = server.setup.workspaceId;
    const batch = [
      { type: 'page', anonymousId: 'a-1', name: 'Home', timestamp: '2026-03-01T10:00:00Z', properties: { path: '/' } },
      { type: 'identify', userId: 'u-1', anonymousId: 'a-1', traits: { email: 'Eve@Example.com', name: 'Eve', plan: 'pro' }, timestamp: '2026-03-01T10:01:00Z' },
      { type: 'track', userId: 'u-1', event: 'Order Completed', properties: { total: 42 }, timestamp: '2026-03-01T10:02:00Z' },
      { type: 'track', userId: 'u-1', event: 'Viewed Pricing', timestamp: '2026-03-01T10:03:00Z' },
      { type: 'group', userId: 'u-1', groupId: 'acme', traits: { name: 'Acme', industry: 'Retail' }, timestamp: '2026-03-01T10:04:00Z' },
    ];
    const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, batch }) });
    expect(res.status).toBe(200);
    await server.rapport.core.pipeline.drain();
  });
  afterAll(() => server?.close());

  it('returns traits by any identifier of the profile, with a cursor', async () => {
    for (const ref of ['user_id:u-1', 'anonymous_id:a-1', 'email:eve@example.com', 'email:EVE@example.com']) {
      const res = await get(`users/profiles/${ref}/traits`);
      expect(res.status).toBe(200);
      expect(res.headers.get('request-id')).toBeTruthy();
      expect(await res.json()).toEqual({ traits: { email: 'Eve@Example.com', name: 'Eve', plan: 'pro' }, cursor: { url: expect.any(String), has_more: false, next: '' } });
    }
  });

  it('pages traits with limit and next, filters with include, and explains values with verbose', async () => {
    const first = await (await get('users/profiles/user_id:u-1/traits?limit=2')).json();
    expect(Object.keys(first.traits)).toEqual(['email', 'name']);
    expect(first.cursor).toMatchObject({ has_more: true, next: 'name' });
    const second = await (await get(`users/profiles/user_id:u-1/traits?limit=2&next=${first.cursor.next}`)).json();
    expect(second.traits).toEqual({ plan: 'pro' });
    const some = await (await get('users/profiles/user_id:u-1/traits?include=plan&verbose=true')).json();
    expect(some.traits).toEqual({ plan: { value: 'pro', source_id: server.setup.sourceId, updated_at: '2026-03-01T10:01:00.000Z' } });
    expect((await (await get('users/profiles/user_id:u-1/traits?class=audience')).json()).traits).toEqual({});
  });

  it('lists external ids, filtered by type', async () => {
    const body = await (await get('users/profiles/user_id:u-1/external_ids?include=user_id,anonymous_id')).json();
    expect(body.data.map((d: { type: string; id: string }) => `${d.type}:${d.id}`).sort()).toEqual(['anonymous_id:a-1', 'user_id:u-1']);
    expect(body.data[0]).toMatchObject({ collection: 'users', encoding: 'none', source_id: server.setup.sourceId, first_message_id: expect.any(String) });
  });

  it('lists events across the merge, newest first, with time range and name filters', async () => {
    const all = await (await get('users/profiles/user_id:u-1/events?limit=10')).json();
    expect(all.data.map((e: { event?: string; type: string }) => e.event ?? e.type)).toEqual(['group', 'Viewed Pricing', 'Order Completed', 'identify', 'Home']);
    const asc = await (await get('users/profiles/user_id:u-1/events?sort=asc&limit=2')).json();
    expect(asc.data.map((e: { type: string }) => e.type)).toEqual(['page', 'identify']);
    expect(asc.cursor.has_more).toBe(true);
    const ranged = await (await get('users/profiles/user_id:u-1/events?start=2026-03-01T10:01:30Z&end=2026-03-01T10:03:30Z&exclude=Viewed%20Pricing')).json();
    expect(ranged.data).toHaveLength(1);
    expect(ranged.data[0]).toMatchObject({ type: 'track', event: 'Order Completed', properties: { total: 42 }, source_id: server.setup.sourceId });
  });

  it('gives metadata and account links, and account traits from group calls', async () => {
    const meta = await (await get('users/profiles/user_id:u-1/metadata')).json();
    expect(meta.metadata).toMatchObject({ created_at: '2026-03-01T10:00:00.000Z', first_source_id: server.setup.sourceId, expires_at: null });
    const links = await (await get('users/profiles/user_id:u-1/links')).json();
    expect(links.data).toEqual([{ to_collection: 'accounts', external_ids: [expect.objectContaining({ type: 'group_id', id: 'acme', collection: 'accounts' })] }]);
    const account = await (await get('accounts/profiles/group_id:acme/traits')).json();
    expect(account.traits).toEqual({ name: 'Acme', industry: 'Retail' });
  });

  it("answers 404 in Segment's shape for an unknown profile or another workspace's space, and 401 without a key", async () => {
    const missing = await get('users/profiles/user_id:nobody/traits');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: { code: 'not_found', message: 'Profile was not found.' } });
    const other = await fetch(`${server.url}/v1/spaces/not-my-space/collections/users/profiles/user_id:u-1/traits`, {
      headers: { authorization: `Basic ${Buffer.from(`${server.setup.apiKey}:`).toString('base64')}` },
    });
    expect(other.status).toBe(404);
    expect((await get('users/profiles/user_id:u-1/traits', 'rk_wrong')).status).toBe(401);
    expect((await fetch(`${server.url}/v1/spaces/${space}/collections/users/profiles/user_id:u-1/traits`)).status).toBe(401);
    const writeKeyOnly = await get('users/profiles/user_id:u-1/traits', server.setup.writeKey);
    expect(writeKeyOnly.status).toBe(401);
  });
});
