import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declaredRoutes } from '../../src/platform/http/access.js';
import { ENGINES } from '../support/engines.js';
import { signIn, type BrowserSession } from '../support/browser-session.js';
import { startServer, type TestServer } from '../support/server.js';

const SCRYPT_HEAVY = 180_000;

// Under `team` visibility, a contact, company or deal the caller may not see stays out of sight however it is
// reached: through another record, a list about it, search, profiles, the Profile API or an audience.
describe.each(ENGINES)('record visibility through other records on $name', (engine) => {
  let server: TestServer;
  let alice: BrowserSession;
  let dave: BrowserSession;
  const user: Record<string, string> = {};
  const id: Record<string, string> = {};

  const join = async (name: string, role: string) => {
    const { token } = (await server.call('POST', '/api/v1/invitations', { email: `${name}@acme.test`, role })).body;
    const { answer, session } = await signIn(server.url, { token, password: 'a long enough passphrase here' }, '/api/v1/invitations/accept');
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    user[name] = answer.body.user.id;
    return session!;
  };
  const created = async (path: string, body: unknown) => {
    const answer = await server.call('POST', `/api/v1${path}`, body);
    expect(answer.status, `${path} ${JSON.stringify(answer.body)}`).toBeLessThan(300);
    return answer.body.id as string;
  };

  beforeAll(async () => {
    server = await startServer(engine);
    alice = await join('alice', 'sales');
    await join('carol', 'sales');
    dave = await join('dave', 'support');
    await server.call('POST', '/api/v1/teams', { name: 'East', memberIds: [user.alice] });
    await server.call('POST', '/api/v1/teams', { name: 'West', memberIds: [user.carol] });
    id.aliceLead = await created('/crm/contacts', { email: 'lead-of-alice@example.com', name: 'Lead of alice', ownerId: user.alice });
    id.carolLead = await created('/crm/contacts', { email: 'lead-of-carol@example.com', name: 'Lead of carol', ownerId: user.carol });
    id.carolCo = await created('/crm/companies', { domain: 'carol-co.test', name: 'Carol Co', ownerId: user.carol });
    id.aliceCo = await created('/crm/companies', { domain: 'alice-co.test', name: 'Alice Co', ownerId: user.alice });
    id.carolDeal = await created('/crm/deals', { name: 'Deal of carol', ownerId: user.carol, contactIds: [id.carolLead], companyId: id.carolCo });
    id.aliceDeal = await created('/crm/deals', { name: 'Deal of alice', ownerId: user.alice, contactIds: [id.aliceLead, id.carolLead], companyId: id.carolCo });
    id.noteOnCarol = await created('/crm/activities', { kind: 'note', subject: 'About carol\'s lead', contactIds: [id.carolLead] });
    id.noteByAlice = await created('/crm/activities', { kind: 'note', subject: 'Alice\'s note', ownerId: user.alice, contactIds: [id.aliceLead], dealIds: [id.carolDeal] });
    id.taskOnCarolDeal = await created('/crm/tasks', { title: 'Chase carol\'s deal', dealIds: [id.carolDeal] });
    id.taskForAlice = await created('/crm/tasks', { title: 'Alice helps on carol\'s deal', assigneeId: user.alice, dealIds: [id.carolDeal] });
    id.ticketOfCarolLead = await created('/crm/tickets', { subject: 'Carol\'s lead cannot log in', contactId: id.carolLead });
    id.ticketForDave = await created('/crm/tickets', { subject: 'Carol\'s lead wants a refund', contactId: id.carolLead, assigneeId: user.dave });
    expect((await server.call('PUT', '/api/v1/workspace/record-visibility', { recordVisibility: 'team' })).status).toBe(200);
  }, SCRYPT_HEAVY);
  afterAll(() => server?.close());

  it('answers 404 for what is listed or fetched by a hidden contact\'s, company\'s or deal\'s id', async () => {
    const paths = [
      `/crm/activities?object=contact&id=${id.carolLead}`, `/crm/activities?object=deal&id=${id.carolDeal}`, `/crm/activities?object=company&id=${id.carolCo}`,
      `/crm/tasks?contactId=${id.carolLead}`, `/crm/tasks?dealId=${id.carolDeal}`, `/crm/tasks?companyId=${id.carolCo}`, `/crm/tickets?contactId=${id.carolLead}`,
      `/crm/deals?contactId=${id.carolLead}`, `/crm/deals?companyId=${id.carolCo}`, `/crm/companies/${id.carolCo}`, `/crm/companies/${id.carolCo}/timeline`,
      `/crm/activities/${id.noteOnCarol}`, `/crm/tasks/${id.taskOnCarolDeal}`, `/crm/tickets/${id.ticketOfCarolLead}`,
    ];
    for (const path of paths) {
      expect((await alice.call('GET', `/api/v1${path}`)).status, path).toBe(404);
      expect((await server.call('GET', `/api/v1${path}`)).status, `owner: ${path}`).toBe(200);
    }
    for (const [method, path, body] of [
      ['PATCH', `/crm/activities/${id.noteOnCarol}`, { subject: 'Mine' }], ['DELETE', `/crm/activities/${id.noteOnCarol}`],
      ['PATCH', `/crm/tasks/${id.taskOnCarolDeal}`, { status: 'done' }], ['DELETE', `/crm/tasks/${id.taskOnCarolDeal}`],
      ['PATCH', `/crm/tickets/${id.ticketOfCarolLead}`, { status: 'open' }], ['DELETE', `/crm/tickets/${id.ticketOfCarolLead}`],
      ['PATCH', `/crm/companies/${id.carolCo}`, { industry: 'Mine' }],
    ] as [string, string, unknown?][]) {
      // Sales may not change tickets: the support agent, who may, tries those.
      expect((await (path.startsWith('/crm/tickets') ? dave : alice).call(method, `/api/v1${path}`, body)).status, `${method} ${path}`).toBe(404);
    }
    expect((await server.call('GET', `/api/v1/crm/tasks/${id.taskOnCarolDeal}`)).body.status).toBe('open');
    const companies = (await alice.call('GET', '/api/v1/crm/companies')).body.data.map((c: { name: string }) => c.name);
    expect(companies).toEqual(['Alice Co']);
  });

  it('shows an activity, task or ticket to its owner\'s or assignee\'s team, and otherwise only when none of its records is hidden', async () => {
    const tasks = (await alice.call('GET', '/api/v1/crm/tasks')).body.data as { id: string; dealIds: string[] }[];
    expect(tasks.map((t) => t.id)).toEqual([id.taskForAlice]);
    expect(tasks[0].dealIds).toEqual([]);
    const notes = (await alice.call('GET', `/api/v1/crm/activities?object=contact&id=${id.aliceLead}`)).body.data as { id: string; dealIds: string[]; contactIds: string[] }[];
    expect(notes).toMatchObject([{ id: id.noteByAlice, contactIds: [id.aliceLead], dealIds: [] }]);
    expect((await alice.call('GET', '/api/v1/crm/tickets')).body.data).toEqual([]);
    // The support agent a ticket is assigned to works it, without being shown the contact they may not see.
    const queue = (await dave.call('GET', '/api/v1/crm/tickets')).body.data as { id: string; contactId: string | null }[];
    expect(queue).toMatchObject([{ id: id.ticketForDave, contactId: null }]);
    expect((await dave.call('PATCH', `/api/v1/crm/tickets/${id.ticketForDave}`, { status: 'open', contactId: null })).status).toBe(200);
    expect((await server.call('GET', `/api/v1/crm/tickets/${id.ticketForDave}`)).body).toMatchObject({ status: 'open', contactId: id.carolLead });
  });

  it('follows a contact merged since: what was logged under its old id takes the survivor\'s visibility', async () => {
    const duplicate = await created('/crm/contacts', { email: 'carol-lead-again@example.com', name: 'Lead of carol, again' });
    const note = await created('/crm/activities', { kind: 'note', subject: 'Logged on the duplicate', contactIds: [duplicate] });
    const task = await created('/crm/tasks', { title: 'Alice calls the duplicate', assigneeId: user.alice, contactIds: [duplicate] });
    expect((await alice.call('GET', `/api/v1/crm/activities/${note}`)).status).toBe(200);
    expect((await server.call('POST', `/api/v1/crm/contacts/${id.carolLead}/merge`, { duplicateId: duplicate })).status).toBe(200);
    expect((await alice.call('GET', `/api/v1/crm/activities/${note}`)).status).toBe(404);
    expect((await alice.call('GET', `/api/v1/crm/activities?object=contact&id=${duplicate}`)).status).toBe(404);
    expect((await server.call('GET', `/api/v1/crm/activities/${note}`)).body.contactIds).toEqual([duplicate]);
    // Alice's own task keeps the contact she may no longer see when she changes its links.
    expect((await alice.call('GET', `/api/v1/crm/tasks/${task}`)).body.contactIds).toEqual([]);
    expect((await alice.call('PATCH', `/api/v1/crm/tasks/${task}`, { contactIds: [id.aliceLead] })).status).toBe(200);
    expect((await server.call('GET', `/api/v1/crm/tasks/${task}`)).body.contactIds).toEqual([id.aliceLead, id.carolLead]);
  });

  it('names only the contacts and companies the caller sees, keeps the others on a change, and refuses hidden ones as unknown', async () => {
    const deal = await alice.call('GET', `/api/v1/crm/deals/${id.aliceDeal}`);
    expect(deal.body).toMatchObject({ contactIds: [id.aliceLead], companyId: null });
    // Written back as shown (the hidden contact and company left out), the deal keeps them.
    expect((await alice.call('PATCH', `/api/v1/crm/deals/${id.aliceDeal}`, { contactIds: [id.aliceLead], companyId: null, name: 'Deal of alice, renamed' })).status).toBe(200);
    expect((await server.call('GET', `/api/v1/crm/deals/${id.aliceDeal}`)).body).toMatchObject({ contactIds: [id.aliceLead, id.carolLead], companyId: id.carolCo });
    expect((await alice.call('PATCH', `/api/v1/crm/tasks/${id.taskForAlice}`, { dealIds: [] })).status).toBe(200);
    expect((await server.call('GET', `/api/v1/crm/tasks/${id.taskForAlice}`)).body.dealIds).toEqual([id.carolDeal]);
    const contact = (await alice.call('GET', `/api/v1/crm/contacts/${id.aliceLead}`)).body;
    expect(contact.companyIds).toEqual([]);
    // Creating one the caller may not see, by its email or domain, neither shows nor changes it.
    const again = await alice.call('POST', '/api/v1/crm/contacts', { email: 'lead-of-carol@example.com', name: 'Renamed by alice', ownerId: user.alice });
    expect(again.status).toBe(409);
    expect((await alice.call('POST', '/api/v1/crm/companies', { domain: 'carol-co.test', name: 'Mine' })).status).toBe(409);
    const carolLead = (await server.call('GET', `/api/v1/crm/contacts/${id.carolLead}`)).body;
    expect(carolLead.ownerId).toBe(user.carol);
    expect(carolLead.name).not.toBe('Renamed by alice');
    expect((await alice.call('POST', '/api/v1/crm/contacts', { email: 'lead-of-alice@example.com', title: 'Buyer' })).status).toBe(200);
    for (const [path, body, message] of [
      ['/crm/deals', { name: 'Sneaky', contactIds: [id.carolLead] }, `contact "${id.carolLead}" is not a person profile`],
      ['/crm/deals', { name: 'Sneaky', companyId: id.carolCo }, `company "${id.carolCo}" is not an account profile`],
      ['/crm/tasks', { title: 'Sneaky', dealIds: [id.carolDeal] }, `no deal "${id.carolDeal}"`],
      ['/crm/activities', { kind: 'note', contactIds: [id.carolLead] }, `contact "${id.carolLead}" is not a person profile`],
      ['/crm/tickets', { subject: 'Sneaky', contactId: id.carolLead }, `contact "${id.carolLead}" is not a person profile`],
    ] as [string, unknown, string][]) {
      const answer = await (path === '/crm/tickets' ? dave : alice).call('POST', `/api/v1${path}`, body);
      expect(answer.status, path).toBe(400);
      expect(answer.body.error.message).toContain(message);
    }
  });

  it('lets only a role with records:all import, since an import finds existing records whoever owns them', async () => {
    const role = (await server.call('POST', '/api/v1/roles', { name: 'Importer', permissions: ['imports:write', 'contacts:read', 'contacts:write'] })).body.id;
    const importer = (await server.call('POST', '/api/v1/api-keys', { name: 'importer', role })).body.key;
    const body = { csv: 'email,stage\nlead-of-carol@example.com,customer\n', mapping: { email: 'email', stage: 'lifecycleStage' }, dryRun: true };
    const refused = await server.call('POST', '/api/v1/crm/imports', body, importer);
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain('records:all');
    expect((await server.call('POST', '/api/v1/crm/imports', body)).status).toBe(200);
  });

  it('fills a search page with records the caller sees, however many hidden ones rank above them', async () => {
    await created('/crm/deals', { name: 'Zephyr one', ownerId: user.alice });
    for (const n of ['two', 'three', 'four']) await created('/crm/deals', { name: `Zephyr ${n}`, ownerId: user.carol });
    const page = await alice.call('GET', '/api/v1/crm/search?q=zephyr&limit=1');
    expect(page.body.data.map((h: { title: string }) => h.title)).toEqual(['Zephyr one']);
    expect((await server.call('GET', '/api/v1/crm/search?q=zephyr&limit=1')).body.data[0].title).toBe('Zephyr four');
    const found = (await alice.call('GET', '/api/v1/crm/search?q=carol')).body.data.map((h: { object: string; title: string }) => `${h.object}:${h.title}`);
    expect(found).toEqual([]);
  });

  it('leaves the CRM\'s events about hidden records out of a visible contact\'s timeline', async () => {
    const hiddenDeal = await created('/crm/deals', { name: 'Carol sells to alice\'s lead', ownerId: user.carol, contactIds: [id.aliceLead] });
    const hiddenNote = await created('/crm/activities', { kind: 'note', subject: 'On carol\'s deal', contactIds: [id.aliceLead], dealIds: [id.carolDeal] });
    await server.rapport.core.pipeline.drain();
    const about = async (session?: BrowserSession) => {
      const path = `/api/v1/crm/contacts/${id.aliceLead}/timeline?kinds=crm&limit=200`;
      const items = (session ? await session.call('GET', path) : await server.call('GET', path)).body.data as { properties: Record<string, unknown> }[];
      return items.map((i) => i.properties.deal_id ?? i.properties.activity_id);
    };
    expect(await about()).toEqual(expect.arrayContaining([hiddenDeal, hiddenNote, id.aliceDeal, id.noteByAlice]));
    const seen = await about(alice);
    expect(seen).toEqual(expect.arrayContaining([id.aliceDeal, id.noteByAlice]));
    expect(seen).not.toContain(hiddenDeal);
    expect(seen).not.toContain(hiddenNote);
    // The Profile API's events of the contact, the same way.
    const events = async (session?: BrowserSession) => {
      const path = `/v1/spaces/${server.setup.workspaceId}/collections/users/profiles/email:lead-of-alice@example.com/events?limit=100`;
      const data = (session ? await session.call('GET', path) : await server.call('GET', path)).body.data as { properties: Record<string, unknown> }[];
      return data.map((e) => e.properties.deal_id ?? e.properties.activity_id).filter(Boolean);
    };
    expect(await events()).toEqual(expect.arrayContaining([hiddenDeal, hiddenNote, id.aliceDeal]));
    const apiSeen = await events(alice);
    expect(apiSeen).toEqual(expect.arrayContaining([id.aliceDeal, id.noteByAlice]));
    expect(apiSeen).not.toContain(hiddenDeal);
    expect(apiSeen).not.toContain(hiddenNote);
  });

  it('keeps hidden contacts out of profiles, the Profile API and audience member lists', async () => {
    for (const path of [`/api/v1/profiles/${id.carolLead}`, `/api/v1/profiles/${id.carolLead}/explain`, `/api/v1/profiles/${id.carolCo}`]) {
      expect((await alice.call('GET', path)).status, path).toBe(404);
    }
    expect((await alice.call('GET', `/api/v1/profiles/${id.aliceLead}`)).status).toBe(200);
    const listed = (await alice.call('GET', '/api/v1/profiles?collection=users')).body.data.map((p: { id: string }) => p.id);
    expect(listed).toContain(id.aliceLead);
    expect(listed).not.toContain(id.carolLead);
    const space = `/v1/spaces/${server.setup.workspaceId}/collections/users/profiles`;
    expect((await alice.call('GET', `${space}/email:lead-of-carol@example.com/traits`)).status).toBe(404);
    expect((await alice.call('GET', `${space}/email:lead-of-alice@example.com/traits`)).status).toBe(200);
    expect((await server.call('GET', `${space}/email:lead-of-carol@example.com/traits`)).status).toBe(200);

    await created('/audiences', { key: 'leads', name: 'Leads', condition: { trait: 'email', op: 'exists' } });
    await server.rapport.core.pipeline.drain();
    const members = async (session?: BrowserSession) =>
      ((session ? await session.call('GET', '/api/v1/audiences/leads/members') : await server.call('GET', '/api/v1/audiences/leads/members')).body.data as { profileId: string }[]).map((m) => m.profileId);
    expect(await members()).toEqual(expect.arrayContaining([id.aliceLead, id.carolLead]));
    const seen = await members(alice);
    expect(seen).toContain(id.aliceLead);
    expect(seen).not.toContain(id.carolLead);
    const preview = (await alice.call('POST', '/api/v1/audiences/preview', { condition: { trait: 'email', op: 'exists' } })).body;
    expect(preview.sample).toContain(id.aliceLead);
    expect(preview.sample).not.toContain(id.carolLead);
  });

  it('answers no 5xx on any CRM, profile or audience route for a caller in a team, with ids that are not there', async () => {
    const routes = declaredRoutes(server.rapport.app).filter((r) => /^\/(api\/v1\/(crm|profiles|audiences)|v1\/spaces)/.test(r.url));
    expect(routes.length).toBeGreaterThan(50);
    const wrong: string[] = [];
    for (const route of routes) {
      const path = route.url.replace(/:collection/, 'users').replace(/:spaceId/, server.setup.workspaceId).replace(/:[\w]+/g, () => randomUUID());
      const answer = await alice.call(route.method, path, ['POST', 'PUT', 'PATCH'].includes(route.method) ? {} : undefined);
      if (answer.status >= 500) wrong.push(`${route.method} ${route.url}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 160)}`);
    }
    expect(wrong).toEqual([]);
  });
});
