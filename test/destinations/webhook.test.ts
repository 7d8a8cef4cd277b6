import { createHmac } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { acceptedMessages, startReceiver, type Receiver } from '../support/receiver.js';
import { startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

const FAST_RETRY = { minDelayMs: 50, maxDelayMs: 200, maxAgeMs: 60_000, minAttempts: 3 };


describe.each(ENGINES)('webhook destinations on $name', (engine) => {
  let server: TestServer;
  let receiver: Receiver;

  const call = (method: string, path: string, body?: unknown, apiKey?: string | null) => server.call(method, path, body, apiKey);
  const send = async (batch: Record<string, unknown>[]) => {
    const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, batch }) });
    expect(res.status).toBe(200);
  };
  const create = async (definition: Record<string, unknown>) => {
    const r = await call('POST', '/api/v1/destinations', definition);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body as { id: string };
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

  it('delivers every event once, in order per profile, in signed batches', async () => {
    receiver = await startReceiver();
    const secret = 'a-signing-secret-of-some-length';
    await create({ name: 'Hook', type: 'webhook', settings: { url: `${receiver.url}/hook`, secret, batchSize: 7, headers: { 'x-team': 'growth' } }, retry: FAST_RETRY });
    const events = Array.from({ length: 40 }, (_, i) => ({ type: 'track', event: 'Step', userId: `u${i % 4}`, messageId: `m-${i}`, properties: { i } }));
    await send(events);
    const got = await until('40 deliveries', () => (acceptedMessages(receiver).length >= 40 ? acceptedMessages(receiver) : undefined));
    expect(got.map((m) => m.messageId).sort()).toEqual(events.map((e) => e.messageId).sort());
    for (const user of ['u0', 'u1', 'u2', 'u3']) {
      const seq = got.filter((m) => m.userId === user).map((m) => m.properties.i);
      expect(seq).toEqual([...seq].sort((a, b) => a - b));
    }
    for (const r of receiver.requests) {
      expect(r.body.batch.length).toBeLessThanOrEqual(7);
      expect(r.headers['x-team']).toBe('growth');
      const [t, v1] = String(r.headers['x-rapport-signature']).split(',').map((p) => p.split('=')[1]);
      expect(v1).toBe(createHmac('sha256', secret).update(`${t}.${r.raw}`).digest('hex'));
    }
    expect(got[0].context.rapport.profileId).toEqual(expect.any(String));
  });

  it('retries 500s and timeouts with backoff, then delivers exactly once', async () => {
    receiver = await startReceiver((n) => (n === 0 ? { status: 503, headers: { 'retry-after': '0' } } : n === 1 ? { hang: true } : n === 2 ? { status: 500 } : { status: 200 }));
    const d = await create({ name: 'Flaky', type: 'webhook', settings: { url: receiver.url, timeoutMs: 300 }, retry: FAST_RETRY });
    await send([{ type: 'track', event: 'Signed Up', userId: 'x', messageId: 'only-one' }]);
    await until('a delivery', () => acceptedMessages(receiver).length === 1 || undefined);
    expect(receiver.requests.map((r) => r.answered)).toEqual([503, 'hung', 500, 200]);
    // The receiver has it once it answered; the delivery is recorded right after.
    const log = await until('the delivery recorded', async () => {
      const data = (await call('GET', `/api/v1/destinations/${d.id}/attempts`)).body.data;
      return data.length === 4 ? data : undefined;
    });
    expect(log.map((a: { outcome: string }) => a.outcome)).toEqual(['delivered', 'retry', 'retry', 'retry']);
    expect(log[2].error).toMatch(/timed out/);
    expect((await call('GET', `/api/v1/destinations/${d.id}/stats`)).body).toMatchObject({ queued: 0, deadLetters: 0 });
  });

  it('dead-letters a message the destination refuses, with its answer, and replays it', async () => {
    let refuse = true;
    receiver = await startReceiver(() => (refuse ? { status: 422, body: '{"error":"bad plan"}' } : { status: 200 }));
    const d = await create({ name: 'Strict', type: 'webhook', settings: { url: receiver.url }, retry: FAST_RETRY });
    await send([{ type: 'track', event: 'Upgraded', userId: 'y', messageId: 'refused-1' }]);
    const letters = await until('a dead letter', async () => {
      const r = (await call('GET', `/api/v1/destinations/${d.id}/dead-letters`)).body.data;
      return r.length ? r : undefined;
    });
    expect(letters[0]).toMatchObject({ reason: 'rejected', statusCode: 422, response: '{"error":"bad plan"}', attempts: 1 });
    expect(receiver.requests).toHaveLength(1);
    refuse = false;
    expect((await call('POST', `/api/v1/destinations/${d.id}/dead-letters/replay`, {})).body).toEqual({ requeued: 1 });
    await until('the replayed delivery', () => acceptedMessages(receiver).length === 1 || undefined);
    expect(acceptedMessages(receiver)[0].messageId).toBe('refused-1');
    expect((await call('GET', `/api/v1/destinations/${d.id}/dead-letters`)).body.data).toEqual([]);
  });

  it('keeps a secret when a client sends back what it was shown, and removes it on null', async () => {
    receiver = await startReceiver();
    const secret = 'the-first-signing-secret';
    const d = await create({ name: 'Signed', type: 'webhook', settings: { url: receiver.url, secret } });
    const shown = (await call('GET', `/api/v1/destinations/${d.id}`)).body;
    expect(shown.settings.secret).toBe('(set)');
    expect((await call('PATCH', `/api/v1/destinations/${d.id}`, { settings: shown.settings })).status).toBe(200);
    await send([{ type: 'track', event: 'A', userId: 's1', messageId: 'signed-1' }]);
    await until('a signed delivery', () => receiver.requests[0]);
    const [t, v1] = String(receiver.requests[0].headers['x-rapport-signature']).split(',').map((p) => p.split('=')[1]);
    expect(v1).toBe(createHmac('sha256', secret).update(`${t}.${receiver.requests[0].raw}`).digest('hex'));
    const unsigned = await call('PATCH', `/api/v1/destinations/${d.id}`, { settings: { secret: null } });
    expect(unsigned.body.settings).not.toHaveProperty('secret');
    await send([{ type: 'track', event: 'A', userId: 's1', messageId: 'unsigned-1' }]);
    await until('an unsigned delivery', () => receiver.requests[1]);
    expect(receiver.requests[1].headers['x-rapport-signature']).toBeUndefined();
  });

  it('refuses custom headers that would replace its own, in any spelling, and sends the others once', async () => {
    receiver = await startReceiver();
    for (const name of ['Content-Type', 'X-Rapport-Signature', 'user-agent']) {
      const r = await call('POST', '/api/v1/destinations', { name: 'H', type: 'webhook', settings: { url: receiver.url, headers: { [name]: 'x' } } });
      expect(r.status, name).toBe(400);
    }
    const segment = await call('POST', '/api/v1/destinations', { name: 'S', type: 'segment', settings: { endpoint: receiver.url, writeKey: 'k', headers: { Authorization: 'Bearer x' } } });
    expect(segment.status).toBe(400);
    expect((await call('GET', '/api/v1/destinations')).body.data).toEqual([]);
    await create({ name: 'H', type: 'webhook', settings: { url: receiver.url, headers: { Authorization: 'Bearer token-1', 'X-Team': 'growth' } } });
    await send([{ type: 'track', event: 'A', userId: 'h1', messageId: 'headers-1' }]);
    await until('a delivery', () => receiver.requests[0]);
    expect(receiver.requests[0].headers.authorization).toBe('Bearer token-1');
    expect(receiver.requests[0].headers['content-type']).toBe('application/json');
  });
});
