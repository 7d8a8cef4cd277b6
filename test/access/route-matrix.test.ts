import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declaredRoutes, type DeclaredRoute } from '../../src/platform/http/access.js';
import { BUILT_IN_ROLES } from '../../src/modules/access/index.js';
import { setupWorkspace, type SetupResult } from '../../src/workflows/setup-workspace.js';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';

// Routes that any signed-in caller (or anyone) may call under the management API: each one is named here, so a
// route that forgets its permission (and falls back to one of these) fails the test.
const OPEN_BY_DESIGN = new Set([
  'POST /api/v1/auth/login', 'POST /api/v1/invitations/accept',
  'POST /api/v1/auth/logout', 'GET /api/v1/auth/session', 'PUT /api/v1/auth/password', 'GET /api/v1/roles/permissions',
  // The web app's first run (only while the installation has no workspace or user) and its workspace switcher.
  'GET /api/v1/setup', 'POST /api/v1/setup', 'POST /api/v1/auth/switch-workspace',
]);

/** The permissions a route's declaration asks for (any one of them suffices), or null when it asks for none. */
const asked = (access: DeclaredRoute['access']): readonly string[] | null =>
  typeof access === 'string' ? null : 'permission' in access ? [access.permission] : access.anyPermission;

/** A route's path with every parameter (and wildcard) filled with a random id. */
const filled = (url: string) => url.replace(/:[\w]+/g, () => randomUUID()).replace(/\*$/, randomUUID());

describe.each(ENGINES)('every route as every role on $name', (engine) => {
  let server: TestServer;
  let globex: SetupResult;
  beforeAll(async () => {
    server = await startServer(engine);
    globex = await setupWorkspace(
      { access: server.rapport.core.access.service, collect: server.rapport.core.collect.service },
      { workspace: 'Globex', email: 'owner@globex.test', password: 'another correct horse battery' },
    );
  });
  afterAll(() => server?.close());

  const send = async (method: string, path: string, key: string, body?: unknown) => {
    const res = await fetch(server.url + path, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    return { status: res.status, text };
  };

  it('declares a permission on every management route but the few open by design', () => {
    const routes = declaredRoutes(server.rapport.app);
    expect(routes.length).toBeGreaterThan(100);
    const undeclared = routes.filter((r) => r.url.startsWith('/api/v1/') && !asked(r.access) && !OPEN_BY_DESIGN.has(`${r.method} ${r.url}`));
    expect(undeclared.map((r) => `${r.method} ${r.url} (${JSON.stringify(r.access)})`)).toEqual([]);
    // And the registry is complete: the Profile API and the collection API are in it too.
    expect(routes.some((r) => r.url.startsWith('/v1/spaces/') && asked(r.access)?.includes('profiles:read'))).toBe(true);
    expect(routes.some((r) => r.method === 'POST' && r.url === '/v1/track' && r.access === 'write-key')).toBe(true);
  });

  it('allows each route exactly to the roles whose permissions it declares: an API key per built-in role and one custom role', async () => {
    const owner = server.setup.apiKey;
    const custom = await server.call('POST', '/api/v1/roles', { name: 'Matrix', permissions: ['deals:read', 'tickets:write', 'audiences:read', 'users:read', 'contacts:export'] });
    expect(custom.status).toBe(201);
    const roles = [...BUILT_IN_ROLES, custom.body.id as string];
    const callers: { role: string; key: string; permissions: Set<string> }[] = [];
    for (const role of roles) {
      const key = (await server.call('POST', '/api/v1/api-keys', { name: `matrix ${role}`, role }, owner)).body.key as string;
      const permissions = new Set<string>((await server.call('GET', `/api/v1/roles/${role}`)).body.permissions);
      callers.push({ role, key, permissions });
    }
    // The owner's key stays usable: no route below may revoke it (ids are random), and setup's is separate.
    const routes = declaredRoutes(server.rapport.app).filter((r) => asked(r.access) || r.access === 'signed-in');
    const wrong: string[] = [];
    let calls = 0;
    for (const route of routes) {
      const permissions = asked(route.access);
      const body = ['POST', 'PUT', 'PATCH'].includes(route.method) ? {} : undefined;
      for (const caller of callers) {
        const allowed = permissions === null || permissions.some((p) => caller.permissions.has(p));
        const { status, text } = await send(route.method, filled(route.url), caller.key, body);
        calls += 1;
        const denied = status === 401 || status === 403;
        if (allowed === denied || (denied && status !== 403) || status >= 500) {
          wrong.push(`${route.method} ${route.url} as ${caller.role}: ${status} but ${allowed ? 'allowed' : 'denied'} by ${JSON.stringify(route.access)} ${text.slice(0, 160)}`);
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(calls).toBe(routes.length * callers.length);
    // Each role was refused something and allowed something: the matrix tells them apart.
    expect(new Set(callers.map((c) => [...c.permissions].sort().join()))).toHaveProperty('size', callers.length - 1); // owner and admin hold the same
  }, 300_000);

  it('answers 404 to ids of another workspace, for every kind of resource, and changes nothing there', async () => {
    const theirs = (method: string, path: string, body?: unknown) => server.call(method, `/api/v1${path}`, body, globex.apiKey);
    const ok = async (answer: Promise<{ status: number; body: any }>, status = 201) => {
      const a = await answer;
      expect(a.status, JSON.stringify(a.body)).toBe(status);
      return a.body;
    };
    const contact = (await ok(theirs('POST', '/crm/contacts', { email: 'wile@globex.test', name: 'Wile E.' }))).id as string;
    const company = (await ok(theirs('POST', '/crm/companies', { domain: 'globex.com', name: 'Globex' }))).id as string;
    const deal = (await ok(theirs('POST', '/crm/deals', { name: 'Globex renewal' }))).id as string;
    const ticket = (await ok(theirs('POST', '/crm/tickets', { subject: 'Rockets misfire' }))).id as string;
    const task = (await ok(theirs('POST', '/crm/tasks', { title: 'Call Wile' }))).id as string;
    const activity = (await ok(theirs('POST', '/crm/activities', { kind: 'call', contactIds: [contact] }))).id as string;
    await ok(theirs('POST', '/audiences', { key: 'globex_free', name: 'Free plan', condition: { trait: 'plan', op: 'eq', value: 'free' } }));
    await ok(theirs('POST', '/computed-traits', { key: 'globex_spent', name: 'Spent', kind: 'sum', event: { name: 'Order Completed' }, property: 'total' }));
    const destination = (await ok(theirs('POST', '/destinations', { name: 'Hook', type: 'webhook', settings: { url: 'https://hooks.example.com/in' } }))).id as string;
    const apiKey = (await ok(theirs('POST', '/api-keys', { name: 'Globex CI', role: 'analyst' }))).apiKey.id as string;
    const role = (await ok(theirs('POST', '/roles', { name: 'Globex role', permissions: ['deals:read'] }))).id as string;
    const view = (await ok(theirs('POST', '/crm/views', { object: 'deal', name: 'Globex deals', query: { status: 'open' } }))).id as string;
    const pipeline = (await ok(theirs('POST', '/crm/pipelines', { name: 'Globex partners', stages: [{ name: 'Intro' }, { name: 'Signed', outcome: 'won' }, { name: 'Dropped', outcome: 'lost' }] }))).id as string;
    await ok(theirs('POST', '/crm/fields/contact', { key: 'globex_seats', label: 'Seats', type: 'number' }));
    const invitation = (await ok(theirs('POST', '/invitations', { email: 'road@globex.test', role: 'analyst' }))).invitation.id as string;
    const member = ((await ok(theirs('GET', '/users'), 200)).data as { id: string }[])[0].id;
    const team = (await ok(theirs('POST', '/teams', { name: 'Globex team', memberIds: [member] }))).id as string;
    const importId = (await ok(theirs('POST', '/crm/imports', { object: 'deal', csv: 'name\nAnvil order\n', mapping: { name: 'name' } }), 200)).id as string;

    const probes: [string, string, string, unknown?][] = [
      ['contacts', 'GET', `/crm/contacts/${contact}`], ['contacts', 'PATCH', `/crm/contacts/${contact}`, { title: 'CEO' }],
      ['contacts', 'GET', `/crm/contacts/${contact}/timeline`],
      ['companies', 'GET', `/crm/companies/${company}`], ['companies', 'PATCH', `/crm/companies/${company}`, { name: 'Mine now' }],
      ['companies', 'GET', `/crm/companies/${company}/timeline`],
      ['deals', 'GET', `/crm/deals/${deal}`], ['deals', 'PATCH', `/crm/deals/${deal}`, { name: 'Mine now' }], ['deals', 'GET', `/crm/deals/${deal}/stage-history`],
      ['deals', 'DELETE', `/crm/deals/${deal}`],
      ['tickets', 'GET', `/crm/tickets/${ticket}`], ['tickets', 'PATCH', `/crm/tickets/${ticket}`, { status: 'closed' }], ['tickets', 'DELETE', `/crm/tickets/${ticket}`],
      ['tasks', 'GET', `/crm/tasks/${task}`], ['tasks', 'PATCH', `/crm/tasks/${task}`, { title: 'Mine now' }], ['tasks', 'DELETE', `/crm/tasks/${task}`],
      ['activities', 'GET', `/crm/activities/${activity}`], ['activities', 'PATCH', `/crm/activities/${activity}`, { subject: 'Mine now' }],
      ['activities', 'DELETE', `/crm/activities/${activity}`],
      ['audiences', 'GET', '/audiences/globex_free'], ['audiences', 'PUT', '/audiences/globex_free', { name: 'Mine now', condition: { trait: 'plan', op: 'eq', value: 'free' } }],
      ['audiences', 'GET', '/audiences/globex_free/members'], ['audiences', 'POST', '/audiences/globex_free/recompute'], ['audiences', 'DELETE', '/audiences/globex_free'],
      ['computed traits', 'GET', '/computed-traits/globex_spent'], ['computed traits', 'DELETE', '/computed-traits/globex_spent'],
      ['destinations', 'GET', `/destinations/${destination}`], ['destinations', 'PATCH', `/destinations/${destination}`, { name: 'Mine now' }],
      ['destinations', 'GET', `/destinations/${destination}/stats`], ['destinations', 'GET', `/destinations/${destination}/dead-letters`],
      ['destinations', 'POST', `/destinations/${destination}/test`], ['destinations', 'DELETE', `/destinations/${destination}`],
      ['sources', 'GET', `/sources/${globex.sourceId}`], ['sources', 'PATCH', `/sources/${globex.sourceId}`, { name: 'Mine now' }],
      ['sources', 'POST', `/sources/${globex.sourceId}/rotate-write-key`], ['sources', 'GET', `/sources/${globex.sourceId}/debugger`],
      ['api keys', 'DELETE', `/api-keys/${apiKey}`],
      ['roles', 'GET', `/roles/${role}`], ['roles', 'PATCH', `/roles/${role}`, { name: 'Mine now' }], ['roles', 'DELETE', `/roles/${role}`],
      ['profiles', 'GET', `/profiles/${contact}`], ['profiles', 'GET', `/profiles/${contact}/explain`],
      ['views', 'PATCH', `/crm/views/${view}`, { name: 'Mine now' }], ['views', 'DELETE', `/crm/views/${view}`],
      ['pipelines', 'GET', `/crm/pipelines/${pipeline}`], ['pipelines', 'PATCH', `/crm/pipelines/${pipeline}`, { name: 'Mine now' }], ['pipelines', 'DELETE', `/crm/pipelines/${pipeline}`],
      ['custom fields', 'DELETE', '/crm/fields/contact/globex_seats'],
      ['invitations', 'DELETE', `/invitations/${invitation}`],
      ['members', 'PATCH', `/users/${member}`, { role: 'analyst' }], ['members', 'DELETE', `/users/${member}`],
      ['imports', 'GET', `/crm/imports/${importId}`],
      ['teams', 'GET', `/teams/${team}`], ['teams', 'PATCH', `/teams/${team}`, { name: 'Mine now' }], ['teams', 'DELETE', `/teams/${team}`],
    ];
    const leaks: string[] = [];
    for (const [kind, method, path, body] of probes) {
      const answer = await server.call(method, `/api/v1${path}`, body ?? (['POST', 'PATCH', 'PUT'].includes(method) ? {} : undefined));
      if (answer.status !== 404) leaks.push(`${kind}: ${method} ${path} answered ${answer.status} ${JSON.stringify(answer.body).slice(0, 120)}`);
    }
    expect(leaks).toEqual([]);

    // Nor do lists, searches or role grants reach into Globex.
    const mine = async (path: string) => JSON.stringify((await server.call('GET', `/api/v1${path}`)).body);
    for (const path of ['/crm/contacts', '/crm/companies', '/crm/deals', '/crm/tickets', '/crm/tasks', '/audiences', '/computed-traits', '/destinations', '/sources', '/api-keys', '/roles', '/crm/views', '/crm/pipelines', '/crm/fields/contact', '/users', '/invitations', '/profiles', '/teams']) {
      const listed = await mine(path);
      for (const id of [contact, company, deal, ticket, task, destination, globex.sourceId, apiKey, role, view, pipeline, invitation, member, team, 'globex_free', 'globex_spent', 'globex_seats']) {
        if (listed.includes(id)) leaks.push(`GET ${path} lists ${id}`);
      }
    }
    expect(leaks).toEqual([]);
    expect((await server.call('GET', '/api/v1/crm/search?q=globex')).body.data).toEqual([]);
    expect((await server.call('POST', '/api/v1/api-keys', { name: 'borrowed', role })).status).toBe(400);

    // Everything is still there, unchanged, for Globex.
    expect((await ok(theirs('GET', `/crm/deals/${deal}`), 200)).name).toBe('Globex renewal');
    expect((await ok(theirs('GET', `/roles/${role}`), 200)).name).toBe('Globex role');
    expect((await ok(theirs('GET', `/sources/${globex.sourceId}`), 200)).name).not.toBe('Mine now');
    expect((await ok(theirs('GET', '/api-keys'), 200)).data.find((k: { id: string }) => k.id === apiKey).revokedAt).toBeNull();
    expect((await ok(theirs('GET', `/destinations/${destination}`), 200)).name).toBe('Hook');
  }, 120_000);
});
