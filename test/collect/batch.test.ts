import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { messageId, send, storedWith } from './requests.js';

describe.each(ENGINES)('batches and paths of the collection API on $name', (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(engine);
  });
  afterAll(() => server?.close());

  it('merges the batch context, integrations and sentAt into each call, the call’s own keys winning', async () => {
    const id = messageId('merge');
    const res = await send(server, '/v1/batch', {
      context: { library: { name: 'batch-lib', version: '1.0' }, locale: 'fr-FR', ip: '198.51.100.1' },
      integrations: { All: false, Mixpanel: true },
      sentAt: '2026-01-01T00:00:10.000Z',
      batch: [
        { type: 'track', messageId: `${id}-plain`, userId: 'u1', event: 'Viewed', timestamp: '2026-01-01T00:00:00.000Z' },
        {
          type: 'identify', messageId: `${id}-own`, userId: 'u1',
          context: { locale: 'de-DE', app: { name: 'Shop' } },
          integrations: { Mixpanel: false },
          sentAt: '2026-01-01T00:00:05.000Z',
          timestamp: '2026-01-01T00:00:00.000Z',
        },
      ],
    });
    expect(res.status).toBe(200);
    const [plain, own] = (await storedWith(server, id)).map((r) => r.payload);

    expect(plain.context).toMatchObject({ library: { name: 'batch-lib', version: '1.0' }, locale: 'fr-FR', ip: '198.51.100.1' });
    expect(plain.integrations).toEqual({ All: false, Mixpanel: true });
    expect(plain.sentAt).toBe('2026-01-01T00:00:10.000Z');

    expect(own.context).toMatchObject({ library: { name: 'batch-lib', version: '1.0' }, locale: 'de-DE', app: { name: 'Shop' }, ip: '198.51.100.1' });
    expect(own.integrations).toEqual({ All: false, Mixpanel: false });
    expect(own.sentAt).toBe('2026-01-01T00:00:05.000Z');
    // The batch's sentAt drives the skew correction of calls that have none of their own: 10 s and 5 s before arrival.
    expect(Date.parse(plain.receivedAt as string) - Date.parse(plain.timestamp as string)).toBe(10_000);
    expect(Date.parse(own.receivedAt as string) - Date.parse(own.timestamp as string)).toBe(5_000);
  });

  it.each(['/v1/batch', '/v1/b', '/v1/import'])('stores each call of a batch posted to %s, in order', async (path) => {
    const id = messageId(`path${path.replaceAll('/', '-')}`);
    const res = await send(server, path, {
      batch: [
        { type: 'identify', messageId: `${id}-1`, userId: 'u1', traits: { plan: 'pro' } },
        { type: 'track', messageId: `${id}-2`, userId: 'u1', event: 'Upgraded' },
        { type: 'page', messageId: `${id}-3`, userId: 'u1', name: 'Home' },
        { type: 'screen', messageId: `${id}-4`, userId: 'u1', name: 'Cart' },
        { type: 'group', messageId: `${id}-5`, userId: 'u1', groupId: 'g1' },
        { type: 'alias', messageId: `${id}-6`, userId: 'u1', previousId: 'a1' },
      ],
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true, accepted: 6, rejected: [] });
    expect((await storedWith(server, id)).map((r) => r.type)).toEqual(['identify', 'track', 'page', 'screen', 'group', 'alias']);
  });

  const calls: [string, string, Record<string, unknown>][] = [
    ['identify', 'i', { traits: { email: 'a@example.com' } }],
    ['track', 't', { event: 'Clicked' }],
    ['page', 'p', { name: 'Home' }],
    ['screen', 's', { name: 'Cart' }],
    ['group', 'g', { groupId: 'g1' }],
    ['alias', 'a', { previousId: 'anon-9' }],
  ];

  it.each(calls)('stores a %s call from its full path and its one-letter path', async (type, letter, fields) => {
    const id = messageId(`single-${type}`);
    for (const path of [`/v1/${type}`, `/v1/${letter}`]) {
      const res = await send(server, path, { messageId: `${id}-${path}`, userId: 'u1', ...fields });
      expect(res.status).toBe(200);
    }
    const rows = await storedWith(server, id);
    expect(rows.map((r) => r.type)).toEqual([type, type]);
    for (const row of rows) expect(row.payload).toMatchObject({ type, userId: 'u1', ...fields });
  });

  it('takes the call type from the path, not from the body', async () => {
    const id = messageId('path-type');
    expect((await send(server, '/v1/track', { type: 'identify', messageId: id, userId: 'u1', event: 'Clicked' })).status).toBe(200);
    const [row] = await storedWith(server, id);
    expect(row.type).toBe('track');
  });

  it('refuses a batch without a batch array, with 400', async () => {
    const res = await send(server, '/v1/batch', { events: [] });
    expect(res.status).toBe(400);
    expect((await res.json()).error.message).toMatch(/"batch" array/);
  });

  it('rejects a batch item without a known type, storing the others', async () => {
    const id = messageId('no-type');
    const res = await send(server, '/v1/batch', { batch: [{ messageId: `${id}-1`, userId: 'u1' }, { type: 'track', messageId: `${id}-2`, userId: 'u1', event: 'E' }] });
    expect(res.status).toBe(200);
    expect((await res.json()).rejected).toEqual([{ index: 0, messageId: `${id}-1`, reason: 'invalid_type' }]);
    expect((await storedWith(server, id)).map((r) => r.message_id)).toEqual([`${id}-2`]);
  });
});
