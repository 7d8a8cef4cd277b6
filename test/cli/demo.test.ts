import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { ENGINES } from '../support/engines.js';
import { startBareServer, startServer } from '../support/server.js';

/** A clock that can be moved forward: the demo's unanswered urgent tickets breach their SLA once time passes. */
function movableClock() {
  let ahead = 0;
  return { now: () => Date.now() + ahead, advance: (ms: number) => void (ahead += ms) };
}

type Json = any;

describe.each(ENGINES)('rapport demo ($name)', (engine) => {
  const clock = movableClock();
  let server: Awaited<ReturnType<typeof startBareServer>>;
  let first: { code: number; stdout: string; stderr: string };
  let demo: Json;
  let get: (path: string) => Promise<Json>;

  beforeAll(async () => {
    server = await startBareServer(engine, { clock });
    first = await runCli(['demo', '--url', server.url, '--profiles', '50', '--json']);
    expect(first.stderr).not.toMatch(/rapport: /);
    expect(first.code).toBe(0);
    demo = JSON.parse(first.stdout);
    get = async (path) => {
      const res = await fetch(server.url + '/api/v1' + path, { headers: { authorization: `Bearer ${demo.apiKey}` } });
      expect(res.status, path).toBe(200);
      return res.json();
    };
  }, 120_000);
  afterAll(() => server?.close());

  it('sets up a fresh installation as the workspace Demo, whose owner can sign in with what it prints', async () => {
    expect(demo).toMatchObject({ loaded: true, email: 'owner@demo.rapport.test', url: server.url });
    expect((await get('/workspace')).name).toBe('Demo');
    const login = await fetch(`${server.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: demo.email, password: demo.password }) });
    expect(login.status).toBe(200);
    expect(first.stderr).toMatch(/Sending [\d,]+ events of 50 visitors/);
  });

  it('sends the visitors\' history through the collection API, and the write key it prints ingests', async () => {
    expect(demo.events).toBeGreaterThan(50 * 5);
    const res = await fetch(`${server.url}/v1/track`, {
      method: 'POST', headers: { authorization: `Basic ${Buffer.from(`${demo.writeKey}:`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ anonymousId: 'demo-test-visitor', event: 'Checked The Demo' }),
    });
    expect(res.status).toBe(200);
  });

  it('merges an anonymous second device into the person who logs in there, and shows it on the contact', async () => {
    const profiles: Json[] = (await get('/profiles?limit=200')).data;
    const merged = profiles.find((p) => p.merges > 0 && p.identifiers.some((i: Json) => i.type === 'user_id'));
    expect(merged, 'a profile merged at login').toBeDefined();
    expect(merged.identifiers.filter((i: Json) => i.type === 'anonymous_id').length).toBeGreaterThanOrEqual(2);
    const timeline: Json[] = (await get(`/crm/contacts/${merged.id}/timeline?limit=200`)).data;
    const kinds = new Set(timeline.map((t) => t.kind));
    for (const kind of ['web', 'identify', 'merge']) expect(kinds, kind).toContain(kind);
    // The history is spread over the past, not stamped with the time of loading.
    const oldest = Math.min(...timeline.filter((t) => t.kind === 'web').map((t) => Date.parse(t.at)));
    expect(Date.now() - oldest).toBeGreaterThan(2 * 86_400_000);
  });

  it('makes contacts with owners and lifecycle stages, and companies from group calls and the import', async () => {
    const contacts: Json[] = (await get('/crm/contacts?limit=200')).data;
    expect(contacts.length).toBe(demo.contacts);
    expect(contacts.length).toBeGreaterThan(20);
    expect(contacts.some((c) => c.lifecycleStage === 'customer')).toBe(true);
    expect(contacts.some((c) => c.ownerId && c.companyIds.length > 0)).toBe(true);
    const companies: Json[] = (await get('/crm/companies?limit=200')).data;
    expect(companies.length).toBe(demo.companies);
    expect(companies.length).toBeGreaterThanOrEqual(5);
    expect(companies.every((c) => c.industry && c.employees > 0 && c.ownerId)).toBe(true);
    expect(companies.some((c) => c.contactIds.length > 0)).toBe(true);
  });

  it('puts deals in every stage of the default pipeline, with amounts and close dates', async () => {
    const [pipeline] = (await get('/crm/pipelines')).data;
    const deals: Json[] = (await get('/crm/deals?limit=200')).data;
    expect(deals.length).toBe(demo.deals);
    const stages = new Set(deals.map((d) => d.stageId));
    for (const stage of pipeline.stages) expect(stages, stage.name).toContain(stage.id);
    expect(deals.every((d) => d.amount > 0 && /^\d{4}-\d{2}-\d{2}$/.test(d.closeDate))).toBe(true);
  });

  it('gives the team tasks (some overdue), activities, and tickets whose unanswered urgent ones breach the SLA', async () => {
    const tasks: Json[] = (await get('/crm/tasks?limit=200')).data;
    expect(tasks.length).toBe(demo.tasks);
    expect(tasks.some((t) => t.overdue)).toBe(true);
    expect(tasks.some((t) => !t.overdue)).toBe(true);
    let activities = 0;
    for (const c of (await get('/crm/contacts?limit=200')).data) activities += (await get(`/crm/activities?object=contact&id=${c.id}&limit=100`)).data.length;
    expect(activities).toBe(demo.activities);
    const tickets: Json[] = (await get('/crm/tickets?limit=200')).data;
    expect(tickets.length).toBe(demo.tickets);
    expect((await get('/crm/tickets?breached=true')).data).toEqual([]);
    clock.advance(3 * 60_000);
    const breached: Json[] = (await get('/crm/tickets?breached=true')).data;
    expect(breached.length).toBeGreaterThan(0);
    expect(breached.every((t) => t.priority === 'urgent')).toBe(true);
  });

  it('computes the traits, the score and the audiences, which have members once the pipeline caught up', async () => {
    const traits: Json[] = (await get('/computed-traits')).data;
    expect(traits.map((t) => t.key).sort()).toEqual(['lead_score', 'lifetime_revenue', 'orders_count', 'pages_last_30_days']);
    const audiences: Json[] = (await get('/audiences')).data;
    expect(audiences.every((a) => a.status === 'ready')).toBe(true);
    for (const key of ['pricing_twice_this_week', 'customers_over_500', 'hot_leads']) {
      const audience = audiences.find((a) => a.key === key);
      expect(audience?.size, key).toBeGreaterThan(0);
      expect(demo.audiences[key]).toBe(audience.size);
      expect((await get(`/audiences/${key}/members?limit=5`)).data.length, key).toBeGreaterThan(0);
    }
    // A member of "revenue > 500" really spent that much.
    const [member] = (await get('/audiences/customers_over_500/members?limit=1')).data;
    const contact = await get(`/crm/contacts/${member.profileId}`);
    expect(contact.computedTraits.lifetime_revenue).toBeGreaterThan(500);
  });

  it('adds a webhook destination, disabled', async () => {
    const destinations: Json[] = (await get('/destinations')).data;
    expect(destinations).toHaveLength(1);
    expect(destinations[0]).toMatchObject({ type: 'webhook', enabled: false });
  });

  it('runs again without failing or adding anything', async () => {
    const count = async (path: string) => (await get(`${path}?limit=200`)).data.length;
    const before = { contacts: await count('/crm/contacts'), deals: await count('/crm/deals'), tasks: await count('/crm/tasks'), tickets: await count('/crm/tickets'), profiles: await count('/profiles') };
    const again = await runCli(['demo', '--url', server.url, '--profiles', '50', '--json']);
    expect(again.code, again.stderr).toBe(0);
    const second = JSON.parse(again.stdout);
    expect(second).toMatchObject({ loaded: false, events: 0, workspaceId: demo.workspaceId, contacts: demo.contacts, deals: demo.deals });
    // The first run's API key is revoked for the new one.
    expect((await fetch(`${server.url}/api/v1/workspace`, { headers: { authorization: `Bearer ${demo.apiKey}` } })).status).toBe(401);
    demo = { ...demo, apiKey: second.apiKey };
    expect({ contacts: await count('/crm/contacts'), deals: await count('/crm/deals'), tasks: await count('/crm/tasks'), tickets: await count('/crm/tickets'), profiles: await count('/profiles') }).toEqual(before);
    expect((await get('/destinations')).data).toHaveLength(1);
  }, 60_000);
});

describe('rapport demo on an installation without a Demo workspace', () => {
  it('refuses, says why and how to get one, and changes nothing', async () => {
    const server = await startServer(ENGINES[0]!);
    try {
      const run = await runCli(['demo', '--url', server.url, '--email', 'owner@acme.test', '--password', 'correct horse battery staple']);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/no workspace named Demo/);
      expect(run.stderr).toMatch(/rapport setup --workspace Demo/);
      const { body } = await server.call('GET', '/api/v1/crm/contacts');
      expect(body.data).toEqual([]);
    } finally {
      await server.close();
    }
  }, 60_000);

  it('says how to sign in when the installation is set up and the demo owner is unknown', async () => {
    const server = await startServer(ENGINES[0]!);
    try {
      const run = await runCli(['demo', '--url', server.url]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/already set up.*--email and --password/);
    } finally {
      await server.close();
    }
  }, 60_000);
});
