import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

interface Listed { id: string; email: string | null; name: string | null; createdAt: string; computedTraits: Record<string, unknown>; audiences: { id: string; key: string; name: string; enteredAt: string }[] }

/**
 * Twelve people (u0 … u11) with orders, pricing visits and plans; a score over them that goes negative; an
 * anonymous buyer who is not a contact; a visitor whose orders arrive before she logs in as u9 (a merge).
 */
const ORDERS: Record<string, { category: string }[]> = {
  u0: [{ category: 'books' }, { category: 'books' }, { category: 'books' }],
  u1: [{ category: 'music' }],
  u2: [{ category: 'books' }, { category: 'books' }],
  u3: [{ category: '42' }, { category: '42' }],
  u5: Array.from({ length: 5 }, () => ({ category: 'garden' })),
  u6: [{ category: 'music' }],
  u8: [{ category: 'books' }, { category: 'books' }],
};
const PRICING: Record<string, number> = { u1: 3, u4: 1, u6: 1, u7: 2 };
const UNSUBSCRIBED = ['u7', 'u8'];
const PLANS: Record<string, string> = { u2: 'pro', u4: 'pro' };
// u10 and u11 do nothing: no score.
const PEOPLE = Array.from({ length: 12 }, (_, i) => `u${i}`);

describe.each(ENGINES)('computed traits, scores and audiences on contacts and companies, on $name', (engine) => {
  let server: TestServer;
  const call = (method: string, path: string, body?: unknown) => server.call(method, `/api/v1${path}`, body);
  const ok = async (method: string, path: string, body?: unknown, status = 200) => {
    const r = await call(method, path, body);
    expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).toBe(status);
    return r.body;
  };
  const send = async (batch: Record<string, unknown>[]) => {
    const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, batch }) });
    expect(res.status).toBe(200);
    await server.rapport.core.pipeline.drain();
  };
  const ready = () => until('every definition to be computed', async () => {
    const lists = [(await ok('GET', '/computed-traits')).data, (await ok('GET', '/audiences')).data] as { status: string }[][];
    return lists.flat().every((d) => d.status === 'ready');
  });
  /** Every page of a list, following nextCursor; fails on a contact listed twice. */
  const all = async (path: string, limit = 2): Promise<Listed[]> => {
    const out: Listed[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      // A cursor that does not move on would page for ever.
      expect(++pages, 'pages').toBeLessThan(100);
      const sep = path.includes('?') ? '&' : '?';
      const page: { data: Listed[]; nextCursor: string | null } = await ok('GET', `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.data.length).toBeLessThanOrEqual(limit);
      out.push(...page.data);
      cursor = page.nextCursor;
    } while (cursor);
    expect(new Set(out.map((c) => c.id)).size, 'each contact once').toBe(out.length);
    return out;
  };
  const ids: Record<string, string> = {};
  const userOf = (c: Listed) => c.email!.split('@')[0];
  const users = (list: Listed[]) => list.map(userOf);

  beforeAll(async () => {
    server = await startServer(engine);
    // Defined before the events: kept current by the pipeline as they arrive.
    await ok('POST', '/computed-traits', { key: 'orders', name: 'Orders', kind: 'count', event: { name: 'Order Completed' } }, 201);
    await ok('POST', '/computed-traits', {
      key: 'engagement', name: 'Engagement', kind: 'score',
      rules: [
        { event: { name: 'Order Completed' }, points: 10 }, { event: { type: 'page', name: 'Pricing' }, points: 2.5 },
        { event: { name: 'Unsubscribed' }, points: -30 }, { trait: { trait: 'plan', op: 'eq', value: 'pro' }, points: 5 },
      ],
    }, 201);
    await ok('POST', '/audiences', { key: 'buyers', name: 'Buyers', condition: { computed_trait: 'orders', op: 'gte', value: 1 } }, 201);
    await ready();
    const t0 = Date.UTC(2026, 10, 1);
    const at = (i: number) => new Date(t0 + i * 60_000).toISOString();
    await send([
      ...PEOPLE.map((u, i) => ({ type: 'identify', userId: u, traits: { email: `${u}@example.com`, name: `Person ${u}`, plan: PLANS[u] ?? 'free' }, timestamp: at(i) })),
      ...Object.entries(ORDERS).flatMap(([u, orders]) => orders.map((p) => ({ type: 'track', userId: u, event: 'Order Completed', properties: p, timestamp: at(20) }))),
      ...Object.entries(PRICING).flatMap(([u, n]) => Array.from({ length: n }, () => ({ type: 'page', userId: u, name: 'Pricing', timestamp: at(21) }))),
      ...UNSUBSCRIBED.map((u) => ({ type: 'track', userId: u, event: 'Unsubscribed', timestamp: at(22) })),
      // Not a contact: no email, no user id.
      { type: 'track', anonymousId: 'stranger', event: 'Order Completed', properties: { category: 'books' }, timestamp: at(23) },
      // Orders before logging in: her visitor profile merges into u9's.
      { type: 'track', anonymousId: 'visitor-9', event: 'Order Completed', properties: { category: 'music' }, timestamp: at(24) },
      { type: 'track', anonymousId: 'visitor-9', event: 'Order Completed', properties: { category: 'music' }, timestamp: at(25) },
    ]);
    await send([{ type: 'identify', anonymousId: 'visitor-9', userId: 'u9', timestamp: at(30) }]);
    // Defined after the events: computed from them by the backfill.
    await ok('POST', '/computed-traits', { key: 'favorite', name: 'Favourite category', kind: 'most_frequent', event: { name: 'Order Completed' }, property: 'category' }, 201);
    await ok('POST', '/audiences', { key: 'big_buyers', name: 'Big buyers', condition: { computed_trait: 'orders', op: 'gte', value: 3 } }, 201);
    await server.rapport.core.pipeline.drain();
    await ready();
    for (const c of await all('/crm/contacts', 50)) ids[userOf(c)] = c.id;
    // CRM fields on a few contacts, to combine with.
    await ok('PATCH', `/crm/contacts/${ids.u0}`, { ownerId: 'rep-1', lifecycleStage: 'customer' });
    await ok('PATCH', `/crm/contacts/${ids.u2}`, { ownerId: 'rep-1', lifecycleStage: 'lead' });
    await ok('PATCH', `/crm/contacts/${ids.u4}`, { ownerId: 'rep-1', lifecycleStage: 'lead' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('shows a contact\'s computed traits, score and audiences, in one contact and in the list', async () => {
    const audiences = new Map(((await ok('GET', '/audiences')).data as { id: string; key: string }[]).map((a) => [a.key, a.id]));
    const u0 = await ok('GET', `/crm/contacts/${ids.u0}`);
    expect(u0.computedTraits).toEqual({ engagement: 30, favorite: 'books', orders: 3 });
    expect(u0.audiences.map((a: { key: string }) => a.key)).toEqual(['big_buyers', 'buyers']);
    expect(u0.audiences[1]).toEqual({ id: audiences.get('buyers'), key: 'buyers', name: 'Buyers', enteredAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    // A negative score; a score without orders (2.5 points a pricing visit, 5 for the pro plan).
    expect((await ok('GET', `/crm/contacts/${ids.u7}`)).computedTraits).toEqual({ engagement: -25 });
    expect((await ok('GET', `/crm/contacts/${ids.u4}`)).computedTraits).toEqual({ engagement: 7.5 });
    // The visitor's orders count for u9 after the merge.
    expect((await ok('GET', `/crm/contacts/${ids.u9}`))).toMatchObject({ computedTraits: { orders: 2, engagement: 20, favorite: 'music' }, audiences: [{ key: 'buyers' }] });

    const listed = new Map((await all('/crm/contacts', 50)).map((c) => [userOf(c), c]));
    expect([...listed.keys()].sort()).toEqual([...PEOPLE].sort());
    expect(listed.get('u0')).toMatchObject({ computedTraits: u0.computedTraits, audiences: u0.audiences });
    expect(listed.get('u3')!.computedTraits).toEqual({ engagement: 20, favorite: '42', orders: 2 });
    expect(listed.get('u7')!.audiences).toEqual([]);
  });

  it('lists the members of an audience, by key or id, alone or with the CRM\'s filters', async () => {
    const buyers = ['u0', 'u1', 'u2', 'u3', 'u5', 'u6', 'u8', 'u9'];
    expect(users(await all('/crm/contacts?audience=buyers')).sort()).toEqual(buyers);
    const id = (await ok('GET', '/audiences/big_buyers')).id;
    expect(users(await all(`/crm/contacts?audience=${id}`)).sort()).toEqual(['u0', 'u5']);
    expect(users(await all('/crm/contacts?audience=buyers&ownerId=rep-1')).sort()).toEqual(['u0', 'u2']);
    expect(users(await all('/crm/contacts?audience=buyers&lifecycleStage=lead')).sort()).toEqual(['u2']);
    expect(users(await all('/crm/contacts?audience=buyers&q=u5')).sort()).toEqual(['u5']);
  });

  it('filters by a computed trait: has a value, a numeric range, an exact number or text', async () => {
    const list = async (query: string) => users(await all(`/crm/contacts?${query}`)).sort();
    expect(await list('computed=orders')).toEqual(['u0', 'u1', 'u2', 'u3', 'u5', 'u6', 'u8', 'u9']);
    expect(await list('computed=orders&computedMin=2&computedMax=3')).toEqual(['u0', 'u2', 'u3', 'u8', 'u9']);
    // Numerically: 10 is more than 9 (as text it would sort before it).
    expect(await list('computed=engagement&computedMin=10')).toEqual(['u0', 'u1', 'u2', 'u3', 'u5', 'u6', 'u9']);
    expect(await list('computed=engagement&computedMax=0')).toEqual(['u7', 'u8']);
    expect(await list('computed=engagement&computedMin=-25&computedMax=-25')).toEqual(['u7']);
    expect(await list('computed=orders&computedEq=2')).toEqual(['u2', 'u3', 'u8', 'u9']);
    expect(await list('computed=favorite&computedEq=books')).toEqual(['u0', 'u2', 'u8']);
    // "42" is text here: quoted, it is found; unquoted it is the number 42, which no one has.
    expect(await list(`computed=favorite&computedEq=${encodeURIComponent('"42"')}`)).toEqual(['u3']);
    expect(await list('computed=favorite&computedEq=42')).toEqual([]);
    const traitId = ((await ok('GET', '/computed-traits')).data as { id: string; key: string }[]).find((t) => t.key === 'orders')!.id;
    expect(await list(`computed=${traitId}&computedMin=3&ownerId=rep-1`)).toEqual(['u0']);
    expect(await list('computed=orders&computedMin=1&audience=big_buyers&lifecycleStage=customer')).toEqual(['u0']);
  });

  it('sorts by a score, highest first, those without one last (newest first), paging through each contact exactly once', async () => {
    const everyone = await all('/crm/contacts', 50);
    const value = (c: Listed) => c.computedTraits.engagement as number | undefined;
    const byId = (a: Listed, b: Listed) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
    const newest = (a: Listed, b: Listed) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : byId(a, b));
    const scored = everyone.filter((c) => value(c) !== undefined);
    const unscored = everyone.filter((c) => value(c) === undefined).sort(newest);
    expect(users(unscored).sort()).toEqual(['u10', 'u11']);

    const desc = await all('/crm/contacts?sort=computed:engagement', 3);
    expect(desc.map((c) => value(c))).toEqual([50, 30, 25, 20, 20, 17.5, 12.5, 7.5, -10, -25, undefined, undefined]);
    expect(desc.map((c) => c.id)).toEqual([...[...scored].sort((a, b) => value(b)! - value(a)! || byId(a, b)), ...unscored].map((c) => c.id));
    const asc = await all('/crm/contacts?sort=computed:engagement&order=asc', 4);
    expect(asc.map((c) => value(c))).toEqual([-25, -10, 7.5, 12.5, 17.5, 20, 20, 25, 30, 50, undefined, undefined]);
    expect(asc.map((c) => c.id)).toEqual([...[...scored].sort((a, b) => value(a)! - value(b)! || -byId(a, b)), ...unscored].map((c) => c.id));
    // Sorted by one computed trait, filtered by another and by an audience.
    const twoOrders = ['u2', 'u3', 'u9'].sort((a, b) => (ids[a] < ids[b] ? 1 : -1));
    expect(users(await all('/crm/contacts?sort=computed:orders&computed=engagement&computedMin=15&audience=buyers', 1))).toEqual(['u5', 'u0', ...twoOrders, 'u1']);
    // Sorted and filtered by the same score: its range only, no one without a score.
    expect((await all('/crm/contacts?sort=computed:engagement&computed=engagement&computedMax=20', 2)).map((c) => c.id))
      .toEqual(desc.filter((c) => value(c) !== undefined && value(c)! <= 20).map((c) => c.id));
    // Oldest first, by creation.
    expect((await all('/crm/contacts?order=asc', 5)).map((c) => c.id)).toEqual([...everyone].reverse().map((c) => c.id));
    // The page size does not change the order.
    expect((await all('/crm/contacts?sort=computed:engagement', 1)).map((c) => c.id)).toEqual(desc.map((c) => c.id));
  });

  it('keeps the sort current as values change', async () => {
    const before = users(await all('/crm/contacts?sort=computed:orders', 50));
    expect(before.slice(0, 2)).toEqual(['u5', 'u0']);
    await send([...Array.from({ length: 4 }, () => ({ type: 'track', userId: 'u1', event: 'Order Completed', properties: { category: 'music' } }))]);
    const after = users(await all('/crm/contacts?sort=computed:orders', 50));
    expect(after.slice(0, 2).sort()).toEqual(['u1', 'u5']);
    expect((await ok('GET', `/crm/contacts/${ids.u1}`)).computedTraits.orders).toBe(5);
    expect(users(await all('/crm/contacts?computed=orders&computedMin=4')).sort()).toEqual(['u1', 'u5']);
  });

  it('refuses a cursor from another sort or order, and filters it cannot apply', async () => {
    const first = await ok('GET', '/crm/contacts?limit=2');
    const byScore = await ok('GET', '/crm/contacts?limit=2&sort=computed:engagement');
    const cursor = (c: string) => encodeURIComponent(c);
    const refused = async (path: string, message?: RegExp) => {
      const r = await call('GET', path);
      expect(r.status, path).toBe(400);
      if (message) expect(r.body.error.message).toMatch(message);
    };
    await refused(`/crm/contacts?sort=computed:engagement&cursor=${cursor(first.nextCursor)}`, /sorted by createdAt desc/);
    await refused(`/crm/contacts?cursor=${cursor(byScore.nextCursor)}`, /sorted by computed:engagement desc/);
    await refused(`/crm/contacts?sort=computed:engagement&order=asc&cursor=${cursor(byScore.nextCursor)}`, /sorted by computed:engagement desc/);
    await refused(`/crm/contacts?sort=computed:orders&cursor=${cursor(byScore.nextCursor)}`);
    await refused('/crm/contacts?sort=computed:engagement&cursor=garbage');
    await refused('/crm/contacts?sort=name');
    await refused('/crm/contacts?sort=computed:nope', /no computed trait "nope"/);
    await refused('/crm/contacts?audience=nope', /no audience "nope"/);
    await refused('/crm/contacts?computedMin=3', /need computed/);
    await refused('/crm/contacts?computed=orders&computedMin=abc');
    await refused('/crm/contacts?computed=orders&computedMin=1&computedEq=2', /cannot be combined/);
    // The same cursor, with its own sort, still works.
    expect((await call('GET', `/crm/contacts?limit=2&sort=computed:engagement&cursor=${cursor(byScore.nextCursor)}`)).status).toBe(200);
  });

  it('saves a view of contacts by audience and score, and refuses one with a filter the list does not take', async () => {
    const query = { audience: 'buyers', computed: 'orders', computedMin: 2, sort: 'computed:engagement', order: 'asc' };
    expect((await ok('POST', '/crm/views', { object: 'contact', name: 'Repeat buyers, least engaged first', query }, 201)).query).toEqual(query);
    expect((await call('POST', '/crm/views', { object: 'contact', name: 'Bad', query: { sort: 'engagement' } })).status).toBe(400);
    expect((await call('POST', '/crm/views', { object: 'company', name: 'Big', query: { audience: 'big_accounts', sort: 'computed:seats' } })).status).toBe(201);
  });

  it('shows, filters and sorts companies by their own computed traits and audiences', async () => {
    await ok('POST', '/computed-traits', { key: 'seats', name: 'Seats', collection: 'accounts', kind: 'max', event: { type: 'group' }, property: 'seats' }, 201);
    await ok('POST', '/audiences', { key: 'big_accounts', name: 'Big accounts', collection: 'accounts', condition: { computed_trait: 'seats', op: 'gte', value: 20 } }, 201);
    await send([
      { type: 'group', userId: 'u0', groupId: 'acme', traits: { name: 'Acme', seats: 40 } },
      { type: 'group', userId: 'u1', groupId: 'globex', traits: { name: 'Globex', seats: 9 } },
      { type: 'group', userId: 'u2', groupId: 'initech', traits: { name: 'Initech', seats: 25 } },
      { type: 'group', userId: 'u3', groupId: 'hooli', traits: { name: 'Hooli' } },
      { type: 'group', userId: 'u1', groupId: 'globex', traits: { seats: 12 } },
    ]);
    await ready();
    const names = (list: { name: string }[]) => list.map((c) => c.name);
    const sorted = await all('/crm/companies?sort=computed:seats', 1) as unknown as { name: string; computedTraits: Record<string, unknown>; audiences: { key: string }[] }[];
    expect(names(sorted)).toEqual(['Acme', 'Initech', 'Globex', 'Hooli']);
    expect(sorted[0]).toMatchObject({ computedTraits: { seats: 40 }, audiences: [{ key: 'big_accounts', name: 'Big accounts' }] });
    expect(sorted[3]).toMatchObject({ computedTraits: {}, audiences: [] });
    expect(names(await all('/crm/companies?audience=big_accounts&sort=computed:seats&order=asc') as never).sort()).toEqual(['Acme', 'Initech'].sort());
    expect(names(await all('/crm/companies?audience=big_accounts&sort=computed:seats&order=asc') as never)).toEqual(['Initech', 'Acme']);
    expect(names(await all('/crm/companies?computed=seats&computedMax=30') as never).sort()).toEqual(['Globex', 'Initech']);
    const acme = sorted[0] as unknown as { id: string };
    expect((await ok('GET', `/crm/companies/${acme.id}`))).toMatchObject({ computedTraits: { seats: 40 }, audiences: [{ key: 'big_accounts' }] });
    // A trait or audience of people is not one of companies, and the other way round.
    expect((await call('GET', '/crm/companies?sort=computed:orders')).status).toBe(400);
    expect((await call('GET', '/crm/contacts?audience=big_accounts')).status).toBe(400);
  });
});

// Past 2,000 profiles in every filter's set, a page walks the sort's index and checks each profile against the
// filters, rather than starting from a set and sorting it: both ways must list the same contacts in the same order.
describe.each(ENGINES)('a sorted and filtered list past 2,000 contacts, on $name', (engine) => {
  let server: TestServer;
  const N = 2_100;
  const amount = (i: number) => ((i * 37) % 101) - 50;
  const call = (method: string, path: string, body?: unknown) => server.call(method, `/api/v1${path}`, body);
  const all = async (path: string): Promise<{ id: string; email: string; createdAt: string; computedTraits: Record<string, unknown> }[]> => {
    const out = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      expect(++pages, 'pages').toBeLessThan(20);
      const r = await call('GET', `${path}&limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      out.push(...r.body.data);
      cursor = r.body.nextCursor;
    } while (cursor);
    return out;
  };

  beforeAll(async () => {
    server = await startServer(engine);
    const batch = Array.from({ length: N }, (_, i) => [
      { type: 'identify', userId: `p${i}`, traits: { email: `p${i}@example.com` } },
      { type: 'track', userId: `p${i}`, event: 'Order Completed', properties: { amount: amount(i) } },
    ]).flat();
    for (let i = 0; i < batch.length; i += 1_000) {
      const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, batch: batch.slice(i, i + 1_000) }) });
      expect(res.status).toBe(200);
    }
    await server.rapport.core.pipeline.drain();
    expect((await call('POST', '/computed-traits', { key: 'spent', name: 'Spent', kind: 'sum', event: { name: 'Order Completed' }, property: 'amount' })).status).toBe(201);
    expect((await call('POST', '/audiences', { key: 'spenders', name: 'Spenders', condition: { computed_trait: 'spent', op: 'exists' } })).status).toBe(201);
    await server.rapport.core.pipeline.drain();
    await until('the audience', async () => (await call('GET', '/audiences/spenders')).body.status === 'ready');
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  it('lists every member by the value, walking the index, in the order a small set sorts them', async () => {
    const walked = await all('/crm/contacts?sort=computed:spent&audience=spenders');
    expect(walked).toHaveLength(N);
    expect(new Set(walked.map((c) => c.id)).size).toBe(N);
    const values = walked.map((c) => c.computedTraits.spent as number);
    expect(values).toEqual([...values].sort((a, b) => b - a));
    expect(walked.map((c) => c.computedTraits.spent)).toEqual(walked.map((c) => amount(Number(c.email.slice(1).split('@')[0]))));
    for (let i = 1; i < N; i++) if (values[i] === values[i - 1]) expect(walked[i].id < walked[i - 1].id).toBe(true);
    // 40 and more: a few hundred, started from their set.
    const few = await all('/crm/contacts?sort=computed:spent&computed=spent&computedMin=40');
    expect(few.length).toBeGreaterThan(100);
    expect(few.map((c) => c.id)).toEqual(walked.filter((c) => (c.computedTraits.spent as number) >= 40).map((c) => c.id));
    // Everyone with a value, newest first, walking the profiles.
    const newest = await all('/crm/contacts?computed=spent&computedMin=-50');
    expect(newest).toHaveLength(N);
    expect(newest.map((c) => c.createdAt)).toEqual([...newest.map((c) => c.createdAt)].sort().reverse());
    const ascending = await all('/crm/contacts?sort=computed:spent&order=asc&audience=spenders');
    expect(ascending.map((c) => c.id)).toEqual([...walked].reverse().map((c) => c.id));
  }, 60_000);
});
