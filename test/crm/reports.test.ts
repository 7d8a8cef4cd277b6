import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';

describe.each(ENGINES)('CRM reports on $name', (engine) => {
  let server: TestServer;
  const call = (method: string, path: string, body?: unknown) => server.call(method, path, body);

  beforeAll(async () => {
    server = await startServer(engine);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('adds up the pipeline by stage, weights it by probability, forecasts by close month and never mixes currencies', async () => {
    const pipeline = (await call('GET', '/api/v1/crm/pipelines')).body.data[0];
    const stage = (name: string) => pipeline.stages.find((s: { name: string }) => s.name === name).id as string;
    const deals = [
      { name: 'A', amount: 1000, currency: 'USD', stageId: stage('Proposal'), closeDate: '2026-12-15', ownerId: 'rep-1' },
      { name: 'B', amount: 500.5, currency: 'USD', stageId: stage('Proposal'), closeDate: '2026-12-20', ownerId: 'rep-2' },
      { name: 'C', amount: 200, currency: 'EUR', stageId: stage('Negotiation'), closeDate: '2027-01-10', ownerId: 'rep-1' },
      { name: 'D', amount: 300, currency: 'USD', stageId: stage('Won'), closeDate: '2026-12-01', ownerId: 'rep-1' },
      { name: 'E', amount: 100, currency: 'USD', stageId: stage('Lost'), closeDate: '2026-12-02', ownerId: 'rep-1' },
    ];
    for (const d of deals) expect((await call('POST', '/api/v1/crm/deals', d)).status).toBe(201);

    const byStage = (await call('GET', '/api/v1/crm/reports/pipeline')).body.stages;
    const proposal = byStage.find((s: { name: string }) => s.name === 'Proposal');
    expect(proposal).toMatchObject({ deals: 2, probability: 40, value: { USD: 1500.5 }, weighted: { USD: 600.2 } });
    expect(byStage.find((s: { name: string }) => s.name === 'Negotiation')).toMatchObject({ deals: 1, value: { EUR: 200 }, weighted: { EUR: 120 } });

    const forecast = (await call('GET', '/api/v1/crm/reports/forecast?from=2026-12-01&to=2027-02-01')).body.data;
    expect(forecast).toEqual([
      { month: '2026-12', openDeals: 2, pipeline: { USD: 1500.5 }, weighted: { USD: 600.2 }, wonDeals: 1, won: { USD: 300 } },
      { month: '2027-01', openDeals: 1, pipeline: { EUR: 200 }, weighted: { EUR: 120 }, wonDeals: 0, won: {} },
    ]);

    const year = 'from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z';
    const win = (await call('GET', `/api/v1/crm/reports/win-rate?${year}`)).body;
    expect(win).toMatchObject({ won: 1, lost: 1, winRate: 0.5 });
    expect(win.owners).toEqual([{ ownerId: 'rep-1', won: 1, lost: 1, winRate: 0.5 }]);
  });

  it('counts activities per owner and SLA compliance per priority', async () => {
    const res = await fetch(`${server.url}/v1/identify`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, userId: 'rep-report', traits: { email: 'r@example.com' } }) });
    expect(res.status).toBe(200);
    await server.rapport.core.pipeline.drain();
    const contact = (await call('GET', `/api/v1/profiles?q=${encodeURIComponent('user_id:rep-report')}`)).body.data[0].id;
    await call('POST', '/api/v1/crm/activities', { kind: 'call', ownerId: 'rep-1', contactIds: [contact] });
    await call('POST', '/api/v1/crm/activities', { kind: 'note', ownerId: 'rep-1', contactIds: [contact] });
    await call('POST', '/api/v1/crm/activities', { kind: 'email', ownerId: 'rep-2', contactIds: [contact] });
    const year = 'from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z';
    const activities = (await call('GET', `/api/v1/crm/reports/activities?${year}`)).body.data;
    expect(activities).toEqual(expect.arrayContaining([
      { ownerId: 'rep-1', notes: 1, calls: 1, emails: 0, meetings: 0, total: 2 },
      { ownerId: 'rep-2', notes: 0, calls: 0, emails: 1, meetings: 0, total: 1 },
    ]));

    const t = (await call('POST', '/api/v1/crm/tickets', { subject: 'Help', priority: 'high', contactId: contact })).body;
    await call('PATCH', `/api/v1/crm/tickets/${t.id}`, { status: 'resolved' });
    await call('POST', '/api/v1/crm/tickets', { subject: 'Still open', priority: 'high' });
    const sla = (await call('GET', `/api/v1/crm/reports/sla?${year}`)).body.data;
    expect(sla).toEqual([{
      priority: 'high', tickets: 2,
      firstResponse: { met: 1, missed: 0, running: 1, compliance: 1 },
      resolution: { met: 1, missed: 0, running: 1, compliance: 1 },
    }]);
  });
});
