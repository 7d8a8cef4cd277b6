import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { logRows, startServer, type TestServer } from '../support/server.js';

describe.each(ENGINES)('contacts on $name', (engine) => {
  let server: TestServer;
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => server.call(method, path, body, undefined, headers);

  beforeAll(async () => {
    server = await startServer(engine);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('creates a contact as a profile, and finds the visitor who left that email on the website', async () => {
    // A visitor gave her email on the website: that person is a profile already.
    const res = await fetch(`${server.url}/v1/identify`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, anonymousId: 'visitor-1', traits: { email: 'Grace@Example.com' } }) });
    expect(res.status).toBe(200);
    await server.rapport.core.pipeline.drain();
    const visitor = (await call('GET', `/api/v1/profiles?q=${encodeURIComponent('anonymous_id:visitor-1')}`)).body.data[0].id;

    const found = await call('POST', '/api/v1/crm/contacts', { email: 'grace@example.com', name: 'Grace Hopper', title: 'Rear Admiral', ownerId: 'rep-1', lifecycleStage: 'lead' });
    expect(found.status, JSON.stringify(found.body)).toBe(200);
    expect(found.body).toMatchObject({ id: visitor, name: 'Grace Hopper', title: 'Rear Admiral', ownerId: 'rep-1', lifecycleStage: 'lead', version: 1 });

    const created = await call('POST', '/api/v1/crm/contacts', { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ name: 'Ada Lovelace', email: 'ada@example.com' });
    const profile = (await call('GET', `/api/v1/profiles/${created.body.id}`)).body;
    expect(JSON.stringify(profile)).toContain('ada@example.com');

    const list = (await call('GET', '/api/v1/crm/contacts')).body.data.map((c: { id: string }) => c.id);
    expect(list).toEqual(expect.arrayContaining([visitor, created.body.id]));
    expect((await call('GET', '/api/v1/crm/contacts?lifecycleStage=lead')).body.data.map((c: { id: string }) => c.id)).toEqual([visitor]);
    const events = (await logRows(server)).map((r) => r.payload.event).filter(Boolean);
    expect(events.filter((e) => e === 'Contact Created')).toHaveLength(2);
  });

  it('changes the CRM fields with If-Match and refuses a stale write', async () => {
    const c = await call('POST', '/api/v1/crm/contacts', { email: 'linus@example.com', lifecycleStage: 'lead' });
    const moved = await call('PATCH', `/api/v1/crm/contacts/${c.body.id}`, { lifecycleStage: 'customer', phone: '+44 20 7946 0000' }, { 'if-match': c.etag! });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(moved.body).toMatchObject({ lifecycleStage: 'customer', phone: '+44 20 7946 0000' });
    expect((await call('PATCH', `/api/v1/crm/contacts/${c.body.id}`, { lifecycleStage: 'lead' }, { 'if-match': c.etag! })).status).toBe(412);
    expect((await call('GET', `/api/v1/crm/contacts/${c.body.id}`)).body.lifecycleStage).toBe('customer');
    expect((await logRows(server)).some((r) => r.payload.event === 'Lifecycle Stage Changed')).toBe(true);
  });

  it('refuses what is not a contact', async () => {
    expect((await call('POST', '/api/v1/crm/contacts', { email: 'not-an-email' })).status).toBe(400);
    expect((await call('POST', '/api/v1/crm/contacts', { email: 'x@example.com', lifecycleStage: 'prospect' })).status).toBe(400);
    expect((await call('GET', '/api/v1/crm/contacts/nobody')).status).toBe(404);
  });

  it('shows one timeline of web visits, CRM activities and identity merges, newest first, filterable by kind', async () => {
    const send = async (batch: Record<string, unknown>[]) => {
      const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, batch }) });
      expect(res.status).toBe(200);
      await server.rapport.core.pipeline.drain();
    };
    await send([
      { type: 'page', anonymousId: 'tl-anon', name: 'Pricing', properties: { path: '/pricing' }, timestamp: '2026-11-20T10:00:00.000Z' },
      { type: 'identify', anonymousId: 'tl-anon', userId: 'tl-user', traits: { email: 'tl@example.com' }, timestamp: '2026-11-20T10:05:00.000Z' },
    ]);
    const contact = (await call('POST', '/api/v1/crm/contacts', { email: 'tl@example.com' })).body;
    const logged = await call('POST', '/api/v1/crm/activities', { kind: 'call', direction: 'outbound', subject: 'Follow-up', contactIds: [contact.id] });
    expect(logged.status).toBe(201);
    await server.rapport.core.pipeline.drain();

    const all = (await call('GET', `/api/v1/crm/contacts/${contact.id}/timeline`)).body.data as { kind: string; at: string; event: string | null }[];
    const kinds = all.map((i) => `${i.kind}:${i.event}`);
    expect(kinds).toEqual(expect.arrayContaining(['web:Pricing', 'crm:Call Logged', 'crm:Contact Created']));
    expect(all.map((i) => i.at)).toEqual([...all.map((i) => i.at)].sort().reverse());
    const web = (await call('GET', `/api/v1/crm/contacts/${contact.id}/timeline?kinds=web`)).body.data;
    expect(web.map((i: { event: string }) => i.event)).toEqual(['Pricing']);
    const paged = (await call('GET', `/api/v1/crm/contacts/${contact.id}/timeline?limit=1`)).body;
    const second = (await call('GET', `/api/v1/crm/contacts/${contact.id}/timeline?limit=1&cursor=${paged.nextCursor}`)).body;
    expect(second.data[0]).toEqual(all[1]);
    expect((await call('GET', `/api/v1/crm/contacts/${contact.id}/timeline?kinds=nope`)).status).toBe(400);
  });

  it('finds contacts by words of their email, user id or name (full-text, word prefixes)', async () => {
    await call('POST', '/api/v1/crm/contacts', { email: 'search.me@example.com', name: 'Barbara Liskov' });
    const ids = async (q: string) => (await call('GET', `/api/v1/crm/contacts?q=${encodeURIComponent(q)}`)).body.data.map((c: { email: string }) => c.email);
    expect(await ids('search.m')).toEqual(['search.me@example.com']);
    expect(await ids('SEARCH.ME')).toEqual(['search.me@example.com']);
    expect(await ids('barb')).toEqual(['search.me@example.com']);
    expect(await ids('Barbara L')).toEqual(['search.me@example.com']);
    expect(await ids('Liskov')).toEqual(['search.me@example.com']);
    expect(await ids('lisk barb')).toEqual(['search.me@example.com']);
    expect(await ids('example.com barbara')).toEqual(['search.me@example.com']);
    expect(await ids('iskov')).toEqual([]);
    expect(await ids('nobody-starts-like-this')).toEqual([]);
  });
});
