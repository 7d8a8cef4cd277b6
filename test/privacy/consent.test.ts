import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { acceptedMessages, startReceiver, type Receiver } from '../support/receiver.js';
import { startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

const FAST_RETRY = { minDelayMs: 20, maxDelayMs: 50, maxAgeMs: 60_000, minAttempts: 3 };
const consent = (prefs: Record<string, boolean>) => ({ consent: { categoryPreferences: prefs } });

describe.each(ENGINES)('consent on $name', (engine) => {
  let server: TestServer;
  let receiver: Receiver | undefined;
  const call = (method: string, path: string, body?: unknown, apiKey?: string | null) => server.call(method, path, body, apiKey);
  const send = async (batch: Record<string, unknown>[]) => {
    const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, batch }) });
    expect(res.status).toBe(200);
    await server.rapport.core.pipeline.drain();
  };
  const profileIdOf = async (userId: string) => (await call('GET', `/api/v1/profiles?q=${encodeURIComponent(`user_id:${userId}`)}`)).body.data[0]?.id as string;

  beforeAll(async () => {
    server = await startServer(engine, { delivery: { pollMs: 50 } });
    for (const name of ['Advertising', 'Analytics', 'Functional']) expect((await call('POST', '/api/v1/privacy/consent-categories', { name })).status).toBe(201);
  });
  afterAll(async () => {
    await server?.close();
  });
  afterEach(async () => {
    for (const d of (await call('GET', '/api/v1/destinations')).body.data) await call('DELETE', `/api/v1/destinations/${d.id}`);
    await receiver?.close();
    receiver = undefined;
  });

  it('keeps the workspace\'s consent categories: list, create, describe, delete; bad input changes nothing', async () => {
    const created = await call('POST', '/api/v1/privacy/consent-categories', { name: 'Marketing', description: 'Emails and offers' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'Marketing', description: 'Emails and offers' });
    expect((await call('POST', '/api/v1/privacy/consent-categories', { name: 'Marketing' })).status).toBe(409);
    for (const bad of [{}, { name: '' }, { name: '   ' }, { name: 'X', extra: 1 }, { name: 'x'.repeat(101) }]) {
      const r = await call('POST', '/api/v1/privacy/consent-categories', bad);
      expect(r.status, JSON.stringify(bad)).toBe(400);
    }
    const list = (await call('GET', '/api/v1/privacy/consent-categories')).body.data.map((c: { name: string }) => c.name);
    expect(list).toEqual(['Advertising', 'Analytics', 'Functional', 'Marketing']);
    const patched = await call('PATCH', `/api/v1/privacy/consent-categories/${created.body.id}`, { description: 'Newsletters' });
    expect(patched.body.description).toBe('Newsletters');
    expect((await call('PATCH', `/api/v1/privacy/consent-categories/${created.body.id}`, { name: 'Other' })).status).toBe(400);
    expect((await call('GET', `/api/v1/privacy/consent-categories/${created.body.id}`)).body.name).toBe('Marketing');
    expect((await call('DELETE', `/api/v1/privacy/consent-categories/${created.body.id}`)).status).toBe(204);
    expect((await call('GET', `/api/v1/privacy/consent-categories/${created.body.id}`)).status).toBe(404);
    expect((await call('DELETE', '/api/v1/privacy/consent-categories/nope')).status).toBe(404);
  });

  it('keeps the consent events state on the profile, the newest statement winning, with its history', async () => {
    await send([
      { type: 'identify', userId: 'c1', messageId: 'c1-a', timestamp: '2026-01-01T10:00:00Z', context: consent({ Advertising: true, Analytics: true, Unknown: true }) },
      { type: 'track', event: 'Viewed', userId: 'c1', messageId: 'c1-b', timestamp: '2026-01-01T12:00:00Z', context: consent({ Advertising: false }) },
      // Older than the refusal: arrives late, changes nothing.
      { type: 'track', event: 'Viewed', userId: 'c1', messageId: 'c1-c', timestamp: '2026-01-01T11:00:00Z', context: consent({ Advertising: true }) },
      // Same value again: no new history.
      { type: 'page', userId: 'c1', messageId: 'c1-d', timestamp: '2026-01-01T13:00:00Z', context: consent({ Analytics: true }) },
    ]);
    const id = await profileIdOf('c1');
    const got = (await call('GET', `/api/v1/profiles/${id}/consent`)).body;
    expect(got.categoryPreferences).toEqual({ Advertising: false, Analytics: true });
    expect(got.categories.Advertising).toMatchObject({ granted: false, statedAt: '2026-01-01T12:00:00.000Z', source: 'event' });
    // Newest first; one event's categories in any order (PostgreSQL's jsonb orders keys its own way).
    const history = got.history.map((h: { category: string; granted: boolean; event: { messageId: string } }) => [h.event.messageId, h.category, h.granted]);
    expect(history[0]).toEqual(['c1-b', 'Advertising', false]);
    expect(history.slice(1).sort()).toEqual([['c1-a', 'Advertising', true], ['c1-a', 'Analytics', true]]);
    expect(got.history[0].event.offset).toBeGreaterThan(0);
  });

  it('takes consent through the API for defined categories, refusing others without changing anything', async () => {
    await send([{ type: 'identify', userId: 'c2', messageId: 'c2-a' }]);
    const id = await profileIdOf('c2');
    const refused = await call('PUT', `/api/v1/profiles/${id}/consent`, { categoryPreferences: { Advertising: true, Nope: true } });
    expect(refused.status).toBe(400);
    expect((await call('PUT', `/api/v1/profiles/${id}/consent`, { categoryPreferences: { Advertising: 'maybe' } })).status).toBe(400);
    expect((await call('PUT', `/api/v1/profiles/${id}/consent`, { categoryPreferences: {} })).status).toBe(400);
    expect((await call('GET', `/api/v1/profiles/${id}/consent`)).body.history).toEqual([]);
    const set = await call('PUT', `/api/v1/profiles/${id}/consent`, { categoryPreferences: { Advertising: true, Functional: false } });
    expect(set.status).toBe(200);
    expect(set.body.categoryPreferences).toEqual({ Advertising: true, Functional: false });
    expect(set.body.history[0]).toMatchObject({ source: 'api', actor: { type: 'api_key' }, event: null });
    expect((await call('PUT', '/api/v1/profiles/no-such-profile/consent', { categoryPreferences: { Advertising: true } })).status).toBe(404);
    const audit = (await call('GET', `/api/v1/audit?action=privacy.consent`)).body.data;
    expect(audit.filter((e: { status: number }) => e.status === 200).map((e: { action: string; target: { type: string; id: string } }) => [e.action, e.target])).toEqual([
      ['privacy.consent.update', { type: 'profile', id }],
    ]);
  });

  it('queues an event for a destination only when neither the profile nor the event refuses a category it needs', async () => {
    receiver = await startReceiver();
    const hook = await call('POST', '/api/v1/destinations', { name: 'Ads', type: 'webhook', settings: { url: `${receiver.url}/hook`, mode: 'single' }, consent: ['Advertising'], retry: FAST_RETRY });
    expect(hook.status).toBe(201);
    await send([
      { type: 'identify', userId: 'c3', messageId: 'c3-grant', context: consent({ Advertising: true }) },
      // No consent in the event: the profile's consent (granted) decides.
      { type: 'track', event: 'A', userId: 'c3', messageId: 'c3-plain' },
      // The event refuses: not sent, whatever the profile said.
      { type: 'track', event: 'A', userId: 'c3', messageId: 'c3-refused', timestamp: '2020-01-01T00:00:00Z', context: consent({ Advertising: false }) },
      // A visitor who never stated anything: not sent.
      { type: 'track', event: 'A', userId: 'c4', messageId: 'c4-plain' },
    ]);
    const id = await profileIdOf('c3');
    await call('PUT', `/api/v1/profiles/${id}/consent`, { categoryPreferences: { Advertising: false } });
    // The profile has refused since: even an event that grants is not sent.
    await send([
      { type: 'track', event: 'A', userId: 'c3', messageId: 'c3-after', timestamp: '2020-01-01T00:00:00Z', context: consent({ Advertising: true }) },
      { type: 'track', event: 'A', userId: 'c4', messageId: 'c4-sentinel', context: consent({ Advertising: true }) },
    ]);
    await until('the sentinel', () => acceptedMessages(receiver!).some((m) => m.messageId === 'c4-sentinel'));
    expect(acceptedMessages(receiver).map((m) => m.messageId).sort()).toEqual(['c3-grant', 'c3-plain', 'c4-sentinel']);
  });

  it('drops what is still queued for a destination when the profile withdraws a category it needs', async () => {
    // A destination that does not answer: what it takes waits in the outbox.
    const down = await call('POST', '/api/v1/destinations', { name: 'Down', type: 'webhook', settings: { url: 'http://127.0.0.1:9/down' }, consent: ['Advertising'], retry: { minDelayMs: 60_000, maxDelayMs: 60_000, maxAgeMs: 3_600_000, minAttempts: 3 } });
    const other = await call('POST', '/api/v1/destinations', { name: 'Down, no consent', type: 'webhook', settings: { url: 'http://127.0.0.1:9/down' }, retry: { minDelayMs: 60_000, maxDelayMs: 60_000, maxAgeMs: 3_600_000, minAttempts: 3 } });
    const queued = async (destinationId: string, userId: string) => {
      const id = await profileIdOf(userId);
      return (await server.rapport.database.db.selectFrom('outbox').select('id').where('destination_id', '=', destinationId).where('profile_id', '=', id).execute()).length;
    };
    await send([
      { type: 'identify', userId: 'w1', messageId: 'w1-a', context: consent({ Advertising: true }) },
      { type: 'track', event: 'A', userId: 'w1', messageId: 'w1-b' },
      { type: 'identify', userId: 'w2', messageId: 'w2-a', context: consent({ Advertising: true }) },
      { type: 'track', event: 'A', userId: 'w2', messageId: 'w2-b' },
    ]);
    expect(await queued(down.body.id, 'w1')).toBe(2);
    expect(await queued(down.body.id, 'w2')).toBe(2);
    // Withdrawn through the API for w1, by an event for w2: their queued messages go, for the destination that needs the category only.
    await call('PUT', `/api/v1/profiles/${await profileIdOf('w1')}/consent`, { categoryPreferences: { Advertising: false } });
    await send([{ type: 'track', event: 'B', userId: 'w2', messageId: 'w2-c', context: consent({ Advertising: false }) }]);
    expect(await queued(down.body.id, 'w1')).toBe(0);
    expect(await queued(down.body.id, 'w2')).toBe(0);
    expect(await queued(other.body.id, 'w1')).toBe(2);
    expect(await queued(other.body.id, 'w2')).toBe(3);
  });

  it('folds a merged profile\'s consent into the survivor', async () => {
    // Separate batches: two profiles, each with its consent, then the alias merges them.
    await send([{ type: 'page', anonymousId: 'anon-m', messageId: 'm-1', timestamp: '2026-02-01T00:00:00Z', context: consent({ Analytics: false }) }]);
    await send([{ type: 'identify', userId: 'c5', messageId: 'm-2', timestamp: '2026-01-01T00:00:00Z', context: consent({ Analytics: true, Functional: true }) }]);
    await send([{ type: 'alias', userId: 'c5', previousId: 'anon-m', messageId: 'm-3' }]);
    const id = await profileIdOf('c5');
    const got = (await call('GET', `/api/v1/profiles/${id}/consent`)).body;
    expect(got.categoryPreferences).toEqual({ Analytics: false, Functional: true });
    expect(got.history).toHaveLength(3);
  });
});
