import { Analytics } from '@segment/analytics-node';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { basicAuth, messageId, metric, send, storedWith } from './requests.js';

const track = (id: string) => ({ messageId: id, userId: 'u1', event: 'Clicked' });

describe.each(ENGINES)('rate limits per write key on $name', (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(engine, { collect: { rateLimitPerWriteKey: 10 } });
  });
  afterAll(() => server?.close());

  /** Sends `count` single calls one after another, as fast as they are answered. */
  async function burst(count: number, id: string, authorization = basicAuth(server.setup.writeKey)) {
    const answers: Response[] = [];
    for (let i = 0; i < count; i++) answers.push(await send(server, '/v1/track', track(`${id}-${i}`), { authorization }));
    return answers;
  }

  it('answers a burst past the limit with 429 and Retry-After, storing only what it accepted', async () => {
    const id = messageId('burst');
    const started = Date.now();
    const answers = await burst(30, id);
    const refilled = Math.ceil(((Date.now() - started) / 1000) * 10);
    const accepted = answers.filter((r) => r.status === 200);
    const limited = answers.filter((r) => r.status === 429);
    expect(accepted.length + limited.length).toBe(30);
    expect(accepted.length).toBeGreaterThanOrEqual(10);
    expect(accepted.length).toBeLessThanOrEqual(10 + refilled);
    expect(Number(limited[0].headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await limited[0].json()).toMatchObject({ error: { code: 'rate_limit_error', message: expect.stringContaining('10 events per second') } });
    expect(await storedWith(server, id)).toHaveLength(accepted.length);
  });

  it('takes calls again once Retry-After has passed', async () => {
    const id = messageId('after-wait');
    const limited = (await burst(15, id)).find((r) => r.status === 429)!;
    await new Promise((resolve) => setTimeout(resolve, Number(limited.headers.get('retry-after')) * 1000));
    expect((await send(server, '/v1/track', track(`${id}-later`))).status).toBe(200);
  });

  it('counts a batch as its number of calls', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const batch = Array.from({ length: 8 }, (_, i) => ({ type: 'track', ...track(`${messageId('batch-cost')}-${i}`) }));
    expect((await send(server, '/v1/batch', { batch })).status).toBe(200);
    expect((await send(server, '/v1/batch', { batch })).status).toBe(429);
  });

  it("applies a source's own rate limit, set through the management API, in place of the default", async () => {
    const created = await server.api('/api/v1/sources', { method: 'POST', body: JSON.stringify({ name: 'Rate-limited app', type: 'server' }) });
    const source = (await created.json()) as { id: string; writeKey: string };
    const authorization = basicAuth(source.writeKey);

    const raise = await server.api(`/api/v1/sources/${source.id}`, { method: 'PATCH', body: JSON.stringify({ rateLimit: 100 }) });
    expect(await raise.json()).toMatchObject({ rateLimit: 100 });
    expect((await burst(30, messageId('raised'), authorization)).map((r) => r.status)).toEqual(Array(30).fill(200));

    await server.api(`/api/v1/sources/${source.id}`, { method: 'PATCH', body: JSON.stringify({ rateLimit: 2 }) });
    expect((await burst(3, messageId('lowered'), authorization)).map((r) => r.status)).toEqual([200, 200, 429]);
  });

  it("lets Segment's Node client wait out the limit and deliver every event", async () => {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const id = messageId('node-client-limited');
    const analytics = new Analytics({ writeKey: server.setup.writeKey, host: server.url, flushAt: 1 });
    const failures: unknown[] = [];
    for (let i = 0; i < 15; i++) analytics.track({ messageId: `${id}-${i}`, userId: 'u1', event: 'Clicked' }, (error) => error && failures.push(error));
    await analytics.closeAndFlush({ timeout: 15_000 });
    expect(failures).toEqual([]);
    expect(await storedWith(server, id)).toHaveLength(15);
  });

  it('limits each write key on its own', async () => {
    const created = await server.api('/api/v1/sources', { method: 'POST', body: JSON.stringify({ name: 'Quiet app', type: 'server' }) });
    const { writeKey } = (await created.json()) as { writeKey: string };
    await burst(15, messageId('noisy'));
    expect((await send(server, '/v1/track', track(messageId('quiet')), { authorization: basicAuth(writeKey) })).status).toBe(200);
  });
});

describe.each(ENGINES)('overload on $name', (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(engine, { collect: { maxPendingEvents: 6 } });
  });
  afterAll(() => server?.close());

  /**
   * Makes the log fall behind: a transaction holds it (SQLite's one connection, PostgreSQL's events table)
   * until `release` is called, so appends queue up in the server as they would behind a slow disk.
   */
  async function holdTheLog() {
    let acquired!: () => void;
    let release!: () => void;
    const isHeld = new Promise<void>((resolve) => (acquired = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    const done = server.rapport.database.db.transaction().execute(async (trx) => {
      if (server.rapport.database.engine === 'postgres') await sql`lock table events in exclusive mode`.execute(trx);
      acquired();
      await released;
    });
    await isHeld;
    return () => {
      release();
      return done;
    };
  }

  it('turns requests away with 503 and Retry-After while the log is behind, and loses none it acknowledged', async () => {
    const id = messageId('overload');
    // Warm the write-key cache: resolving a key must not wait on the held log.
    expect((await send(server, '/v1/track', track(`${id}-warm`))).status).toBe(200);
    const before = await metric(server, 'rapport_collect_requests_refused_total{cause="overloaded"}');

    const release = await holdTheLog();
    const requests = Array.from({ length: 30 }, (_, r) => Array.from({ length: 3 }, (_, i) => `${id}-${r}-${i}`));
    const answering = requests.map(async (ids) => {
      const res = await send(server, '/v1/batch', { batch: ids.map((mid) => ({ type: 'track', ...track(mid) })) });
      return { ids, status: res.status, retryAfter: res.headers.get('retry-after') };
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await release();
    const answers = await Promise.all(answering);

    const turnedAway = answers.filter((a) => a.status === 503);
    expect(answers.filter((a) => a.status !== 200 && a.status !== 503)).toEqual([]);
    expect(turnedAway.length).toBeGreaterThan(0);
    expect(turnedAway.length).toBeLessThan(30);
    for (const answer of turnedAway) expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
    expect((await metric(server, 'rapport_collect_requests_refused_total{cause="overloaded"}')) - before).toBe(turnedAway.length);

    const acknowledged = answers.filter((a) => a.status === 200).flatMap((a) => a.ids);
    const stored = (await storedWith(server, id)).map((r) => r.message_id).filter((m) => !m.endsWith('-warm'));
    expect(stored.sort()).toEqual(acknowledged.sort());
  });

  it('takes calls again once the log has caught up', async () => {
    const id = messageId('recovered');
    const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => send(server, '/v1/track', track(`${id}-${i}`))));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
  });
});
