import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { logRows, startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

describe.each(ENGINES)('deals and pipelines on $name', (engine) => {
  let server: TestServer;
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => server.call(method, path, body, undefined, headers);
  const identify = async (userId: string, traits: Record<string, unknown>) => {
    const res = await fetch(`${server.url}/v1/identify`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, userId, traits }) });
    expect(res.status).toBe(200);
    await server.rapport.core.pipeline.drain();
    return (await call('GET', `/api/v1/profiles?q=${encodeURIComponent(`user_id:${userId}`)}`)).body.data[0].id as string;
  };

  beforeAll(async () => {
    server = await startServer(engine);
    await server.rapport.core.pipeline.stop();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('starts a workspace with a sales pipeline whose stages run from qualification to won and lost', async () => {
    const { body } = await call('GET', '/api/v1/crm/pipelines');
    expect(body.data).toHaveLength(1);
    expect(body.data[0].stages.map((s: { name: string; outcome: string }) => `${s.name}:${s.outcome}`)).toEqual([
      'Qualification:open', 'Meeting scheduled:open', 'Proposal:open', 'Negotiation:open', 'Won:won', 'Lost:lost',
    ]);
  });

  it('moves a deal through its stages, refuses a stale write with 412, and tells the log, where an audience sees it', async () => {
    const ada = await identify('ada', { email: 'ada@example.com' });
    const audience = await call('POST', '/api/v1/audiences', {
      key: 'negotiating', name: 'Negotiating', condition: { event: { name: 'Deal Stage Changed', where: [{ property: 'stage_name', op: 'eq', value: 'Negotiation' }] } },
    });
    expect(audience.status, JSON.stringify(audience.body)).toBe(201);
    await server.rapport.core.pipeline.drain();

    const pipeline = (await call('GET', '/api/v1/crm/pipelines')).body.data[0];
    const stage = (name: string) => pipeline.stages.find((s: { name: string }) => s.name === name).id as string;
    const created = await call('POST', '/api/v1/crm/deals', { name: 'Acme renewal', amount: 12000.5, currency: 'EUR', closeDate: '2026-12-31', contactIds: [ada] });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ name: 'Acme renewal', amount: 12000.5, currency: 'EUR', stageId: stage('Qualification'), status: 'open', contactIds: [ada] });
    const etag = created.etag!;

    const moved = await call('PATCH', `/api/v1/crm/deals/${created.body.id}`, { stageId: stage('Negotiation') }, { 'if-match': etag });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(moved.etag).not.toBe(etag);
    const stale = await call('PATCH', `/api/v1/crm/deals/${created.body.id}`, { amount: 1 }, { 'if-match': etag });
    expect(stale.status).toBe(412);
    expect((await call('GET', `/api/v1/crm/deals/${created.body.id}`)).body.amount).toBe(12000.5);

    const history = (await call('GET', `/api/v1/crm/deals/${created.body.id}/stage-history`)).body.data;
    expect(history.map((h: { toStageId: string }) => h.toStageId)).toEqual([stage('Qualification'), stage('Negotiation')]);

    const logged = (await logRows(server)).filter((r) => String(r.payload.event ?? '').startsWith('Deal '));
    expect(logged.map((r) => r.payload.event)).toEqual(['Deal Created', 'Deal Stage Changed']);
    expect(logged[1].payload).toMatchObject({ userId: 'ada', properties: { stage_name: 'Negotiation', previous_stage_name: 'Qualification', amount: 12000.5 } });

    await server.rapport.core.pipeline.drain();
    const members = await until('ada in the audience', async () => {
      const m = (await call('GET', '/api/v1/audiences/negotiating/members')).body.data;
      return m.length ? m : undefined;
    });
    expect(members.map((m: { profileId: string }) => m.profileId)).toEqual([ada]);
  });

  it('refuses what is not a deal, and changes nothing', async () => {
    const before = (await call('GET', '/api/v1/crm/deals')).body.data.length;
    for (const bad of [{}, { name: 'x', amount: -1 }, { name: 'x', closeDate: '2026-02-30' }, { name: 'x', amount: 1.234, currency: 'EUR' }, { name: 'x', contactIds: ['nobody'] }, { name: 'x', stageId: 'nope' }]) {
      const r = await call('POST', '/api/v1/crm/deals', bad);
      expect(r.status, JSON.stringify(bad)).toBe(400);
    }
    expect((await call('GET', '/api/v1/crm/deals')).body.data.length).toBe(before);
  });

  it('creates and changes deals in bulk, all or nothing', async () => {
    const before = (await call('GET', '/api/v1/crm/deals?limit=200')).body.data.length;
    const one = await call('POST', '/api/v1/crm/deals', { name: 'Bulk base', amount: 10 });
    const bulk = await call('POST', '/api/v1/crm/deals/bulk', { create: [{ name: 'Bulk 1' }, { name: 'Bulk 2', amount: 5 }], update: [{ id: one.body.id, ifMatch: one.etag!, changes: { amount: 20 } }] });
    expect(bulk.status, JSON.stringify(bulk.body)).toBe(200);
    expect(bulk.body.created.map((d: { name: string }) => d.name)).toEqual(['Bulk 1', 'Bulk 2']);
    expect(bulk.body.updated[0]).toMatchObject({ id: one.body.id, amount: 20 });

    const refused = await call('POST', '/api/v1/crm/deals/bulk', { create: [{ name: 'Fine' }, { name: 'Bad', closeDate: '2026-02-30' }] });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(/^create\[1\]/);
    const stale = await call('POST', '/api/v1/crm/deals/bulk', { create: [{ name: 'Would be made' }], update: [{ id: one.body.id, ifMatch: one.etag!, changes: { amount: 30 } }] });
    expect(stale.status).toBe(412);
    const after = (await call('GET', '/api/v1/crm/deals?limit=200')).body.data;
    expect(after.length).toBe(before + 3);
    expect(after.find((d: { id: string }) => d.id === one.body.id).amount).toBe(20);
  });
});
