import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { logRows, startServer, type TestServer } from '../support/server.js';

describe.each(ENGINES)('companies on $name', (engine) => {
  let server: TestServer;
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => server.call(method, path, body, undefined, headers);

  beforeAll(async () => {
    server = await startServer(engine);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('finds the account the product already sends in group calls, with its people, and creates new ones', async () => {
    const res = await fetch(`${server.url}/v1/group`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, userId: 'u-acme', groupId: 'acme-1', traits: { name: 'Acme' } }) });
    expect(res.status).toBe(200);
    await server.rapport.core.pipeline.drain();
    const user = (await call('GET', `/api/v1/profiles?q=${encodeURIComponent('user_id:u-acme')}`)).body.data[0].id;

    const found = await call('POST', '/api/v1/crm/companies', { groupId: 'acme-1', domain: 'acme.com', industry: 'Anvils', ownerId: 'rep-1' });
    expect(found.status, JSON.stringify(found.body)).toBe(200);
    expect(found.body).toMatchObject({ name: 'Acme', domain: 'acme.com', industry: 'Anvils', ownerId: 'rep-1', contactIds: [user], version: 1 });

    const created = await call('POST', '/api/v1/crm/companies', { domain: 'globex.com', name: 'Globex', employees: 250 });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ name: 'Globex', domain: 'globex.com', employees: 250, contactIds: [] });
    // Found again by its domain, the group id it was given.
    expect((await call('POST', '/api/v1/crm/companies', { domain: 'globex.com' })).status).toBe(200);

    const list = (await call('GET', '/api/v1/crm/companies')).body.data.map((c: { id: string }) => c.id);
    expect(list).toEqual([created.body.id, found.body.id]);
    expect((await call('GET', '/api/v1/crm/companies?ownerId=rep-1')).body.data.map((c: { id: string }) => c.id)).toEqual([found.body.id]);
    expect((await logRows(server)).filter((r) => r.payload.event === 'Company Created')).toHaveLength(2);

    const changed = await call('PATCH', `/api/v1/crm/companies/${created.body.id}`, { industry: 'Energy', ownerId: 'rep-2' }, { 'if-match': created.etag! });
    expect(changed.body).toMatchObject({ industry: 'Energy', ownerId: 'rep-2' });
    expect((await call('PATCH', `/api/v1/crm/companies/${created.body.id}`, { ownerId: 'rep-3' }, { 'if-match': created.etag! })).status).toBe(412);
    const timeline = (await call('GET', `/api/v1/crm/companies/${created.body.id}/timeline`)).body.data;
    expect(timeline.map((i: { kind: string; event: string | null }) => `${i.kind}:${i.event}`)).toContain('crm:Company Created');
  });

  it('refuses what is not a company', async () => {
    expect((await call('POST', '/api/v1/crm/companies', { name: 'No id' })).status).toBe(400);
    expect((await call('POST', '/api/v1/crm/companies', { domain: 'not a domain' })).status).toBe(400);
    const person = await fetch(`${server.url}/v1/identify`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, userId: 'not-a-company' }) });
    expect(person.status).toBe(200);
    await server.rapport.core.pipeline.drain();
    const id = (await call('GET', `/api/v1/profiles?q=${encodeURIComponent('user_id:not-a-company')}`)).body.data[0].id;
    expect((await call('GET', `/api/v1/crm/companies/${id}`)).status).toBe(404);
  });
});
