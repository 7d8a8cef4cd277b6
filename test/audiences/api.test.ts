import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupWorkspace, type SetupResult } from '../../src/workflows/setup-workspace.js';
import { ENGINES } from '../support/engines.js';
import { logRows, startServer, type TestServer } from '../support/server.js';

interface Answer {
  status: number;
  body: any;
}

const ORDERS = { key: 'orders', name: 'Orders', kind: 'count', event: { name: 'Order Completed' } };
const BUYERS = { key: 'buyers', name: 'Buyers', condition: { computed_trait: 'orders', op: 'gte', value: 1 } };

describe.each(ENGINES)('the audiences API on $name', (engine) => {
  let server: TestServer;
  let other: SetupResult;

  const drain = () => server.rapport.core.pipeline.drain();
  const call = async (method: string, path: string, body?: unknown, apiKey = server.setup.apiKey): Promise<Answer> => {
    const headers: Record<string, string> = { authorization: `Bearer ${apiKey}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(server.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  const expectStatus = (answer: Answer, status: number) => {
    expect(answer.status, JSON.stringify(answer.body)).toBe(status);
    return answer.body;
  };
  const send = async (batch: Record<string, unknown>[], writeKey = server.setup.writeKey) => {
    const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ writeKey, batch }) });
    expect(res.status).toBe(200);
    await drain();
  };
  const profileIdOf = async (userId: string) => {
    const found = expectStatus(await call('GET', `/api/v1/profiles?q=${encodeURIComponent(`user_id:${userId}`)}`), 200);
    return found.data[0].id as string;
  };
  const computedTraitsOf = async (userId: string) => {
    const res = await fetch(`${server.url}/v1/spaces/${server.setup.workspaceId}/collections/users/profiles/user_id:${userId}/traits?class=computed_trait&limit=200`, {
      headers: { authorization: `Basic ${Buffer.from(`${server.setup.apiKey}:`).toString('base64')}` },
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { traits: Record<string, unknown> }).traits;
  };
  const buy = (userId: string, total: number) => ({ type: 'track', userId, event: 'Order Completed', properties: { total } });

  beforeAll(async () => {
    server = await startServer(engine);
    await server.rapport.core.pipeline.stop();
    other = await setupWorkspace(
      { access: server.rapport.core.access.service, collect: server.rapport.core.collect.service },
      { workspace: 'Globex', email: 'owner@globex.test', password: 'another correct horse battery' },
    );
    await send([
      ...['ann', 'bea', 'cid', 'dot', 'eve'].map((userId) => ({ type: 'identify', userId, traits: { plan: userId === 'eve' ? 'free' : 'pro' } })),
      buy('ann', 40), buy('ann', 15), buy('bea', 25), buy('cid', 5), buy('dot', 60),
    ]);
  });
  afterAll(() => server?.close());

  describe('computed traits', () => {
    it('creates a computed trait as pending, then reports it ready once computed from past events', async () => {
      const created = expectStatus(await call('POST', '/api/v1/computed-traits', { key: 'spent', name: 'Spent', kind: 'sum', event: { name: 'Order Completed' }, property: 'total' }), 201);
      expect(created).toMatchObject({ key: 'spent', name: 'Spent', collection: 'users', kind: 'sum', event: { name: 'Order Completed' }, property: 'total', status: 'pending', computedAt: null });
      expect(typeof created.id).toBe('string');
      expect(new Date(created.createdAt).toISOString()).toBe(created.createdAt);
      await drain();
      const got = expectStatus(await call('GET', '/api/v1/computed-traits/spent'), 200);
      expect(got).toMatchObject({ id: created.id, key: 'spent', status: 'ready' });
      expect(got.computedAt).not.toBeNull();
      expect((await computedTraitsOf('ann')).spent).toBe(55);
    });

    it('lists the workspace\'s computed traits by key', async () => {
      expectStatus(await call('POST', '/api/v1/computed-traits', ORDERS), 201);
      await drain();
      const list = expectStatus(await call('GET', '/api/v1/computed-traits'), 200);
      expect(list.data.map((t: { key: string }) => t.key)).toEqual(['orders', 'spent']);
      expect(list.data[0]).toMatchObject({ kind: 'count', status: 'ready' });
    });

    it('changes a computed trait: pending again, then recomputed for every profile', async () => {
      const changed = expectStatus(await call('PUT', '/api/v1/computed-traits/spent', { name: 'Biggest order', kind: 'max', event: { name: 'Order Completed' }, property: 'total' }), 200);
      expect(changed).toMatchObject({ key: 'spent', name: 'Biggest order', kind: 'max', status: 'pending' });
      await drain();
      expect(expectStatus(await call('GET', '/api/v1/computed-traits/spent'), 200).status).toBe('ready');
      expect((await computedTraitsOf('ann')).spent).toBe(40);
      expect((await computedTraitsOf('dot')).spent).toBe(60);
    });

    it('deletes a computed trait and its values', async () => {
      expect((await call('DELETE', '/api/v1/computed-traits/spent')).status).toBe(204);
      expect((await call('GET', '/api/v1/computed-traits/spent')).status).toBe(404);
      expect(await computedTraitsOf('ann')).toEqual({ orders: 2 });
    });

    it('keeps a computed trait\'s collection: a change of collection is refused', async () => {
      const answer = await call('PUT', '/api/v1/computed-traits/orders', { ...ORDERS, collection: 'accounts' });
      expect(expectStatus(answer, 400).error.message).toMatch(/collection of a computed trait cannot change/);
    });
  });

  describe('audiences', () => {
    it('creates an audience as pending with no members, then computes it from the profiles as they are', async () => {
      const created = expectStatus(await call('POST', '/api/v1/audiences', { ...BUYERS, description: 'Bought at least once' }), 201);
      expect(created).toMatchObject({ key: 'buyers', name: 'Buyers', description: 'Bought at least once', collection: 'users', condition: BUYERS.condition, status: 'pending', size: 0, computedAt: null });
      await drain();
      const got = expectStatus(await call('GET', '/api/v1/audiences/buyers'), 200);
      expect(got).toMatchObject({ id: created.id, status: 'ready', size: 4 });
      expect(got.computedAt).not.toBeNull();
    });

    it('lists the workspace\'s audiences with their sizes', async () => {
      expectStatus(await call('POST', '/api/v1/audiences', { key: 'free_plan', name: 'Free plan', condition: { trait: 'plan', op: 'eq', value: 'free' } }), 201);
      await drain();
      const list = expectStatus(await call('GET', '/api/v1/audiences'), 200);
      expect(list.data.map((a: { key: string; size: number }) => [a.key, a.size])).toEqual([['buyers', 4], ['free_plan', 1]]);
    });

    it('previews a condition\'s size and a sorted sample of members without saving it', async () => {
      const preview = expectStatus(await call('POST', '/api/v1/audiences/preview', { condition: { all: [{ trait: 'plan', op: 'eq', value: 'pro' }, { event: { name: 'Order Completed', where: [{ property: 'total', op: 'gt', value: 20 }] } }] } }), 200);
      expect(preview.size).toBe(3);
      expect(preview.sample).toEqual([await profileIdOf('ann'), await profileIdOf('bea'), await profileIdOf('dot')].sort());
      expect(expectStatus(await call('GET', '/api/v1/audiences'), 200).data).toHaveLength(2);
    });

    it('previews an accounts condition over accounts only', async () => {
      const preview = expectStatus(await call('POST', '/api/v1/audiences/preview', { collection: 'accounts', condition: { trait: 'plan', op: 'exists' } }), 200);
      expect(preview).toEqual({ size: 0, sample: [] });
    });

    it('pages through the members by profile id with a cursor', async () => {
      const ids = await Promise.all(['ann', 'bea', 'cid', 'dot'].map(profileIdOf));
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: { data: { profileId: string; enteredAt: string }[]; nextCursor: string | null } = expectStatus(
          await call('GET', `/api/v1/audiences/buyers/members?limit=3${cursor ? `&cursor=${cursor}` : ''}`), 200);
        expect(page.data.length).toBeLessThanOrEqual(3);
        for (const m of page.data) expect(new Date(m.enteredAt).toISOString()).toBe(m.enteredAt);
        seen.push(...page.data.map((m) => m.profileId));
        cursor = page.nextCursor;
        pages++;
      } while (cursor);
      expect(pages).toBe(2);
      expect(seen).toEqual([...ids].sort());
    });

    it('changes an audience: pending again, then recomputed, with members entering and leaving', async () => {
      const changed = expectStatus(await call('PUT', '/api/v1/audiences/buyers', { name: 'Big buyers', condition: { computed_trait: 'orders', op: 'gte', value: 2 } }), 200);
      expect(changed).toMatchObject({ key: 'buyers', name: 'Big buyers', status: 'pending' });
      await drain();
      const got = expectStatus(await call('GET', '/api/v1/audiences/buyers'), 200);
      expect(got).toMatchObject({ status: 'ready', size: 1, condition: { computed_trait: 'orders', op: 'gte', value: 2 } });
      const members = expectStatus(await call('GET', '/api/v1/audiences/buyers/members'), 200);
      expect(members.data.map((m: { profileId: string }) => m.profileId)).toEqual([await profileIdOf('ann')]);
    });

    it('shows the membership history newest first, each stint with when it was entered and exited', async () => {
      const history = expectStatus(await call('GET', '/api/v1/audiences/buyers/history'), 200);
      expect(history.data).toHaveLength(4);
      const closed = history.data.filter((h: { exitedAt: string | null }) => h.exitedAt !== null);
      expect(closed).toHaveLength(3);
      for (const h of closed) expect(h.exitReason).toBe('condition');
      const bea = await profileIdOf('bea');
      const hers = expectStatus(await call('GET', `/api/v1/audiences/buyers/history?profileId=${bea}`), 200);
      expect(hers.data).toEqual([{ profileId: bea, enteredAt: expect.any(String), exitedAt: expect.any(String), exitReason: 'condition' }]);
      expect(Date.parse(hers.data[0].exitedAt)).toBeGreaterThanOrEqual(Date.parse(hers.data[0].enteredAt));
    });

    it('pages through the history with a cursor, without repeating or skipping a stint', async () => {
      const all = expectStatus(await call('GET', '/api/v1/audiences/buyers/history'), 200).data;
      const first = expectStatus(await call('GET', '/api/v1/audiences/buyers/history?limit=3'), 200);
      expect(first.nextCursor).not.toBeNull();
      const second = expectStatus(await call('GET', `/api/v1/audiences/buyers/history?limit=3&cursor=${first.nextCursor}`), 200);
      expect(second.nextCursor).toBeNull();
      expect([...first.data, ...second.data]).toEqual(all);
    });

    it('recomputes an audience on request (202), leaving members that still qualify untouched', async () => {
      const before = (await logRows(server)).length;
      expect(expectStatus(await call('POST', '/api/v1/audiences/buyers/recompute'), 202)).toEqual({ status: 'pending' });
      expect(expectStatus(await call('GET', '/api/v1/audiences/buyers'), 200).status).toBe('pending');
      await drain();
      expect(expectStatus(await call('GET', '/api/v1/audiences/buyers'), 200)).toMatchObject({ status: 'ready', size: 1 });
      expect((await logRows(server)).slice(before).filter((r) => String(r.payload.event).startsWith('Audience '))).toEqual([]);
    });

    it('deletes an audience (204) without announcing its members\' exit', async () => {
      expectStatus(await call('POST', '/api/v1/audiences', { key: 'doomed', name: 'Doomed', condition: { trait: 'plan', op: 'exists' } }), 201);
      await drain();
      expect(expectStatus(await call('GET', '/api/v1/audiences/doomed'), 200).size).toBe(5);
      const before = (await logRows(server)).length;
      expect((await call('DELETE', '/api/v1/audiences/doomed')).status).toBe(204);
      expect((await call('GET', '/api/v1/audiences/doomed')).status).toBe(404);
      await drain();
      expect((await logRows(server)).slice(before).filter((r) => r.payload.event === 'Audience Exited')).toEqual([]);
    });
  });

  describe('refusals', () => {
    const routes: [string, string, unknown?][] = [
      ['GET', '/api/v1/computed-traits'],
      ['POST', '/api/v1/computed-traits', ORDERS],
      ['GET', '/api/v1/computed-traits/orders'],
      ['PUT', '/api/v1/computed-traits/orders', ORDERS],
      ['DELETE', '/api/v1/computed-traits/orders'],
      ['GET', '/api/v1/audiences'],
      ['POST', '/api/v1/audiences', BUYERS],
      ['POST', '/api/v1/audiences/preview', { condition: BUYERS.condition }],
      ['GET', '/api/v1/audiences/buyers'],
      ['PUT', '/api/v1/audiences/buyers', BUYERS],
      ['DELETE', '/api/v1/audiences/buyers'],
      ['POST', '/api/v1/audiences/buyers/recompute'],
      ['GET', '/api/v1/audiences/buyers/members'],
      ['GET', '/api/v1/audiences/buyers/history'],
    ];

    it('refuses every route without an API key (401)', async () => {
      for (const [method, path, body] of routes) {
        const res = await fetch(server.url + path, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
        expect(res.status, `${method} ${path}`).toBe(401);
      }
      expect(expectStatus(await call('GET', '/api/v1/audiences/buyers'), 200).name).toBe('Big buyers');
    });

    it('refuses a source\'s write key in place of an API key (401)', async () => {
      expect((await call('GET', '/api/v1/audiences', undefined, server.setup.writeKey)).status).toBe(401);
    });

    it.each<[string, string, unknown, RegExp]>([
      ['an unknown operator', '/api/v1/audiences', { key: 'x', name: 'X', condition: { trait: 'plan', op: 'equals', value: 'pro' } }, /op must be equal to one of the allowed values/],
      ['a test without its value', '/api/v1/audiences', { key: 'x', name: 'X', condition: { trait: 'plan', op: 'eq' } }, /must have required property 'value'/],
      ['an unknown computed trait', '/api/v1/audiences', { key: 'x', name: 'X', condition: { computed_trait: 'nope', op: 'exists' } }, /No computed trait "nope"/],
      ['an unknown audience', '/api/v1/audiences', { key: 'x', name: 'X', condition: { audience: 'nope' } }, /No audience "nope"/],
      ['an audience made of itself', '/api/v1/audiences', { key: 'x', name: 'X', condition: { audience: 'x' } }, /No audience "x"/],
      ['an account condition inside an accounts audience', '/api/v1/audiences', { key: 'x', name: 'X', collection: 'accounts', condition: { account: { trait: 'plan', op: 'exists' } } }, /account condition belongs in an audience of users/],
      ['an account condition inside another', '/api/v1/audiences', { key: 'x', name: 'X', condition: { account: { account: { trait: 'plan', op: 'exists' } } } }, /not inside another account condition/],
      ['a users computed trait in an accounts audience', '/api/v1/audiences', { key: 'x', name: 'X', collection: 'accounts', condition: { computed_trait: 'orders', op: 'exists' } }, /Computed trait "orders" is of users, not accounts/],
      ['a users audience in an accounts audience', '/api/v1/audiences', { key: 'x', name: 'X', collection: 'accounts', condition: { audience: 'buyers' } }, /Audience "buyers" is of users, not accounts/],
      ['a key that is not snake_case', '/api/v1/audiences', { key: 'Big Buyers', name: 'X', condition: { trait: 'plan', op: 'exists' } }, /key must match pattern/],
      ['an empty condition list', '/api/v1/audiences', { key: 'x', name: 'X', condition: { all: [] } }, /must NOT have fewer than 1 items/],
      ['a score without rules', '/api/v1/computed-traits', { key: 'x', name: 'X', kind: 'score' }, /A score needs rules/],
      ['a score with an event', '/api/v1/computed-traits', { key: 'x', name: 'X', kind: 'score', event: { name: 'A' }, rules: [{ event: { name: 'A' }, points: 1 }] }, /A score takes rules, not event or property/],
      ['a sum without the property it sums', '/api/v1/computed-traits', { key: 'x', name: 'X', kind: 'sum', event: { name: 'Order Completed' } }, /Kind "sum" needs the event property it aggregates/],
      ['a count with a property', '/api/v1/computed-traits', { key: 'x', name: 'X', kind: 'count', event: { name: 'Order Completed' }, property: 'total' }, /Kind "count" counts events; it takes no property/],
      ['a kind without its event filter', '/api/v1/computed-traits', { key: 'x', name: 'X', kind: 'count' }, /Kind "count" needs an event filter/],
      ['rules on a kind that is not a score', '/api/v1/computed-traits', { key: 'x', name: 'X', kind: 'count', event: { name: 'A' }, decay: { half_life_days: 7 } }, /rules and decay are for kind "score"/],
      ['an unknown kind', '/api/v1/computed-traits', { key: 'x', name: 'X', kind: 'median', event: { name: 'A' }, property: 'total' }, /kind must be equal to one of the allowed values/],
      ['a window of zero days', '/api/v1/computed-traits', { key: 'x', name: 'X', kind: 'count', event: { name: 'A' }, within: { last: 0, unit: 'days' } }, /last must be >= 1/],
    ])('refuses %s with a 400 that says what is wrong', async (_, path, body, message) => {
      const refused = expectStatus(await call('POST', path, body), 400);
      expect(refused.error.code).toBe('validation_error');
      expect(refused.error.message).toMatch(message);
      expect((await call('GET', `${path}/x`)).status).toBe(404);
    });

    it('refuses an edit that would make audiences depend on each other in a cycle', async () => {
      expectStatus(await call('POST', '/api/v1/audiences', { key: 'loyal', name: 'Loyal', condition: { audience: 'buyers' } }), 201);
      const refused = expectStatus(await call('PUT', '/api/v1/audiences/buyers', { name: 'Big buyers', condition: { any: [{ audience: 'loyal' }, { trait: 'plan', op: 'exists' }] } }), 400);
      expect(refused.error.message).toMatch(/Audience "(buyers|loyal)" depends on itself through other audiences/);
      expect(expectStatus(await call('GET', '/api/v1/audiences/buyers'), 200).condition).toEqual({ computed_trait: 'orders', op: 'gte', value: 2 });
    });

    it('refuses a second computed trait or audience with a key in use (409)', async () => {
      expect(expectStatus(await call('POST', '/api/v1/computed-traits', ORDERS), 409).error.message).toMatch(/A computed trait "orders" exists; PUT/);
      expect(expectStatus(await call('POST', '/api/v1/audiences', BUYERS), 409).error.message).toMatch(/An audience "buyers" exists; PUT/);
    });

    it('refuses to delete a computed trait or an audience another audience uses (409), and keeps them', async () => {
      expect(expectStatus(await call('DELETE', '/api/v1/computed-traits/orders'), 409).error.message).toMatch(/Audiences buyers use computed trait "orders"/);
      expect(expectStatus(await call('DELETE', '/api/v1/audiences/buyers'), 409).error.message).toMatch(/Audiences loyal use audience "buyers"/);
      expect((await call('GET', '/api/v1/computed-traits/orders')).status).toBe(200);
      expect((await call('GET', '/api/v1/audiences/buyers')).status).toBe(200);
      expect((await call('DELETE', '/api/v1/audiences/loyal')).status).toBe(204);
    });

    it('answers 404 for a key that does not exist, on every route that takes one', async () => {
      for (const [method, path, body] of routes.filter(([, p]) => /orders|buyers/.test(p))) {
        const missing = path.replace('orders', 'nope').replace('buyers', 'nope');
        const answer = await call(method, missing, body);
        expect(answer.status, `${method} ${missing}`).toBe(404);
        expect(answer.body.error.code).toBe('not_found');
      }
    });
  });

  describe('workspaces', () => {
    it('shows another workspace none of these computed traits and audiences', async () => {
      expect(expectStatus(await call('GET', '/api/v1/computed-traits', undefined, other.apiKey), 200).data).toEqual([]);
      expect(expectStatus(await call('GET', '/api/v1/audiences', undefined, other.apiKey), 200).data).toEqual([]);
      for (const path of ['/api/v1/computed-traits/orders', '/api/v1/audiences/buyers', '/api/v1/audiences/buyers/members', '/api/v1/audiences/buyers/history']) {
        expect((await call('GET', path, undefined, other.apiKey)).status, path).toBe(404);
      }
    });

    it('lets another workspace change or delete none of them', async () => {
      expect((await call('PUT', '/api/v1/computed-traits/orders', { ...ORDERS, kind: 'unique_count', property: 'total' }, other.apiKey)).status).toBe(404);
      expect((await call('DELETE', '/api/v1/computed-traits/orders', undefined, other.apiKey)).status).toBe(404);
      expect((await call('PUT', '/api/v1/audiences/buyers', { ...BUYERS, condition: { trait: 'plan', op: 'exists' } }, other.apiKey)).status).toBe(404);
      expect((await call('DELETE', '/api/v1/audiences/buyers', undefined, other.apiKey)).status).toBe(404);
      expect((await call('POST', '/api/v1/audiences/buyers/recompute', undefined, other.apiKey)).status).toBe(404);
      expect(expectStatus(await call('GET', '/api/v1/computed-traits/orders'), 200)).toMatchObject({ kind: 'count', status: 'ready' });
      expect(expectStatus(await call('GET', '/api/v1/audiences/buyers'), 200)).toMatchObject({ status: 'ready', size: 1 });
    });

    it('keeps keys per workspace, and computes another workspace\'s audience over its own profiles only', async () => {
      expectStatus(await call('POST', '/api/v1/computed-traits', ORDERS, other.apiKey), 201);
      expectStatus(await call('POST', '/api/v1/audiences', { ...BUYERS, condition: { computed_trait: 'orders', op: 'gte', value: 1 } }, other.apiKey), 201);
      await send([buy('zed', 1)], other.writeKey);
      const theirs = expectStatus(await call('GET', '/api/v1/audiences/buyers', undefined, other.apiKey), 200);
      expect(theirs).toMatchObject({ status: 'ready', size: 1 });
      expect(expectStatus(await call('POST', '/api/v1/audiences/preview', { condition: { trait: 'plan', op: 'exists' } }, other.apiKey), 200).size).toBe(0);
      expect(expectStatus(await call('GET', '/api/v1/audiences/buyers'), 200)).toMatchObject({ status: 'ready', size: 1 });
    });
  });

  it('publishes every route and the shared definition schemas in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${server.url}/api/docs/json`)).json()) as {
      paths: Record<string, Record<string, { security?: unknown[]; requestBody?: any }>>;
      components: { schemas: Record<string, { title?: string; oneOf?: unknown[] }> };
    };
    const expected: Record<string, string[]> = {
      '/api/v1/computed-traits': ['get', 'post'],
      '/api/v1/computed-traits/{key}': ['get', 'put', 'delete'],
      '/api/v1/audiences': ['get', 'post'],
      '/api/v1/audiences/preview': ['post'],
      '/api/v1/audiences/{key}': ['get', 'put', 'delete'],
      '/api/v1/audiences/{key}/recompute': ['post'],
      '/api/v1/audiences/{key}/members': ['get'],
      '/api/v1/audiences/{key}/history': ['get'],
    };
    for (const [path, methods] of Object.entries(expected)) {
      for (const method of methods) {
        expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
        expect(doc.paths[path][method].security, `${method} ${path}`).toEqual([{ apiKey: [] }, { session: [] }]);
      }
    }
    const byTitle = Object.fromEntries(Object.entries(doc.components.schemas).map(([ref, s]) => [s.title, ref]));
    for (const title of ['rapport.condition', 'rapport.event-filter', 'rapport.window']) expect(byTitle[title], title).toBeDefined();
    expect(doc.components.schemas[byTitle['rapport.condition']].oneOf!.length).toBeGreaterThan(10);
    const body = doc.paths['/api/v1/audiences'].post.requestBody.content['application/json'].schema;
    expect(body.properties.condition.$ref).toBe(`#/components/schemas/${byTitle['rapport.condition']}`);
  });
});
