import { createHmac } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

const FAST_RETRY = { minDelayMs: 20, maxDelayMs: 50, maxAgeMs: 60_000, minAttempts: 3 };
const SECRET = 'an-audience-sync-secret';

/** Bought at least once. */
const BUYERS = { key: 'buyers', name: 'Buyers', condition: { event: { name: 'Order Completed' }, count: { op: 'at_least', value: 1 } } };
/** On the pro plan: leaving it (a trait change) is an exit. */
const PRO = { key: 'pro_plan', name: 'Pro plan', condition: { trait: 'plan', op: 'eq', value: 'pro' } };
/** Bought exactly once so far: a second order is an exit. */
const FIRST_TIMERS = { key: 'first_timers', name: 'First-time buyers', condition: { event: { name: 'Order Completed' }, count: { op: 'exactly', value: 1 } } };
/** Not synced anywhere: its transitions must not leak into the sync. */
const VIEWERS = { key: 'viewers', name: 'Viewers', condition: { event: { name: 'Product Viewed' }, count: { op: 'at_least', value: 1 } } };

interface Member {
  profileId: string;
  userId: string | null;
  anonymousId: string | null;
  email?: string;
}
interface Membership {
  type: 'audience_membership';
  audience: { id: string; key: string; name: string };
  mode: 'changes' | 'resync';
  resyncId?: string;
  complete?: boolean;
  added: Member[];
  removed: Member[];
  sentAt: string;
}


describe.each(ENGINES)('audience sync destinations on $name', (engine) => {
  let server: TestServer;
  let receiver: Receiver;
  const audienceIds = new Map<string, string>();

  const call = (method: string, path: string, body?: unknown, apiKey?: string | null) => server.call(method, path, body, apiKey);
  const send = async (batch: Record<string, unknown>[]) => {
    const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, batch }) });
    expect(res.status).toBe(200);
  };
  const sync = async (audiences: string[], settings: Record<string, unknown> = {}) => {
    const r = await call('POST', '/api/v1/destinations', { name: 'CRM sync', type: 'audience_sync', settings: { url: `${receiver.url}/members`, audiences, secret: SECRET, ...settings }, retry: FAST_RETRY });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body as { id: string };
  };
  const profileIdOf = async (userId: string) => {
    const found = (await call('GET', `/api/v1/profiles?q=${encodeURIComponent(`user_id:${userId}`)}`)).body;
    return found.data[0]?.id as string | undefined;
  };
  const memberships = () => receiver.requests.filter((r) => r.answered === 200).map((r) => r.body as Membership);
  /** Every change the receiver was told, in the order it was told, as `key +user` / `key -user`. */
  const changes = () =>
    memberships().filter((m) => m.mode === 'changes').flatMap((m) => [
      ...m.added.map((x) => `${m.audience.key} +${x.userId}`),
      ...m.removed.map((x) => `${m.audience.key} -${x.userId}`),
    ]);
  const told = (expected: string[]) => until(`the changes ${expected.join(', ')}`, () => (expected.every((c) => changes().includes(c)) ? changes() : undefined));

  beforeAll(async () => {
    server = await startServer(engine, { delivery: { pollMs: 50 } });
    for (const a of [BUYERS, PRO, FIRST_TIMERS, VIEWERS]) {
      const r = await call('POST', '/api/v1/audiences', a);
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      audienceIds.set(a.key, r.body.id);
    }
    await until('the audiences to be computed', async () => (await call('GET', '/api/v1/audiences')).body.data.every((a: { status: string }) => a.status === 'ready') || undefined);
  });
  afterAll(async () => {
    await server?.close();
  });
  afterEach(async () => {
    for (const d of (await call('GET', '/api/v1/destinations')).body.data) await call('DELETE', `/api/v1/destinations/${d.id}`);
    await receiver?.close();
  });

  it('tells the receiver who entered and who left each synced audience, addressed by profile, user id and email', async () => {
    receiver = await startReceiver();
    await sync(['buyers', 'pro_plan', 'first_timers']);
    await send([
      { type: 'identify', userId: 'ann', traits: { email: 'Ann@Example.com', plan: 'pro' } },
      { type: 'identify', userId: 'bob', traits: { plan: 'pro' } },
      { type: 'track', userId: 'ann', event: 'Order Completed', properties: { total: 30 } },
      { type: 'track', userId: 'ann', event: 'Product Viewed' },
    ]);
    await told(['pro_plan +ann', 'pro_plan +bob', 'buyers +ann', 'first_timers +ann']);
    await send([
      { type: 'identify', userId: 'bob', traits: { plan: 'free' } },
      { type: 'track', userId: 'ann', event: 'Order Completed', properties: { total: 12 } },
    ]);
    const all = await told(['pro_plan -bob', 'first_timers -ann']);
    expect([...all].sort()).toEqual(['buyers +ann', 'first_timers +ann', 'first_timers -ann', 'pro_plan +ann', 'pro_plan +bob', 'pro_plan -bob'].sort());
    // An audience that is not synced stays private.
    expect(memberships().map((m) => m.audience.key)).not.toContain('viewers');

    const [ann, bob] = [await profileIdOf('ann'), await profileIdOf('bob')];
    const bodies = memberships();
    for (const m of bodies) {
      expect(m).toMatchObject({ type: 'audience_membership', mode: 'changes', audience: { id: audienceIds.get(m.audience.key), name: expect.any(String) } });
      expect(new Date(m.sentAt).toISOString()).toBe(m.sentAt);
    }
    const entered = bodies.find((m) => m.audience.key === 'buyers')!.added[0];
    expect(entered).toMatchObject({ profileId: ann, userId: 'ann', email: 'ann@example.com' });
    const left = bodies.find((m) => m.audience.key === 'pro_plan' && m.removed.length)!.removed[0];
    expect(left).toMatchObject({ profileId: bob, userId: 'bob' });
    expect(left).not.toHaveProperty('email');
    // Each request is signed like a webhook's.
    for (const r of receiver.requests) {
      const [t, v1] = String(r.headers['x-rapport-signature']).split(',').map((p) => p.split('=')[1]);
      expect(v1).toBe(createHmac('sha256', SECRET).update(`${t}.${r.raw}`).digest('hex'));
    }
  });

  it('keeps a member\'s changes in order, so that a receiver applying them ends with the right members', async () => {
    // The receiver is down while cid's plan flips back and forth, so every change waits in the queue at once.
    let down = true;
    receiver = await startReceiver(() => (down ? { status: 503 } : { status: 200 }));
    const d = await sync(['pro_plan']);
    const flips = ['pro', 'free', 'pro', 'free', 'pro'];
    for (const [i, plan] of flips.entries()) {
      await send([{ type: 'identify', userId: 'cid', traits: { plan } }]);
      await until(`change ${i + 1} to be queued`, async () => ((await call('GET', `/api/v1/destinations/${d.id}/stats`)).body.queued === i + 1) || undefined);
    }
    down = false;
    await until('the queue to drain', async () => ((await call('GET', `/api/v1/destinations/${d.id}/stats`)).body.queued === 0) || undefined);
    expect(changes()).toEqual(['pro_plan +cid', 'pro_plan -cid', 'pro_plan +cid', 'pro_plan -cid', 'pro_plan +cid']);
    for (const m of memberships()) {
      // Within one request a member appears once, so added and removed never contradict each other.
      const ids = [...m.added, ...m.removed].map((x) => x.profileId);
      expect(new Set(ids).size).toBe(ids.length);
    }
  });

  it('resyncs every current member of each audience, in pages, the last one marked complete', async () => {
    receiver = await startReceiver();
    const users = ['dee', 'eli', 'fay', 'gus', 'hal'];
    await send(users.map((userId, i) => ({ type: 'identify', userId, traits: { plan: 'pro', ...(i % 2 ? {} : { email: `${userId}@example.com` }) } })));
    const d = await sync(['pro_plan', 'buyers'], { batchSize: 2 });
    await until('every pro to be a member', async () => {
      const members = (await call('GET', '/api/v1/audiences/pro_plan/members?limit=1000')).body.data as { profileId: string }[];
      const ids = await Promise.all(users.map(profileIdOf));
      return ids.every((id) => members.some((m) => m.profileId === id)) || undefined;
    });
    await until('the live changes to settle', async () => ((await call('GET', `/api/v1/destinations/${d.id}/stats`)).body.queued === 0) || undefined);
    const before = receiver.requests.length;

    const started = await call('POST', `/api/v1/destinations/${d.id}/resync`);
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const pros = (await call('GET', '/api/v1/audiences/pro_plan')).body.size as number;
    const buyers = (await call('GET', '/api/v1/audiences/buyers')).body.size as number;
    expect(started.body.resyncs).toEqual([
      { audience: 'pro_plan', resyncId: expect.any(String), members: pros },
      { audience: 'buyers', resyncId: expect.any(String), members: buyers },
    ]);
    const resyncOf = (key: string) => memberships().slice(before).filter((m) => m.mode === 'resync' && m.audience.key === key);
    await until('both resyncs to complete', () => (resyncOf('pro_plan').some((m) => m.complete) && resyncOf('buyers').some((m) => m.complete)) || undefined);

    const pages = resyncOf('pro_plan');
    expect(pages.every((p) => p.resyncId === started.body.resyncs[0].resyncId && p.added.length <= 2 && p.removed.length === 0)).toBe(true);
    expect(pages.map((p) => p.complete)).toEqual([...pages.slice(0, -1).map(() => false), true]);
    const current = (await call('GET', '/api/v1/audiences/pro_plan/members?limit=1000')).body.data.map((m: { profileId: string }) => m.profileId).sort();
    const sent = pages.flatMap((p) => p.added);
    expect(sent.map((m) => m.profileId).sort()).toEqual(current);
    expect(sent.find((m) => m.userId === 'dee')).toMatchObject({ profileId: await profileIdOf('dee'), email: 'dee@example.com' });
    expect(sent.find((m) => m.userId === 'eli')).not.toHaveProperty('email');
    expect(resyncOf('buyers').flatMap((p) => p.added).map((m) => m.profileId).sort()).toEqual(
      (await call('GET', '/api/v1/audiences/buyers/members?limit=1000')).body.data.map((m: { profileId: string }) => m.profileId).sort(),
    );
  });

  it('resyncs an empty audience as one complete request that adds nobody', async () => {
    receiver = await startReceiver();
    const empty = await call('POST', '/api/v1/audiences', { key: 'nobody', name: 'Nobody', condition: { trait: 'plan', op: 'eq', value: 'enterprise' } });
    expect(empty.status).toBe(201);
    await until('the new audience to be computed', async () => ((await call('GET', '/api/v1/audiences/nobody')).body.status === 'ready') || undefined);
    const d = await sync(['nobody']);
    expect((await call('POST', `/api/v1/destinations/${d.id}/resync`)).body.resyncs).toEqual([{ audience: 'nobody', resyncId: expect.any(String), members: 0 }]);
    const [page] = await until('the resync', () => (memberships().length ? memberships() : undefined));
    expect(page).toMatchObject({ mode: 'resync', complete: true, audience: { key: 'nobody' }, removed: [] });
    expect(page.added).toEqual([]);
  });

  it('refuses to resync a destination that is not an audience sync', async () => {
    receiver = await startReceiver();
    const hook = await call('POST', '/api/v1/destinations', { name: 'Hook', type: 'webhook', settings: { url: receiver.url } });
    const r = await call('POST', `/api/v1/destinations/${hook.body.id}/resync`);
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/Only an audience sync destination can be resynced/);
  });

  it('sends a sample membership change on test', async () => {
    receiver = await startReceiver();
    const d = await sync(['buyers']);
    const r = await call('POST', `/api/v1/destinations/${d.id}/test`);
    expect(r.body).toMatchObject({ ok: true, statusCode: 200 });
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0].body).toMatchObject({ type: 'audience_membership', mode: 'changes', added: [{ userId: 'test-user' }], removed: [] });
  });
});
