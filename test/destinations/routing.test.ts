import { createHmac } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { acceptedMessages, startReceiver, type Receiver } from '../support/receiver.js';
import { startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

const FAST_RETRY = { minDelayMs: 20, maxDelayMs: 50, maxAgeMs: 60_000, minAttempts: 3 };

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(ENGINES)('which events reach a destination, and how, on $name', (engine) => {
  let server: TestServer;
  let receiver: Receiver;

  const call = (method: string, path: string, body?: unknown, apiKey?: string | null) => server.call(method, path, body, apiKey);
  const send = async (batch: Record<string, unknown>[]) => {
    const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, batch }) });
    expect(res.status).toBe(200);
  };
  const hook = async (extra: Record<string, unknown> = {}, settings: Record<string, unknown> = {}) => {
    const r = await call('POST', '/api/v1/destinations', { name: 'Hook', type: 'webhook', settings: { url: `${receiver.url}/hook`, ...settings }, retry: FAST_RETRY, ...extra });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body as { id: string };
  };
  const delivered = () => acceptedMessages(receiver).map((m) => m.messageId as string);
  /**
   * Sends the calls, then a call the destination takes, and waits for it: calls sent before it that the
   * destination took were queued before it, so by then they have arrived too.
   */
  const sendThenSentinel = async (calls: Record<string, unknown>[], sentinel: Record<string, unknown>) => {
    await send([...calls, sentinel]);
    await until(`the sentinel ${String(sentinel.messageId)}`, () => delivered().includes(sentinel.messageId as string) || undefined);
    return delivered();
  };
  const profileIdOf = async (userId: string) => {
    const found = (await call('GET', `/api/v1/profiles?q=${encodeURIComponent(`user_id:${userId}`)}`)).body;
    return found.data[0]?.id as string | undefined;
  };

  beforeAll(async () => {
    server = await startServer(engine, { delivery: { pollMs: 50 } });
  });
  afterAll(async () => {
    await server?.close();
  });
  afterEach(async () => {
    for (const d of (await call('GET', '/api/v1/destinations')).body.data) await call('DELETE', `/api/v1/destinations/${d.id}`);
    await receiver?.close();
  });

  describe('filters', () => {
    it('delivers only the types of call it asks for', async () => {
      receiver = await startReceiver();
      await hook({ filter: { types: ['page', 'identify'] } });
      const got = await sendThenSentinel([
        { type: 'track', userId: 'ty', messageId: 'ty-track', event: 'Signed Up' },
        { type: 'page', userId: 'ty', messageId: 'ty-page', name: 'Pricing' },
        { type: 'screen', userId: 'ty', messageId: 'ty-screen', name: 'Home' },
        { type: 'group', userId: 'ty', messageId: 'ty-group', groupId: 'g1' },
      ], { type: 'identify', userId: 'ty', messageId: 'ty-identify', traits: { plan: 'pro' } });
      expect(got.sort()).toEqual(['ty-identify', 'ty-page']);
    });

    it('delivers only the named track events, pages and screens', async () => {
      receiver = await startReceiver();
      await hook({ filter: { events: ['Order Completed', 'Pricing'] } });
      const got = await sendThenSentinel([
        { type: 'track', userId: 'nm', messageId: 'nm-viewed', event: 'Product Viewed' },
        { type: 'page', userId: 'nm', messageId: 'nm-pricing', name: 'Pricing' },
        { type: 'page', userId: 'nm', messageId: 'nm-docs', name: 'Docs' },
        { type: 'page', userId: 'nm', messageId: 'nm-unnamed' },
        { type: 'identify', userId: 'nm', messageId: 'nm-identify', traits: { name: 'Pricing' } },
        { type: 'screen', userId: 'nm', messageId: 'nm-screen', name: 'Pricing' },
      ], { type: 'track', userId: 'nm', messageId: 'nm-order', event: 'Order Completed' });
      expect(got.sort()).toEqual(['nm-order', 'nm-pricing', 'nm-screen']);
    });

    it('delivers only events whose properties pass every test', async () => {
      receiver = await startReceiver();
      await hook({ filter: { where: [{ path: 'properties.total', op: 'gte', value: 100 }, { path: 'properties.currency', op: 'in', values: ['EUR', 'USD'] }] } });
      const got = await sendThenSentinel([
        { type: 'track', userId: 'wh', messageId: 'wh-small', event: 'Order Completed', properties: { total: 99.99, currency: 'EUR' } },
        { type: 'track', userId: 'wh', messageId: 'wh-gbp', event: 'Order Completed', properties: { total: 500, currency: 'GBP' } },
        { type: 'track', userId: 'wh', messageId: 'wh-string', event: 'Order Completed', properties: { total: '500', currency: 'EUR' } },
        { type: 'track', userId: 'wh', messageId: 'wh-none', event: 'Order Completed' },
        { type: 'track', userId: 'wh', messageId: 'wh-usd', event: 'Refund Issued', properties: { total: 100, currency: 'USD' } },
      ], { type: 'track', userId: 'wh', messageId: 'wh-big', event: 'Order Completed', properties: { total: 250, currency: 'EUR' } });
      expect(got.sort()).toEqual(['wh-big', 'wh-usd']);
    });

    it('delivers only the events of an audience\'s members', async () => {
      receiver = await startReceiver();
      const audience = await call('POST', '/api/v1/audiences', { key: 'buyers', name: 'Buyers', condition: { event: { name: 'Order Completed' }, count: { op: 'at_least', value: 1 } } });
      expect(audience.status, JSON.stringify(audience.body)).toBe(201);
      await send([{ type: 'track', userId: 'member', event: 'Order Completed', messageId: 'au-order' }, { type: 'identify', userId: 'stranger', messageId: 'au-stranger-identify' }]);
      await until('the buyer to be a member', async () => {
        const id = await profileIdOf('member');
        const members = (await call('GET', '/api/v1/audiences/buyers/members')).body.data ?? [];
        return (id && members.some((m: { profileId: string }) => m.profileId === id)) || undefined;
      });
      // Her Audience Entered event was logged then; once an event sent after it is processed, so is it.
      await send([{ type: 'identify', userId: 'au-barrier' }]);
      await until('the log to be processed', () => profileIdOf('au-barrier'));
      await hook({ filter: { audiences: ['buyers'] } });
      const got = await sendThenSentinel([
        { type: 'track', userId: 'stranger', messageId: 'au-stranger', event: 'Product Viewed' },
        { type: 'page', anonymousId: 'nobody-knows', messageId: 'au-anonymous', name: 'Home' },
      ], { type: 'track', userId: 'member', messageId: 'au-member', event: 'Product Viewed' });
      expect(got).toEqual(['au-member']);
    });
  });

  describe('consent', () => {
    it('delivers an event only when it grants every category the destination requires', async () => {
      receiver = await startReceiver();
      await hook({ consent: ['marketing', 'analytics'] });
      const consent = (categoryPreferences: Record<string, unknown>) => ({ consent: { categoryPreferences } });
      const got = await sendThenSentinel([
        { type: 'track', userId: 'co', messageId: 'co-silent', event: 'Viewed' },
        { type: 'track', userId: 'co', messageId: 'co-refused', event: 'Viewed', context: consent({ marketing: false, analytics: true }) },
        { type: 'track', userId: 'co', messageId: 'co-partial', event: 'Viewed', context: consent({ analytics: true }) },
      ], { type: 'track', userId: 'co', messageId: 'co-granted', event: 'Viewed', context: consent({ marketing: true, analytics: true, ads: false }) });
      expect(got).toEqual(['co-granted']);
    });
  });

  describe('enabling and disabling', () => {
    it('sends nothing while disabled, and the events that follow once enabled again', async () => {
      receiver = await startReceiver();
      const d = await hook({ enabled: false });
      expect((await call('GET', `/api/v1/destinations/${d.id}`)).body.enabled).toBe(false);
      await send([{ type: 'track', userId: 'di', messageId: 'di-while-off', event: 'Viewed' }]);
      await until('the event to be processed', () => profileIdOf('di'));
      await pause(300);
      expect(receiver.requests).toHaveLength(0);
      expect((await call('GET', `/api/v1/destinations/${d.id}/stats`)).body.queued).toBe(0);

      const on = await call('PATCH', `/api/v1/destinations/${d.id}`, { enabled: true });
      expect(on.status).toBe(200);
      expect(on.body.enabled).toBe(true);
      await send([{ type: 'track', userId: 'di', messageId: 'di-after', event: 'Viewed' }]);
      await until('the event sent once enabled', () => delivered().includes('di-after') || undefined);
      // What happened while it was disabled is not sent later (a replay can send it).
      expect(delivered()).toEqual(['di-after']);

      expect((await call('PATCH', `/api/v1/destinations/${d.id}`, { enabled: false })).body.enabled).toBe(false);
      await send([{ type: 'track', userId: 'di', messageId: 'di-off-again', event: 'Viewed' }]);
      await pause(500);
      expect(delivered()).toEqual(['di-after']);
    });
  });

  describe('single-event mode', () => {
    it('posts each event on its own, naming its message id in a header, and signs each body', async () => {
      receiver = await startReceiver();
      const secret = 'single-mode-secret-0123';
      await hook({}, { mode: 'single', secret });
      const calls = Array.from({ length: 6 }, (_, i) => ({ type: 'track', userId: `si${i % 2}`, messageId: `si-${i}`, event: 'Step', properties: { i } }));
      await send(calls);
      await until('six posts', () => receiver.requests.length >= 6 || undefined);
      await pause(100);
      expect(receiver.requests).toHaveLength(6);
      for (const r of receiver.requests) {
        expect(r.body).not.toHaveProperty('batch');
        expect(r.headers['x-rapport-message-id']).toBe(r.body.messageId);
        expect(r.body.context.rapport.profileId).toEqual(expect.any(String));
        const [t, v1] = String(r.headers['x-rapport-signature']).split(',').map((p) => p.split('=')[1]);
        expect(v1).toBe(createHmac('sha256', secret).update(`${t}.${r.raw}`).digest('hex'));
      }
      expect(receiver.requests.map((r) => r.body.messageId).sort()).toEqual(calls.map((c) => c.messageId).sort());
      for (const user of ['si0', 'si1']) {
        const seq = receiver.requests.filter((r) => r.body.userId === user).map((r) => r.body.properties.i);
        expect(seq).toEqual([...seq].sort((a, b) => a - b));
      }
    });
  });

  describe('rate limits', () => {
    it('sends no faster than its rate limit', async () => {
      receiver = await startReceiver();
      await hook({ rateLimit: 20 }, { batchSize: 5 });
      await send(Array.from({ length: 60 }, (_, i) => ({ type: 'track', userId: `rl${i % 6}`, messageId: `rl-${i}`, event: 'Tick' })));
      await until('60 deliveries', () => delivered().length >= 60 || undefined);
      const first = receiver.requests[0].at;
      const span = receiver.requests[receiver.requests.length - 1].at - first;
      // 20 at once (a full bucket), then 40 at 20 a second.
      expect(span).toBeGreaterThanOrEqual(1_700);
      expect(span).toBeLessThan(6_000);
      for (const r of receiver.requests) {
        const inSecond = receiver.requests.filter((x) => x.at >= r.at && x.at < r.at + 1_000).reduce((n, x) => n + x.body.batch.length, 0);
        expect(inSecond).toBeLessThanOrEqual(45);
      }
    });

    it('never sends more events at once than its rate limit allows, whatever the batch size', async () => {
      receiver = await startReceiver();
      await hook({ rateLimit: 20 });
      await send(Array.from({ length: 60 }, (_, i) => ({ type: 'track', userId: `rb${i % 6}`, messageId: `rb-${i}`, event: 'Tick' })));
      await until('60 deliveries', () => delivered().length >= 60 || undefined);
      expect(Math.max(...receiver.requests.map((r) => r.body.batch.length))).toBeLessThanOrEqual(20);
    });
  });

  describe('replays', () => {
    it('delivers what the log received in a time range to a destination created later, through its filter', async () => {
      receiver = await startReceiver();
      await send([{ type: 'track', userId: 'rp', messageId: 'rp-before', event: 'Order Completed' }]);
      await pause(30);
      const from = new Date();
      await send([
        { type: 'track', userId: 'rp', messageId: 'rp-in-1', event: 'Order Completed' },
        { type: 'track', userId: 'rp', messageId: 'rp-in-filtered', event: 'Product Viewed' },
        { type: 'track', userId: 'rp2', messageId: 'rp-in-2', event: 'Order Completed' },
      ]);
      await pause(30);
      const to = new Date();
      await pause(30);
      await send([{ type: 'track', userId: 'rp3', messageId: 'rp-after', event: 'Order Completed' }]);
      await until('the events to be processed', () => profileIdOf('rp3'));

      const d = await hook({ filter: { events: ['Order Completed'] } });
      const started = await call('POST', `/api/v1/destinations/${d.id}/replays`, { from: from.toISOString(), to: to.toISOString() });
      expect(started.status, JSON.stringify(started.body)).toBe(202);
      expect(started.body).toMatchObject({ from: from.toISOString(), to: to.toISOString(), status: 'running' });
      await until('the replayed events', () => delivered().length >= 2 || undefined);
      const replay = await until('the replay to be done', async () => {
        const list = (await call('GET', `/api/v1/destinations/${d.id}/replays`)).body.data;
        return list[0]?.status === 'done' ? list[0] : undefined;
      });
      expect(replay).toMatchObject({ id: started.body.id, status: 'done', enqueued: 2, finishedAt: expect.any(String) });
      expect(replay.scanned).toBeGreaterThanOrEqual(3);
      await pause(200);
      expect(delivered().sort()).toEqual(['rp-in-1', 'rp-in-2']);
      // Replayed events name their profile, as live ones do.
      expect(acceptedMessages(receiver).find((m) => m.messageId === 'rp-in-1')!.context.rapport.profileId).toBe(await profileIdOf('rp'));
    });

    it('refuses a replay whose range ends before it starts', async () => {
      receiver = await startReceiver();
      const d = await hook();
      const r = await call('POST', `/api/v1/destinations/${d.id}/replays`, { from: '2026-01-02T00:00:00Z', to: '2026-01-01T00:00:00Z' });
      expect(r.status).toBe(400);
      expect(r.body.error.message).toMatch(/"from" before "to"/);
    });
  });

  describe('test sends', () => {
    it('sends one sample event now and reports what the destination answered', async () => {
      receiver = await startReceiver();
      const d = await hook();
      const r = await call('POST', `/api/v1/destinations/${d.id}/test`);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ ok: true, statusCode: 200, error: null, latencyMs: expect.any(Number) });
      expect(receiver.requests).toHaveLength(1);
      expect(receiver.requests[0].body.batch).toEqual([expect.objectContaining({ type: 'track', event: 'Rapport Test Event', properties: { test: true } })]);
      // A test is outside the queue and the delivery log.
      expect((await call('GET', `/api/v1/destinations/${d.id}/attempts`)).body.data).toEqual([]);
    });

    it('reports a failing destination\'s status and answer', async () => {
      receiver = await startReceiver(() => ({ status: 500, body: 'upstream exploded' }));
      const d = await hook();
      const r = await call('POST', `/api/v1/destinations/${d.id}/test`);
      expect(r.body).toMatchObject({ ok: false, statusCode: 500, response: 'upstream exploded' });
    });

    it('reports an unreachable destination with the network error', async () => {
      receiver = await startReceiver();
      const url = receiver.url;
      await receiver.close();
      const r = await call('POST', '/api/v1/destinations', { name: 'Gone', type: 'webhook', settings: { url } });
      const answer = await call('POST', `/api/v1/destinations/${r.body.id}/test`);
      expect(answer.body).toMatchObject({ ok: false, statusCode: null, error: expect.stringMatching(/ECONNREFUSED/) });
    });
  });
});
