import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';

describe.each(ENGINES)('saved views on $name', (engine) => {
  let server: TestServer;
  const call = (method: string, path: string, body?: unknown) => server.call(method, path, body);

  beforeAll(async () => {
    server = await startServer(engine);
    await server.rapport.core.pipeline.stop();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('saves a named query per object, lists, renames and deletes it, and refuses what its object cannot filter by', async () => {
    const saved = await call('POST', '/api/v1/crm/views', { object: 'deal', name: 'My open deals', query: { ownerId: 'rep-1', status: 'open', sort: 'amount', order: 'desc' } });
    expect(saved.status, JSON.stringify(saved.body)).toBe(201);
    expect(saved.body).toMatchObject({ object: 'deal', name: 'My open deals', query: { ownerId: 'rep-1', status: 'open', sort: 'amount', order: 'desc' } });
    await call('POST', '/api/v1/crm/views', { object: 'ticket', name: 'Breached', query: { breached: true, status: 'active' } });
    expect((await call('GET', '/api/v1/crm/views?object=deal')).body.data.map((v: { name: string }) => v.name)).toEqual(['My open deals']);
    expect((await call('POST', '/api/v1/crm/views', { object: 'deal', name: 'My open deals', query: {} })).status).toBe(409);
    expect((await call('POST', '/api/v1/crm/views', { object: 'contact', name: 'Bad', query: { stageId: 'x' } })).status).toBe(400);
    expect((await call('PATCH', `/api/v1/crm/views/${saved.body.id}`, { query: { lifecycleStage: 'lead' } })).status).toBe(400);
    const renamed = await call('PATCH', `/api/v1/crm/views/${saved.body.id}`, { name: 'Rep 1, open', query: { ownerId: 'rep-1', status: 'open' } });
    expect(renamed.body).toMatchObject({ name: 'Rep 1, open', query: { ownerId: 'rep-1', status: 'open' } });
    expect((await call('DELETE', `/api/v1/crm/views/${saved.body.id}`)).status).toBe(204);
    expect((await call('GET', '/api/v1/crm/views')).body.data.map((v: { name: string }) => v.name)).toEqual(['Breached']);
  });
});
