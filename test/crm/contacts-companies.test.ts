import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupWorkspace, type SetupResult } from '../../src/workflows/setup-workspace.js';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

interface Answer {
  status: number;
  etag: string | null;
  body: any;
}

describe.each(ENGINES)('contacts and companies on $name', (engine) => {
  let server: TestServer;
  let other: SetupResult;

  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}, apiKey = server.setup.apiKey): Promise<Answer> =>
    fetch(`${server.url}/api/v1${path}`, {
      method, headers: { authorization: `Bearer ${apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(async (res) => ({ status: res.status, etag: res.headers.get('etag'), body: await res.text().then((t) => (t ? JSON.parse(t) : null)) }));
  const ok = (answer: Answer, status: number | number[]) => {
    expect([status].flat(), JSON.stringify(answer.body)).toContain(answer.status);
    return answer.body;
  };
  const send = async (batch: Record<string, unknown>[]) => {
    const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, batch }) });
    expect(res.status).toBe(200);
    await server.rapport.core.pipeline.drain();
  };
  const profilesOf = async (ref: string) => ok(await call('GET', `/profiles?q=${encodeURIComponent(ref)}`), 200).data as { id: string }[];
  const contactIds = async (query = '') => ok(await call('GET', `/crm/contacts?limit=200${query}`), 200).data.map((c: { id: string }) => c.id) as string[];
  const newContact = async (body: Record<string, unknown>) => ok(await call('POST', '/crm/contacts', body), 201);

  /**
   * Sends requests together. On PostgreSQL it holds `table` until every one of them waits on it, so they
   * reach it at the same moment; on SQLite transactions run one at a time anyway.
   */
  const atOnce = async (table: string, requests: (() => Promise<Answer>)[]) => {
    if (engine.name !== 'postgres') return Promise.all(requests.map((r) => r()));
    const gate = new pg.Client({ connectionString: server.store.databaseUrl });
    await gate.connect();
    try {
      await gate.query('begin');
      await gate.query(`lock table ${table} in exclusive mode`);
      const racing = Promise.all(requests.map((r) => r()));
      await until(`${requests.length} requests waiting on ${table}`, async () =>
        Number((await gate.query("select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'")).rows[0].n) >= requests.length);
      await gate.query('commit');
      return await racing;
    } finally {
      await gate.end();
    }
  };

  beforeAll(async () => {
    server = await startServer(engine);
    other = await setupWorkspace(
      { access: server.rapport.core.access.service, collect: server.rapport.core.collect.service },
      { workspace: 'Globex', email: 'owner@globex.test', password: 'another correct horse battery' },
    );
  });
  afterAll(async () => {
    await server?.close();
  });

  describe('contacts', () => {
    it('makes one profile and one CRM record when the same new email is posted twice at once', async () => {
      const [a, b] = await atOnce('crm_contacts', [
        () => call('POST', '/crm/contacts', { email: 'race@example.com', ownerId: 'rep-1' }),
        () => call('POST', '/crm/contacts', { email: 'race@example.com', ownerId: 'rep-1' }),
      ]);
      ok(a, [200, 201]);
      ok(b, [200, 201]);
      expect(a.body.id).toBe(b.body.id);
      expect(await profilesOf('email:race@example.com')).toHaveLength(1);
      const rows = await server.rapport.database.db.selectFrom('crm_contacts').selectAll().where('profile_id', '=', a.body.id).execute();
      expect(rows).toHaveLength(1);
      expect((await contactIds()).filter((id) => id === a.body.id)).toHaveLength(1);
    });

    it('finds a contact by its email whatever its case', async () => {
      const created = await newContact({ email: 'Mixed.Case@Example.COM', name: 'Mixed Case' });
      const again = ok(await call('POST', '/crm/contacts', { email: 'mixed.case@example.com' }), 200);
      expect(again.id).toBe(created.id);
      const shouted = ok(await call('POST', '/crm/contacts', { email: 'MIXED.CASE@EXAMPLE.COM', title: 'CTO' }), 200);
      expect(shouted).toMatchObject({ id: created.id, name: 'Mixed Case', title: 'CTO' });
      expect(await profilesOf('email:mixed.case@example.com')).toHaveLength(1);
    });

    it('checks custom contact fields: a required one must be given on create, and a bad value is refused naming its field', async () => {
      ok(await call('POST', '/crm/fields/contact', { key: 'plan', label: 'Plan', type: 'select', required: true, options: [{ value: 'free', label: 'Free' }, { value: 'pro', label: 'Pro' }] }), 201);
      ok(await call('POST', '/crm/fields/contact', { key: 'score', label: 'Score', type: 'number', min: 0, max: 100 }), 201);
      try {
        const missing = await call('POST', '/crm/contacts', { email: 'nofields@example.com' });
        expect(missing.status).toBe(400);
        expect(missing.body.error.message).toContain('plan');
        // Refused before anything was written: no profile for that email.
        expect(await profilesOf('email:nofields@example.com')).toEqual([]);
        for (const custom of [{ plan: 'enterprise' }, { plan: 'pro', score: 'high' }, { plan: 'pro', score: 101 }, { plan: 'pro', shoeSize: 42 }]) {
          const refused = await call('POST', '/crm/contacts', { email: 'badfields@example.com', custom });
          expect(refused.status, JSON.stringify(custom)).toBe(400);
          const named = Object.keys(custom).find((k) => k !== 'plan' || custom.plan !== 'pro')!;
          expect(refused.body.error.message, JSON.stringify(custom)).toContain(named);
        }
        const created = await newContact({ email: 'fields@example.com', custom: { plan: 'pro', score: 70 } });
        expect(created.custom).toEqual({ plan: 'pro', score: 70 });
        const changed = await call('PATCH', `/crm/contacts/${created.id}`, { custom: { score: 80 } });
        expect(ok(changed, 200).custom).toEqual({ plan: 'pro', score: 80 });
        const cleared = await call('PATCH', `/crm/contacts/${created.id}`, { custom: { plan: null } });
        expect(cleared.status).toBe(400);
        expect(cleared.body.error.message).toContain('plan');
        expect((await call('PATCH', `/crm/contacts/${created.id}`, { custom: { score: -1 } })).status).toBe(400);
        expect(ok(await call('GET', `/crm/contacts/${created.id}`), 200).custom).toEqual({ plan: 'pro', score: 80 });
      } finally {
        await call('DELETE', '/crm/fields/contact/plan');
        await call('DELETE', '/crm/fields/contact/score');
      }
    });

    it("lists a rep's contacts and those at a lifecycle stage", async () => {
      const a = await newContact({ email: 'lead-a@example.com', ownerId: 'rep-a', lifecycleStage: 'lead' });
      const b = await newContact({ email: 'customer-a@example.com', ownerId: 'rep-a', lifecycleStage: 'customer' });
      const c = await newContact({ email: 'lead-b@example.com', ownerId: 'rep-b', lifecycleStage: 'lead' });
      expect((await contactIds('&ownerId=rep-a')).sort()).toEqual([a.id, b.id].sort());
      expect(await contactIds('&ownerId=rep-b')).toEqual([c.id]);
      expect((await contactIds('&lifecycleStage=lead')).sort()).toEqual([a.id, c.id].sort());
      expect(await contactIds('&lifecycleStage=lead&ownerId=rep-a')).toEqual([a.id]);
      expect(await contactIds('&ownerId=nobody')).toEqual([]);
      expect((await call('GET', '/crm/contacts?lifecycleStage=prospect')).status).toBe(400);
      ok(await call('PATCH', `/crm/contacts/${c.id}`, { ownerId: 'rep-a' }), 200);
      expect((await contactIds('&ownerId=rep-a')).sort()).toEqual([a.id, b.id, c.id].sort());
    });

    it('pages through the contacts newest first, each exactly once, and refuses a cursor it did not give out', async () => {
      for (let i = 0; i < 5; i++) await newContact({ email: `page-${i}@example.com` });
      const all = await contactIds();
      expect(all.length).toBeGreaterThanOrEqual(10);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: any = ok(await call('GET', `/crm/contacts?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`), 200);
        expect(page.data.length).toBeLessThanOrEqual(3);
        seen.push(...page.data.map((c: { id: string }) => c.id));
        cursor = page.nextCursor;
      } while (cursor);
      expect(seen).toEqual(all);
      const created = ok(await call('GET', '/crm/contacts?limit=200'), 200).data.map((c: { createdAt: string }) => c.createdAt);
      expect(created).toEqual([...created].sort().reverse());
      for (const garbage of ['garbage', 'abc_x', '123_']) expect((await call('GET', `/crm/contacts?cursor=${garbage}`)).status, garbage).toBe(400);
    });

    it('still finds a contact by either id after an anonymous visitor turns out to be that person', async () => {
      const contact = await newContact({ email: 'kim@example.com', name: 'Kim' });
      await send([{ type: 'page', anonymousId: 'anon-kim', name: 'Pricing' }]);
      const [visitor] = await profilesOf('anonymous_id:anon-kim');
      expect(visitor.id).not.toBe(contact.id);
      // Not a contact yet: nothing known about the visitor.
      expect((await call('GET', `/crm/contacts/${visitor.id}`)).status).toBe(404);

      await send([{ type: 'identify', anonymousId: 'anon-kim', traits: { email: 'kim@example.com' } }]);
      const byContact = ok(await call('GET', `/crm/contacts/${contact.id}`), 200);
      const byVisitor = ok(await call('GET', `/crm/contacts/${visitor.id}`), 200);
      expect(byVisitor).toEqual(byContact);
      expect([contact.id, visitor.id]).toContain(byContact.id);
      expect(byContact).toMatchObject({ email: 'kim@example.com', name: 'Kim' });
      const listed = await contactIds();
      expect(listed.filter((id) => id === contact.id || id === visitor.id)).toEqual([byContact.id]);
      // Found again by email, not made twice.
      expect(ok(await call('POST', '/crm/contacts', { email: 'kim@example.com' }), 200).id).toBe(byContact.id);
    });
  });

  describe('companies', () => {
    it('makes one account and one CRM record when the same new company is posted twice at once', async () => {
      const [a, b] = await atOnce('crm_companies', [
        () => call('POST', '/crm/companies', { domain: 'race-co.com', name: 'Race Co' }),
        () => call('POST', '/crm/companies', { domain: 'race-co.com', name: 'Race Co' }),
      ]);
      ok(a, [200, 201]);
      ok(b, [200, 201]);
      expect(a.body.id).toBe(b.body.id);
      const rows = await server.rapport.database.db.selectFrom('crm_companies').selectAll().where('profile_id', '=', a.body.id).execute();
      expect(rows).toHaveLength(1);
      const listed = ok(await call('GET', '/crm/companies?limit=200'), 200).data.filter((c: { name: string }) => c.name === 'Race Co');
      expect(listed).toHaveLength(1);
    });

    it('does not mix people and accounts: an account is no contact, a person no company', async () => {
      await send([{ type: 'group', userId: 'wrong-door', groupId: 'wrong-door-inc', traits: { name: 'Wrong Door Inc' } }]);
      const [person] = await profilesOf('user_id:wrong-door');
      const company = ok(await call('POST', '/crm/companies', { groupId: 'wrong-door-inc' }), 200);
      expect(company.contactIds).toEqual([person.id]);
      expect((await call('GET', `/crm/contacts/${company.id}`)).status).toBe(404);
      expect((await call('GET', `/crm/companies/${person.id}`)).status).toBe(404);
      expect((await call('PATCH', `/crm/contacts/${company.id}`, { ownerId: 'rep-1' })).status).toBe(404);
      expect((await call('PATCH', `/crm/companies/${person.id}`, { ownerId: 'rep-1' })).status).toBe(404);
      expect((await call('GET', `/crm/contacts/${company.id}/timeline`)).status).toBe(404);
      expect((await call('GET', `/crm/companies/${person.id}/timeline`)).status).toBe(404);
    });

    it("follows group calls: the company's contacts are the people the product puts in it", async () => {
      const initech = ok(await call('POST', '/crm/companies', { domain: 'initech.com', name: 'Initech' }), 201);
      expect(initech.contactIds).toEqual([]);
      await send([{ type: 'identify', userId: 'peter', traits: { email: 'peter@initech.com' } }, { type: 'group', userId: 'peter', groupId: 'initech.com' }]);
      const [peter] = await profilesOf('user_id:peter');
      expect(ok(await call('GET', `/crm/companies/${initech.id}`), 200).contactIds).toEqual([peter.id]);
      await send([{ type: 'group', userId: 'milton', groupId: 'initech.com', traits: { employees: 300 } }]);
      const [milton] = await profilesOf('user_id:milton');
      const after = ok(await call('GET', `/crm/companies/${initech.id}`), 200);
      expect(after).toMatchObject({ name: 'Initech', employees: 300 });
      expect(after.contactIds.sort()).toEqual([peter.id, milton.id].sort());
      expect(ok(await call('GET', `/crm/contacts/${peter.id}`), 200).companyIds).toEqual([initech.id]);
    });

    it('keeps custom company fields, checked against their definitions', async () => {
      ok(await call('POST', '/crm/fields/company', { key: 'tier', label: 'Tier', type: 'select', options: [{ value: 'gold', label: 'Gold' }, { value: 'silver', label: 'Silver' }] }), 201);
      ok(await call('POST', '/crm/fields/company', { key: 'renewal', label: 'Renewal', type: 'date' }), 201);
      const created = await call('POST', '/crm/companies', { domain: 'umbrella.com', custom: { tier: 'gold', renewal: '2027-03-01' } });
      expect(ok(created, 201).custom).toEqual({ tier: 'gold', renewal: '2027-03-01' });
      const bad = await call('POST', '/crm/companies', { domain: 'bad-tier.com', custom: { tier: 'platinum' } });
      expect(bad.status).toBe(400);
      expect(bad.body.error.message).toContain('tier');
      const changed = await call('PATCH', `/crm/companies/${created.body.id}`, { custom: { tier: 'silver', renewal: null } }, { 'if-match': created.etag! });
      expect(ok(changed, 200)).toMatchObject({ custom: { tier: 'silver' }, version: 2 });
      const refused = await call('PATCH', `/crm/companies/${created.body.id}`, { custom: { renewal: 'next spring' } });
      expect(refused.status).toBe(400);
      expect(refused.body.error.message).toContain('renewal');
      expect(ok(await call('GET', `/crm/companies/${created.body.id}`), 200).custom).toEqual({ tier: 'silver' });
    });

    it('shows a company its timeline of group calls and CRM changes, filtered by kind and paged', async () => {
      await send([
        { type: 'group', userId: 'tl-1', groupId: 'hooli', traits: { name: 'Hooli' }, timestamp: '2026-11-20T10:00:00.000Z' },
        { type: 'group', userId: 'tl-2', groupId: 'hooli', traits: { industry: 'Search' }, timestamp: '2026-11-20T11:00:00.000Z' },
      ]);
      const hooli = ok(await call('POST', '/crm/companies', { groupId: 'hooli', ownerId: 'rep-1' }), 200);
      ok(await call('POST', '/crm/activities', { kind: 'note', body: 'Account plan', companyIds: [hooli.id] }), 201);
      ok(await call('POST', '/crm/activities', { kind: 'meeting', subject: 'QBR', companyIds: [hooli.id] }), 201);
      await server.rapport.core.pipeline.drain();

      const timeline = async (query: string) => ok(await call('GET', `/crm/companies/${hooli.id}/timeline?${query}`), 200);
      const all = (await timeline('')).data as { kind: string; at: string; event: string | null; type: string }[];
      expect(all.map((i) => i.at)).toEqual([...all.map((i) => i.at)].sort().reverse());
      // The CRM's own changes: its events, and the group call it made when the company was taken into the CRM.
      expect(all.filter((i) => i.kind === 'crm').map((i) => `${i.type}:${i.event}`).sort()).toEqual(['group:null', 'track:Company Created', 'track:Meeting Logged', 'track:Note Logged']);
      expect(all.filter((i) => i.kind === 'group')).toHaveLength(2);
      const crm = (await timeline('kinds=crm')).data;
      expect(crm).toEqual(all.filter((i) => i.kind === 'crm'));
      const groups = (await timeline('kinds=group')).data;
      expect(groups).toEqual(all.filter((i) => i.kind === 'group'));
      expect((await timeline('kinds=crm,group')).data).toEqual(all.filter((i) => i.kind === 'crm' || i.kind === 'group'));
      expect((await timeline('kinds=web')).data).toEqual([]);

      const paged: unknown[] = [];
      let cursor: string | null = null;
      do {
        const page: any = await timeline(`limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        paged.push(...page.data);
        cursor = page.nextCursor;
      } while (cursor);
      expect(paged).toEqual(all);
      const crmPaged: unknown[] = [];
      cursor = null;
      do {
        const page: any = await timeline(`kinds=crm&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        crmPaged.push(...page.data);
        cursor = page.nextCursor;
      } while (cursor);
      expect(crmPaged).toEqual(crm);
      expect((await call('GET', `/crm/companies/${hooli.id}/timeline?kinds=crm,nope`)).status).toBe(400);
      expect((await call('GET', `/crm/companies/${hooli.id}/timeline?cursor=garbage`)).status).toBe(400);
    });
  });

  it('keeps every contact and company out of sight of another workspace', async () => {
    const contact = await newContact({ email: 'secret@example.com', ownerId: 'rep-1' });
    const company = ok(await call('POST', '/crm/companies', { domain: 'secret-co.com', ownerId: 'rep-1' }), 201);
    for (const path of [`/crm/contacts/${contact.id}`, `/crm/contacts/${contact.id}/timeline`, `/crm/companies/${company.id}`, `/crm/companies/${company.id}/timeline`]) {
      expect((await call('GET', path, undefined, {}, other.apiKey)).status, path).toBe(404);
    }
    expect((await call('PATCH', `/crm/contacts/${contact.id}`, { ownerId: 'spy' }, {}, other.apiKey)).status).toBe(404);
    expect((await call('PATCH', `/crm/companies/${company.id}`, { ownerId: 'spy' }, {}, other.apiKey)).status).toBe(404);
    expect(ok(await call('GET', '/crm/contacts', undefined, {}, other.apiKey), 200).data).toEqual([]);
    expect(ok(await call('GET', '/crm/companies', undefined, {}, other.apiKey), 200).data).toEqual([]);
    expect(ok(await call('GET', '/crm/contacts?ownerId=rep-1', undefined, {}, other.apiKey), 200).data).toEqual([]);
    // The same email in the other workspace is another person.
    const theirs = ok(await call('POST', '/crm/contacts', { email: 'secret@example.com' }, {}, other.apiKey), 201);
    expect(theirs.id).not.toBe(contact.id);
    expect(ok(await call('GET', `/crm/contacts/${contact.id}`), 200).ownerId).toBe('rep-1');
  });
});
