import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { messageId, send, storedWith } from './requests.js';

const KB = 1024;
/** A track call padded to about `bytes` bytes of JSON. */
const trackOf = (id: string, bytes: number) => ({ type: 'track', messageId: id, userId: 'u1', event: 'Big', properties: { pad: 'x'.repeat(Math.max(0, bytes - 120)) } });

describe.each(ENGINES)('size limits and malformed bodies on $name', (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(engine);
  });
  afterAll(() => server?.close());

  async function expectRefused(res: Response, message: RegExp) {
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.error.code).toBe('invalid_request_error');
    expect(body.error.message).toMatch(message);
  }

  it('stores a single call just under 32 KB', async () => {
    const id = messageId('single-31kb');
    expect((await send(server, '/v1/track', trackOf(id, 31 * KB))).status).toBe(200);
    expect(await storedWith(server, id)).toHaveLength(1);
  });

  it('refuses a single call over 32 KB with 400 and a message naming the limit, storing nothing', async () => {
    const id = messageId('single-33kb');
    await expectRefused(await send(server, '/v1/track', trackOf(id, 33 * KB)), /32 KB per event/);
    expect(await storedWith(server, id)).toEqual([]);
  });

  it('refuses a single call that inflates past 32 KB from a small gzip body', async () => {
    const id = messageId('single-gzip-33kb');
    const body = gzipSync(JSON.stringify(trackOf(id, 33 * KB)));
    expect(body.length).toBeLessThan(KB);
    await expectRefused(await send(server, '/v1/track', body, { 'content-encoding': 'gzip' }), /32 KB per event/);
    expect(await storedWith(server, id)).toEqual([]);
  });

  it('refuses a batch over 500 KB with 400, storing nothing', async () => {
    const id = messageId('batch-510kb');
    const batch = Array.from({ length: 17 }, (_, i) => trackOf(`${id}-${i}`, 30 * KB));
    await expectRefused(await send(server, '/v1/batch', { batch }), /over 500 KB/);
    expect(await storedWith(server, id)).toEqual([]);
  });

  it('refuses a batch far over the limit (3 MB) with 400 rather than dropping the connection', async () => {
    const batch = Array.from({ length: 100 }, (_, i) => trackOf(`${messageId('batch-3mb')}-${i}`, 30 * KB));
    await expectRefused(await send(server, '/v1/batch', { batch }), /over 500 KB/);
  });

  it('refuses a small gzip body that inflates past 500 KB, storing nothing', async () => {
    const id = messageId('gzip-bomb');
    const body = gzipSync(JSON.stringify({ batch: [trackOf(id, 20 * KB)], padding: 'x'.repeat(5 * 1024 * KB) }));
    expect(body.length).toBeLessThan(50 * KB);
    await expectRefused(await send(server, '/v1/batch', body, { 'content-encoding': 'gzip' }), /over 500 KB/);
    expect(await storedWith(server, id)).toEqual([]);
  });

  it('refuses a whole batch with 400 when one of its calls is over 32 KB, storing none of them', async () => {
    const id = messageId('batch-item-33kb');
    const batch = [trackOf(`${id}-0`, KB), trackOf(`${id}-1`, 33 * KB), trackOf(`${id}-2`, KB)];
    await expectRefused(await send(server, '/v1/batch', { batch }), /Event 1 of the batch .* 32 KB per event/);
    expect(await storedWith(server, id)).toEqual([]);
  });

  it.each([
    ['invalid JSON', '{"userId": "u1", "event": '],
    ['a JSON array', '[{"userId": "u1"}]'],
    ['a JSON string', '"hello"'],
    ['an empty body', ''],
  ])('refuses %s with 400', async (_case, body) => {
    const res = await send(server, '/v1/track', body);
    expect(res.status).toBe(400);
    expect((await res.json()).error.message).toMatch(/JSON/);
  });

  it('accepts 2,500 calls in a batch and rejects the ones beyond, like Segment', async () => {
    const id = messageId('2501');
    const batch = Array.from({ length: 2501 }, (_, i) => ({ type: 'track', messageId: `${id}-${i}`, userId: 'u', event: 'E' }));
    const res = await send(server, '/v1/batch', { batch });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.accepted).toBe(2500);
    expect(body.rejected).toEqual([{ index: 2500, messageId: null, reason: 'batch_too_many_events' }]);
    expect(await storedWith(server, id)).toHaveLength(2500);
  });
});
