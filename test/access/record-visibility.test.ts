import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { signIn, type BrowserSession } from '../support/browser-session.js';
import { startServer, type TestServer } from '../support/server.js';

const SCRYPT_HEAVY = 180_000;

describe.each(ENGINES)('record visibility: contacts and deals of the owner\'s teams on $name', (engine) => {
  let server: TestServer;
  const people: Record<'alice' | 'bob' | 'carol', { id: string; session: BrowserSession }> = {} as never;
  const deal: Record<string, string> = {};
  const contact: Record<string, string> = {};
  let east: string;

  const join = async (name: string, role = 'sales') => {
    const { token } = (await server.call('POST', '/api/v1/invitations', { email: `${name}@acme.test`, role })).body;
    const { answer, session } = await signIn(server.url, { token, password: 'a long enough passphrase here' }, '/api/v1/invitations/accept');
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    return { id: answer.body.user.id as string, session: session! };
  };
  const names = (answer: { body: any }) => (answer.body.data as { name?: string; email?: string }[]).map((r) => r.name ?? r.email).sort();

  beforeAll(async () => {
    server = await startServer(engine);
    people.alice = await join('alice');
    people.bob = await join('bob');
    people.carol = await join('carol');
    east = (await server.call('POST', '/api/v1/teams', { name: 'East', memberIds: [people.alice.id, people.bob.id] })).body.id;
    await server.call('POST', '/api/v1/teams', { name: 'West', memberIds: [people.carol.id] });
    for (const [who, ownerId] of [['alice', people.alice.id], ['bob', people.bob.id], ['carol', people.carol.id], ['nobody', null]] as const) {
      deal[who] = (await server.call('POST', '/api/v1/crm/deals', { name: `Deal of ${who}`, ownerId, amount: 100, currency: 'USD' })).body.id;
      contact[who] = (await server.call('POST', '/api/v1/crm/contacts', { email: `lead-of-${who}@example.com`, name: `Lead of ${who}`, ownerId })).body.id;
    }
  }, SCRYPT_HEAVY);
  afterAll(() => server?.close());

  it('shows every record to everyone while the workspace says all', async () => {
    expect((await server.call('GET', '/api/v1/workspace/record-visibility')).body).toEqual({ recordVisibility: 'all' });
    expect(names(await people.alice.session.call('GET', '/api/v1/crm/deals'))).toEqual(['Deal of alice', 'Deal of bob', 'Deal of carol', 'Deal of nobody']);
  });

  it('limits contacts and deals to their owner\'s teams (and unowned ones) for roles without records:all', async () => {
    expect((await server.call('PUT', '/api/v1/workspace/record-visibility', { recordVisibility: 'team' })).body).toEqual({ recordVisibility: 'team' });
    const alice = people.alice.session;
    expect(names(await alice.call('GET', '/api/v1/crm/deals'))).toEqual(['Deal of alice', 'Deal of bob', 'Deal of nobody']);
    expect(names(await alice.call('GET', '/api/v1/crm/contacts'))).toEqual(['Lead of alice', 'Lead of bob', 'Lead of nobody']);
    expect(names(await people.carol.session.call('GET', '/api/v1/crm/deals'))).toEqual(['Deal of carol', 'Deal of nobody']);
    // Another team's record is not there at all: get, change, delete, history, timeline, merge.
    for (const [method, path, body] of [
      ['GET', `/crm/deals/${deal.carol}`], ['PATCH', `/crm/deals/${deal.carol}`, { name: 'Mine now' }], ['DELETE', `/crm/deals/${deal.carol}`],
      ['GET', `/crm/deals/${deal.carol}/stage-history`], ['GET', `/crm/contacts/${contact.carol}`], ['PATCH', `/crm/contacts/${contact.carol}`, { title: 'CEO' }],
      ['GET', `/crm/contacts/${contact.carol}/timeline`], ['POST', `/crm/contacts/${contact.alice}/merge`, { duplicateId: contact.carol }],
    ] as [string, string, unknown?][]) {
      expect((await alice.call(method, `/api/v1${path}`, body)).status, `${method} ${path}`).toBe(404);
    }
    expect((await alice.call('POST', '/api/v1/crm/deals/bulk', { update: [{ id: deal.carol, changes: { name: 'Mine now' } }] })).status).toBe(404);
    expect((await alice.call('PATCH', `/api/v1/crm/deals/${deal.bob}`, { name: 'Deal of bob' })).status).toBe(200);
    expect((await server.call('GET', `/api/v1/crm/deals/${deal.carol}`)).body.name).toBe('Deal of carol');
  });

  it('keeps search, reports and the export to the records the caller sees', async () => {
    const alice = people.alice.session;
    const found = (await alice.call('GET', '/api/v1/crm/search?q=deal')).body.data.map((h: { title: string }) => h.title).sort();
    expect(found).toEqual(['Deal of alice', 'Deal of bob', 'Deal of nobody']);
    expect((await alice.call('GET', '/api/v1/crm/search?q=lead')).body.data).toHaveLength(3);
    const open = async (session?: BrowserSession) => {
      const report = session ? await session.call('GET', '/api/v1/crm/reports/pipeline') : await server.call('GET', '/api/v1/crm/reports/pipeline');
      return (report.body.stages as { deals: number }[]).reduce((a, s) => a + s.deals, 0);
    };
    expect(await open(alice)).toBe(3);
    expect(await open()).toBe(4);
    const year = new Date().getUTCFullYear();
    const rate = await alice.call('GET', `/api/v1/crm/reports/win-rate?from=${year - 1}-01-01T00:00:00Z&to=${year + 1}-01-01T00:00:00Z`);
    expect(rate.status).toBe(200);
    // The export asks for contacts:export, which sales lacks: a role that holds it, without records:all.
    const role = (await server.call('POST', '/api/v1/roles', { name: 'Exporter', permissions: ['contacts:read', 'contacts:export'] })).body.id;
    await server.call('PATCH', `/api/v1/users/${people.bob.id}`, { role });
    const csv = await fetch(`${server.url}/api/v1/crm/contacts/export.csv`, { headers: { cookie: `__Host-rapport_session=${people.bob.session.secret}` } });
    const text = await csv.text();
    expect(csv.status).toBe(200);
    expect(text).toContain('Lead of alice');
    expect(text).not.toContain('Lead of carol');
    await server.call('PATCH', `/api/v1/users/${people.bob.id}`, { role: 'sales' });
  });

  it('shows everything to roles with records:all, and only unowned records to an API key without it', async () => {
    const analyst = (await server.call('POST', '/api/v1/api-keys', { name: 'analyst', role: 'analyst' })).body.key;
    expect(names(await server.call('GET', '/api/v1/crm/deals', undefined, analyst))).toHaveLength(4);
    const sales = (await server.call('POST', '/api/v1/api-keys', { name: 'sales', role: 'sales' })).body.key;
    expect(names(await server.call('GET', '/api/v1/crm/deals', undefined, sales))).toEqual(['Deal of nobody']);
    const role = (await server.call('POST', '/api/v1/roles', { name: 'Integration', permissions: ['deals:read', 'records:all'] })).body.id;
    const integration = (await server.call('POST', '/api/v1/api-keys', { name: 'integration', role })).body.key;
    expect(names(await server.call('GET', '/api/v1/crm/deals', undefined, integration))).toHaveLength(4);
  });

  it('follows team changes at once, and a member who leaves leaves their teams', async () => {
    const alice = people.alice.session;
    const changed = await server.call('PATCH', `/api/v1/teams/${east}`, { memberIds: [people.alice.id] });
    expect(changed.body).toMatchObject({ name: 'East', memberIds: [people.alice.id] });
    expect(names(await alice.call('GET', '/api/v1/crm/deals'))).toEqual(['Deal of alice', 'Deal of nobody']);
    await server.call('PATCH', `/api/v1/teams/${east}`, { memberIds: [people.alice.id, people.bob.id, people.carol.id] });
    expect(names(await alice.call('GET', '/api/v1/crm/deals'))).toHaveLength(4);
    expect((await server.call('DELETE', `/api/v1/users/${people.carol.id}`)).status).toBe(204);
    expect((await server.call('GET', `/api/v1/teams/${east}`)).body.memberIds).not.toContain(people.carol.id);
    expect(names(await alice.call('GET', '/api/v1/crm/deals'))).toEqual(['Deal of alice', 'Deal of bob', 'Deal of nobody']);
  });

  it('checks teams: members of the workspace only, unique names', async () => {
    const stranger = await server.call('POST', '/api/v1/teams', { name: 'North', memberIds: ['not-a-member'] });
    expect(stranger.status).toBe(400);
    expect(stranger.body.error.message).toContain('not-a-member');
    expect((await server.call('POST', '/api/v1/teams', { name: 'East' })).status).toBe(409);
    expect((await server.call('PUT', '/api/v1/workspace/record-visibility', { recordVisibility: 'mine' })).status).toBe(400);
    expect((await people.alice.session.call('PUT', '/api/v1/workspace/record-visibility', { recordVisibility: 'all' })).status).toBe(403);
    expect((await server.call('PUT', '/api/v1/workspace/record-visibility', { recordVisibility: 'all' })).status).toBe(200);
    expect(names(await people.alice.session.call('GET', '/api/v1/crm/deals'))).toHaveLength(4);
    const west = ((await server.call('GET', '/api/v1/teams')).body.data as { id: string; name: string }[]).find((t) => t.name === 'West')!;
    expect((await server.call('DELETE', `/api/v1/teams/${west.id}`)).status).toBe(204);
    expect((await server.call('GET', `/api/v1/teams/${west.id}`)).status).toBe(404);
  });
});
