import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupWorkspace, type SetupResult } from '../../src/workflows/setup-workspace.js';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

describe.each(ENGINES)('privacy across workspaces on $name', (engine) => {
  let server: TestServer;
  let other: SetupResult;
  const as = (key: string) => (method: string, path: string, body?: unknown) => server.call(method, path, body, key);
  const send = async (writeKey: string, batch: Record<string, unknown>[]) => {
    const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ writeKey, batch }) });
    expect(res.status).toBe(200);
    await server.rapport.core.pipeline.drain();
  };
  const profileIdOf = async (key: string, userId: string) => (await as(key)('GET', `/api/v1/profiles?q=${encodeURIComponent(`user_id:${userId}`)}`)).body.data[0]?.id as string | undefined;

  beforeAll(async () => {
    server = await startServer(engine);
    await server.rapport.core.privacy.worker.stop();
    other = await setupWorkspace(
      { access: server.rapport.core.access.service, collect: server.rapport.core.collect.service },
      { workspace: 'Globex', email: 'owner@globex.test', password: 'another correct horse battery' },
    );
  });
  afterAll(async () => {
    await server?.close();
  });

  it('answers 404 for another workspace\'s categories, requests, exports and profiles, and changes nothing there', async () => {
    const acme = as(server.setup.apiKey);
    const globex = as(other.apiKey);
    const category = (await acme('POST', '/api/v1/privacy/consent-categories', { name: 'Analytics' })).body;
    await send(server.setup.writeKey, [{ type: 'identify', userId: 'iso-1', messageId: 'iso-1', traits: { email: 'iso@example.com' } }]);
    const profile = (await profileIdOf(server.setup.apiKey, 'iso-1'))!;
    const exported = (await acme('POST', '/api/v1/privacy/requests', { type: 'export', identifier: { type: 'user_id', value: 'iso-1' } })).body;
    await server.rapport.core.privacy.drain();

    expect((await globex('GET', `/api/v1/privacy/consent-categories/${category.id}`)).status).toBe(404);
    expect((await globex('PATCH', `/api/v1/privacy/consent-categories/${category.id}`, { description: 'mine' })).status).toBe(404);
    expect((await globex('DELETE', `/api/v1/privacy/consent-categories/${category.id}`)).status).toBe(404);
    expect((await globex('GET', '/api/v1/privacy/consent-categories')).body.data).toEqual([]);
    expect((await globex('GET', `/api/v1/privacy/requests/${exported.id}`)).status).toBe(404);
    expect((await globex('GET', `/api/v1/privacy/requests/${exported.id}/export`)).status).toBe(404);
    expect((await globex('GET', '/api/v1/privacy/requests')).body.data).toEqual([]);
    expect((await globex('GET', `/api/v1/profiles/${profile}/consent`)).status).toBe(404);
    expect((await globex('PUT', `/api/v1/profiles/${profile}/consent`, { categoryPreferences: { Analytics: true } })).status).toBe(404);
    expect((await acme('GET', `/api/v1/privacy/consent-categories/${category.id}`)).body.description).toBeNull();
    expect((await acme('GET', `/api/v1/profiles/${profile}/consent`)).body.history).toEqual([]);
  });

  it('deletes and suppresses within one workspace only: the same user id elsewhere is another person', async () => {
    await send(server.setup.writeKey, [{ type: 'identify', userId: 'shared-1', messageId: 'a-1', traits: { plan: 'acme' } }]);
    await send(other.writeKey, [{ type: 'identify', userId: 'shared-1', messageId: 'g-1', traits: { plan: 'globex' } }]);
    const made = (await as(other.apiKey)('POST', '/api/v1/privacy/requests', { type: 'delete', identifier: { type: 'user_id', value: 'shared-1' } })).body;
    await server.rapport.core.privacy.drain();
    expect((await as(other.apiKey)('GET', `/api/v1/privacy/requests/${made.id}`)).body).toMatchObject({ status: 'completed', result: { profileFound: true, profiles: 1 } });
    expect(await profileIdOf(other.apiKey, 'shared-1')).toBeUndefined();
    const acmeProfile = (await profileIdOf(server.setup.apiKey, 'shared-1'))!;
    expect((await server.call('GET', `/api/v1/profiles/${acmeProfile}`)).body.traits.plan).toBe('acme');
    // Acme's events for the same user id still flow; Globex's are dropped.
    await send(server.setup.writeKey, [{ type: 'identify', userId: 'shared-1', messageId: 'a-2', traits: { plan: 'acme-2' } }]);
    await send(other.writeKey, [{ type: 'identify', userId: 'shared-1', messageId: 'g-2', traits: { plan: 'globex-2' } }]);
    expect((await server.call('GET', `/api/v1/profiles/${acmeProfile}`)).body.traits.plan).toBe('acme-2');
    expect(await profileIdOf(other.apiKey, 'shared-1')).toBeUndefined();
  });

  it('deletes an identifier no profile holds: completes, finds nothing, and keeps it out from then on', async () => {
    const made = (await server.call('POST', '/api/v1/privacy/requests', { type: 'delete', identifier: { type: 'email', value: 'never.seen@example.com' } })).body;
    await server.rapport.core.privacy.drain();
    expect((await server.call('GET', `/api/v1/privacy/requests/${made.id}`)).body).toMatchObject({ status: 'completed', profileId: null, result: { profileFound: false, profiles: 0 } });
    await send(server.setup.writeKey, [{ type: 'identify', userId: 'late-1', messageId: 'late-1', traits: { email: 'Never.Seen@example.com' } }]);
    expect(await profileIdOf(server.setup.apiKey, 'late-1')).toBeUndefined();
    // The CRM refuses to create them as a contact, and says why.
    const refused = await server.call('POST', '/api/v1/crm/contacts', { email: 'NEVER.seen@example.com', name: 'Back again' });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toMatch(/privacy request/);
    // A CSV import naming them still finishes (their row is dropped by the pipeline like any call of theirs).
    const started = await server.call('POST', '/api/v1/crm/imports', { csv: 'email,stage\nwelcome@example.com,lead\nnever.seen@example.com,lead', mapping: { email: 'email', stage: 'lifecycleStage' } });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const done = await until('the import to finish', async () => {
      const r = (await server.call('GET', `/api/v1/crm/imports/${started.body.id}`)).body;
      return r.status === 'done' ? r : undefined;
    });
    expect(done.valid).toBe(2);
    const emails = (await server.call('GET', '/api/v1/crm/contacts')).body.data.map((c: { email: string }) => c.email);
    expect(emails).toContain('welcome@example.com');
    expect(emails).not.toContain('never.seen@example.com');
  });
});
