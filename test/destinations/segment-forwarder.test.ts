import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { logRows, startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

const FAST_RETRY = { minDelayMs: 20, maxDelayMs: 50, maxAgeMs: 60_000, minAttempts: 3 };


describe.each(ENGINES)('forwarding to another Rapport as a Segment destination on $name', (engine) => {
  let upstream: TestServer;
  let downstream: TestServer;

  const call = (method: string, path: string, body?: unknown, apiKey?: string | null) => upstream.call(method, path, body, apiKey);
  const send = async (batch: Record<string, unknown>[], extra: Record<string, unknown> = {}) => {
    const res = await fetch(`${upstream.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ writeKey: upstream.setup.writeKey, batch, ...extra }) });
    expect(res.status).toBe(200);
  };
  const forwarder = async (extra: Record<string, unknown> = {}) => {
    const r = await call('POST', '/api/v1/destinations', {
      name: 'Downstream Rapport', type: 'segment', settings: { endpoint: `${downstream.url}/`, writeKey: downstream.setup.writeKey, batchSize: 3 }, retry: FAST_RETRY, ...extra,
    });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body as { id: string };
  };
  /** The downstream log's messages with these ids, once they have all arrived. */
  const arrived = (ids: string[]) =>
    until(`${ids.length} forwarded events`, async () => {
      const rows = (await logRows(downstream)).filter((r) => ids.includes(r.message_id));
      return rows.length >= ids.length ? rows : undefined;
    });

  beforeAll(async () => {
    [upstream, downstream] = await Promise.all([startServer(engine, { delivery: { pollMs: 50 } }), startServer(engine, { delivery: { pollMs: 50 } })]);
  });
  afterAll(async () => {
    await Promise.all([upstream?.close(), downstream?.close()]);
  });
  afterEach(async () => {
    for (const d of (await call('GET', '/api/v1/destinations')).body.data) await call('DELETE', `/api/v1/destinations/${d.id}`);
  });

  it('delivers every kind of call into the other Rapport\'s log with the same ids, types, users and properties', async () => {
    const d = await forwarder();
    const calls = [
      { type: 'identify', userId: 'ada', messageId: 'fw-identify', traits: { email: 'ada@example.com', plan: 'pro' } },
      { type: 'track', userId: 'ada', messageId: 'fw-track', event: 'Order Completed', properties: { total: 42.5, items: [{ sku: 'A-1', qty: 2 }], coupon: null } },
      { type: 'page', anonymousId: 'anon-1', messageId: 'fw-page', name: 'Pricing', properties: { path: '/pricing' } },
      { type: 'screen', userId: 'ada', messageId: 'fw-screen', name: 'Home', properties: { tab: 'feed' } },
      { type: 'group', userId: 'ada', messageId: 'fw-group', groupId: 'acme', traits: { name: 'Acme', seats: 12 } },
      { type: 'alias', userId: 'ada', previousId: 'anon-1', messageId: 'fw-alias' },
      { type: 'track', userId: 'bob', messageId: 'fw-track-2', event: 'Signed Up', properties: { referrer: 'ada' } },
    ];
    await send(calls);
    const rows = await arrived(calls.map((c) => c.messageId));
    expect(rows).toHaveLength(calls.length);
    for (const c of calls) {
      const row = rows.find((r) => r.message_id === c.messageId)!;
      expect(row.type).toBe(c.type);
      const { type: _type, ...fields } = c;
      expect(row.payload).toMatchObject(fields);
    }
    // The other Rapport has them once it answered; this one records the delivery right after.
    const stats = await until('the delivery recorded', async () => {
      const s = (await call('GET', `/api/v1/destinations/${d.id}/stats`)).body;
      return s.queued === 0 ? s : undefined;
    });
    expect(stats).toMatchObject({ queued: 0, deadLetters: 0 });
    const attempts = (await call('GET', `/api/v1/destinations/${d.id}/attempts`)).body.data;
    expect(attempts.every((a: { outcome: string; statusCode: number }) => a.outcome === 'delivered' && a.statusCode === 200)).toBe(true);
    expect(attempts.reduce((n: number, a: { events: number }) => n + a.events, 0)).toBe(calls.length);
  });

  it('keeps each user\'s events in order across batches', async () => {
    await forwarder();
    const calls = Array.from({ length: 20 }, (_, i) => ({ type: 'track', userId: `u${i % 2}`, messageId: `order-${i}`, event: 'Step', properties: { i } }));
    await send(calls);
    const rows = await arrived(calls.map((c) => c.messageId));
    for (const user of ['u0', 'u1']) {
      const seq = rows.filter((r) => r.payload.userId === user).map((r) => (r.payload.properties as { i: number }).i);
      expect(seq).toEqual([...seq].sort((a, b) => a - b));
    }
  });

  it('reshapes each message with the destination\'s mapping before it leaves', async () => {
    await forwarder({
      mapping: [
        { op: 'rename', from: 'properties.plan', to: 'properties.tier' },
        { op: 'drop', path: 'context.ip' },
        { op: 'drop', path: 'properties.internal' },
        { op: 'set', path: 'properties.forwardedBy', value: 'rapport-eu' },
        { op: 'set', path: 'context.app', value: { name: 'shop', build: 7 } },
        { op: 'template', path: 'properties.summary', template: '{{event}} by {{userId}} on {{properties.tier}}{{properties.missing}}' },
      ],
    });
    await send([
      { type: 'track', userId: 'cy', messageId: 'mapped-1', event: 'Upgraded', properties: { plan: 'team', internal: 'x', seats: 5 }, context: { ip: '203.0.113.9' } },
      { type: 'track', userId: 'cy', messageId: 'mapped-2', event: 'Downgraded', properties: { seats: 1 }, context: { ip: '203.0.113.9' } },
    ]);
    const rows = await arrived(['mapped-1', 'mapped-2']);
    const first = rows.find((r) => r.message_id === 'mapped-1')!.payload as Record<string, any>;
    expect(first.properties).toEqual({ tier: 'team', seats: 5, forwardedBy: 'rapport-eu', summary: 'Upgraded by cy on team' });
    expect(first.context.app).toEqual({ name: 'shop', build: 7 });
    // The client's address never leaves; the other Rapport records the forwarder's instead.
    expect(first.context.ip).not.toBe('203.0.113.9');
    const second = rows.find((r) => r.message_id === 'mapped-2')!.payload as Record<string, any>;
    // A rename of a missing field does nothing; the template renders the missing field as empty.
    expect(second.properties).toEqual({ seats: 1, forwardedBy: 'rapport-eu', summary: 'Downgraded by cy on ' });
    // The upstream log keeps the event as it was received.
    const original = (await logRows(upstream)).find((r) => r.message_id === 'mapped-1')!.payload as Record<string, any>;
    expect(original.properties).toEqual({ plan: 'team', internal: 'x', seats: 5 });
    expect(original.context.ip).toBe('203.0.113.9');
  });

  it('forwards only the events its filter takes', async () => {
    await forwarder({ filter: { types: ['track'], events: ['Order Completed'] } });
    await send([
      { type: 'track', userId: 'dee', messageId: 'filtered-out', event: 'Product Viewed' },
      { type: 'page', userId: 'dee', messageId: 'filtered-page', name: 'Order Completed' },
      { type: 'track', userId: 'dee', messageId: 'filtered-in', event: 'Order Completed', properties: { total: 9 } },
    ]);
    await arrived(['filtered-in']);
    // Sent in the same batch, before the one that arrived: had they been taken they would be there.
    const ids = (await logRows(downstream)).map((r) => r.message_id);
    expect(ids).not.toContain('filtered-out');
    expect(ids).not.toContain('filtered-page');
  });

  it('keeps the event\'s time when the sending device\'s clock was wrong', async () => {
    await forwarder();
    const now = Date.now();
    const hour = 3600_000;
    // A device whose clock is an hour fast: it says the event happened a minute before it sent it.
    await send([{ type: 'track', userId: 'eli', messageId: 'skewed', event: 'Checkout Started', timestamp: new Date(now + hour - 60_000).toISOString() }], { sentAt: new Date(now + hour).toISOString() });
    const [upstreamRow] = (await logRows(upstream)).filter((r) => r.message_id === 'skewed');
    const corrected = Date.parse(upstreamRow.payload.timestamp as string);
    expect(Math.abs(corrected - (now - 60_000))).toBeLessThan(5_000);
    const [row] = await arrived(['skewed']);
    expect(Math.abs(Date.parse(row.payload.timestamp as string) - corrected)).toBeLessThan(5_000);
  });

  it('dead-letters the batch when the other Rapport refuses the write key, and says why', async () => {
    const r = await call('POST', '/api/v1/destinations', { name: 'Wrong key', type: 'segment', settings: { endpoint: downstream.url, writeKey: 'not-a-write-key' }, retry: FAST_RETRY });
    expect(r.status).toBe(201);
    await send([{ type: 'track', userId: 'fay', messageId: 'unauthorised', event: 'Signed Up' }]);
    const letters = await until('a dead letter', async () => {
      const data = (await call('GET', `/api/v1/destinations/${r.body.id}/dead-letters`)).body.data;
      return data.length ? data : undefined;
    });
    expect(letters[0]).toMatchObject({ reason: 'rejected', statusCode: 401, attempts: 1 });
    expect((await logRows(downstream)).map((row) => row.message_id)).not.toContain('unauthorised');
  });
});
