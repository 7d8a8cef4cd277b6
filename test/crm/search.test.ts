import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { rebuildSearch } from '../../src/modules/crm/indexing.js';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';

interface Hit { object: string; id: string; title: string; subtitle: string }

describe.each(ENGINES)('full-text search on $name', (engine) => {
  let server: TestServer;
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => server.call(method, path, body, undefined, headers);
  const search = async (q: string, extra = ''): Promise<Hit[]> => {
    const res = await call('GET', `/api/v1/crm/search?q=${encodeURIComponent(q)}${extra}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.data;
  };
  const titles = async (q: string, extra = '') => (await search(q, extra)).map((h) => h.title);
  const send = async (batch: Record<string, unknown>[]) => {
    const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, batch }) });
    expect(res.status).toBe(200);
    await server.rapport.core.pipeline.drain();
  };

  beforeAll(async () => {
    server = await startServer(engine);
    await call('POST', '/api/v1/crm/contacts', { email: 'zoe.obrien@acme.com', firstName: 'Zoë', lastName: "O'Brien", phone: '+1 (415) 555-0100', title: 'Head of Procurement' });
    await call('POST', '/api/v1/crm/contacts', { email: 'brian.smith@globex.com', name: 'Brian Smith' });
    await call('POST', '/api/v1/crm/companies', { domain: 'acme.com', name: 'Acme Corporation', industry: 'Manufacturing' });
    await call('POST', '/api/v1/crm/deals', { name: 'Acme renewal 2027', amount: 12000 });
    await call('POST', '/api/v1/crm/tickets', { subject: 'Invoice missing', description: 'The procurement team at Initech cannot find the March invoice.' });
    // Known through the collection API: an identify with an email; and a visitor with a name but no email or user id.
    await send([
      { type: 'identify', userId: 'u-ines', traits: { name: 'Inès Procter', email: 'ines@initech.com' } },
      { type: 'identify', anonymousId: 'anon-1', traits: { name: 'Brianna Anonymous' } },
    ]);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('finds contacts, companies, deals and tickets by word prefixes, accents and case ignored', async () => {
    expect(await titles('zoe')).toEqual(["Zoë O'Brien"]);
    expect(await titles('ZOË o’bri')).toEqual(["Zoë O'Brien"]);
    expect(await titles('4155550100')).toEqual(["Zoë O'Brien"]);
    expect(await titles('ines')).toEqual(['Inès Procter']);
    expect(await titles('u-ines')).toEqual(['Inès Procter']);
    expect(await titles('invoice march')).toEqual(['Invoice missing']);
    const acme = await search('acme');
    expect(acme.map((h) => h.object).sort()).toEqual(['company', 'contact', 'deal']);
    // The name weighs more than the rest: the company and the deal are named Acme, the contact only works there.
    expect(acme[acme.length - 1]).toMatchObject({ object: 'contact', title: "Zoë O'Brien", subtitle: 'zoe.obrien@acme.com · Head of Procurement' });
    expect(acme.find((h) => h.object === 'company')).toMatchObject({ title: 'Acme Corporation', subtitle: 'acme.com · Manufacturing' });
    expect(acme.find((h) => h.object === 'deal')!.subtitle).toContain('12000 USD');
  });

  it('looks up an email address or a domain as one word, whole or being typed', async () => {
    expect(await titles('zoe.obrien@acme.com')).toEqual(["Zoë O'Brien"]);
    expect(await titles('Zoe.OBrien@ac')).toEqual(["Zoë O'Brien"]);
    expect(await titles('brian.smith@')).toEqual(['Brian Smith']);
    // A domain: the company that has it and the people whose email is at it, not a deal that only says "acme".
    expect((await search('acme.com')).map((h) => `${h.object}:${h.title}`).sort()).toEqual(["company:Acme Corporation", "contact:Zoë O'Brien"]);
    expect(await titles('initech.com', '&objects=contact')).toEqual(['Inès Procter']);
    // Not someone else's: another domain, another person at the same one.
    expect(await titles('zoe.obrien@globex.com')).toEqual([]);
    expect(await titles('brian.smith@acme.com')).toEqual([]);
  });

  it('finds a ticket by an address written in it', async () => {
    const ticket = await call('POST', '/api/v1/crm/tickets', { subject: 'Bounce', description: 'Mail to billing@tyrell.example bounced (see tyrell.example).' });
    expect(ticket.status).toBe(201);
    expect(await titles('billing@tyrell.example')).toEqual(['Bounce']);
    expect(await titles('tyrell.example', '&objects=ticket')).toEqual(['Bounce']);
  });

  it('narrows to kinds of record, ranks the name first, and finds nobody who is not a contact', async () => {
    expect((await search('acme', '&objects=deal,company')).map((h) => h.object).sort()).toEqual(['company', 'deal']);
    // "procurement" is Zoë's title and words of the Initech ticket; "proc" also begins Inès's surname, which ranks first.
    expect((await search('proc')).map((h) => h.title)).toEqual(['Inès Procter', expect.any(String), expect.any(String)]);
    expect(await titles('brian')).toEqual(['Brian Smith']);
    expect(await titles('nobody here')).toEqual([]);
    expect(await titles('zoe', '&limit=1')).toHaveLength(1);
  });

  it('refuses a search with no word, an unknown kind of record and a bad limit, with a clear message', async () => {
    for (const path of ['/api/v1/crm/search?q=%21%21', '/api/v1/crm/search?q=acme&objects=invoice', '/api/v1/crm/search?q=acme&limit=0', '/api/v1/crm/search']) {
      const res = await call('GET', path);
      expect(res.status, path).toBe(400);
      expect(res.body.error.message).toBeTruthy();
    }
  });

  it('follows changes: renamed, deleted and re-subjected records are found by their new words only', async () => {
    await send([{ type: 'identify', userId: 'u-ines', traits: { name: 'Inès Castellano' } }]);
    expect(await titles('procter')).toEqual([]);
    expect(await titles('castel')).toEqual(['Inès Castellano']);

    const deal = await call('POST', '/api/v1/crm/deals', { name: 'Umbrella pilot' });
    expect(await titles('umbrella')).toEqual(['Umbrella pilot']);
    const renamed = await call('PATCH', `/api/v1/crm/deals/${deal.body.id}`, { name: 'Umbrella expansion' }, { 'if-match': deal.etag! });
    expect(renamed.status).toBe(200);
    expect(await titles('pilot')).toEqual([]);
    expect((await call('GET', '/api/v1/crm/deals?q=umbrel')).body.data.map((d: { name: string }) => d.name)).toEqual(['Umbrella expansion']);
    expect((await call('DELETE', `/api/v1/crm/deals/${deal.body.id}`)).status).toBe(204);
    expect(await titles('umbrella')).toEqual([]);

    const ticket = await call('POST', '/api/v1/crm/tickets', { subject: 'Password reset loop' });
    expect((await call('GET', '/api/v1/crm/tickets?q=reset')).body.data.map((t: { subject: string }) => t.subject)).toEqual(['Password reset loop']);
    await call('PATCH', `/api/v1/crm/tickets/${ticket.body.id}`, { subject: 'Login loop on SSO' }, { 'if-match': ticket.etag! });
    expect((await call('GET', '/api/v1/crm/tickets?q=reset')).body.data).toEqual([]);
    expect(await titles('sso')).toEqual(['Login loop on SSO']);
  });

  it('keeps one document and one CRM record when two profiles of a person merge', async () => {
    // The CRM knows Kim by email, with an owner; Kim's app knows her by user id; then one call names both.
    const crm = await call('POST', '/api/v1/crm/contacts', { email: 'kim@hooli.com', name: 'Kim Hooli', ownerId: 'rep-7', lifecycleStage: 'opportunity' });
    await send([{ type: 'identify', userId: 'kim-42', traits: { name: 'Kim Park' } }]);
    expect((await search('kim')).map((h) => h.title).sort()).toEqual(['Kim Hooli', 'Kim Park']);
    await send([{ type: 'identify', userId: 'kim-42', traits: { email: 'kim@hooli.com' } }]);
    const hits = await search('kim');
    expect(hits).toHaveLength(1);
    const contact = (await call('GET', `/api/v1/crm/contacts/${hits[0].id}`)).body;
    expect(contact).toMatchObject({ ownerId: 'rep-7', lifecycleStage: 'opportunity', email: 'kim@hooli.com' });
    expect((await call('GET', `/api/v1/crm/contacts/${crm.body.id}`)).body.id).toBe(hits[0].id);
    expect(await titles('kim-42')).toEqual([hits[0].title]);
  });

  it('ranks whole words above the words they begin, and a list tested document by document finds what the index finds', async () => {
    await call('POST', '/api/v1/crm/contacts', { email: 'ann@smithson.test', name: 'Ann Smithson' });
    await call('POST', '/api/v1/crm/contacts', { email: 'sam@smith.test', name: 'Sam Smith' });
    // Sam Smith was written last, so newer than Brian Smith; Ann Smithson newer than both: the whole word still comes first.
    expect((await titles('smith')).slice(0, 2).sort()).toEqual(['Brian Smith', 'Sam Smith']);
    expect((await titles('smith'))[2]).toBe('Ann Smithson');
    const { database, crm } = server.rapport.core;
    const db = database.db;
    const workspaceId = server.setup.workspaceId;
    const queries = ['zoe', 'ZOË o’bri', '4155550100', '5550100', 'acme', 'acme.com', 'zoe.obrien@ac', 'brian', 'bri', 'b', 'smith brian', 'brian s', 'smith', 'invoice march',
      'procure', 'a', 'head of', 'initech', 'ines@initech.com', 'nobody', 'renewal 2027', '2027', 'sam smith'];
    for (const object of ['contact', 'company', 'deal', 'ticket'] as const) {
      for (const q of queries) {
        const indexed = (await sql<{ record_id: string }>`${crm.search.matching(db, workspaceId, object, q)}`.execute(db)).rows.map((r) => r.record_id).sort();
        const matches = crm.search.documentMatches(db, workspaceId, object, q);
        // The outer alias is `s`, as the list's walk along a computed trait's values names its rows.
        const tested = (await sql<{ record_id: string }>`select s.record_id from crm_search s where s.object = ${object} and ${matches(sql`s.record_id`)}`.execute(db)).rows.map((r) => r.record_id).sort();
        expect(tested, `${object} "${q}"`).toEqual(indexed);
      }
    }
    // Not every query matches nothing: the comparison compared something.
    expect((await sql`${crm.search.matching(db, workspaceId, 'contact', 'smith')}`.execute(db)).rows).toHaveLength(3);
  });

  it('builds the same index again from the records (what the migration does on a store that has them)', async () => {
    const db = server.rapport.core.database.db;
    const before = (await search('a', '&limit=100')).length + (await search('acme', '&limit=100')).length;
    const all = async () => (await sql<{ object: string; record_id: string; title: string; head: string; rest: string }>`select object, record_id, title, head, rest from crm_search order by object, record_id`.execute(db)).rows;
    const expected = await all();
    if (engine.name === 'sqlite') await sql`delete from crm_search_fts`.execute(db);
    await sql`delete from crm_search`.execute(db);
    expect(await titles('acme')).toEqual([]);
    await rebuildSearch(db, server.rapport.core.crm.profileRelations, server.rapport.core.crm.search, Date.now());
    expect(await all()).toEqual(expected);
    expect((await search('a', '&limit=100')).length + (await search('acme', '&limit=100')).length).toBe(before);
  });
});
