import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';

describe.each(ENGINES)('merging duplicate contacts on $name', (engine) => {
  let server: TestServer;
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => server.call(method, path, body, undefined, headers);
  const send = async (batch: Record<string, unknown>[]) => {
    const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, batch }) });
    expect(res.status).toBe(200);
    await server.rapport.core.pipeline.drain();
  };

  beforeAll(async () => {
    server = await startServer(engine);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('merges the profiles through the merge log, and everything of the duplicate shows on the survivor', async () => {
    const primary = (await call('POST', '/api/v1/crm/contacts', { email: 'maria@example.com', name: 'Maria Garcia', ownerId: 'rep-1' })).body;
    const duplicate = (await call('POST', '/api/v1/crm/contacts', { email: 'm.garcia@work.example', name: 'M. Garcia', title: 'CFO', lifecycleStage: 'lead' })).body;
    // The duplicate's web visits and a deal with it.
    await send([
      { type: 'identify', anonymousId: 'browser-9', traits: { email: 'm.garcia@work.example' } },
      { type: 'page', anonymousId: 'browser-9', name: 'Pricing', properties: { path: '/pricing' } },
    ]);
    const deal = (await call('POST', '/api/v1/crm/deals', { name: 'Garcia expansion', contactIds: [duplicate.id] })).body;

    const merged = await call('POST', `/api/v1/crm/contacts/${primary.id}/merge`, { duplicateId: duplicate.id });
    expect(merged.status, JSON.stringify(merged.body)).toBe(200);
    // CRM fields: the primary's win, the duplicate's fill the gaps; traits: the newest value of each.
    expect(merged.body).toMatchObject({ id: primary.id, ownerId: 'rep-1', lifecycleStage: 'lead', title: 'CFO' });
    expect(merged.etag).toBeTruthy();

    // The duplicate's id answers as the survivor; the list holds one of them.
    expect((await call('GET', `/api/v1/crm/contacts/${duplicate.id}`)).body.id).toBe(primary.id);
    const listed = (await call('GET', '/api/v1/crm/contacts?limit=200')).body.data.map((c: { id: string }) => c.id);
    expect(listed).toContain(primary.id);
    expect(listed).not.toContain(duplicate.id);

    // Both emails and the browser are on one profile, and the merge log says who merged them.
    const profile = (await call('GET', `/api/v1/profiles/${primary.id}`)).body;
    expect(profile.identifiers).toEqual(expect.arrayContaining([{ type: 'email', value: 'maria@example.com' }, { type: 'email', value: 'm.garcia@work.example' }, { type: 'anonymous_id', value: 'browser-9' }]));
    const explained = JSON.stringify((await call('GET', `/api/v1/profiles/${primary.id}/explain`)).body);
    expect(explained).toContain('manual:merge');

    // Its deal, its page view, its CRM events and the merge itself show on the survivor.
    expect((await call('GET', `/api/v1/crm/deals?contactId=${primary.id}`)).body.data.map((d: { id: string }) => d.id)).toEqual([deal.id]);
    const timeline = (await call('GET', `/api/v1/crm/contacts/${primary.id}/timeline?limit=100`)).body.data as { kind: string; event?: string; name?: string }[];
    expect(timeline.some((t) => t.kind === 'web')).toBe(true);
    expect(timeline.some((t) => t.kind === 'merge')).toBe(true);
    expect(timeline.filter((t) => t.kind === 'crm').map((t) => t.event)).toEqual(expect.arrayContaining(['Deal Created', 'Contact Created', 'Contact Created']));
    expect(timeline.filter((t) => t.event === 'Contact Created')).toHaveLength(2);

    // One search result, found by either email.
    for (const q of ['garcia', 'work example']) {
      const hits = (await call('GET', `/api/v1/crm/search?q=${encodeURIComponent(q)}&objects=contact`)).body.data;
      expect(hits.map((h: { id: string }) => h.id), q).toEqual([primary.id]);
    }
  });

  it("keeps the duplicate's activities, tasks and tickets with the survivor, found by either id", async () => {
    const primary = (await call('POST', '/api/v1/crm/contacts', { email: 'lena@example.com', name: 'Lena Berg' })).body;
    const duplicate = (await call('POST', '/api/v1/crm/contacts', { email: 'l.berg@work.example', name: 'L. Berg' })).body;
    const other = (await call('POST', '/api/v1/crm/contacts', { email: 'someone.else@example.com', name: 'Someone Else' })).body;
    const ok = (answer: { status: number; body: any }) => {
      expect(answer.status, JSON.stringify(answer.body)).toBeLessThan(300);
      return answer.body;
    };
    const call1 = ok(await call('POST', '/api/v1/crm/activities', { kind: 'call', body: 'Discussed renewal', contactIds: [duplicate.id] }));
    const note = ok(await call('POST', '/api/v1/crm/activities', { kind: 'note', body: 'Likes the product', contactIds: [primary.id] }));
    ok(await call('POST', '/api/v1/crm/activities', { kind: 'note', body: 'Not about Lena', contactIds: [other.id] }));
    const task = ok(await call('POST', '/api/v1/crm/tasks', { title: 'Send the quote', contactIds: [duplicate.id] }));
    ok(await call('POST', '/api/v1/crm/tasks', { title: 'Not about Lena', contactIds: [other.id] }));
    const ticket = ok(await call('POST', '/api/v1/crm/tickets', { subject: 'Cannot sign in', contactId: duplicate.id }));
    ok(await call('POST', '/api/v1/crm/tickets', { subject: 'Not about Lena', contactId: other.id }));

    // Before the merge, each contact has its own.
    expect((await call('GET', `/api/v1/crm/tasks?contactId=${primary.id}`)).body.data).toEqual([]);
    expect((await call('GET', `/api/v1/crm/tasks?contactId=${duplicate.id}`)).body.data.map((t: { id: string }) => t.id)).toEqual([task.id]);

    expect((await call('POST', `/api/v1/crm/contacts/${primary.id}/merge`, { duplicateId: duplicate.id })).status).toBe(200);
    for (const id of [primary.id, duplicate.id]) {
      const activities = (await call('GET', `/api/v1/crm/activities?object=contact&id=${id}&limit=50`)).body.data.map((a: { id: string }) => a.id);
      expect(activities.sort(), id).toEqual([call1.id, note.id].sort());
      expect((await call('GET', `/api/v1/crm/tasks?contactId=${id}`)).body.data.map((t: { id: string }) => t.id), id).toEqual([task.id]);
      expect((await call('GET', `/api/v1/crm/tickets?contactId=${id}`)).body.data.map((t: { id: string }) => t.id), id).toEqual([ticket.id]);
    }
  });

  it('refuses to make one person of two user ids, or of one contact, and changes nothing', async () => {
    await send([
      { type: 'identify', userId: 'user-a', traits: { email: 'alex@example.com', name: 'Alex A' } },
      { type: 'identify', userId: 'user-b', traits: { email: 'alex.b@example.com', name: 'Alex B' } },
    ]);
    const hits = (await call('GET', '/api/v1/crm/search?q=alex&objects=contact')).body.data as { id: string }[];
    expect(hits).toHaveLength(2);
    const [a, b] = hits.map((h) => h.id);
    const refused = await call('POST', `/api/v1/crm/contacts/${a}/merge`, { duplicateId: b });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toMatch(/2 user_id values/);
    expect((await call('GET', `/api/v1/crm/contacts/${b}`)).body.id).toBe(b);
    expect(JSON.stringify((await call('GET', `/api/v1/profiles/${a}/explain`)).body)).not.toContain('manual:merge');

    expect((await call('POST', `/api/v1/crm/contacts/${a}/merge`, { duplicateId: a })).status).toBe(409);
    expect((await call('POST', `/api/v1/crm/contacts/${a}/merge`, { duplicateId: 'nobody' })).status).toBe(404);
    expect((await call('POST', `/api/v1/crm/contacts/${a}/merge`, {})).status).toBe(400);
  });
});
