import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { acceptedMessages, startReceiver, type Behaviour, type Receiver } from '../support/receiver.js';
import { logRows, startServer, type TestServer } from '../support/server.js';
import { firstAcceptances, outOfOrder, until } from './idempotent-receiver.js';

const TIMEOUT_MS = 300;
// Milliseconds rather than the default seconds, so a test sees dozens of retries.
const FAST_RETRY = { minDelayMs: 20, maxDelayMs: 50, maxAgeMs: 60_000, minAttempts: 3 };

interface Sent {
  type: 'track';
  event: string;
  userId: string;
  messageId: string;
  properties: { i: number };
}

/** `count` events spread over `users` users, interleaved irregularly; each user's events in the order of `i`. */
function events(prefix: string, count: number, users: number): Sent[] {
  return Array.from({ length: count }, (_, i) => ({
    type: 'track', event: 'Step', userId: `${prefix}-user-${(i * 7 + (i >> 3)) % users}`, messageId: `${prefix}-${i}`, properties: { i },
  }));
}

/**
 * A receiver having a bad day, the same way on every run (by request number): 500s and 503s, requests it
 * never answers, requests it takes but answers after the sender gave up ("late"), slow answers within the
 * timeout, and quick ones.
 */
function badDay(n: number): Behaviour {
  if (n % 10 === 3) return { status: 500 };
  if (n % 10 === 6) return { status: 503, headers: n % 20 === 6 ? { 'retry-after': '0' } : {} };
  if (n % 17 === 9) return { hang: true };
  if (isLate(n)) return { status: 200, delayMs: TIMEOUT_MS + 200 };
  if (n % 5 === 1) return { status: 200, delayMs: TIMEOUT_MS / 3 };
  return { status: 200, delayMs: n % 3 };
}
const isLate = (n: number) => n % 13 === 11 && n % 10 !== 3 && n % 10 !== 6 && n % 17 !== 9;

/** A full garbage collection now, as one happens at some point in any long-running process. */
function collectGarbage() {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

describe.each(ENGINES)('delivery through failures, on $name', (engine) => {
  let server: TestServer;
  const receivers: Receiver[] = [];

  const call = (method: string, path: string, body?: unknown, apiKey?: string | null) => server.call(method, path, body, apiKey);
  /** Through the collection API, one batch after another, so the log holds each user's events in the order sent. */
  const send = async (list: Sent[]) => {
    for (let i = 0; i < list.length; i += 50) {
      const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, batch: list.slice(i, i + 50) }) });
      expect(res.status).toBe(200);
    }
  };
  const create = async (definition: Record<string, unknown>) => {
    const r = await call('POST', '/api/v1/destinations', definition);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body as { id: string };
  };
  const receiver = async (behave?: Receiver['behave']) => {
    const r = await startReceiver(behave);
    receivers.push(r);
    return r;
  };
  const stats = async (id: string) => (await call('GET', `/api/v1/destinations/${id}/stats`)).body as { queued: number; deadLetters: number; failingSince: string | null };
  const deadLetters = async (id: string) => {
    const all: { eventOffset: number; reason: string; attempts: number; statusCode: number | null }[] = [];
    for (let cursor: number | null = null; ; ) {
      const page: { data: typeof all; nextCursor: number | null } = (await call('GET', `/api/v1/destinations/${id}/dead-letters?limit=1000${cursor === null ? '' : `&cursor=${cursor}`}`)).body;
      all.push(...page.data);
      if ((cursor = page.nextCursor) === null) return all;
    }
  };

  beforeAll(async () => {
    server = await startServer(engine, { delivery: { pollMs: 50 } });
  });
  afterAll(async () => {
    await server?.close();
  });
  afterEach(async () => {
    for (const d of (await call('GET', '/api/v1/destinations')).body.data) await call('DELETE', `/api/v1/destinations/${d.id}`);
    for (const r of receivers.splice(0)) await r.close();
  });

  it.each(['batch', 'single'] as const)(
    'delivers every event to an idempotent receiver through 500s, timeouts and slow answers, each user in order (%s requests)',
    async (mode) => {
      const r = await receiver(badDay);
      const d = await create({ name: `Flaky ${mode}`, type: 'webhook', settings: { url: r.url, mode, batchSize: 10, timeoutMs: TIMEOUT_MS }, retry: FAST_RETRY });
      const sent = events(`flaky-${mode}-${engine.name}`, mode === 'batch' ? 300 : 200, 16);
      await send(sent);

      const { order, times } = await until('every message accepted once at least', () => {
        const seen = firstAcceptances(r);
        return seen.order.length >= sent.length ? seen : undefined;
      });
      expect(await until('an empty outbox', async () => ((await stats(d.id)).queued === 0 ? stats(d.id) : undefined))).toMatchObject({ queued: 0, deadLetters: 0, failingSince: null });

      expect(new Set(order)).toEqual(new Set(sent.map((m) => m.messageId)));
      expect(outOfOrder(sent, order)).toEqual([]);
      // A message may come twice only when the receiver took it but answered after the sender had given up.
      const late = new Set(r.requests.filter((_, n) => isLate(n)).flatMap((q) => (mode === 'batch' ? q.body.batch : [q.body]).map((m: { messageId: string }) => m.messageId)));
      const twice = [...times].filter(([, n]) => n > 1).map(([id]) => id);
      expect(twice.filter((id) => !late.has(id))).toEqual([]);
      // Not vacuous: every kind of bad answer happened.
      const answered = r.requests.map((q) => q.answered);
      expect(answered).toContain(500);
      expect(answered).toContain(503);
      expect(answered).toContain('hung');
      expect(late.size).toBeGreaterThan(0);
      const log = (await call('GET', `/api/v1/destinations/${d.id}/attempts?limit=1000`)).body.data as { outcome: string; error: string | null }[];
      expect(log.some((a) => a.outcome === 'retry' && /timed out/.test(a.error ?? ''))).toBe(true);
    },
  );

  it('gives up on a request that gets no answer after timeoutMs, even when memory is collected meanwhile', async () => {
    const r = await receiver((n) => (n === 0 ? { hang: true } : { status: 200 }));
    await create({ name: 'Silent once', type: 'webhook', settings: { url: r.url, timeoutMs: TIMEOUT_MS }, retry: FAST_RETRY });
    await send([{ type: 'track', event: 'Step', userId: `silent-${engine.name}`, messageId: `silent-${engine.name}`, properties: { i: 0 } }]);
    await until('the request that gets no answer', () => r.requests.length === 1);
    collectGarbage();
    await until('the message delivered on a later try', () => acceptedMessages(r).length === 1, 10 * TIMEOUT_MS);
    expect(r.requests.map((q) => q.answered)).toEqual(['hung', 200]);
  });

  it('ends in the dead letters when the destination is down for the whole retry window, and replays cleanly', async () => {
    let healthy = false;
    const r = await receiver(() => (healthy ? { status: 200 } : { status: 500 }));
    const d = await create({
      name: 'Down', type: 'webhook', settings: { url: r.url, batchSize: 10, timeoutMs: TIMEOUT_MS },
      retry: { minDelayMs: 20, maxDelayMs: 50, maxAgeMs: 1_000, minAttempts: 3 },
    });
    const sent = events(`down-${engine.name}`, 120, 12);
    await send(sent);

    const letters = await until('every message dead-lettered', async () => {
      const list = await deadLetters(d.id);
      return list.length >= sent.length ? list : undefined;
    });
    expect(await stats(d.id)).toMatchObject({ queued: 0, deadLetters: sent.length });
    expect(new Set(letters.map((l) => l.reason))).toEqual(new Set(['retries_exhausted']));
    const messageIdAt = new Map((await logRows(server)).map((row) => [row.offset, row.message_id]));
    expect(letters.map((l) => messageIdAt.get(l.eventOffset)).sort()).toEqual(sent.map((m) => m.messageId).sort());
    expect(acceptedMessages(r)).toEqual([]);
    // Not vacuous: the receiver was tried again and again before the messages were given up.
    expect(r.requests.length).toBeGreaterThanOrEqual(3);

    healthy = true;
    const before = r.requests.length;
    expect((await call('POST', `/api/v1/destinations/${d.id}/dead-letters/replay`, {})).body).toEqual({ requeued: sent.length });
    const replayed = await until('every replayed message accepted', () => {
      const seen = firstAcceptances(r, before);
      return seen.order.length >= sent.length ? seen : undefined;
    });
    await until('an empty outbox', async () => (await stats(d.id)).queued === 0);
    const again = firstAcceptances(r, before);
    expect([...again.times].filter(([, n]) => n !== 1)).toEqual([]);
    expect(new Set(replayed.order)).toEqual(new Set(sent.map((m) => m.messageId)));
    expect(outOfOrder(sent, replayed.order)).toEqual([]);
    expect(await deadLetters(d.id)).toEqual([]);
    expect(await stats(d.id)).toMatchObject({ queued: 0, deadLetters: 0, failingSince: null });
  });

  it('never gives up on a backlog while a rate-limited receiver keeps taking most of it', async () => {
    // Every fourth request is turned away with a 429; the next try of it goes through.
    const r = await receiver((n) => (n % 4 === 3 ? { status: 429 } : { status: 200 }));
    const d = await create({
      name: 'Rate limited', type: 'webhook', settings: { url: r.url, batchSize: 10, timeoutMs: TIMEOUT_MS },
      retry: { minDelayMs: 20, maxDelayMs: 50, maxAgeMs: 500, minAttempts: 3 },
    });
    const sent = events(`limited-${engine.name}`, 1_000, 10);
    await send(sent);

    await until('an outbox drained', async () => (await stats(d.id)).queued === 0);
    const letters = await deadLetters(d.id);
    const { order } = firstAcceptances(r);
    expect({ delivered: order.length, deadLetters: letters.length, firstLetter: letters.at(-1) }).toEqual({ delivered: sent.length, deadLetters: 0, firstLetter: undefined });
    expect(outOfOrder(sent, order)).toEqual([]);
  });

  it("waits as long as a receiver's Retry-After asks before trying again", async () => {
    const r = await receiver((n) => (n === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 }));
    await create({ name: 'Busy', type: 'webhook', settings: { url: r.url, timeoutMs: TIMEOUT_MS }, retry: FAST_RETRY });
    await send([{ type: 'track', event: 'Step', userId: `busy-${engine.name}`, messageId: `busy-${engine.name}`, properties: { i: 0 } }]);
    await until('the retried delivery', () => acceptedMessages(r).length === 1, 5_000);
    expect(r.requests.map((q) => q.answered)).toEqual([429, 200]);
    // Its own backoff would have come back after 20 to 50 ms.
    expect(r.requests[1].at - r.requests[0].at).toBeGreaterThanOrEqual(950);
  });

  it('never lets a destination that hangs or fails delay another', async () => {
    const bad = await receiver((n) => (n % 2 === 0 ? { hang: true } : { status: 500 }));
    const good = await receiver();
    const failing = await create({ name: 'Failing', type: 'webhook', settings: { url: bad.url, batchSize: 10, timeoutMs: 2_000 }, retry: FAST_RETRY });
    await create({ name: 'Healthy', type: 'webhook', settings: { url: good.url, batchSize: 10 }, retry: FAST_RETRY });
    const sent = events(`neighbours-${engine.name}`, 200, 10);
    await send(sent);

    const { order } = await until('the healthy destination has everything', () => {
      const seen = firstAcceptances(good);
      return seen.order.length >= sent.length ? seen : undefined;
    }, 3_000);
    expect(outOfOrder(sent, order)).toEqual([]);
    // Meanwhile the other is still failing, with everything still queued.
    expect(acceptedMessages(bad)).toEqual([]);
    expect(bad.requests.length).toBeGreaterThan(0);
    expect((await stats(failing.id)).queued).toBe(sent.length);
  });
});
