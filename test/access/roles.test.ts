import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILT_IN_ROLES, PERMISSIONS } from '../../src/modules/access/index.js';
import { ENGINES } from '../support/engines.js';
import { signIn, type BrowserSession } from '../support/browser-session.js';
import { startServer, type TestServer } from '../support/server.js';

const SCRYPT_HEAVY = 120_000;
const clock = { t: Date.now(), now: () => clock.t };

describe.each(ENGINES)('built-in and custom roles on $name', (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(engine, { clock });
  });
  afterAll(() => server?.close());

  const keyFor = async (role: string, by = server.setup.apiKey) => {
    const answer = await server.call('POST', '/api/v1/api-keys', { name: `${role} key`, role }, by);
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    return answer.body.key as string;
  };
  const status = async (method: string, path: string, key: string, body?: unknown) => (await server.call(method, path, body, key)).status;
  const newRole = async (body: Record<string, unknown>, key = server.setup.apiKey) => {
    const answer = await server.call('POST', '/api/v1/roles', body, key);
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    return answer.body as { id: string; name: string; permissions: string[] };
  };
  /** An invitation accepted: the new member's session (sign-in runs scrypt). */
  const member = async (email: string, role: string): Promise<BrowserSession> => {
    const { token } = (await server.call('POST', '/api/v1/invitations', { email, role })).body;
    const { answer, session } = await signIn(server.url, { token, password: 'a long enough passphrase here' }, '/api/v1/invitations/accept');
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    return session!;
  };

  it('lists the six built-in roles with their permissions, and every permission', async () => {
    const roles = (await server.call('GET', '/api/v1/roles')).body.data as { id: string; builtIn: boolean; permissions: string[] }[];
    expect(roles.map((r) => r.id)).toEqual([...BUILT_IN_ROLES]);
    expect(roles.every((r) => r.builtIn)).toBe(true);
    const of = (id: string) => roles.find((r) => r.id === id)!.permissions;
    expect(of('owner')).toEqual([...PERMISSIONS]);
    expect(of('sales')).toEqual(expect.arrayContaining(['deals:write', 'contacts:write', 'tickets:read', 'pii:read']));
    expect(of('sales')).not.toContain('tickets:write');
    expect(of('support')).toEqual(expect.arrayContaining(['tickets:write', 'contacts:write', 'activities:write', 'tasks:write', 'pii:read']));
    expect(of('support')).not.toContain('deals:read');
    expect(of('marketer')).toEqual(expect.arrayContaining(['audiences:write', 'computed_traits:write', 'destinations:write', 'sources:read', 'deals:read']));
    expect(of('marketer')).not.toContain('deals:write');
    expect(of('analyst').filter((p) => !p.endsWith(':read'))).toEqual(['records:all']);
    for (const p of ['pii:read', 'users:read', 'api_keys:read', 'audit:read']) expect(of('analyst')).not.toContain(p);
    expect((await server.call('GET', '/api/v1/roles/permissions')).body.data).toEqual([...PERMISSIONS]);
  });

  it('lets each built-in role do its job and nothing else', async () => {
    const [sales, support, analyst, marketer] = await Promise.all(['sales', 'support', 'analyst', 'marketer'].map((r) => keyFor(r)));
    expect(await status('POST', '/api/v1/crm/deals', sales, { name: 'Acme renewal' })).toBe(201);
    expect(await status('POST', '/api/v1/crm/tickets', sales, { subject: 'Broken' })).toBe(403);
    expect(await status('GET', '/api/v1/crm/tickets', sales)).toBe(200);
    expect(await status('POST', '/api/v1/crm/tickets', support, { subject: 'Broken' })).toBe(201);
    expect(await status('GET', '/api/v1/crm/deals', support)).toBe(403);
    expect(await status('GET', '/api/v1/crm/deals', analyst)).toBe(200);
    expect(await status('POST', '/api/v1/crm/deals', analyst, { name: 'Nope' })).toBe(403);
    expect(await status('GET', '/api/v1/users', analyst)).toBe(403);
    expect(await status('GET', '/api/v1/audit', analyst)).toBe(403);
    expect(await status('GET', '/api/v1/audiences', marketer)).toBe(200);
    expect(await status('POST', '/api/v1/crm/deals', marketer, { name: 'Nope' })).toBe(403);
    expect(await status('GET', '/api/v1/api-keys', marketer)).toBe(403);
    const denied = await server.call('POST', '/api/v1/crm/tickets', { subject: 'x' }, sales);
    expect(denied.body.error.message).toBe('This key\'s role (sales) lacks the "tickets:write" permission.');
  });

  it('searches only the kinds of record the caller may read', async () => {
    const support = await keyFor('support');
    await server.call('POST', '/api/v1/crm/deals', { name: 'Zanzibar deal' });
    await server.call('POST', '/api/v1/crm/tickets', { subject: 'Zanzibar outage' });
    const found = (await server.call('GET', '/api/v1/crm/search?q=zanzibar', undefined, support)).body.data as { object: string }[];
    expect(found.map((f) => f.object)).toEqual(['ticket']);
    expect((await server.call('GET', '/api/v1/crm/search?q=zanzibar', undefined)).body.data).toHaveLength(2);
    expect(await status('GET', '/api/v1/crm/search?q=zanzibar&objects=deal', support)).toBe(403);
  });

  it('imports only into objects the caller may write', async () => {
    const roleId = (await newRole({ name: 'Importer', permissions: ['imports:write', 'contacts:write'] })).id;
    const importer = await keyFor(roleId);
    const csv = 'name\nAcme expansion\n';
    expect(await status('POST', '/api/v1/crm/imports', importer, { object: 'deal', csv, mapping: { name: 'name' } })).toBe(403);
    expect(await status('POST', '/api/v1/crm/imports', importer, { object: 'contact', csv: 'email\nimp@acme.test\n', mapping: { email: 'email' }, dryRun: true })).toBe(200);
  });

  it('denies everything to an API key whose role is unknown', async () => {
    const key = await keyFor('analyst');
    await server.rapport.database.db.updateTable('api_keys').set({ role: 'no-such-role' }).where('name', '=', 'analyst key').execute();
    clock.t += 11_000; // past the key cache
    expect(await status('GET', '/api/v1/crm/deals', key)).toBe(403);
    const me = await server.call('GET', '/api/v1/auth/session', undefined, key);
    expect(me.body).toMatchObject({ role: 'no-such-role', roleName: null, permissions: [] });
  });

  it('creates, renames and deletes a custom role; names and permissions are checked', async () => {
    const created = await newRole({ name: 'Partner manager', description: 'Deals with partners', permissions: ['deals:write', 'deals:read', 'companies:read'] });
    expect(created).toMatchObject({ name: 'Partner manager', permissions: ['companies:read', 'deals:read', 'deals:write'] });
    expect((await server.call('GET', `/api/v1/roles/${created.id}`)).body).toMatchObject({ id: created.id, builtIn: false, description: 'Deals with partners' });
    const bad = await server.call('POST', '/api/v1/roles', { name: 'X', permissions: ['deals:read', 'deals:fly'] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('deals:fly');
    expect((await server.call('POST', '/api/v1/roles', { name: 'partner MANAGER', permissions: [] })).status).toBe(409);
    expect((await server.call('POST', '/api/v1/roles', { name: 'Admin', permissions: [] })).status).toBe(409);
    expect((await server.call('POST', '/api/v1/roles', { name: 'X', permissions: ['deals:read', 'deals:read'] })).status).toBe(400);
    expect((await server.call('PATCH', '/api/v1/roles/sales', { name: 'Sellers' })).status).toBe(409);
    expect((await server.call('DELETE', '/api/v1/roles/admin')).status).toBe(409);
    const renamed = await server.call('PATCH', `/api/v1/roles/${created.id}`, { name: 'Partners', permissions: ['deals:read'] });
    expect(renamed.body).toMatchObject({ name: 'Partners', description: 'Deals with partners', permissions: ['deals:read'] });
    expect((await server.call('PATCH', `/api/v1/roles/${created.id}`, { permissions: ['nope'] })).status).toBe(400);
    expect((await server.call('GET', `/api/v1/roles/${created.id}`)).body.permissions).toEqual(['deals:read']);
    expect((await server.call('DELETE', `/api/v1/roles/${created.id}`)).status).toBe(204);
    expect((await server.call('GET', `/api/v1/roles/${created.id}`)).status).toBe(404);
  });

  it('applies a custom role to API keys, and an edit of it at once on this node', async () => {
    const role = await newRole({ name: 'Deal reader', permissions: ['deals:read'] });
    const key = await keyFor(role.id);
    expect(await status('GET', '/api/v1/crm/deals', key)).toBe(200);
    expect(await status('GET', '/api/v1/crm/contacts', key)).toBe(403);
    expect((await server.call('GET', '/api/v1/auth/session', undefined, key)).body).toMatchObject({ role: role.id, roleName: 'Deal reader', permissions: ['deals:read'] });
    expect((await server.call('GET', '/api/v1/api-keys')).body.data.find((k: { name: string }) => k.name === `${role.id} key`)).toMatchObject({ role: role.id, roleName: 'Deal reader' });
    await server.call('PATCH', `/api/v1/roles/${role.id}`, { permissions: ['contacts:read'] });
    expect(await status('GET', '/api/v1/crm/deals', key)).toBe(403);
    expect(await status('GET', '/api/v1/crm/contacts', key)).toBe(200);
  });

  it('refuses to delete a role a member, a pending invitation or a live API key holds', async () => {
    const role = await newRole({ name: 'Held', permissions: ['tickets:read'] });
    const invitation = (await server.call('POST', '/api/v1/invitations', { email: 'held@acme.test', role: role.id })).body.invitation;
    const refused = await server.call('DELETE', `/api/v1/roles/${role.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain('1 pending invitations');
    await server.call('DELETE', `/api/v1/invitations/${invitation.id}`);
    const created = (await server.call('POST', '/api/v1/api-keys', { name: 'held', role: role.id })).body;
    expect((await server.call('DELETE', `/api/v1/roles/${role.id}`)).status).toBe(409);
    await server.call('DELETE', `/api/v1/api-keys/${created.apiKey.id}`);
    expect((await server.call('DELETE', `/api/v1/roles/${role.id}`)).status).toBe(204);
    expect((await server.call('POST', '/api/v1/api-keys', { name: 'gone', role: role.id })).status).toBe(400);
  });

  it('gives members a custom role: their session lists its permissions and follows a role change at once', async () => {
    const role = await newRole({ name: 'Helpdesk', permissions: ['tickets:read', 'tickets:write'] });
    const session = await member('desk@acme.test', role.id);
    const me = await session.call('GET', '/api/v1/auth/session');
    expect(me.body).toMatchObject({ role: role.id, roleName: 'Helpdesk', permissions: ['tickets:read', 'tickets:write'] });
    const listed = (await server.call('GET', '/api/v1/users')).body.data.find((m: { email: string }) => m.email === 'desk@acme.test');
    expect(listed).toMatchObject({ role: role.id, roleName: 'Helpdesk' });
    expect((await session.call('GET', '/api/v1/crm/tickets')).status).toBe(200);
    expect((await session.call('GET', '/api/v1/crm/deals')).status).toBe(403);
    const userId = me.body.user.id;
    const changed = await server.call('PATCH', `/api/v1/users/${userId}`, { role: 'analyst' });
    expect(changed.body).toMatchObject({ id: userId, role: 'analyst' });
    // Both are in the audit log: who made the role, who gave it to whom.
    const audit = async (action: string) => (await server.call('GET', `/api/v1/audit?action=${action}`)).body.data as { target: { id: string }; change: unknown }[];
    expect((await audit('role.create')).map((e) => e.target.id)).toContain(role.id);
    expect(await audit('user.update')).toEqual(expect.arrayContaining([expect.objectContaining({ target: { type: 'user', id: userId }, change: { role: 'analyst' } })]));
    expect((await session.call('GET', '/api/v1/crm/deals')).status).toBe(200);
    expect((await session.call('POST', '/api/v1/crm/tickets', { subject: 'x' })).status).toBe(403);
    expect((await server.call('PATCH', `/api/v1/users/${userId}`, { role: 'wizard' })).status).toBe(400);
    expect((await server.call('PATCH', '/api/v1/users/nobody', { role: 'analyst' })).status).toBe(404);
  }, SCRYPT_HEAVY);

  it('lets only an owner make, change or remove an owner; nobody gives more than they hold', async () => {
    const admin = await keyFor('admin');
    const owners = async () => ((await server.call('GET', '/api/v1/users')).body.data as { id: string; role: string }[]).filter((m) => m.role === 'owner');
    const [owner] = await owners();
    expect((await server.call('POST', '/api/v1/invitations', { email: 'boss@acme.test', role: 'owner' }, admin)).status).toBe(403);
    expect((await server.call('POST', '/api/v1/api-keys', { name: 'boss', role: 'owner' }, admin)).status).toBe(403);
    expect((await server.call('PATCH', `/api/v1/users/${owner.id}`, { role: 'analyst' }, admin)).status).toBe(403);
    expect((await server.call('DELETE', `/api/v1/users/${owner.id}`, undefined, admin)).status).toBe(403);
    // The owner may, but not leave the workspace without one.
    const last = await server.call('PATCH', `/api/v1/users/${owner.id}`, { role: 'admin' });
    expect(last.status).toBe(409);
    expect(last.body.error.message).toContain('last owner');
    expect((await server.call('POST', '/api/v1/invitations', { email: 'boss@acme.test', role: 'owner' })).status).toBe(201);

    // A delegate who manages users and roles but cannot read the audit log cannot hand that out.
    const delegateRole = await newRole({ name: 'Delegate', permissions: ['users:read', 'users:write', 'roles:read', 'roles:write', 'api_keys:write', 'deals:read'] });
    const delegate = await keyFor(delegateRole.id);
    expect((await server.call('POST', '/api/v1/roles', { name: 'Auditor', permissions: ['audit:read'] }, delegate)).status).toBe(403);
    expect((await server.call('POST', '/api/v1/roles', { name: 'Dealer', permissions: ['deals:read'] }, delegate)).status).toBe(201);
    expect((await server.call('POST', '/api/v1/invitations', { email: 'x@acme.test', role: 'admin' }, delegate)).status).toBe(403);
    expect((await server.call('POST', '/api/v1/api-keys', { name: 'x', role: 'analyst' }, delegate)).status).toBe(403);
    const widened = await server.call('PATCH', `/api/v1/roles/${delegateRole.id}`, { permissions: [...delegateRole.permissions, 'audit:read'] }, delegate);
    expect(widened.status).toBe(403);
    expect(widened.body.error.message).toContain('audit:read');
  });
});

const postgres = ENGINES.find((e) => e.name === 'postgres');

describe.skipIf(!postgres)('a custom role edited on one node of two on one PostgreSQL', () => {
  it('reaches the other node\'s API keys within 5 seconds', async () => {
    const shared = { t: Date.now(), now: () => shared.t };
    const server = await startServer(postgres!, { clock: shared });
    const { createRapport } = await import('../../src/app.js');
    const { loadConfig } = await import('../../src/platform/config.js');
    const { clientOf } = await import('../support/server.js');
    const second = await createRapport({ ...loadConfig({ RAPPORT_DATA_DIR: server.store.dataDir, DATABASE_URL: server.store.databaseUrl!, LOG_LEVEL: 'warn' }), role: 'api' }, { clock: shared });
    try {
      await second.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = second.app.server.address() as { port: number };
      const other = clientOf(`http://127.0.0.1:${port}`, server.setup);
      const role = (await server.call('POST', '/api/v1/roles', { name: 'Reader', permissions: ['deals:read'] })).body.id;
      const key = (await server.call('POST', '/api/v1/api-keys', { name: 'reader', role })).body.key;
      expect((await other.call('GET', '/api/v1/crm/deals', undefined, key)).status).toBe(200);
      await server.call('PATCH', `/api/v1/roles/${role}`, { permissions: ['tickets:read'] });
      // This node knows at once; the other holds its cached copy for at most 5 seconds.
      expect((await server.call('GET', '/api/v1/crm/deals', undefined, key)).status).toBe(403);
      expect((await other.call('GET', '/api/v1/crm/deals', undefined, key)).status).toBe(200);
      shared.t += 5_001;
      expect((await other.call('GET', '/api/v1/crm/deals', undefined, key)).status).toBe(403);
      expect((await other.call('GET', '/api/v1/crm/tickets', undefined, key)).status).toBe(200);
    } finally {
      await second.close();
      await server.close();
    }
  });
});
