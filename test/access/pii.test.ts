import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';

const EMAIL = 'ann.lee@example.com';
const PHONE = '+49 30 1234567';

/**
 * Field-level security end to end: the same records read with a key of a role without `pii:read` (analyst)
 * and of one with it (sales), through the contacts API, search, the Profile API, timelines, the debugger (as
 * the marketer, who may read it without pii:read) and the CSV export.
 */
describe.each(ENGINES)('personal data for roles without pii:read on $name', (engine) => {
  let server: TestServer;
  let analyst: string;
  let sales: string;
  let marketer: string;
  let contactId: string;

  const keyFor = async (role: string) => {
    const created = await server.call('POST', '/api/v1/api-keys', { name: `${role} key`, role });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return created.body.key as string;
  };
  const text = async (path: string, key: string) => {
    const res = await fetch(server.url + path, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status, path).toBe(200);
    return res.text();
  };

  beforeAll(async () => {
    server = await startServer(engine);
    analyst = await keyFor('analyst');
    sales = await keyFor('sales');
    marketer = await keyFor('marketer');
    const contact = await server.call('POST', '/api/v1/crm/contacts', { email: EMAIL, name: 'Ann Lee', phone: PHONE, title: 'CTO' });
    expect(contact.status, JSON.stringify(contact.body)).toBe(201);
    contactId = contact.body.id;
    const res = await fetch(`${server.url}/v1/batch`, {
      method: 'POST',
      body: JSON.stringify({
        writeKey: server.setup.writeKey,
        batch: [
          { type: 'identify', userId: 'ann-1', traits: { email: EMAIL, phone: PHONE, address: { street: '1 Main St', city: 'Berlin' } }, context: { ip: '203.0.113.9' } },
          { type: 'track', userId: 'ann-1', event: 'Signed Up', properties: { plan: 'pro' } },
        ],
      }),
    });
    expect(res.status).toBe(200);
    await server.rapport.core.pipeline.drain();
  });
  afterAll(() => server?.close());

  it('masks emails, phones and addresses for the analyst and shows them to sales', async () => {
    const paths = [
      `/api/v1/crm/contacts/${contactId}`,
      '/api/v1/crm/contacts?limit=50',
      '/api/v1/crm/search?q=ann',
      `/api/v1/profiles/${contactId}`,
      `/api/v1/crm/contacts/${contactId}/timeline?limit=50`,
      `/v1/spaces/${server.setup.workspaceId}/collections/users/profiles/user_id:ann-1/traits`,
      `/v1/spaces/${server.setup.workspaceId}/collections/users/profiles/user_id:ann-1/external_ids`,
    ];
    for (const path of paths) {
      const seen = await text(path, sales);
      expect(seen, path).toContain(EMAIL);
    }
    for (const path of paths) {
      const masked = await text(path, analyst);
      expect(masked, path).not.toContain(EMAIL);
      expect(masked, `${path}: ${masked}`).not.toContain('1234567');
      expect(masked, path).not.toContain('1 Main St');
      expect(masked, path).not.toContain('203.0.113.9');
      expect(masked, path).toMatch(/a\*\*\*@example\.com/);
    }
    // The debugger's raw events: for the marketer (who may read it, without pii:read) masked, for the owner not.
    const debuggerPath = `/api/v1/sources/${server.setup.sourceId}/debugger`;
    expect(await text(debuggerPath, server.setup.apiKey)).toContain(EMAIL);
    const raw = await text(debuggerPath, marketer);
    expect(raw).toContain('Signed Up');
    expect(raw).not.toContain(EMAIL);
    expect(raw).not.toContain('203.0.113.9');
    // What is not personal is left: the name, the title, the event.
    const contact = JSON.parse(await text(`/api/v1/crm/contacts/${contactId}`, analyst));
    expect(contact).toMatchObject({ id: contactId, name: 'Ann Lee', title: 'CTO', email: 'a***@example.com', phone: '***67' });
  });

  it('masks the CSV export too, for a role that may export without pii:read', async () => {
    const role = await server.call('POST', '/api/v1/roles', { name: 'Exporter', permissions: ['contacts:read', 'contacts:export'] });
    expect(role.status, JSON.stringify(role.body)).toBe(201);
    const exporter = await keyFor(role.body.id ?? role.body.name);
    const csv = await text('/api/v1/crm/contacts/export.csv', exporter);
    expect(csv).toContain('a***@example.com');
    expect(csv).not.toContain(EMAIL);
    expect(await text('/api/v1/crm/contacts/export.csv', server.setup.apiKey)).toContain(EMAIL);
  });

  it('leaves the workspace owner unmasked and the staff lists unmasked for anyone who may read them', async () => {
    expect(await text(`/api/v1/crm/contacts/${contactId}`, server.setup.apiKey)).toContain(EMAIL);
    expect(await text('/api/v1/users', server.setup.apiKey)).toContain('owner@acme.test');
  });
});
