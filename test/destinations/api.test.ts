import { createHmac } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { setupWorkspace, type SetupResult } from '../../src/workflows/setup-workspace.js';
import { ENGINES } from '../support/engines.js';
import { acceptedMessages, startReceiver, type Receiver } from '../support/receiver.js';
import { startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

const FAST_RETRY = { minDelayMs: 20, maxDelayMs: 50, maxAgeMs: 60_000, minAttempts: 3 };
const SECRET = 'the-first-signing-secret';

interface Answer {
  status: number;
  body: any;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const signatureOf = (secret: string, r: { headers: Record<string, unknown>; raw: string }) => {
  const [t, v1] = String(r.headers['x-rapport-signature']).split(',').map((p) => p.split('=')[1]);
  return v1 === createHmac('sha256', secret).update(`${t}.${r.raw}`).digest('hex');
};

describe.each(ENGINES)('the destinations API on $name', (engine) => {
  let server: TestServer;
  let receiver: Receiver;
  let other: SetupResult;

  const call = (method: string, path: string, body?: unknown, apiKey?: string | null): Promise<Answer> => server.call(method, path, body, apiKey);
  const expectStatus = (answer: Answer, status: number) => {
    expect(answer.status, JSON.stringify(answer.body)).toBe(status);
    return answer.body;
  };
  const send = async (batch: Record<string, unknown>[], writeKey = server.setup.writeKey) => {
    const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ writeKey, batch }) });
    expect(res.status).toBe(200);
  };
  const create = async (definition: Record<string, unknown>) => expectStatus(await call('POST', '/api/v1/destinations', definition), 201) as { id: string; [k: string]: any };
  const webhook = (settings: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
    name: 'Hook', type: 'webhook', settings: { url: `${receiver.url}/hook`, ...settings }, retry: FAST_RETRY, ...extra,
  });
  const rowsOf = async (table: string, destinationId: string) =>
    (await server.rapport.database.db.selectFrom(table).selectAll().where('destination_id', '=', destinationId).execute()).length;

  beforeAll(async () => {
    server = await startServer(engine, { delivery: { pollMs: 50 } });
    other = await setupWorkspace(
      { access: server.rapport.core.access.service, collect: server.rapport.core.collect.service },
      { workspace: 'Globex', email: 'owner@globex.test', password: 'another correct horse battery' },
    );
    expectStatus(await call('POST', '/api/v1/audiences', { key: 'buyers', name: 'Buyers', condition: { event: { name: 'Order Completed' } } }), 201);
  });
  afterAll(async () => {
    await server?.close();
  });
  afterEach(async () => {
    for (const d of (await call('GET', '/api/v1/destinations')).body.data) await call('DELETE', `/api/v1/destinations/${d.id}`);
    await receiver?.close();
  });

  describe('creating and reading', () => {
    it('creates a destination and shows it with its defaults, in the list and on its own', async () => {
      receiver = await startReceiver();
      const created = await create(webhook({ mode: 'single' }, { filter: { types: ['track'] }, consent: ['analytics'], rateLimit: 50 }));
      expect(created).toMatchObject({
        id: expect.any(String), name: 'Hook', type: 'webhook', enabled: true, failingSince: null,
        settings: { url: `${receiver.url}/hook`, mode: 'single' }, filter: { types: ['track'] }, consent: ['analytics'], rateLimit: 50, retry: FAST_RETRY,
      });
      expect(new Date(created.createdAt).toISOString()).toBe(created.createdAt);
      expect(expectStatus(await call('GET', `/api/v1/destinations/${created.id}`), 200)).toEqual(created);
      expect(expectStatus(await call('GET', '/api/v1/destinations'), 200).data).toEqual([created]);
      expect(expectStatus(await call('GET', `/api/v1/destinations/${created.id}/stats`), 200)).toEqual({
        queued: 0, waiting: 0, oldestEnqueuedAt: null, deadLetters: 0, lastHour: [], failingSince: null, consecutiveFailures: 0,
      });
    });

    it('answers 404 for a destination that does not exist, and 400 for an id that is not one', async () => {
      receiver = await startReceiver();
      expectStatus(await call('GET', '/api/v1/destinations/00000000-0000-4000-8000-000000000000'), 404);
      expectStatus(await call('PATCH', '/api/v1/destinations/00000000-0000-4000-8000-000000000000', { enabled: false }), 404);
      expectStatus(await call('GET', '/api/v1/destinations/not-an-id'), 400);
    });
  });

  describe('validation', () => {
    it.each<[string, Record<string, unknown>, RegExp]>([
      ['a URL that is not http(s)', { name: 'Bad', type: 'webhook', settings: { url: 'ftp://files.example.com/in' } }, /settings\/url/],
      ['a URL that is not a URL at all', { name: 'Bad', type: 'webhook', settings: { url: 'hooks example com' } }, /settings\/url/],
      ['an unknown type', { name: 'Bad', type: 'kafka', settings: { url: 'https://hooks.example.com' } }, /type must be equal to one of the allowed values/],
      ['a webhook without a url', { name: 'Bad', type: 'webhook', settings: { mode: 'batch' } }, /settings must have required property 'url'/],
      ['a segment destination without a write key', { name: 'Bad', type: 'segment', settings: { endpoint: 'https://api.segment.io' } }, /settings must have required property 'writeKey'/],
      ['a secret too short to sign with', { name: 'Bad', type: 'webhook', settings: { url: 'https://hooks.example.com', secret: 'short' } }, /settings\/secret must NOT have fewer than 16 characters/],
      ['a setting of another type', { name: 'Bad', type: 'webhook', settings: { url: 'https://hooks.example.com', writeKey: 'k' } }, /settings has an unexpected property "writeKey"/],
      ['a header name with a space', { name: 'Bad', type: 'webhook', settings: { url: 'https://hooks.example.com', headers: { 'x team': 'a' } } }, /settings\/headers/],
      ['a batch size over 1000', { name: 'Bad', type: 'webhook', settings: { url: 'https://hooks.example.com', batchSize: 5000 } }, /settings\/batchSize must be <= 1000/],
      ['a timeout under 100 ms', { name: 'Bad', type: 'webhook', settings: { url: 'https://hooks.example.com', timeoutMs: 5 } }, /settings\/timeoutMs must be >= 100/],
      ['an audience sync of no audience', { name: 'Bad', type: 'audience_sync', settings: { url: 'https://crm.example.com', audiences: [] } }, /settings\/audiences must NOT have fewer than 1 items/],
      ['an unknown event type in the filter', { name: 'Bad', type: 'webhook', settings: { url: 'https://hooks.example.com' }, filter: { types: ['click'] } }, /filter\/types\/0/],
      ['a rate limit of zero', { name: 'Bad', type: 'webhook', settings: { url: 'https://hooks.example.com' }, rateLimit: 0 }, /rateLimit must be >= 1/],
      ['retry.maxDelayMs below retry.minDelayMs', { name: 'Bad', type: 'webhook', settings: { url: 'https://hooks.example.com' }, retry: { minDelayMs: 5000, maxDelayMs: 1000 } }, /retry\.maxDelayMs must not be below retry\.minDelayMs/],
      ['a destination without a name', { type: 'webhook', settings: { url: 'https://hooks.example.com' } }, /must have required property 'name'/],
      ['an unknown field', { name: 'Bad', type: 'webhook', settings: { url: 'https://hooks.example.com' }, transform: 'x' }, /unexpected property "transform"/],
    ])('refuses %s with a message naming the problem, and creates nothing', async (_, definition, message) => {
      receiver = await startReceiver();
      const body = expectStatus(await call('POST', '/api/v1/destinations', definition), 400);
      expect(body.error.code).toBe('validation_error');
      expect(body.error.message).toMatch(message);
      expect(expectStatus(await call('GET', '/api/v1/destinations'), 200).data).toEqual([]);
    });

    it('refuses a filter or an audience sync naming an audience that does not exist', async () => {
      receiver = await startReceiver();
      const filtered = expectStatus(await call('POST', '/api/v1/destinations', { name: 'Bad', type: 'webhook', settings: { url: receiver.url }, filter: { audiences: ['buyers', 'ghosts'] } }), 400);
      expect(filtered.error.message).toMatch(/no audience has the key "ghosts"/);
      const synced = expectStatus(await call('POST', '/api/v1/destinations', { name: 'Bad', type: 'audience_sync', settings: { url: receiver.url, audiences: ['phantoms'] } }), 400);
      expect(synced.error.message).toMatch(/no audience has the key "phantoms"/);
      expect(expectStatus(await call('GET', '/api/v1/destinations'), 200).data).toEqual([]);
      // Another workspace's audience of that key is no audience of this one.
      expectStatus(await call('POST', '/api/v1/audiences', { key: 'globex_only', name: 'Globex only', condition: { trait: 'plan', op: 'exists' } }, other.apiKey), 201);
      const foreign = expectStatus(await call('POST', '/api/v1/destinations', { name: 'Bad', type: 'audience_sync', settings: { url: receiver.url, audiences: ['globex_only'] } }), 400);
      expect(foreign.error.message).toMatch(/no audience has the key "globex_only"/);
    });

    it('refuses a mapping step with an unknown operation, naming the step', async () => {
      receiver = await startReceiver();
      const body = expectStatus(await call('POST', '/api/v1/destinations', { ...webhook(), mapping: [{ op: 'drop', path: 'context.ip' }, { op: 'move', from: 'a', to: 'b' }] }), 400);
      expect(body.error.message).toMatch(/mapping\/1/);
      const badPath = expectStatus(await call('POST', '/api/v1/destinations', { ...webhook(), mapping: [{ op: 'set', path: 'properties..x', value: 1 }] }), 400);
      expect(badPath.error.message).toMatch(/mapping\/0\/path/);
      expect(expectStatus(await call('GET', '/api/v1/destinations'), 200).data).toEqual([]);
    });

    it('names the operation when a mapping step or a property test has an unknown one, and the missing field when one is missing', async () => {
      receiver = await startReceiver();
      const move = expectStatus(await call('POST', '/api/v1/destinations', { ...webhook(), mapping: [{ op: 'move', from: 'a', to: 'b' }] }), 400);
      expect(move.error.message).toMatch(/mapping\/0\/op/);
      const between = expectStatus(await call('POST', '/api/v1/destinations', { ...webhook(), filter: { where: [{ path: 'properties.total', op: 'between', value: 1 }] } }), 400);
      expect(between.error.message).toMatch(/where\/0\/op/);
      const set = expectStatus(await call('POST', '/api/v1/destinations', { ...webhook(), mapping: [{ op: 'set', path: 'properties.x' }] }), 400);
      expect(set.error.message).toMatch(/required property 'value'/);
    });

    it('refuses a change of type, and a change that would make the destination invalid, leaving it as it was', async () => {
      receiver = await startReceiver();
      const d = await create(webhook());
      const typed = expectStatus(await call('PATCH', `/api/v1/destinations/${d.id}`, { type: 'segment', settings: { endpoint: receiver.url, writeKey: 'k' } }), 400);
      expect(typed.error.message).toMatch(/type of a destination cannot change/);
      const broken = expectStatus(await call('PATCH', `/api/v1/destinations/${d.id}`, { settings: { url: 'nope' } }), 400);
      expect(broken.error.message).toMatch(/settings\/url/);
      expect(expectStatus(await call('GET', `/api/v1/destinations/${d.id}`), 200)).toEqual(d);
    });

    it('refuses an empty change, or settings that are not an object', async () => {
      receiver = await startReceiver();
      const d = await create(webhook());
      expectStatus(await call('PATCH', `/api/v1/destinations/${d.id}`, {}), 400);
      expectStatus(await call('PATCH', `/api/v1/destinations/${d.id}`, { settings: 'https://elsewhere.example.com' }), 400);
      expect(expectStatus(await call('GET', `/api/v1/destinations/${d.id}`), 200)).toEqual(d);
    });
  });

  describe('secrets', () => {
    it('never shows a signing secret or a write key, only that one is set', async () => {
      receiver = await startReceiver();
      const hook = await create(webhook({ secret: SECRET }));
      expect(hook.settings.secret).toBe('(set)');
      const segment = await create({ name: 'Forward', type: 'segment', settings: { endpoint: receiver.url, writeKey: 'wk_live_abcdefgh1234' } });
      expect(segment.settings.writeKey).toBe('…1234');
      const sync = await create({ name: 'Sync', type: 'audience_sync', settings: { url: receiver.url, audiences: ['buyers'], secret: SECRET } });
      expect(sync.settings.secret).toBe('(set)');
      const everywhere = JSON.stringify([
        (await call('GET', '/api/v1/destinations')).body,
        ...(await Promise.all([hook, segment, sync].map(async (d) => (await call('GET', `/api/v1/destinations/${d.id}`)).body))),
        (await call('PATCH', `/api/v1/destinations/${hook.id}`, { name: 'Renamed' })).body,
        (await call('PATCH', `/api/v1/destinations/${segment.id}`, { name: 'Renamed' })).body,
      ]);
      expect(everywhere).not.toContain(SECRET);
      expect(everywhere).not.toContain('wk_live_abcdefgh');
    });

    it('keeps the secret when settings change without it, and signs with a new one once given', async () => {
      receiver = await startReceiver();
      const d = await create(webhook({ secret: SECRET }));
      const changed = expectStatus(await call('PATCH', `/api/v1/destinations/${d.id}`, { settings: { headers: { 'x-team': 'growth' } } }), 200);
      expect(changed.settings).toEqual({ url: `${receiver.url}/hook`, secret: '(set)', headers: { 'x-team': 'growth' } });
      await send([{ type: 'track', userId: 'sig', messageId: 'signed-1', event: 'Signed Up' }]);
      await until('the first delivery', () => acceptedMessages(receiver).length === 1 || undefined);
      expect(receiver.requests[0].headers['x-team']).toBe('growth');
      expect(signatureOf(SECRET, receiver.requests[0])).toBe(true);

      const rotated = 'the-second-signing-secret';
      expectStatus(await call('PATCH', `/api/v1/destinations/${d.id}`, { settings: { secret: rotated } }), 200);
      await send([{ type: 'track', userId: 'sig', messageId: 'signed-2', event: 'Signed Up' }]);
      await until('the second delivery', () => acceptedMessages(receiver).length === 2 || undefined);
      expect(signatureOf(rotated, receiver.requests[1])).toBe(true);
      expect(signatureOf(SECRET, receiver.requests[1])).toBe(false);
    });

    it('keeps the write key when a segment destination\'s other settings change', async () => {
      receiver = await startReceiver();
      const d = await create({ name: 'Forward', type: 'segment', settings: { endpoint: receiver.url, writeKey: 'wk_live_abcdefgh1234' }, retry: FAST_RETRY });
      expectStatus(await call('PATCH', `/api/v1/destinations/${d.id}`, { settings: { batchSize: 10 } }), 200);
      await send([{ type: 'track', userId: 'wk', messageId: 'wk-1', event: 'Signed Up' }]);
      await until('the delivery', () => receiver.requests.length >= 1 || undefined);
      expect(receiver.requests[0].path).toBe('/v1/batch');
      expect(receiver.requests[0].headers.authorization).toBe(`Basic ${Buffer.from('wk_live_abcdefgh1234:').toString('base64')}`);
    });
  });

  describe('changing', () => {
    it('replaces top-level fields and merges settings', async () => {
      receiver = await startReceiver();
      const d = await create(webhook({ batchSize: 10, headers: { 'x-a': '1' } }, { filter: { types: ['track'] }, consent: ['analytics'] }));
      const changed = expectStatus(await call('PATCH', `/api/v1/destinations/${d.id}`, { name: 'Renamed', filter: { events: ['Signed Up'] }, settings: { timeoutMs: 2000 } }), 200);
      expect(changed).toMatchObject({ name: 'Renamed', filter: { events: ['Signed Up'] }, consent: ['analytics'], settings: { url: `${receiver.url}/hook`, batchSize: 10, headers: { 'x-a': '1' }, timeoutMs: 2000 } });
      expect(changed.filter).not.toHaveProperty('types');
      expect(Date.parse(changed.updatedAt)).toBeGreaterThan(Date.parse(d.updatedAt));
    });
  });

  describe('workspaces and permissions', () => {
    it('hides a destination from another workspace\'s API key', async () => {
      receiver = await startReceiver();
      const d = await create(webhook());
      expect(expectStatus(await call('GET', '/api/v1/destinations', undefined, other.apiKey), 200).data).toEqual([]);
      for (const [method, path, body] of [
        ['GET', '', undefined], ['PATCH', '', { enabled: false }], ['DELETE', '', undefined], ['GET', '/stats', undefined], ['GET', '/attempts', undefined],
        ['GET', '/dead-letters', undefined], ['POST', '/dead-letters/replay', {}], ['DELETE', '/dead-letters', {}], ['GET', '/replays', undefined],
        ['POST', '/replays', { from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' }], ['POST', '/resync', undefined], ['POST', '/test', undefined],
      ] as const) {
        const answer = await call(method, `/api/v1/destinations/${d.id}${path}`, body, other.apiKey);
        expect(answer.status, `${method} ${path}`).toBe(404);
      }
      expect(receiver.requests).toHaveLength(0);
      expect(expectStatus(await call('GET', `/api/v1/destinations/${d.id}`), 200).enabled).toBe(true);
    });

    it('never delivers another workspace\'s events', async () => {
      receiver = await startReceiver();
      await create(webhook());
      await send([{ type: 'track', userId: 'globex-user', messageId: 'globex-1', event: 'Signed Up' }], other.writeKey);
      await send([{ type: 'track', userId: 'acme-user', messageId: 'acme-1', event: 'Signed Up' }]);
      await until('this workspace\'s event', () => acceptedMessages(receiver).some((m) => m.messageId === 'acme-1') || undefined);
      await pause(200);
      expect(acceptedMessages(receiver).map((m) => m.messageId)).toEqual(['acme-1']);
    });

    it('answers 401 to every destinations route without an API key', async () => {
      receiver = await startReceiver();
      const d = await create(webhook());
      for (const [method, path] of [
        ['GET', ''], ['POST', ''], ['GET', `/${d.id}`], ['PATCH', `/${d.id}`], ['DELETE', `/${d.id}`], ['GET', `/${d.id}/stats`], ['GET', `/${d.id}/attempts`],
        ['GET', `/${d.id}/dead-letters`], ['POST', `/${d.id}/dead-letters/replay`], ['DELETE', `/${d.id}/dead-letters`], ['GET', `/${d.id}/replays`],
        ['POST', `/${d.id}/replays`], ['POST', `/${d.id}/resync`], ['POST', `/${d.id}/test`],
      ] as const) {
        expect((await call(method, `/api/v1/destinations${path}`, method === 'GET' || method === 'DELETE' ? undefined : {}, null)).status, `${method} ${path}`).toBe(401);
      }
      expect(receiver.requests).toHaveLength(0);
    });
  });

  describe('deleting', () => {
    it('deletes a destination with its queue, dead letters and delivery log, and stops sending to it', async () => {
      receiver = await startReceiver((n) => (n === 0 ? { status: 422 } : { status: 503 }));
      const d = await create(webhook({ batchSize: 1 }));
      await send([{ type: 'track', userId: 'del', messageId: 'del-refused', event: 'A' }]);
      await until('a dead letter', async () => (await call('GET', `/api/v1/destinations/${d.id}/stats`)).body.deadLetters === 1 || undefined);
      await send([{ type: 'track', userId: 'del', messageId: 'del-1', event: 'B' }, { type: 'track', userId: 'del', messageId: 'del-2', event: 'C' }]);
      await until('messages waiting to be retried', async () => (await call('GET', `/api/v1/destinations/${d.id}/stats`)).body.waiting >= 1 || undefined);
      expect(await rowsOf('outbox', d.id)).toBeGreaterThan(0);

      expectStatus(await call('DELETE', `/api/v1/destinations/${d.id}`), 204);
      expectStatus(await call('GET', `/api/v1/destinations/${d.id}`), 404);
      expectStatus(await call('GET', `/api/v1/destinations/${d.id}/stats`), 404);
      expect(expectStatus(await call('GET', '/api/v1/destinations'), 200).data).toEqual([]);
      await pause(300);
      const sent = receiver.requests.length;
      await pause(300);
      expect(receiver.requests.length).toBe(sent);
      for (const table of ['outbox', 'dead_letters', 'delivery_attempts', 'destination_leases', 'destination_replays']) expect(await rowsOf(table, d.id), table).toBe(0);
      expectStatus(await call('DELETE', `/api/v1/destinations/${d.id}`), 404);
    });

    it('leaves nothing behind when a request is in flight as the destination is deleted', async () => {
      receiver = await startReceiver(() => ({ status: 422, delayMs: 400 }));
      const d = await create(webhook());
      await send([{ type: 'track', userId: 'inflight', messageId: 'inflight-1', event: 'A' }]);
      await until('the request to be in flight', () => receiver.requests.length === 1 || undefined);
      expectStatus(await call('DELETE', `/api/v1/destinations/${d.id}`), 204);
      await pause(700);
      expect(await rowsOf('delivery_attempts', d.id)).toBe(0);
      expect(await rowsOf('dead_letters', d.id)).toBe(0);
    });
  });

  describe('observability', () => {
    it('counts delivered messages per destination at /metrics', async () => {
      receiver = await startReceiver();
      const d = await create(webhook({ batchSize: 2 }));
      await send(Array.from({ length: 5 }, (_, i) => ({ type: 'track', userId: 'metrics', messageId: `metrics-${i}`, event: 'Counted' })));
      await until('five deliveries', () => acceptedMessages(receiver).length >= 5 || undefined);
      const text = await until('the counter', async () => {
        const body = await (await fetch(`${server.url}/metrics`)).text();
        return body.includes(`rapport_destination_messages_total{destination="${d.id}",outcome="delivered"} 5`) ? body : undefined;
      });
      expect(text).toMatch(new RegExp(`rapport_destination_requests_total\\{destination="${d.id}",outcome="delivered"\\} 3`));
      expect(text).toContain(`rapport_destination_request_seconds_count{destination="${d.id}"} 3`);
      expect(text).toContain('# TYPE rapport_destination_outbox_messages gauge');
      expect(text).toContain('# TYPE rapport_destination_dead_letters gauge');
    });

    it('shows the depth of a failing destination\'s queue at /metrics', async () => {
      receiver = await startReceiver(() => ({ status: 503 }));
      const d = await create(webhook());
      await send([{ type: 'track', userId: 'depth', messageId: 'depth-1', event: 'A' }, { type: 'track', userId: 'depth', messageId: 'depth-2', event: 'B' }]);
      await until('the queue gauge', async () => (await (await fetch(`${server.url}/metrics`)).text()).includes(`rapport_destination_outbox_messages{destination="${d.id}"} 2`) || undefined);
    });

    it('publishes the destinations API in the OpenAPI document, behind an API key', async () => {
      receiver = await startReceiver();
      const res = await fetch(`${server.url}/api/docs/json`);
      expect(res.status).toBe(200);
      const doc = (await res.json()) as { paths: Record<string, Record<string, { security?: unknown[]; tags?: string[] }>> };
      const paths = Object.keys(doc.paths).filter((p) => p.startsWith('/api/v1/destinations'));
      expect(paths.sort()).toEqual([
        '/api/v1/destinations', '/api/v1/destinations/{id}', '/api/v1/destinations/{id}/attempts', '/api/v1/destinations/{id}/dead-letters',
        '/api/v1/destinations/{id}/dead-letters/replay', '/api/v1/destinations/{id}/replays', '/api/v1/destinations/{id}/resync',
        '/api/v1/destinations/{id}/stats', '/api/v1/destinations/{id}/test',
      ]);
      expect(Object.keys(doc.paths['/api/v1/destinations']).sort()).toEqual(['get', 'post']);
      expect(Object.keys(doc.paths['/api/v1/destinations/{id}']).sort()).toEqual(['delete', 'get', 'patch']);
      for (const p of paths) for (const op of Object.values(doc.paths[p])) {
        expect(op.security).toEqual([{ apiKey: [] }, { session: [] }]);
        expect(op.tags).toEqual(['destinations']);
      }
    });
  });
});
