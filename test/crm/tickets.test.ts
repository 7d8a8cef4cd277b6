import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRapport } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/platform/config.js';
import { setupWorkspace } from '../../src/workflows/setup-workspace.js';
import { ENGINES, type Engine } from '../support/engines.js';
import { clientOf, logRows, type TestServer } from '../support/server.js';

const MINUTE = 60_000;

/** The clock the server reads: tests move it forward to let SLA targets pass. */
const clock = { t: 0, now: () => clock.t };
const advance = (ms: number) => {
  clock.t += ms;
};

/** Like startServer, with the clock above and without a running pipeline: tests drain it. */
async function startClockServer(engine: Engine): Promise<TestServer> {
  const store = await engine.create();
  const base = loadConfig({ RAPPORT_DATA_DIR: store.dataDir, ...(store.databaseUrl ? { DATABASE_URL: store.databaseUrl } : {}), LOG_LEVEL: 'warn' });
  const config: Config = { ...base, port: 0, host: '127.0.0.1', role: 'api' };
  const rapport = await createRapport(config, { clock });
  await rapport.app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(rapport.app.server.address() as AddressInfo).port}`;
  const setup = await setupWorkspace(
    { access: rapport.core.access.service, collect: rapport.core.collect.service },
    { workspace: 'Acme', email: 'owner@acme.test', password: 'correct horse battery staple' },
  );
  return {
    url, rapport, store, setup,
    ...clientOf(url, setup),
    async close() {
      await rapport.close();
      await store.drop();
    },
  };
}

interface Answer {
  status: number;
  etag: string | null;
  body: any;
}

describe.each(ENGINES)('support tickets and their SLAs on $name', (engine) => {
  let server: TestServer;
  let ada: string;

  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> =>
    fetch(`${server.url}/api/v1${path}`, {
      method, headers: { authorization: `Bearer ${server.setup.apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(async (res) => ({ status: res.status, etag: res.headers.get('etag'), body: await res.text().then((t) => (t ? JSON.parse(t) : null)) }));
  const ok = (answer: Answer, status: number) => {
    expect(answer.status, JSON.stringify(answer.body)).toBe(status);
    return answer.body;
  };
  const open = async (body: Record<string, unknown>) => ok(await call('POST', '/crm/tickets', { subject: 'Help', ...body }), 201);
  const read = async (id: string) => ok(await call('GET', `/crm/tickets/${id}`), 200);
  const minutesAfterCreation = (t: any, at: string) => (Date.parse(at) - Date.parse(t.createdAt)) / MINUTE;
  const log = (kind: 'email' | 'call', direction: 'inbound' | 'outbound', ticketId: string) =>
    call('POST', '/crm/activities', { kind, direction, subject: `${direction} ${kind}`, ticketIds: [ticketId], contactIds: [ada] }).then((a) => ok(a, 201));
  const queue = async (query: string) => ok(await call('GET', `/crm/tickets?${query}`), 200);

  beforeAll(async () => {
    clock.t = Date.parse('2026-11-02T09:00:00.000Z');
    server = await startClockServer(engine);
    const res = await fetch(`${server.url}/v1/identify`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, userId: 'ada', traits: { email: 'ada@example.com' } }) });
    expect(res.status).toBe(200);
    await server.rapport.core.pipeline.drain();
    ada = ok(await call('GET', `/profiles?q=${encodeURIComponent('user_id:ada')}`), 200).data[0].id;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('sets first response and resolution targets from the priority by default', async () => {
    const policies = ok(await call('GET', '/crm/sla-policies'), 200).data;
    expect(policies).toEqual([
      { priority: 'urgent', firstResponse: 60, resolution: 240 },
      { priority: 'high', firstResponse: 240, resolution: 1440 },
      { priority: 'normal', firstResponse: 480, resolution: 2880 },
      { priority: 'low', firstResponse: 1440, resolution: 7200 },
    ]);
    for (const [priority, firstResponse, resolution] of [['urgent', 60, 240], ['high', 240, 1440], ['normal', 480, 2880], ['low', 1440, 7200]] as const) {
      const t = await open({ subject: `A ${priority} one`, priority });
      expect(t).toMatchObject({ status: 'new', priority, channel: 'other', sla: { firstRespondedAt: null, firstResponseBreached: false, resolvedAt: null, resolutionBreached: false } });
      expect(t.createdAt).toBe(new Date(clock.t).toISOString());
      expect(minutesAfterCreation(t, t.sla.firstResponseDueAt), priority).toBe(firstResponse);
      expect(minutesAfterCreation(t, t.sla.resolutionDueAt), priority).toBe(resolution);
    }
    const unset = await open({ subject: 'No priority given' });
    expect(unset.priority).toBe('normal');
    expect(minutesAfterCreation(unset, unset.sla.firstResponseDueAt)).toBe(480);
  });

  it("takes a workspace's own targets for tickets opened from then on, leaving earlier ones as they were", async () => {
    const earlier = await open({ priority: 'high' });
    const policies = ok(await call('PUT', '/crm/sla-policies/high', { firstResponseMinutes: 30, resolutionMinutes: 90 }), 200).data;
    expect(policies.find((p: any) => p.priority === 'high')).toEqual({ priority: 'high', firstResponse: 30, resolution: 90 });
    expect(policies.find((p: any) => p.priority === 'urgent')).toEqual({ priority: 'urgent', firstResponse: 60, resolution: 240 });
    const later = await open({ priority: 'high' });
    expect(minutesAfterCreation(later, later.sla.firstResponseDueAt)).toBe(30);
    expect(minutesAfterCreation(later, later.sla.resolutionDueAt)).toBe(90);
    expect(minutesAfterCreation(earlier, (await read(earlier.id)).sla.firstResponseDueAt)).toBe(240);
    // Set again: the newest targets hold.
    ok(await call('PUT', '/crm/sla-policies/high', { firstResponseMinutes: 45, resolutionMinutes: 120 }), 200);
    expect(ok(await call('GET', '/crm/sla-policies'), 200).data.find((p: any) => p.priority === 'high')).toEqual({ priority: 'high', firstResponse: 45, resolution: 120 });
    expect((await call('PUT', '/crm/sla-policies/critical', { firstResponseMinutes: 5, resolutionMinutes: 10 })).status).toBe(400);
    expect((await call('PUT', '/crm/sla-policies/low', { firstResponseMinutes: 0, resolutionMinutes: 10 })).status).toBe(400);
  });

  it('re-targets the SLA from the creation time when the priority changes', async () => {
    const t = await open({ priority: 'low' });
    advance(10 * MINUTE);
    const raised = ok(await call('PATCH', `/crm/tickets/${t.id}`, { priority: 'urgent' }), 200);
    expect(raised.createdAt).toBe(t.createdAt);
    expect(minutesAfterCreation(t, raised.sla.firstResponseDueAt)).toBe(60);
    expect(minutesAfterCreation(t, raised.sla.resolutionDueAt)).toBe(240);
    const lowered = ok(await call('PATCH', `/crm/tickets/${t.id}`, { priority: 'normal' }), 200);
    expect(minutesAfterCreation(t, lowered.sla.firstResponseDueAt)).toBe(480);
  });

  it('counts an outbound email or call on the ticket, or moving it to pending, as the first response; an inbound email does not count', async () => {
    const byEmail = await open({ priority: 'normal', contactId: ada });
    advance(5 * MINUTE);
    await log('email', 'inbound', byEmail.id);
    expect(await read(byEmail.id)).toMatchObject({ status: 'new', sla: { firstRespondedAt: null } });
    advance(5 * MINUTE);
    await log('email', 'outbound', byEmail.id);
    expect(await read(byEmail.id)).toMatchObject({ status: 'open', sla: { firstRespondedAt: new Date(clock.t).toISOString(), firstResponseBreached: false } });
    // Only the first response counts.
    const firstAt = new Date(clock.t).toISOString();
    advance(5 * MINUTE);
    await log('call', 'outbound', byEmail.id);
    expect((await read(byEmail.id)).sla.firstRespondedAt).toBe(firstAt);

    const byCall = await open({ priority: 'normal' });
    advance(MINUTE);
    await log('call', 'outbound', byCall.id);
    expect((await read(byCall.id)).sla.firstRespondedAt).toBe(new Date(clock.t).toISOString());

    const byPending = await open({ priority: 'normal', status: 'open' });
    advance(MINUTE);
    const pending = ok(await call('PATCH', `/crm/tickets/${byPending.id}`, { status: 'pending' }), 200);
    expect(pending).toMatchObject({ status: 'pending', sla: { firstRespondedAt: new Date(clock.t).toISOString() } });
  });

  it('stops the resolution clock on resolve, and restarts it on reopen', async () => {
    const t = await open({ priority: 'urgent' });
    advance(30 * MINUTE);
    const resolved = ok(await call('PATCH', `/crm/tickets/${t.id}`, { status: 'resolved' }), 200);
    expect(resolved.sla).toMatchObject({ resolvedAt: new Date(clock.t).toISOString(), resolutionBreached: false, firstResponseBreached: false });
    advance(300 * MINUTE);
    // Well past the target, but it was resolved in time.
    expect((await read(t.id)).sla).toMatchObject({ resolutionBreached: false, firstResponseBreached: false });
    expect((await queue('breached=true')).data.map((x: any) => x.id)).not.toContain(t.id);
    const reopened = ok(await call('PATCH', `/crm/tickets/${t.id}`, { status: 'open' }), 200);
    expect(reopened).toMatchObject({ status: 'open', sla: { resolvedAt: null, resolutionBreached: true } });
    const closed = ok(await call('PATCH', `/crm/tickets/${t.id}`, { status: 'closed' }), 200);
    expect(closed.sla.resolvedAt).toBe(new Date(clock.t).toISOString());
  });

  it('flags a ticket once a target passes unmet, lists it as breached, and keeps it breached when answered late', async () => {
    const t = await open({ subject: 'Site down', priority: 'urgent', contactId: ada });
    advance(59 * MINUTE);
    expect((await read(t.id)).sla.firstResponseBreached).toBe(false);
    expect((await queue('breached=false&priority=urgent&limit=200')).data.map((x: any) => x.id)).toContain(t.id);
    advance(2 * MINUTE);
    const late = await read(t.id);
    expect(late.sla).toMatchObject({ firstResponseBreached: true, resolutionBreached: false });
    expect((await queue('breached=true&limit=200')).data.map((x: any) => x.id)).toContain(t.id);
    expect((await queue('breached=false&limit=200')).data.map((x: any) => x.id)).not.toContain(t.id);

    await log('email', 'outbound', t.id);
    expect((await read(t.id)).sla).toMatchObject({ firstRespondedAt: new Date(clock.t).toISOString(), firstResponseBreached: true });
    expect((await queue('breached=true&limit=200')).data.map((x: any) => x.id)).toContain(t.id);

    advance(240 * MINUTE);
    expect((await read(t.id)).sla.resolutionBreached).toBe(true);
    const resolved = ok(await call('PATCH', `/crm/tickets/${t.id}`, { status: 'resolved' }), 200);
    expect(resolved.sla).toMatchObject({ firstResponseBreached: true, resolutionBreached: true });
  });

  it('orders the queue most urgent first, then oldest, and pages through it each ticket exactly once', async () => {
    const made: Record<string, string> = {};
    for (const [name, priority] of [['low', 'low'], ['urgent-old', 'urgent'], ['normal', 'normal'], ['high', 'high'], ['urgent-new', 'urgent'], ['high-new', 'high']] as const) {
      made[name] = (await open({ subject: name, priority, assigneeId: 'queue-rep' })).id;
      advance(MINUTE);
    }
    const order = ['urgent-old', 'urgent-new', 'high', 'high-new', 'normal', 'low'].map((n) => made[n]);
    expect((await queue('assigneeId=queue-rep')).data.map((x: any) => x.id)).toEqual(order);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await queue(`assigneeId=queue-rep&limit=4${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      seen.push(...page.data.map((x: any) => x.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(order);
    ok(await call('PATCH', `/crm/tickets/${made['urgent-old']}`, { status: 'resolved' }), 200);
    expect((await queue('assigneeId=queue-rep&status=active')).data.map((x: any) => x.id)).toEqual(order.slice(1));
    expect((await queue('assigneeId=queue-rep&priority=high')).data.map((x: any) => x.id)).toEqual([made.high, made['high-new']]);
    for (const garbage of ['garbage', 'x_1_a', '0_abc_a', '0_1_']) expect((await call('GET', `/crm/tickets?cursor=${garbage}`)).status, garbage).toBe(400);
  });

  it('keeps custom ticket fields, checked against their definitions', async () => {
    ok(await call('POST', '/crm/fields/ticket', { key: 'product', label: 'Product', type: 'select', options: [{ value: 'api', label: 'API' }, { value: 'web', label: 'Web app' }] }), 201);
    ok(await call('POST', '/crm/fields/ticket', { key: 'seats', label: 'Seats', type: 'number', min: 1 }), 201);
    const t = await open({ custom: { product: 'api', seats: 12 } });
    expect(t.custom).toEqual({ product: 'api', seats: 12 });
    const bad = await call('POST', '/crm/tickets', { subject: 'Bad', custom: { product: 'mobile' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('product');
    const unknown = await call('POST', '/crm/tickets', { subject: 'Bad', custom: { colour: 'red' } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toContain('colour');
    const changed = ok(await call('PATCH', `/crm/tickets/${t.id}`, { custom: { product: 'web', seats: null } }), 200);
    expect(changed.custom).toEqual({ product: 'web' });
    const refused = await call('PATCH', `/crm/tickets/${t.id}`, { custom: { seats: 0 } });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toContain('seats');
    expect((await read(t.id)).custom).toEqual({ product: 'web' });
  });

  it('refuses a change made from a stale read', async () => {
    const created = await call('POST', '/crm/tickets', { subject: 'Billing question' });
    const changed = await call('PATCH', `/crm/tickets/${created.body.id}`, { assigneeId: 'rep-1' }, { 'if-match': created.etag! });
    expect(ok(changed, 200)).toMatchObject({ assigneeId: 'rep-1', version: 2 });
    const stale = await call('PATCH', `/crm/tickets/${created.body.id}`, { assigneeId: 'rep-2' }, { 'if-match': created.etag! });
    expect(stale.status).toBe(412);
    expect((await read(created.body.id)).assigneeId).toBe('rep-1');
    expect((await call('DELETE', `/crm/tickets/${created.body.id}`, undefined, { 'if-match': created.etag! })).status).toBe(412);
    expect((await call('DELETE', `/crm/tickets/${created.body.id}`, undefined, { 'if-match': changed.etag! })).status).toBe(204);
    expect((await call('GET', `/crm/tickets/${created.body.id}`)).status).toBe(404);
    expect((await call('POST', '/crm/tickets', { subject: 'Whose?', contactId: 'nobody' })).status).toBe(400);
  });

  it('tells the log when a ticket opens, changes status and is resolved, about its contact', async () => {
    const t = await open({ subject: 'Export fails', priority: 'high', channel: 'email', contactId: ada });
    await call('PATCH', `/crm/tickets/${t.id}`, { status: 'open' });
    await call('PATCH', `/crm/tickets/${t.id}`, { assigneeId: 'rep-3' });
    await call('PATCH', `/crm/tickets/${t.id}`, { status: 'resolved' });
    await call('PATCH', `/crm/tickets/${t.id}`, { status: 'closed' });
    const events = (await logRows(server)).filter((r) => (r.payload.properties as { ticket_id?: string } | undefined)?.ticket_id === t.id);
    expect(events.map((r) => [r.payload.event, (r.payload.properties as any).status, (r.payload.properties as any).previous_status])).toEqual([
      ['Ticket Opened', 'new', undefined],
      ['Ticket Status Changed', 'open', 'new'],
      ['Ticket Resolved', 'resolved', 'open'],
      ['Ticket Status Changed', 'closed', 'resolved'],
    ]);
    for (const e of events) expect(e.payload).toMatchObject({ userId: 'ada', properties: { subject: 'Export fails', priority: 'high', channel: 'email' }, context: { rapport: { profileId: ada } } });
  });
});
