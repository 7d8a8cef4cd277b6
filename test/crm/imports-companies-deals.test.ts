import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { logRows, startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

interface Problem { line: number; errors: string[] }
const byLine = (problems: Problem[]) => Object.fromEntries(problems.map((p) => [p.line, p.errors.join('; ')]));

const COMPANIES = [
  'Company,Website,Account,Industry,Headcount,Owner,Tier',
  'Acme,https://www.Acme.com/about,,Anvils,120,rep-1,gold', // 2: new, found by nothing
  'Bad Domain Co,not a domain,,,,rep-1,gold', // 3: bad domain
  'No Key Inc,,,Retail,5,rep-2,', // 4: neither domain nor group id
  'Acme Again,acme.com,,,,rep-2,silver', // 5: the domain of line 2 again
  'Initech,initech.com,,Software,300,rep-3,platinum', // 6: custom field error
  'Initech Corp,http://initech.com/,,Software,350,rep-3,gold', // 7: the existing Initech, updated
  'Globex,globex.com,globex-1,Energy,many,rep-1,', // 8: employees not a number
  'Hooli,HOOLI.com,,Tech,,rep-4,', // 9: the account the website knows, found by its domain
  'Stark,,stark-1,Defense,50,rep-1,silver', // 10: new, by group id only
  'Stark Again,,stark-1,,,rep-2,', // 11: the group id of line 10 again
  'Wayne,hooli.com,wayne-1,,,rep-1,', // 12: a new group id with a domain another company has
].join('\n');
const COMPANY_MAPPING = { Company: 'name', Website: 'domain', Account: 'groupId', Industry: 'industry', Headcount: 'employees', Owner: 'ownerId', Tier: 'custom.tier' };

interface Company { id: string; name: string | null; domain: string | null; industry: string | null; employees: number | null; ownerId: string | null; custom: Record<string, unknown>; version: number }
interface Deal { id: string; name: string; pipelineId: string; stageId: string; status: string; amount: number | null; currency: string; closeDate: string | null; ownerId: string | null; contactIds: string[]; companyId: string | null; custom: Record<string, unknown> }

describe.each(ENGINES)('CSV import of companies and deals on $name', (engine) => {
  let server: TestServer;
  const call = (method: string, path: string, body?: unknown) => server.call(method, path, body);
  const companies = async () => (await call('GET', '/api/v1/crm/companies?limit=200')).body.data as Company[];
  const deals = async () => (await call('GET', '/api/v1/crm/deals?limit=200')).body.data as Deal[];
  const finished = (id: string) => until(`import ${id} to finish`, async () => {
    const r = (await call('GET', `/api/v1/crm/imports/${id}`)).body;
    return r.status === 'done' ? r : undefined;
  });
  const ids = { initech: '', hooli: '', ada: '', acme: '' };
  let pipelines: { id: string; name: string; stages: { id: string; name: string }[] }[] = [];
  const stage = (pipeline: string, name: string) => pipelines.find((p) => p.name === pipeline)!.stages.find((s) => s.name === name)!;

  /** A trigger that fails the insert of one row into `table`: a write that breaks halfway, on a real store. */
  async function breakInsertsInto(table: string, column: string, literal: string) {
    const db = server.rapport.database.db;
    if (engine.name === 'sqlite') {
      await sql.raw(`create trigger boom before insert on ${table} when new.${column} = ${literal} begin select raise(abort, 'boom'); end`).execute(db);
    } else {
      await sql.raw(`create function boom() returns trigger language plpgsql as $$ begin if new.${column} = ${literal} then raise exception 'boom'; end if; return new; end $$`).execute(db);
      await sql.raw(`create trigger boom before insert on ${table} for each row execute function boom()`).execute(db);
    }
    return async () => {
      await sql.raw(`drop trigger boom${engine.name === 'postgres' ? ` on ${table}` : ''}`).execute(db);
      if (engine.name === 'postgres') await sql.raw('drop function boom()').execute(db);
    };
  }

  beforeAll(async () => {
    server = await startServer(engine);
    const tier = await call('POST', '/api/v1/crm/fields/company', { key: 'tier', label: 'Tier', type: 'select', options: [{ value: 'gold', label: 'Gold' }, { value: 'silver', label: 'Silver' }] });
    expect(tier.status, JSON.stringify(tier.body)).toBe(201);
    expect((await call('POST', '/api/v1/crm/fields/deal', { key: 'source', label: 'Source', type: 'select', options: [{ value: 'web', label: 'Web' }, { value: 'referral', label: 'Referral' }] })).status).toBe(201);
    const initech = await call('POST', '/api/v1/crm/companies', { domain: 'initech.com', name: 'Initech', ownerId: 'rep-9', custom: { tier: 'silver' } });
    expect(initech.status, JSON.stringify(initech.body)).toBe(201);
    ids.initech = initech.body.id;
    // An account the website already sends in group calls (its own group id), with no CRM record yet.
    const res = await fetch(`${server.url}/v1/group`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, userId: 'u-hooli', groupId: 'hooli-1', traits: { name: 'Hooli', domain: 'hooli.com' } }) });
    expect(res.status).toBe(200);
    await server.rapport.core.pipeline.drain();
    ids.hooli = (await call('GET', `/api/v1/profiles?collection=accounts&q=${encodeURIComponent('group_id:hooli-1')}`)).body.data[0].id;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('reports every bad row of a messy companies file with its line and reasons, and a dry run writes nothing', async () => {
    const before = { log: (await logRows(server)).length, companies: await companies() };
    const report = await call('POST', '/api/v1/crm/imports', { object: 'company', csv: COMPANIES, mapping: COMPANY_MAPPING, dryRun: true });
    expect(report.status, JSON.stringify(report.body)).toBe(200);
    expect(report.body).toMatchObject({ id: null, object: 'company', status: 'dry_run', rows: 11, valid: 4, invalid: 7, duplicates: 2 });
    const lines = byLine(report.body.problems);
    expect(Object.keys(lines).map(Number)).toEqual([3, 4, 5, 6, 8, 11, 12]);
    expect(lines[3]).toMatch(/domain "not a domain" is not a web domain/);
    expect(lines[4]).toMatch(/a domain or a groupId is needed/);
    expect(lines[5]).toMatch(/domain acme\.com is already on line 2/);
    expect(lines[6]).toMatch(/custom\.tier .*gold, silver/);
    expect(lines[8]).toMatch(/employees "many"/);
    expect(lines[11]).toMatch(/groupId stark-1 is already on line 10/);
    expect(lines[12]).toMatch(/domain hooli\.com belongs to a company whose group id is hooli-1/);
    expect((await logRows(server)).length).toBe(before.log);
    expect(await companies()).toEqual(before.companies);
  });

  it('imports the good rows: new companies created, existing ones (by domain) updated, not duplicated; bad rows leave nothing', async () => {
    const started = await call('POST', '/api/v1/crm/imports', { object: 'company', csv: COMPANIES, mapping: COMPANY_MAPPING });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    expect(await finished(started.body.id)).toMatchObject({ object: 'company', valid: 4, invalid: 7, applied: 4 });

    const all = await companies();
    expect(all).toHaveLength(4);
    const acme = all.find((c) => c.domain === 'acme.com')!;
    ids.acme = acme.id;
    expect(acme).toMatchObject({ name: 'Acme', industry: 'Anvils', employees: 120, ownerId: 'rep-1', custom: { tier: 'gold' }, version: 1 });
    expect(all.find((c) => c.id === ids.initech)).toMatchObject({ name: 'Initech Corp', domain: 'initech.com', employees: 350, ownerId: 'rep-3', custom: { tier: 'gold' }, version: 2 });
    expect(all.find((c) => c.id === ids.hooli)).toMatchObject({ name: 'Hooli', domain: 'hooli.com', industry: 'Tech', ownerId: 'rep-4', version: 1 });
    expect(all.find((c) => c.name === 'Stark')).toMatchObject({ domain: null, employees: 50, ownerId: 'rep-1', custom: { tier: 'silver' } });
    expect(all.some((c) => c.name === 'Globex' || c.name === 'Wayne' || c.name === 'No Key Inc')).toBe(false);

    const log = await logRows(server);
    // Company Created once per company the CRM did not keep a record of (Initech had one already).
    const created = log.filter((r) => r.payload.event === 'Company Created' && (r.payload.properties as { import_id?: string }).import_id === started.body.id);
    expect(created.map((r) => (r.payload.properties as { group_id: string }).group_id).sort()).toEqual(['acme.com', 'hooli-1', 'stark-1']);
    // A bad row sent nothing through the log: no group call, no profile for it.
    expect(log.some((r) => r.type === 'group' && JSON.stringify(r.payload).includes('globex'))).toBe(false);
    expect((await call('GET', `/api/v1/profiles?collection=accounts&q=${encodeURIComponent('group_id:globex-1')}`)).body.data).toEqual([]);

    // Importing the same file again updates the same companies.
    const again = await call('POST', '/api/v1/crm/imports', { object: 'company', csv: COMPANIES, mapping: COMPANY_MAPPING });
    await finished(again.body.id);
    expect((await companies()).map((c) => c.id).sort()).toEqual(all.map((c) => c.id).sort());
  });

  it('refuses a companies mapping without domain or groupId, or naming a contact field', async () => {
    expect((await call('POST', '/api/v1/crm/imports', { object: 'company', csv: COMPANIES, mapping: { Company: 'name' } })).status).toBe(400);
    expect((await call('POST', '/api/v1/crm/imports', { object: 'company', csv: COMPANIES, mapping: { Website: 'domain', Owner: 'lifecycleStage' } })).status).toBe(400);
    expect((await call('POST', '/api/v1/crm/imports', { object: 'deal', csv: COMPANIES, mapping: { Website: 'companyDomain' } })).status).toBe(400);
  });

  // Known gap, outside the import: POST /crm/companies keeps a domain as typed (its group id too), so the import's
  // lower-cased domain finds neither and makes a second company. Passes once the API normalises domains.
  it('finds a company the API made with an upper-case domain', async () => {
    expect((await call('POST', '/api/v1/crm/companies', { domain: 'Umbrella.com', name: 'Umbrella' })).status).toBe(201);
    const started = await call('POST', '/api/v1/crm/imports', { object: 'company', csv: 'Website,Owner\numbrella.com,rep-5', mapping: { Website: 'domain', Owner: 'ownerId' } });
    await finished(started.body.id);
    expect((await companies()).filter((c) => c.domain?.toLowerCase() === 'umbrella.com')).toHaveLength(1);
  });

  it('writes no company when the write breaks halfway', async () => {
    const rows = ['Domain,Owner', ...Array.from({ length: 2_500 }, (_, i) => `bulk${i}.example.com,rep-1`)];
    const before = { log: (await logRows(server)).length, companies: (await companies()).length };
    const repair = await breakInsertsInto('crm_import_rows', 'line', '2400');
    try {
      const res = await call('POST', '/api/v1/crm/imports', { object: 'company', csv: rows.join('\n'), mapping: { Domain: 'domain', Owner: 'ownerId' } });
      expect(res.status).toBe(500);
    } finally {
      await repair();
    }
    expect((await logRows(server)).length).toBe(before.log);
    expect(Number((await sql<{ n: number }>`select count(*) as n from crm_import_rows`.execute(server.rapport.database.db)).rows[0].n)).toBe(0);
    await server.rapport.core.pipeline.drain();
    expect((await companies()).length).toBe(before.companies);
  });

  it('imports deals into the right pipelines and stages with their contacts and companies, reporting unknown ones', async () => {
    const ada = await call('POST', '/api/v1/crm/contacts', { email: 'ada@example.com', name: 'Ada' });
    expect(ada.status).toBe(201);
    ids.ada = ada.body.id;
    // The default pipeline first (made on first use), then a second one.
    expect((await call('GET', '/api/v1/crm/pipelines')).status).toBe(200);
    const partners = await call('POST', '/api/v1/crm/pipelines', { name: 'Partners', stages: [{ name: 'Intro' }, { name: 'Signed', outcome: 'won' }, { name: 'Dropped', outcome: 'lost' }] });
    expect(partners.status).toBe(201);
    pipelines = (await call('GET', '/api/v1/crm/pipelines')).body.data;

    const csv = [
      'Deal,Value,Currency,Pipeline,Stage,Close,Owner,Contact,Company,Source',
      'Acme renewal,1200.50,EUR,Sales pipeline,Proposal,2026-03-31,rep-1,ada@example.com,https://acme.com,web', // 2
      'Partner intro,,,Partners,,,,ADA@example.com,,referral', // 3
      'Nowhere,10,USD,Nonexistent,,,,,,', // 4: unknown pipeline
      'Bad stage,10,USD,Partners,Negotiation,,,,,', // 5: a stage of another pipeline
      'Who,10,USD,,,,,nobody@example.com,,', // 6: unknown contact
      'Cash,ten,USD,,,,,,,', // 7: bad amount
      'Yen,10.5,JPY,,,,,,,', // 8: more decimals than the currency has
      ',10,USD,,,,,,,', // 9: no name
      'Late,10,USD,,,2026-02-30,,,,', // 10: not a calendar date
      'Where,5,USD,,,,,,globex.com,', // 11: unknown company
      'Odd,5,USD,,,,,,,vip', // 12: custom field error
      'Minus,-5,USD,,,,,,,', // 13: negative amount, as the API refuses it
      'Lower,99,usd,,,,,,,', // 14: a currency the API refuses (not upper-case)
      'Signed,99,USD,partners,signed,,,,acme.com,', // 15: pipeline and stage names in any case
      `By id,1,USD,,${stage('Sales pipeline', 'Won').id},,,,,`, // 16: a stage id, no pipeline
    ].join('\n');
    const mapping = { Deal: 'name', Value: 'amount', Currency: 'currency', Pipeline: 'pipeline', Stage: 'stage', Close: 'closeDate', Owner: 'ownerId', Contact: 'contactEmail', Company: 'companyDomain', Source: 'custom.source' };
    const before = { log: (await logRows(server)).length, deals: await deals() };
    const dry = await call('POST', '/api/v1/crm/imports', { object: 'deal', csv, mapping, dryRun: true });
    expect(dry.status, JSON.stringify(dry.body)).toBe(200);
    expect(dry.body).toMatchObject({ status: 'dry_run', rows: 15, valid: 4, invalid: 11, duplicates: 0 });
    const lines = byLine(dry.body.problems);
    expect(Object.keys(lines).map(Number)).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    expect(lines[4]).toMatch(/no pipeline "Nonexistent"/);
    expect(lines[5]).toMatch(/"Negotiation" is not a stage of pipeline "Partners"/);
    expect(lines[6]).toMatch(/contactEmail nobody@example\.com is not a contact/);
    expect(lines[7]).toMatch(/amount "ten" is not a number/);
    expect(lines[8]).toMatch(/more decimals than JPY/);
    expect(lines[9]).toMatch(/name is missing/);
    expect(lines[10]).toMatch(/closeDate "2026-02-30" is not a calendar date/);
    expect(lines[11]).toMatch(/companyDomain "globex\.com" is not a company/);
    expect(lines[12]).toMatch(/custom\.source/);
    expect(lines[13]).toMatch(/amount "-5" must be >= 0/);
    expect(lines[14]).toMatch(/currency "usd"/);
    expect({ log: (await logRows(server)).length, deals: await deals() }).toEqual(before);

    const started = await call('POST', '/api/v1/crm/imports', { object: 'deal', csv, mapping });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    expect(started.body).toMatchObject({ object: 'deal', status: 'done', valid: 4, invalid: 11 });
    expect((await call('GET', `/api/v1/crm/imports/${started.body.id}`)).body).toMatchObject({ status: 'done', applied: 4 });

    const all = await deals();
    expect(all).toHaveLength(4);
    const named = (n: string) => all.find((d) => d.name === n)!;
    expect(named('Acme renewal')).toMatchObject({ pipelineId: pipelines.find((p) => p.name === 'Sales pipeline')!.id, stageId: stage('Sales pipeline', 'Proposal').id, amount: 1200.5, currency: 'EUR', closeDate: '2026-03-31', ownerId: 'rep-1', contactIds: [ids.ada], companyId: ids.acme, custom: { source: 'web' }, status: 'open' });
    expect(named('Partner intro')).toMatchObject({ stageId: stage('Partners', 'Intro').id, contactIds: [ids.ada], companyId: null, currency: 'USD', amount: null, custom: { source: 'referral' } });
    expect(named('Signed')).toMatchObject({ stageId: stage('Partners', 'Signed').id, status: 'won', companyId: ids.acme, contactIds: [] });
    expect(named('By id')).toMatchObject({ stageId: stage('Sales pipeline', 'Won').id, status: 'won' });
    const history = (await call('GET', `/api/v1/crm/deals/${named('Acme renewal').id}/stage-history`)).body.data;
    expect(history).toMatchObject([{ fromStageId: null, toStageId: stage('Sales pipeline', 'Proposal').id }]);

    const events = (await logRows(server)).filter((r) => r.payload.event === 'Deal Created');
    expect(events.map((r) => (r.payload.properties as { deal_name: string }).deal_name).sort()).toEqual(['Acme renewal', 'By id', 'Partner intro', 'Signed']);
    // About the deal's contact (else its company), as the deals API announces them.
    expect((events.find((r) => (r.payload.properties as { deal_name: string }).deal_name === 'Signed')!.payload.context as { rapport: { profileId: string } }).rapport.profileId).toBe(ids.acme);
  });

  it('writes no deal when the write breaks halfway through a large file', async () => {
    const rows = ['Deal,Value', ...Array.from({ length: 1_200 }, (_, i) => `${i === 1_100 ? 'Boom' : `Bulk deal ${i}`},${i}`)];
    const before = { log: (await logRows(server)).length, deals: (await deals()).length };
    const repair = await breakInsertsInto('crm_deals', 'name', "'Boom'");
    try {
      const res = await call('POST', '/api/v1/crm/imports', { object: 'deal', csv: rows.join('\n'), mapping: { Deal: 'name', Value: 'amount' } });
      expect(res.status).toBe(500);
    } finally {
      await repair();
    }
    expect({ log: (await logRows(server)).length, deals: (await deals()).length }).toEqual(before);
    const ok = await call('POST', '/api/v1/crm/imports', { object: 'deal', csv: rows.join('\n'), mapping: { Deal: 'name', Value: 'amount' } });
    expect(ok.body).toMatchObject({ status: 'done', valid: 1_200 });
    expect(Number((await sql<{ n: number }>`select count(*) as n from crm_deals`.execute(server.rapport.database.db)).rows[0].n)).toBe(before.deals + 1_200);
  });
});
