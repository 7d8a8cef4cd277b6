import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { basicAuth, messageId, send, storedWith } from './requests.js';

/** A POST with exactly these headers: fetch would add a content type of its own. */
function rawPost(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { 'content-length': String(Buffer.byteLength(body)), ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk) => (text += chunk)).on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject).end(body);
  });
}

describe.each(ENGINES)('how the collection API accepts requests on $name', (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(engine);
  });
  afterAll(() => server?.close());

  const track = (id: string, extra: Record<string, unknown> = {}) => ({ messageId: id, userId: 'u1', event: 'Signed Up', ...extra });

  describe('content types', () => {
    it('reads a text/plain body as JSON, as analytics.js sends it', async () => {
      const id = messageId('text-plain');
      const res = await send(server, '/v1/t', track(id), { 'content-type': 'text/plain' });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ success: true, accepted: 1, rejected: [] });
      const [row] = await storedWith(server, id);
      expect(row.payload).toMatchObject({ type: 'track', event: 'Signed Up', userId: 'u1' });
    });

    it('reads a body sent with no content type at all', async () => {
      const id = messageId('no-content-type');
      const res = await rawPost(`${server.url}/v1/track`, { authorization: basicAuth(server.setup.writeKey) }, JSON.stringify(track(id)));
      expect(res.status).toBe(200);
      expect(await storedWith(server, id)).toHaveLength(1);
    });

    it('reads a body whatever content type it claims', async () => {
      const id = messageId('form-type');
      const res = await send(server, '/v1/track', track(id), { 'content-type': 'application/x-www-form-urlencoded' });
      expect(res.status).toBe(200);
      expect(await storedWith(server, id)).toHaveLength(1);
    });
  });

  describe('write keys', () => {
    it('accepts the write key as HTTP Basic user with the trailing colon', async () => {
      const id = messageId('basic-colon');
      expect((await send(server, '/v1/track', track(id), { authorization: basicAuth(server.setup.writeKey) })).status).toBe(200);
      expect(await storedWith(server, id)).toHaveLength(1);
    });

    it('accepts the write key as HTTP Basic user without the colon, as older clients send it', async () => {
      const id = messageId('basic-no-colon');
      expect((await send(server, '/v1/track', track(id), { authorization: basicAuth(server.setup.writeKey, { colon: false }) })).status).toBe(200);
      expect(await storedWith(server, id)).toHaveLength(1);
    });

    it('accepts the write key in the body and keeps it out of the stored event', async () => {
      const id = messageId('body-key');
      const res = await fetch(`${server.url}/v1/track`, { method: 'POST', body: JSON.stringify({ ...track(id), writeKey: server.setup.writeKey }) });
      expect(res.status).toBe(200);
      const [row] = await storedWith(server, id);
      expect(row.payload).not.toHaveProperty('writeKey');
    });

    it('accepts the write key in the body of a batch', async () => {
      const id = messageId('batch-body-key');
      const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, batch: [{ type: 'track', ...track(id) }] }) });
      expect(res.status).toBe(200);
      expect(await storedWith(server, id)).toHaveLength(1);
    });

    it.each([
      ['an unknown write key as Basic user', { authorization: basicAuth('not-a-write-key') }, {}],
      ['an unknown write key in the body', { authorization: '' }, { writeKey: 'not-a-write-key' }],
      ['no write key at all', { authorization: '' }, {}],
      ['an API key in place of a write key', { authorization: 'Bearer rk_not_for_collection' }, {}],
    ])('refuses %s with 401 and stores nothing', async (_case, headers, extra) => {
      const id = messageId('bad-key');
      const res = await send(server, '/v1/track', { ...track(id), ...extra }, headers);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: { code: 'authentication_error', message: expect.stringContaining('write key') } });
      expect(await storedWith(server, id)).toEqual([]);
    });
  });

  describe('compression', () => {
    it('inflates a gzip body', async () => {
      const id = messageId('gzip');
      const body = gzipSync(JSON.stringify({ batch: [{ type: 'track', ...track(id) }, { type: 'identify', messageId: `${id}-2`, userId: 'u1' }] }));
      const res = await send(server, '/v1/batch', body, { 'content-encoding': 'gzip' });
      expect(res.status).toBe(200);
      expect((await storedWith(server, id)).map((r) => r.type)).toEqual(['track', 'identify']);
    });

    it('refuses a body that claims gzip but is not, with 400', async () => {
      const id = messageId('not-gzip');
      const res = await send(server, '/v1/track', track(id), { 'content-encoding': 'gzip' });
      expect(res.status).toBe(400);
      expect((await res.json()).error.message).toMatch(/gzip/);
      expect(await storedWith(server, id)).toEqual([]);
    });

    it('refuses an encoding it does not know, with 400', async () => {
      const res = await send(server, '/v1/track', track(messageId('br')), { 'content-encoding': 'br' });
      expect(res.status).toBe(400);
      expect((await res.json()).error.message).toMatch(/Content-Encoding/);
    });
  });

  describe('browsers on other sites (CORS)', () => {
    it('answers a preflight from any origin with the methods and headers it may use', async () => {
      const res = await fetch(`${server.url}/v1/t`, {
        method: 'OPTIONS',
        headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' },
      });
      expect(res.status).toBeLessThan(300);
      expect(res.headers.get('access-control-allow-origin')).toBe('https://shop.example');
      expect(res.headers.get('access-control-allow-methods')).toContain('POST');
      expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
      expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('content-type');
    });

    it('lets the page read the answer to a POST, errors included', async () => {
      const origin = { origin: 'https://shop.example' };
      const ok = await send(server, '/v1/t', track(messageId('cors')), { ...origin, 'content-type': 'text/plain' });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('access-control-allow-origin')).toBe('https://shop.example');
      const refused = await send(server, '/v1/t', track(messageId('cors')), { ...origin, authorization: basicAuth('unknown') });
      expect(refused.status).toBe(401);
      expect(refused.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    });

    it('lets a page read Retry-After, so analytics.js can back off', async () => {
      const res = await send(server, '/v1/t', track(messageId('cors-expose')), { origin: 'https://shop.example' });
      const exposed = (res.headers.get('access-control-expose-headers') ?? '').toLowerCase();
      expect(exposed).toContain('retry-after');
      expect(exposed).toContain('x-ratelimit-reset');
    });
  });
});
