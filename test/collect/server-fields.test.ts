import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { logRows, startServer, type TestServer } from '../support/server.js';
import { messageId, send, storedWith } from './requests.js';

const HOUR = 3_600_000;
const CHROME = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';

describe.each(ENGINES)('fields the server adds to each call on $name', (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(engine);
  });
  afterAll(() => server?.close());

  /** Sends one track call and returns it as stored. */
  async function stored(call: Record<string, unknown>, headers: Record<string, string> = {}) {
    const id = messageId('fields');
    const res = await send(server, '/v1/track', { messageId: id, userId: 'u1', event: 'E', ...call }, headers);
    expect(res.status).toBe(200);
    const [row] = await storedWith(server, id);
    return row.payload as Record<string, unknown> & { context: Record<string, unknown> };
  }

  it('assigns a messageId to a call that has none', async () => {
    const userId = `no-message-id-${randomUUID()}`;
    const res = await send(server, '/v1/track', { userId, event: 'E' });
    expect(res.status).toBe(200);
    const rows = (await logRows(server)).filter((r) => r.payload.userId === userId);
    expect(rows).toHaveLength(1);
    expect(rows[0].message_id).toMatch(/^rapport-[0-9a-f-]{36}$/);
    expect(rows[0].payload.messageId).toBe(rows[0].message_id);
  });

  it('assigns distinct messageIds, so calls without one are never taken for duplicates', async () => {
    const userId = `no-message-id-${randomUUID()}`;
    await send(server, '/v1/batch', { batch: [{ type: 'track', userId, event: 'E' }, { type: 'track', userId, event: 'E' }] });
    expect((await logRows(server)).filter((r) => r.payload.userId === userId)).toHaveLength(2);
  });

  it('sets receivedAt to the time of arrival', async () => {
    const before = Date.now();
    const payload = await stored({});
    const receivedAt = Date.parse(payload.receivedAt as string);
    expect(receivedAt).toBeGreaterThanOrEqual(before);
    expect(receivedAt).toBeLessThanOrEqual(Date.now());
  });

  it('corrects the timestamp of a client whose clock is an hour ahead, keeping its original timestamp', async () => {
    const deviceNow = Date.now() + HOUR;
    const original = new Date(deviceNow - 5_000).toISOString();
    const payload = await stored({ timestamp: original, sentAt: new Date(deviceNow).toISOString() });
    const receivedAt = Date.parse(payload.receivedAt as string);
    // timestamp = receivedAt - (sentAt - originalTimestamp): the event happened 5 s before it was sent.
    expect(Date.parse(payload.timestamp as string)).toBe(receivedAt - 5_000);
    expect(payload.originalTimestamp).toBe(original);
    expect(payload.sentAt).toBe(new Date(deviceNow).toISOString());
  });

  it('corrects the timestamp of a client whose clock is an hour behind', async () => {
    const deviceNow = Date.now() - HOUR;
    const payload = await stored({ timestamp: new Date(deviceNow - 60_000).toISOString(), sentAt: new Date(deviceNow).toISOString() });
    expect(Date.parse(payload.receivedAt as string) - Date.parse(payload.timestamp as string)).toBe(60_000);
  });

  it('keeps the timestamp as given when the call has no sentAt (a historical import)', async () => {
    const payload = await stored({ timestamp: '2024-03-01T12:00:00.000Z' });
    expect(payload.timestamp).toBe('2024-03-01T12:00:00.000Z');
    expect(payload.originalTimestamp).toBe('2024-03-01T12:00:00.000Z');
  });

  it('uses the time of arrival when the call has no timestamp', async () => {
    const payload = await stored({ sentAt: new Date(Date.now() + HOUR).toISOString() });
    expect(payload.timestamp).toBe(payload.receivedAt);
    expect(payload).not.toHaveProperty('originalTimestamp');
  });

  it('fills context.ip from the request when the call has none', async () => {
    expect((await stored({})).context.ip).toBe('127.0.0.1');
  });

  it('fills context.ip from X-Forwarded-For behind a proxy', async () => {
    expect((await stored({}, { 'x-forwarded-for': '203.0.113.7' })).context.ip).toBe('203.0.113.7');
  });

  it('keeps the context.ip the call brings', async () => {
    expect((await stored({ context: { ip: '198.51.100.23' } })).context.ip).toBe('198.51.100.23');
  });

  it('parses a browser user agent into context.userAgentParsed', async () => {
    const { context } = await stored({ context: { userAgent: CHROME } });
    expect(context.userAgent).toBe(CHROME);
    expect(context.userAgentParsed).toMatchObject({ browser: { name: 'Chrome', version: '126.0.0.0' }, os: { name: 'Mac OS' } });
  });

  it('leaves context.userAgentParsed out when the call has no user agent', async () => {
    expect((await stored({})).context).not.toHaveProperty('userAgentParsed');
  });
});
