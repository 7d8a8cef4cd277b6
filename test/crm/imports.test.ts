import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { logRows, startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

const MESSY = [
  '\uFEFFE-mail,Full name,Stage,Seats,Owner,Notes',
  'ada@example.com,"Lovelace, Ada",customer,12,rep-1,"multi-line',
  'note"',
  ',No Email,lead,1,rep-1,',
  'not-an-email,Bad Email,lead,1,rep-1,',
  'grace@example.com,Grace Hopper,prospect,3,rep-2,',
  'linus@example.com,Linus,lead,many,rep-2,',
  'ADA@example.com,Ada Again,lead,1,rep-1,',
  '',
  'alan@example.com,Alan Turing,,,rep-2,',
].join('\n');
const MAPPING = { 'E-mail': 'email', 'Full name': 'name', Stage: 'lifecycleStage', Seats: 'custom.seats', Owner: 'ownerId' };

describe.each(ENGINES)('CSV import and export of contacts on $name', (engine) => {
  let server: TestServer;
  const call = (method: string, path: string, body?: unknown) => server.call(method, path, body);

  beforeAll(async () => {
    server = await startServer(engine);
    expect((await call('POST', '/api/v1/crm/fields/contact', { key: 'seats', label: 'Seats', type: 'number', min: 0 })).status).toBe(201);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('reports every bad row of a messy file with its line and reasons, and a dry run writes nothing', async () => {
    const before = (await logRows(server)).length;
    const report = await call('POST', '/api/v1/crm/imports', { csv: MESSY, mapping: MAPPING, dryRun: true });
    expect(report.status, JSON.stringify(report.body)).toBe(200);
    expect(report.body).toMatchObject({ id: null, status: 'dry_run', rows: 7, valid: 2, invalid: 5, duplicates: 1 });
    const byLine = Object.fromEntries(report.body.problems.map((p: { line: number; errors: string[] }) => [p.line, p.errors.join('; ')]));
    expect(byLine[4]).toMatch(/email is missing/);
    expect(byLine[5]).toMatch(/not an email address/);
    expect(byLine[6]).toMatch(/lifecycleStage "prospect"/);
    expect(byLine[7]).toMatch(/custom\.seats/);
    expect(byLine[8]).toMatch(/already on line 3/);
    expect((await logRows(server)).length).toBe(before);
    expect((await call('GET', '/api/v1/crm/contacts')).body.data).toEqual([]);
  });

  it('refuses a mapping that names no email, an unknown field or a missing column, and a file it cannot read', async () => {
    expect((await call('POST', '/api/v1/crm/imports', { csv: MESSY, mapping: { 'Full name': 'name' } })).status).toBe(400);
    expect((await call('POST', '/api/v1/crm/imports', { csv: MESSY, mapping: { 'E-mail': 'email', Stage: 'stage' } })).status).toBe(400);
    expect((await call('POST', '/api/v1/crm/imports', { csv: MESSY, mapping: { 'E-mail': 'email', Nope: 'name' } })).status).toBe(400);
    expect((await call('POST', '/api/v1/crm/imports', { csv: 'email\n"unterminated', mapping: { email: 'email' } })).status).toBe(400);
  });

  it('imports the good rows as contacts with their CRM fields, and exports them again', async () => {
    const started = await call('POST', '/api/v1/crm/imports', { csv: MESSY, mapping: MAPPING });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const done = await until('the import to finish', async () => {
      const r = (await call('GET', `/api/v1/crm/imports/${started.body.id}`)).body;
      return r.status === 'done' ? r : undefined;
    });
    expect(done).toMatchObject({ valid: 2, invalid: 5, applied: 2 });
    const contacts = (await call('GET', '/api/v1/crm/contacts')).body.data;
    const ada = contacts.find((c: { email: string }) => c.email === 'ada@example.com');
    expect(ada).toMatchObject({ name: 'Lovelace, Ada', lifecycleStage: 'customer', ownerId: 'rep-1', custom: { seats: 12 } });
    expect(contacts.find((c: { email: string }) => c.email === 'alan@example.com')).toMatchObject({ ownerId: 'rep-2', lifecycleStage: null });
    expect(contacts).toHaveLength(2);

    const res = await fetch(`${server.url}/api/v1/crm/contacts/export.csv`, { headers: { authorization: `Bearer ${server.setup.apiKey}` } });
    expect(res.headers.get('content-type')).toMatch(/text\/csv/);
    const rows = parse(await res.text(), { columns: true }) as Record<string, string>[];
    expect(rows.find((r) => r.email === 'ada@example.com')).toMatchObject({ name: 'Lovelace, Ada', lifecycleStage: 'customer', 'custom.seats': '12' });
    // Taking every contact out is a read worth recording.
    const [exported] = (await call('GET', '/api/v1/audit?action=crm.contact.export')).body.data;
    expect(exported).toMatchObject({ actor: { type: 'api_key' }, status: 200 });
  });
});
