import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupWorkspace, type SetupResult } from '../../src/workflows/setup-workspace.js';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { basicAuth, messageId, metric, send, storedWith } from './requests.js';

interface SourceView {
  id: string;
  workspaceId: string;
  name: string;
  type: string;
  writeKey: string;
  enabled: boolean;
  rateLimit: number | null;
}

describe.each(ENGINES)('the management API and operating routes on $name', (engine) => {
  let server: TestServer;
  let other: SetupResult;
  beforeAll(async () => {
    server = await startServer(engine);
    other = await setupWorkspace(
      { access: server.rapport.core.access.service, collect: server.rapport.core.collect.service },
      { workspace: 'Globex', email: 'owner@globex.test', password: 'another long password' },
    );
  });
  afterAll(() => server?.close());

  const json = (body: unknown, method = 'POST') => ({ method, body: JSON.stringify(body) });
  const track = (id: string) => ({ messageId: id, userId: 'u1', event: 'Clicked' });

  it.each<[string, (server: TestServer) => Record<string, string>]>([
    ['no Authorization header', () => ({})],
    ['an unknown API key', () => ({ authorization: 'Bearer rk_not_a_real_key' })],
    ['a write key in place of an API key', (s) => ({ authorization: `Bearer ${s.setup.writeKey}` })],
    ['a write key as Basic auth', (s) => ({ authorization: basicAuth(s.setup.writeKey) })],
  ])('refuses a request with %s, with 401', async (_case, headers) => {
    const res = await fetch(`${server.url}/api/v1/sources`, { headers: headers(server) });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: 'authentication_error' } });
  });

  it('creates, lists, reads and updates a source', async () => {
    const created = await server.api('/api/v1/sources', json({ name: 'iOS app', type: 'mobile' }));
    expect(created.status).toBe(201);
    const source = (await created.json()) as SourceView;
    expect(source).toMatchObject({ name: 'iOS app', type: 'mobile', enabled: true, rateLimit: null, workspaceId: server.setup.workspaceId });
    expect(source.writeKey).toMatch(/^[\w-]{32}$/);

    const list = (await (await server.api('/api/v1/sources')).json()) as { data: SourceView[] };
    expect(list.data.map((s) => s.name)).toEqual(expect.arrayContaining(['Website', 'iOS app']));
    expect(await (await server.api(`/api/v1/sources/${source.id}`)).json()).toEqual(source);

    const patched = await server.api(`/api/v1/sources/${source.id}`, json({ name: 'iPhone app', type: 'server' }, 'PATCH'));
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ id: source.id, name: 'iPhone app', type: 'server', writeKey: source.writeKey });
  });

  it('refuses a second source with the same name, with 409', async () => {
    await server.api('/api/v1/sources', json({ name: 'Twin', type: 'http' }));
    expect((await server.api('/api/v1/sources', json({ name: 'Twin', type: 'http' }))).status).toBe(409);
  });

  it.each([
    ['without a name', { type: 'website' }],
    ['with an unknown type', { name: 'Fax', type: 'fax' }],
    ['with a field it does not know', { name: 'Extra', type: 'website', owner: 'me' }],
  ])('refuses to create a source %s, with 400', async (_case, body) => {
    expect((await server.api('/api/v1/sources', json(body))).status).toBe(400);
  });

  it('rotates a write key: the old one is refused at once, the new one collects', async () => {
    const source = (await (await server.api('/api/v1/sources', json({ name: 'Rotating', type: 'server' }))).json()) as SourceView;
    expect((await send(server, '/v1/track', track(messageId('before-rotation')), { authorization: basicAuth(source.writeKey) })).status).toBe(200);

    const rotated = await server.api(`/api/v1/sources/${source.id}/rotate-write-key`, { method: 'POST' });
    expect(rotated.status).toBe(200);
    const { writeKey } = (await rotated.json()) as SourceView;
    expect(writeKey).not.toBe(source.writeKey);

    const id = messageId('after-rotation');
    expect((await send(server, '/v1/track', track(`${id}-old`), { authorization: basicAuth(source.writeKey) })).status).toBe(401);
    expect((await send(server, '/v1/track', track(`${id}-new`), { authorization: basicAuth(writeKey) })).status).toBe(200);
    expect((await storedWith(server, id)).map((r) => r.message_id)).toEqual([`${id}-new`]);
  });

  it('refuses collection for a disabled source, storing nothing, and resumes once it is enabled again', async () => {
    const source = (await (await server.api('/api/v1/sources', json({ name: 'Paused', type: 'website' }))).json()) as SourceView;
    const authorization = basicAuth(source.writeKey);
    expect((await send(server, '/v1/track', track(messageId('warm')), { authorization })).status).toBe(200);

    expect(await (await server.api(`/api/v1/sources/${source.id}`, json({ enabled: false }, 'PATCH'))).json()).toMatchObject({ enabled: false });
    const id = messageId('disabled');
    const refused = await send(server, '/v1/track', track(`${id}-off`), { authorization });
    expect(refused.status).toBe(403);
    expect((await refused.json()).error.message).toMatch(/disabled/);
    expect((await fetch(`${server.url}/v1/projects/${source.writeKey}/settings`)).status).toBe(404);

    await server.api(`/api/v1/sources/${source.id}`, json({ enabled: true }, 'PATCH'));
    expect((await send(server, '/v1/track', track(`${id}-on`), { authorization })).status).toBe(200);
    expect((await storedWith(server, id)).map((r) => r.message_id)).toEqual([`${id}-on`]);
  });

  it.each([
    ['read', 'GET', ''],
    ['update', 'PATCH', ''],
    ['rotate the key of', 'POST', '/rotate-write-key'],
    ['read the debugger of', 'GET', '/debugger'],
    ['stream the debugger of', 'GET', '/debugger/stream'],
  ])("does not let one workspace %s another workspace's source (404)", async (_case, method, suffix) => {
    const res = await server.api(`/api/v1/sources/${other.sourceId}${suffix}`, { method, ...(method === 'PATCH' ? { body: JSON.stringify({ name: 'Mine now' }) } : {}) });
    expect(res.status).toBe(404);
    const theirs = await fetch(`${server.url}/api/v1/sources/${other.sourceId}`, { headers: { authorization: `Bearer ${other.apiKey}` } });
    expect(await theirs.json()).toMatchObject({ name: 'Website', writeKey: other.writeKey });
  });

  it('lists only the sources of the caller’s workspace', async () => {
    const { data } = (await (await server.api('/api/v1/sources')).json()) as { data: SourceView[] };
    expect(data.map((s) => s.id)).not.toContain(other.sourceId);
    expect(new Set(data.map((s) => s.workspaceId))).toEqual(new Set([server.setup.workspaceId]));
  });

  describe('operating and browser routes', () => {
    it('answers /healthz with 200 when ready', async () => {
      const res = await fetch(`${server.url}/healthz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'ok' });
    });

    it('counts received events and the events waiting to be processed in /metrics', async () => {
      // With the pipeline paused, every event sent is one more waiting.
      await server.rapport.core.pipeline.stop();
      const received = await metric(server, 'rapport_events_received_total');
      const lag = await metric(server, 'rapport_pipeline_lag_events');
      const id = messageId('metrics');
      await send(server, '/v1/batch', { batch: [1, 2, 3].map((i) => ({ type: 'track', messageId: `${id}-${i}`, userId: 'u1', event: 'E' })) });
      expect((await metric(server, 'rapport_events_received_total')) - received).toBe(3);
      expect((await metric(server, 'rapport_pipeline_lag_events')) - lag).toBe(3);
      expect(await (await fetch(`${server.url}/metrics`)).text()).toContain('# TYPE rapport_events_rejected_total counter');
    });

    it('publishes an OpenAPI document listing the collection and management paths', async () => {
      const res = await fetch(`${server.url}/api/docs/json`);
      expect(res.status).toBe(200);
      const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, { security?: unknown[] }>> };
      expect(doc.openapi).toMatch(/^3\./);
      expect(Object.keys(doc.paths)).toEqual(
        expect.arrayContaining(['/v1/identify', '/v1/track', '/v1/page', '/v1/screen', '/v1/group', '/v1/alias', '/v1/batch', '/v1/import', '/api/v1/sources', '/api/v1/sources/{id}', '/api/v1/sources/{id}/debugger']),
      );
      expect(doc.paths['/v1/track'].post.security).toEqual([{ writeKey: [] }]);
      expect(doc.paths['/api/v1/sources'].get.security).toEqual([{ apiKey: [] }, { session: [] }]);
    });

    it('serves analytics.js settings that send the browser’s calls to this server', async () => {
      const res = await fetch(`${server.url}/v1/projects/${server.setup.writeKey}/settings`);
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      const settings = (await res.json()) as { integrations: Record<string, { apiKey: string; apiHost: string }> };
      expect(settings.integrations['Segment.io']).toMatchObject({ apiKey: server.setup.writeKey, apiHost: `${new URL(server.url).host}/v1` });
    });

    it('answers settings for an unknown write key with 404', async () => {
      expect((await fetch(`${server.url}/v1/projects/no-such-key/settings`)).status).toBe(404);
    });

    it('serves the analytics.js bundle the Segment snippet loads', async () => {
      const res = await fetch(`${server.url}/analytics.js/v1/${server.setup.writeKey}/analytics.min.js`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/javascript/);
      const body = await res.text();
      expect(body.length).toBeGreaterThan(10_000);
      expect(body).toContain('analytics');
    });
  });

  describe('the live debugger stream', () => {
    /** Reads server-sent events until one satisfies `wanted`, or fails after `ms`. */
    async function readUntil(body: ReadableStream<Uint8Array>, wanted: (entry: Record<string, unknown>) => boolean, ms = 5_000) {
      const reader = body.getReader();
      const decoder = new TextDecoder();
      const deadline = setTimeout(() => void reader.cancel(), ms);
      let buffer = '';
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`stream ended before the event arrived; read: ${buffer}`);
          buffer += decoder.decode(value, { stream: true });
          for (const line of buffer.split('\n')) {
            if (!line.startsWith('data: ')) continue;
            const entry = JSON.parse(line.slice(6)) as Record<string, unknown>;
            if (wanted(entry)) return entry;
          }
        }
      } finally {
        clearTimeout(deadline);
      }
    }

    it('refuses the stream without an API key', async () => {
      expect((await fetch(`${server.url}/api/v1/sources/${server.setup.sourceId}/debugger/stream`)).status).toBe(401);
    });

    it('delivers an event sent after the stream opened, and a rejection with its reason', async () => {
      const abort = new AbortController();
      try {
        const res = await server.api(`/api/v1/sources/${server.setup.sourceId}/debugger/stream`, { signal: abort.signal });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
        const [accepted, rejected] = res.body!.tee();

        const id = messageId('live');
        setTimeout(() => void send(server, '/v1/batch', { batch: [{ type: 'track', messageId: `${id}-ok`, userId: 'u1', event: 'Live' }, { type: 'track', messageId: `${id}-bad`, userId: 'u1' }] }), 100);
        const [ok, bad] = await Promise.all([
          readUntil(accepted, (e) => e.messageId === `${id}-ok`),
          readUntil(rejected, (e) => e.messageId === `${id}-bad`),
        ]);
        expect(ok).toMatchObject({ status: 'accepted', type: 'track', event: 'Live', userId: 'u1' });
        expect(bad).toMatchObject({ status: 'rejected', reason: 'missing_event_name' });
      } finally {
        abort.abort();
      }
    });
  });
});

describe.each(ENGINES)('shutting down on $name', (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(engine);
  });
  afterAll(() => server?.close());

  it('ends open debugger streams, so a debugger tab left open cannot hold the server up', async () => {
    const res = await server.api(`/api/v1/sources/${server.setup.sourceId}/debugger/stream`);
    const reader = res.body!.getReader();
    await reader.read();
    try {
      const outcome = await Promise.race([
        server.rapport.close().then(() => 'closed'),
        new Promise((resolve) => setTimeout(() => resolve('still open after 3 s'), 3_000)),
      ]);
      expect(outcome).toBe('closed');
      // The server ended the stream: the client reads to its end.
      while (!(await reader.read()).done);
    } finally {
      await reader.cancel().catch(() => {});
    }
  });
});
