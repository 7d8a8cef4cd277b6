import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { logRows, startServer, type TestServer } from '../support/server.js';

describe.each(ENGINES)('activities, tasks and tickets on $name', (engine) => {
  let server: TestServer;
  let ada: string;
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => server.call(method, path, body, undefined, headers);

  beforeAll(async () => {
    server = await startServer(engine);
    await server.rapport.core.pipeline.stop();
    const res = await fetch(`${server.url}/v1/identify`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, userId: 'ada', traits: { email: 'ada@example.com' } }) });
    expect(res.status).toBe(200);
    await server.rapport.core.pipeline.drain();
    ada = (await call('GET', `/api/v1/profiles?q=${encodeURIComponent('user_id:ada')}`)).body.data[0].id;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('logs a call on a contact, lists it on the contact, and tells the log', async () => {
    const logged = await call('POST', '/api/v1/crm/activities', { kind: 'call', subject: 'Intro', direction: 'outbound', outcome: 'connected', durationSeconds: 300, contactIds: [ada] });
    expect(logged.status, JSON.stringify(logged.body)).toBe(201);
    expect(logged.body).toMatchObject({ kind: 'call', contactIds: [ada], durationSeconds: 300 });
    const onAda = (await call('GET', `/api/v1/crm/activities?object=contact&id=${ada}`)).body.data;
    expect(onAda.map((a: { id: string }) => a.id)).toEqual([logged.body.id]);
    expect((await logRows(server)).some((r) => r.payload.event === 'Call Logged' && r.payload.userId === 'ada')).toBe(true);
    expect((await call('POST', '/api/v1/crm/activities', { kind: 'note', outcome: 'connected', contactIds: [ada] })).status).toBe(400);
    expect((await call('POST', '/api/v1/crm/activities', { kind: 'note', body: 'orphan' })).status).toBe(400);
  });

  it('keeps tasks in due order, marks the overdue ones, and refuses a stale change', async () => {
    const past = await call('POST', '/api/v1/crm/tasks', { title: 'Send contract', dueAt: '2020-01-01T00:00:00Z', assigneeId: 'rep-1', contactIds: [ada] });
    const future = await call('POST', '/api/v1/crm/tasks', { title: 'Renewal call', dueAt: '2099-01-01T00:00:00Z', assigneeId: 'rep-1' });
    expect(past.status, JSON.stringify(past.body)).toBe(201);
    const mine = (await call('GET', '/api/v1/crm/tasks?assigneeId=rep-1&status=active')).body.data;
    expect(mine.map((t: { title: string; overdue: boolean }) => [t.title, t.overdue])).toEqual([['Send contract', true], ['Renewal call', false]]);
    const done = await call('PATCH', `/api/v1/crm/tasks/${past.body.id}`, { status: 'done' }, { 'if-match': past.etag! });
    expect(done.body).toMatchObject({ status: 'done', overdue: false, completedAt: expect.any(String) });
    expect((await call('PATCH', `/api/v1/crm/tasks/${past.body.id}`, { title: 'x' }, { 'if-match': past.etag! })).status).toBe(412);
    expect(future.body.overdue).toBe(false);
  });

  it('sets SLA targets from the priority, takes an outbound email as the first response, and stops the clock on resolve', async () => {
    await call('PUT', '/api/v1/crm/sla-policies/urgent', { firstResponseMinutes: 15, resolutionMinutes: 120 });
    const opened = await call('POST', '/api/v1/crm/tickets', { subject: 'Cannot log in', priority: 'urgent', channel: 'email', contactId: ada });
    expect(opened.status, JSON.stringify(opened.body)).toBe(201);
    const created = Date.parse(opened.body.createdAt);
    expect(Date.parse(opened.body.sla.firstResponseDueAt) - created).toBe(15 * 60_000);
    expect(Date.parse(opened.body.sla.resolutionDueAt) - created).toBe(120 * 60_000);
    expect(opened.body.sla).toMatchObject({ firstRespondedAt: null, firstResponseBreached: false, resolutionBreached: false });
    await call('POST', '/api/v1/crm/activities', { kind: 'email', direction: 'outbound', subject: 'Re: Cannot log in', ticketIds: [opened.body.id], contactIds: [ada] });
    const answered = (await call('GET', `/api/v1/crm/tickets/${opened.body.id}`)).body;
    expect(answered).toMatchObject({ status: 'open', sla: { firstRespondedAt: expect.any(String) } });
    const resolved = await call('PATCH', `/api/v1/crm/tickets/${opened.body.id}`, { status: 'resolved' });
    expect(resolved.body.sla).toMatchObject({ resolvedAt: expect.any(String), resolutionBreached: false });
    const queue = (await call('GET', '/api/v1/crm/tickets?status=active')).body.data;
    expect(queue.map((t: { id: string }) => t.id)).not.toContain(opened.body.id);
    const events = (await logRows(server)).map((r) => r.payload.event).filter((e) => String(e).startsWith('Ticket'));
    expect(events).toEqual(['Ticket Opened', 'Ticket Resolved']);
  });
});
