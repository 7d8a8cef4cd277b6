import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRapport } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/platform/config.js';
import { setupWorkspace } from '../../src/workflows/setup-workspace.js';
import { ENGINES, type Engine } from '../support/engines.js';
import { clientOf, logRows, type TestServer } from '../support/server.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const RECHECK_MS = 5 * MINUTE;

/** The clock the server reads: tests move it forward to let windows and decay age. */
const clock = { t: 0, now: () => clock.t };

/** Like startServer, with the clock above and without a running pipeline: each test drains it. */
async function startClockServer(engine: Engine): Promise<TestServer> {
  const store = await engine.create();
  const base = loadConfig({
    RAPPORT_DATA_DIR: store.dataDir, ...(store.databaseUrl ? { DATABASE_URL: store.databaseUrl } : {}), LOG_LEVEL: 'warn', RAPPORT_AUDIENCE_RECHECK_MS: String(RECHECK_MS),
  });
  const config: Config = { ...base, port: 0, host: '127.0.0.1', role: 'api' };
  const rapport = await createRapport(config, { clock });
  await rapport.app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(rapport.app.server.address() as AddressInfo).port}`;
  const setup = await setupWorkspace(
    { access: rapport.core.access.service, collect: rapport.core.collect.service },
    { workspace: 'Acme', email: 'owner@acme.test', password: 'correct horse battery staple' },
  );
  return {
    url, rapport, store, setup,
    ...clientOf(url, setup),
    async close() {
      await rapport.close();
      await store.drop();
    },
  };
}

const iso = (ms: number) => new Date(ms).toISOString();
const startOfDay = (ms: number) => Math.floor(ms / DAY) * DAY;

describe.each(ENGINES)('computed traits and audiences, event by event, on $name', (engine) => {
  let server: TestServer;

  beforeAll(async () => {
    clock.t = startOfDay(Date.now()) + 12 * HOUR;
    server = await startClockServer(engine);
  });
  afterAll(() => server?.close());

  const drain = () => server.rapport.core.pipeline.drain();
  const send = async (batch: Record<string, unknown>[]) => {
    const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, batch }) });
    expect(res.status).toBe(200);
    await drain();
  };
  const post = async (path: string, body: unknown) => {
    const res = await server.api(path, { method: 'POST', body: JSON.stringify(body) });
    const json = await res.json();
    expect(res.status, JSON.stringify(json)).toBe(201);
    return json;
  };
  const get = async (path: string) => {
    const res = await server.api(path);
    expect(res.status).toBe(200);
    return res.json();
  };
  /** The Profile API: computed traits (`class=computed_trait`) or audiences (`class=audience`) of a profile. */
  const profile = async (ref: string, cls: 'computed_trait' | 'audience', collection = 'users') => {
    const res = await fetch(`${server.url}/v1/spaces/${server.setup.workspaceId}/collections/${collection}/profiles/${ref}/traits?class=${cls}&limit=200`, {
      headers: { authorization: `Basic ${Buffer.from(`${server.setup.apiKey}:`).toString('base64')}` },
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { traits: Record<string, unknown> }).traits;
  };
  const profileId = async (ref: string) => (await get(`/api/v1/profiles?q=${encodeURIComponent(ref)}`)).data[0].id as string;
  /** Audience Entered / Exited events on the log for one audience, oldest first. */
  const transitions = async (audienceKey: string) =>
    (await logRows(server))
      .filter((r) => String(r.payload.event).startsWith('Audience ') && (r.payload.properties as { audience_key?: string }).audience_key === audienceKey)
      .map((r) => r.payload as { event: string; userId: string | null; anonymousId: string | null; properties: Record<string, unknown>; context: { rapport: { profileId: string } } });
  const members = async (audienceKey: string) => (await get(`/api/v1/audiences/${audienceKey}/members?limit=1000`)).data.map((m: { profileId: string }) => m.profileId).sort();
  const order = (userId: string, total: number, category: string, at: number) => ({ type: 'track', userId, event: 'Order Completed', properties: { total, category }, timestamp: iso(at) });

  it('computes every kind of computed trait from past events, and keeps each current as events arrive', async () => {
    const now = clock.t;
    // Sent out of time order: first and last go by event time.
    await send([
      order('kai', 40, 'games', now - 1 * HOUR),
      order('kai', 10, 'toys', now - 4 * HOUR),
      order('kai', 30, 'books', now - 3 * HOUR),
      order('kai', 20, 'books', now - 2 * HOUR),
      { type: 'track', userId: 'kai', event: 'Order Refunded', properties: { total: 1000, category: 'cars' }, timestamp: iso(now - HOUR) },
      order('lee', 99, 'cars', now - HOUR),
    ]);
    const event = { name: 'Order Completed' };
    const kinds = [
      { key: 'orders', kind: 'count' },
      { key: 'spent', kind: 'sum', property: 'total' },
      { key: 'basket', kind: 'avg', property: 'total' },
      { key: 'smallest', kind: 'min', property: 'total' },
      { key: 'biggest', kind: 'max', property: 'total' },
      { key: 'favourite', kind: 'most_frequent', property: 'category' },
      { key: 'first_category', kind: 'first', property: 'category' },
      { key: 'last_category', kind: 'last', property: 'category' },
      { key: 'categories', kind: 'unique_list', property: 'category' },
      { key: 'category_count', kind: 'unique_count', property: 'category' },
    ];
    for (const k of kinds) await post('/api/v1/computed-traits', { name: k.key, event, ...k });
    await drain();
    expect(await profile('user_id:kai', 'computed_trait')).toEqual({
      orders: 4, spent: 100, basket: 25, smallest: 10, biggest: 40, favourite: 'books',
      first_category: 'toys', last_category: 'games', categories: ['books', 'games', 'toys'], category_count: 3,
    });
    expect(await profile('user_id:lee', 'computed_trait')).toMatchObject({ orders: 1, favourite: 'cars', categories: ['cars'] });

    await send([order('kai', 5, 'toys', now)]);
    expect(await profile('user_id:kai', 'computed_trait')).toEqual({
      orders: 5, spent: 105, basket: 21, smallest: 5, biggest: 40, favourite: 'books',
      first_category: 'toys', last_category: 'toys', categories: ['books', 'games', 'toys'], category_count: 3,
    });
    await send([order('kai', 1, 'toys', now - 10 * HOUR)]);
    expect(await profile('user_id:kai', 'computed_trait')).toMatchObject({ orders: 6, favourite: 'toys', first_category: 'toys', last_category: 'toys', smallest: 1 });
  });

  it('counts identify calls by their traits and page views by their name', async () => {
    await post('/api/v1/computed-traits', { key: 'plans_held', name: 'Plans held', kind: 'unique_list', event: { type: 'identify' }, property: 'plan' });
    await post('/api/v1/computed-traits', { key: 'pricing_views', name: 'Pricing views', kind: 'count', event: { type: 'page', name: 'Pricing' } });
    await drain();
    await send([
      { type: 'identify', userId: 'max', traits: { plan: 'free' }, timestamp: iso(clock.t - 2 * MINUTE) },
      { type: 'page', userId: 'max', name: 'Pricing', timestamp: iso(clock.t - MINUTE) },
      { type: 'page', userId: 'max', name: 'Home', timestamp: iso(clock.t - MINUTE) },
      { type: 'identify', userId: 'max', traits: { plan: 'pro' }, timestamp: iso(clock.t) },
    ]);
    expect(await profile('user_id:max', 'computed_trait')).toMatchObject({ plans_held: ['free', 'pro'], pricing_views: 1 });
  });

  it('lets an event condition and a windowed computed trait age out, and announces the exit once', async () => {
    await post('/api/v1/computed-traits', { key: 'orders_2h', name: 'Orders, 2 hours', kind: 'count', event: { name: 'Order Completed' }, within: { last: 2, unit: 'hours' } });
    await post('/api/v1/audiences', { key: 'recent_buyers', name: 'Recent buyers', condition: { event: { name: 'Order Completed' }, within: { last: 2, unit: 'hours' } } });
    await drain();
    const boughtAt = clock.t - 30 * MINUTE;
    await send([order('wes', 12, 'books', boughtAt)]);
    expect(await profile('user_id:wes', 'computed_trait')).toMatchObject({ orders_2h: 1 });
    expect(await profile('user_id:wes', 'audience')).toMatchObject({ recent_buyers: true });

    clock.t += HOUR;
    await drain();
    expect(await profile('user_id:wes', 'audience')).toMatchObject({ recent_buyers: true });
    expect(await profile('user_id:wes', 'computed_trait')).toMatchObject({ orders_2h: 1 });

    clock.t = boughtAt + 2 * HOUR + MINUTE;
    await drain();
    expect(await profile('user_id:wes', 'audience')).not.toHaveProperty('recent_buyers');
    expect(await profile('user_id:wes', 'computed_trait')).not.toHaveProperty('orders_2h');
    const wes = await profileId('user_id:wes');
    const announced = (await transitions('recent_buyers')).filter((e) => e.userId === 'wes');
    expect(announced.map((e) => e.event)).toEqual(['Audience Entered', 'Audience Exited']);
    const history = await get(`/api/v1/audiences/recent_buyers/history?profileId=${wes}`);
    expect(history.data).toEqual([{ profileId: wes, enteredAt: expect.any(String), exitedAt: iso(clock.t), exitReason: 'condition' }]);

    await drain();
    expect((await transitions('recent_buyers')).filter((e) => e.userId === 'wes')).toHaveLength(2);
  });

  it('scores events and traits, and halves the event points every half-life', async () => {
    clock.t = startOfDay(clock.t) + DAY;
    await post('/api/v1/computed-traits', {
      key: 'engagement', name: 'Engagement', kind: 'score',
      rules: [
        { event: { name: 'Article Read' }, points: 10 },
        { event: { name: 'Article Read', where: [{ property: 'premium', op: 'exists' }] }, points: 5 },
        { trait: { trait: 'plan', op: 'eq', value: 'pro' }, points: 5 },
      ],
      decay: { half_life_days: 7 },
    });
    await drain();
    const read = (premium?: boolean) => ({ type: 'track', userId: 'nia', event: 'Article Read', properties: premium ? { premium } : {}, timestamp: iso(clock.t) });
    await send([{ type: 'identify', userId: 'nia', traits: { plan: 'pro' }, timestamp: iso(clock.t) }, read(), read(true)]);
    expect((await profile('user_id:nia', 'computed_trait')).engagement).toBe(10 + 15 + 5);

    clock.t += 7 * DAY;
    await drain();
    expect((await profile('user_id:nia', 'computed_trait')).engagement).toBe(25 / 2 + 5);

    clock.t += 7 * DAY;
    await drain();
    expect((await profile('user_id:nia', 'computed_trait')).engagement).toBe(25 / 4 + 5);

    await send([{ type: 'identify', userId: 'nia', traits: { plan: 'free' }, timestamp: iso(clock.t) }]);
    expect((await profile('user_id:nia', 'computed_trait')).engagement).toBe(25 / 4);
  });

  it('scores a profile by its traits before any event, and gives no score to a profile no rule matches', async () => {
    await post('/api/v1/computed-traits', {
      key: 'fit', name: 'Fit', kind: 'score',
      rules: [{ event: { name: 'Demo Requested' }, points: 50 }, { trait: { trait: 'role', op: 'in', values: ['cto', 'vp'] }, points: 30 }, { trait: { trait: 'email', op: 'contains', value: '@gmail.' }, points: -10 }],
    });
    await drain();
    await send([
      { type: 'identify', userId: 'oli', traits: { role: 'cto', email: 'oli@gmail.com' }, timestamp: iso(clock.t) },
      { type: 'identify', userId: 'ola', traits: { role: 'intern' }, timestamp: iso(clock.t) },
    ]);
    expect((await profile('user_id:oli', 'computed_trait')).fit).toBe(20);
    expect(await profile('user_id:ola', 'computed_trait')).not.toHaveProperty('fit');
  });

  it('puts accounts in accounts audiences, and users in audiences about their accounts', async () => {
    await post('/api/v1/audiences', { key: 'big_accounts', name: 'Big accounts', collection: 'accounts', condition: { trait: 'seats', op: 'gte', value: 20 } });
    await post('/api/v1/audiences', { key: 'at_big_accounts', name: 'People at big accounts', condition: { account: { audience: 'big_accounts' } } });
    await post('/api/v1/audiences', { key: 'at_enterprise', name: 'People at enterprise accounts', condition: { all: [{ trait: 'role', op: 'exists' }, { account: { trait: 'plan', op: 'eq', value: 'enterprise' } }] } });
    await drain();
    const group = (userId: string, groupId: string, traits: Record<string, unknown>) => ({ type: 'group', userId, groupId, traits, timestamp: iso(clock.t) });
    await send([
      { type: 'identify', userId: 'ann', traits: { role: 'cto' }, timestamp: iso(clock.t) },
      group('ann', 'acme', { seats: 50, plan: 'enterprise' }),
      group('cat', 'acme', {}),
      group('bob', 'tiny', { seats: 2, plan: 'enterprise' }),
    ]);
    expect(await profile('group_id:acme', 'audience', 'accounts')).toEqual({ big_accounts: true });
    expect(await profile('group_id:tiny', 'audience', 'accounts')).toEqual({});
    expect(await profile('user_id:ann', 'audience')).toMatchObject({ at_big_accounts: true, at_enterprise: true });
    expect(await profile('user_id:cat', 'audience')).toEqual({ at_big_accounts: true });
    expect(await profile('user_id:bob', 'audience')).toEqual({});

    // The account grows: its users enter, whoever sent the call.
    await send([group('ann', 'tiny', { seats: 30 })]);
    expect(await profile('group_id:tiny', 'audience', 'accounts')).toEqual({ big_accounts: true });
    expect(await profile('user_id:bob', 'audience')).toEqual({ at_big_accounts: true });

    // The account shrinks: every user linked to it leaves, also those who sent nothing.
    await send([group('ann', 'acme', { seats: 5 })]);
    expect(await profile('group_id:acme', 'audience', 'accounts')).toEqual({});
    expect(await profile('user_id:cat', 'audience')).toEqual({});
    expect(await profile('user_id:ann', 'audience')).toEqual({ at_big_accounts: true, at_enterprise: true });
    const cats = (await transitions('at_big_accounts')).filter((e) => e.userId === 'cat');
    expect(cats.map((e) => e.event)).toEqual(['Audience Entered', 'Audience Exited']);
    const accounts = await transitions('big_accounts');
    expect(accounts.map((e) => e.event)).toEqual(['Audience Entered', 'Audience Entered', 'Audience Exited']);
    expect(accounts[0].properties).toMatchObject({ audience_key: 'big_accounts', collection: 'accounts' });
  });

  it('builds an audience on another: a member of one leaves the audience of its non-members in the same batch', async () => {
    await post('/api/v1/audiences', { key: 'shoppers', name: 'Shoppers', condition: { event: { name: 'Order Completed' } } });
    await post('/api/v1/audiences', { key: 'pro_prospects', name: 'Pro users yet to buy', condition: { all: [{ trait: 'plan', op: 'eq', value: 'pro' }, { audience: 'shoppers', member: false }] } });
    await drain();
    await send([{ type: 'identify', userId: 'pia', traits: { plan: 'pro' }, timestamp: iso(clock.t) }]);
    expect(await profile('user_id:pia', 'audience')).toEqual({ pro_prospects: true });
    await send([order('pia', 20, 'books', clock.t)]);
    const now = await profile('user_id:pia', 'audience');
    expect(now).toMatchObject({ shoppers: true });
    expect(now).not.toHaveProperty('pro_prospects');
    expect((await transitions('pro_prospects')).filter((e) => e.userId === 'pia').map((e) => e.event)).toEqual(['Audience Entered', 'Audience Exited']);
    expect((await transitions('shoppers')).filter((e) => e.userId === 'pia').map((e) => e.event)).toEqual(['Audience Entered']);
    expect(await members('pro_prospects')).not.toContain(await profileId('user_id:pia'));
  });

  it('merges an anonymous visitor into the user who logs in, adding up their counters so the merged profile qualifies', async () => {
    await post('/api/v1/computed-traits', { key: 'merged_orders', name: 'Orders', kind: 'count', event: { name: 'Checkout' } });
    await post('/api/v1/computed-traits', { key: 'merged_spend', name: 'Spend', kind: 'sum', event: { name: 'Checkout' }, property: 'total' });
    await post('/api/v1/audiences', { key: 'any_checkout', name: 'Checked out', condition: { event: { name: 'Checkout' } } });
    await post('/api/v1/audiences', { key: 'frequent', name: 'Frequent', condition: { event: { name: 'Checkout' }, count: { op: 'at_least', value: 3 } } });
    await drain();
    const checkout = (ids: Record<string, string>, total: number) => ({ type: 'track', ...ids, event: 'Checkout', properties: { total }, timestamp: iso(clock.t - MINUTE) });
    await send([checkout({ userId: 'mia' }, 10), checkout({ anonymousId: 'visitor-7' }, 5), checkout({ anonymousId: 'visitor-7' }, 7)]);
    const visitor = await profileId('anonymous_id:visitor-7');
    expect(await profile('anonymous_id:visitor-7', 'computed_trait')).toMatchObject({ merged_orders: 2, merged_spend: 12 });
    expect(await profile('user_id:mia', 'audience')).toEqual({ any_checkout: true });
    const entered = (await transitions('any_checkout')).find((e) => e.context.rapport.profileId === visitor)!;
    expect(entered).toMatchObject({ userId: null, anonymousId: 'visitor-7' });

    await send([{ type: 'identify', userId: 'mia', anonymousId: 'visitor-7', timestamp: iso(clock.t) }]);
    const mia = await profileId('user_id:mia');
    expect(await profileId('anonymous_id:visitor-7')).toBe(mia);
    expect(await profile('user_id:mia', 'computed_trait')).toMatchObject({ merged_orders: 3, merged_spend: 22 });
    expect(await profile('user_id:mia', 'audience')).toEqual({ any_checkout: true, frequent: true });
    expect((await transitions('frequent')).map((e) => [e.event, e.userId])).toEqual([['Audience Entered', 'mia']]);
    // The profile merged away leaves quietly: a merge is no exit of the person.
    expect(await members('any_checkout')).toEqual([mia]);
    expect((await transitions('any_checkout')).map((e) => e.event)).toEqual(['Audience Entered', 'Audience Entered']);
    const history = await get('/api/v1/audiences/any_checkout/history');
    expect(history.data.filter((h: { exitReason: string | null }) => h.exitReason === 'merged')).toHaveLength(1);
  });

  it('announces each entry and exit exactly once, with the userId and the audience key, and records each stint', async () => {
    await post('/api/v1/audiences', { key: 'vip', name: 'VIP', condition: { trait: 'tier', op: 'eq', value: 'vip' } });
    await drain();
    const tier = (value: string) => ({ type: 'identify', userId: 'quinn', traits: { tier: value }, timestamp: iso(clock.t) });
    const first = clock.t;
    await send([tier('vip')]);
    await send([tier('vip')]);
    clock.t += MINUTE;
    const exit = clock.t;
    await send([tier('basic')]);
    clock.t += MINUTE;
    const again = clock.t;
    await send([tier('vip')]);
    await drain();
    const quinn = await profileId('user_id:quinn');
    const events = await transitions('vip');
    expect(events.map((e) => e.event)).toEqual(['Audience Entered', 'Audience Exited', 'Audience Entered']);
    for (const e of events) {
      expect(e).toMatchObject({ userId: 'quinn', properties: { audience_key: 'vip', audience_name: 'VIP', collection: 'users' }, context: { rapport: { profileId: quinn } } });
    }
    const history = await get(`/api/v1/audiences/vip/history?profileId=${quinn}`);
    expect(history.data).toEqual([
      { profileId: quinn, enteredAt: iso(again), exitedAt: null, exitReason: null },
      { profileId: quinn, enteredAt: iso(first), exitedAt: iso(exit), exitReason: 'condition' },
    ]);
    expect((await get('/api/v1/audiences/vip')).size).toBe(1);
  });

  it('computes an audience created after the events exactly as one that watched them arrive', async () => {
    const condition = {
      any: [
        { all: [{ trait: 'plan', op: 'eq', value: 'team' }, { event: { name: 'Purchase', where: [{ property: 'total', op: 'gt', value: 50 }] }, within: { last: 1, unit: 'days' } }] },
        { computed_trait: 'purchase_total', op: 'gte', value: 100 },
        { all: [{ event: { type: 'page', name: 'Pricing' }, count: { op: 'at_least', value: 2 } }, { not: { trait: 'blocked', op: 'exists' } }] },
      ],
    };
    await post('/api/v1/computed-traits', { key: 'purchase_total', name: 'Purchase total', kind: 'sum', event: { name: 'Purchase' }, property: 'total' });
    await post('/api/v1/audiences', { key: 'watched', name: 'Watched', condition });
    await drain();
    const t = clock.t;
    const purchase = (userId: string, total: number, at: number) => ({ type: 'track', userId, event: 'Purchase', properties: { total }, timestamp: iso(at) });
    const pricing = (userId: string, at: number) => ({ type: 'page', userId, name: 'Pricing', timestamp: iso(at) });
    await send([
      { type: 'identify', userId: 'r1', traits: { plan: 'team' }, timestamp: iso(t - 3 * HOUR) }, purchase('r1', 60, t - HOUR),
      { type: 'identify', userId: 'r2', traits: { plan: 'team' }, timestamp: iso(t - 3 * HOUR) }, purchase('r2', 60, t - 2 * DAY),
      purchase('r3', 70, t - 3 * DAY), purchase('r3', 40, t - HOUR),
      pricing('r4', t - HOUR), pricing('r4', t - MINUTE),
      { type: 'identify', userId: 'r5', traits: { blocked: true }, timestamp: iso(t - HOUR) }, pricing('r5', t - HOUR), pricing('r5', t - MINUTE),
      pricing('r6', t - MINUTE), purchase('r6', 10, t - MINUTE),
    ]);
    await send([{ type: 'identify', userId: 'r2', traits: { plan: 'team' }, timestamp: iso(t) }, pricing('r6', t)]);
    await post('/api/v1/computed-traits', { key: 'purchase_total_after', name: 'Purchase total', kind: 'sum', event: { name: 'Purchase' }, property: 'total' });
    await post('/api/v1/audiences', { key: 'backfilled', name: 'Backfilled', condition });
    await drain();
    const watched = await members('watched');
    expect(watched).toEqual((await Promise.all(['r1', 'r3', 'r4', 'r6'].map((u) => profileId(`user_id:${u}`)))).sort());
    expect(await members('backfilled')).toEqual(watched);
    for (const u of ['r1', 'r2', 'r3', 'r6']) {
      const values = await profile(`user_id:${u}`, 'computed_trait');
      expect(values.purchase_total_after, u).toBe(values.purchase_total);
    }
    expect((await get('/api/v1/audiences/backfilled')).size).toBe((await get('/api/v1/audiences/watched')).size);
  });
});
