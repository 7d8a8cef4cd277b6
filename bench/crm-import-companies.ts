import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openRapport } from '../src/app.js';
import { loadConfig } from '../src/platform/config.js';
import { setupWorkspace } from '../src/workflows/setup-workspace.js';

/**
 * A CSV import of `--rows` companies (name, domain, industry, employees, owner) on a fresh SQLite store,
 * in-process: `crm.imports.start`, then the pipeline drained and `crm.imports.advance` looped until the import
 * is done, as the server's loops would. 20% of the rows are companies a first, untimed import of
 * `--rows / 5` companies made, so they are found by domain and updated. Company Created events the import
 * appends are applied afterwards and timed apart. Then `--rows` deals, each linked to one of the new companies by
 * its domain and put in a stage by name: written by the import at once.
 *
 *   node --import tsx bench/crm-import-companies.ts [--rows 100000]
 */
const { values: flags } = parseArgs({ options: { rows: { type: 'string', default: '100000' } } });
const ROWS = Number(flags.rows);
const EXISTING = Math.floor(ROWS / 5);
const ms = (t: number) => performance.now() - t;
const s = (x: number) => Math.round(x / 10) / 100;

const dataDir = mkdtempSync(join(tmpdir(), 'rapport-bench-companies-'));
const core = await openRapport({ ...loadConfig({ RAPPORT_DATA_DIR: dataDir }), role: 'api', logLevel: 'warn' });
try {
  const { workspaceId: ws } = await setupWorkspace({ access: core.access.service, collect: core.collect.service }, { workspace: 'Bench', email: 'owner@bench.test', password: 'correct horse battery staple' });
  const db = core.database.db;
  const csv = (n: number, domain: (i: number) => string) => ['Company,Website,Industry,Employees,Owner', ...Array.from({ length: n }, (_, i) => `Company ${i},https://www.${domain(i)}/,Industry ${i % 40},${i % 5000},rep-${i % 20}`)].join('\n');
  const mapping = { Company: 'name', Website: 'domain', Industry: 'industry', Employees: 'employees', Owner: 'ownerId' };

  async function run(file: string) {
    const started = performance.now();
    const result = await core.crm.imports.start(db, ws, { object: 'company', csv: file, mapping });
    const startMs = ms(started);
    let pipelineMs = 0;
    let applyMs = 0;
    for (;;) {
      let t = performance.now();
      await core.pipeline.drain();
      pipelineMs += ms(t);
      t = performance.now();
      while (await core.crm.imports.advance(db));
      applyMs += ms(t);
      if ((await core.crm.imports.get(db, ws, result.id!)).status === 'done') break;
    }
    return { result, totalMs: ms(started), startMs, pipelineMs, applyMs };
  }

  const first = await run(csv(EXISTING, (i) => `existing${i}.example.com`));
  await core.pipeline.drain();
  console.log(`setup: ${EXISTING} companies imported in ${s(first.totalMs)} s`);

  const main = await run(csv(ROWS, (i) => (i % 5 === 0 ? `existing${i / 5}.example.com` : `new${i}.example.org`)));
  const t = performance.now();
  const after = await core.pipeline.drain();
  console.log(`import of ${ROWS} companies (${main.result.valid} valid, ${EXISTING} of them existing): ${s(main.totalMs)} s `
    + `(check + append ${s(main.startMs)} s, pipeline ${s(main.pipelineMs)} s, CRM fields ${s(main.applyMs)} s); afterwards ${after} Company Created events applied in ${s(ms(t))} s`);

  // Deals: written at once by the import (no pipeline wait); each linked to one of the companies, in a stage by name.
  const stages = ['Qualification', 'Meeting scheduled', 'Proposal', 'Negotiation', 'Won', 'Lost'];
  const deals = ['Deal,Amount,Currency,Pipeline,Stage,Close,Owner,Company', ...Array.from({ length: ROWS }, (_, i) => `Deal ${i},${(i % 9000) + 0.5},EUR,Sales pipeline,${stages[i % 6]},2027-0${1 + (i % 9)}-15,rep-${i % 20},new${i - (i % 5) + 1}.example.org`)].join('\n');
  const d = performance.now();
  const dealResult = await core.crm.imports.start(db, ws, { object: 'deal', csv: deals, mapping: { Deal: 'name', Amount: 'amount', Currency: 'currency', Pipeline: 'pipeline', Stage: 'stage', Close: 'closeDate', Owner: 'ownerId', Company: 'companyDomain' } });
  console.log(`import of ${ROWS} deals (${dealResult.valid} valid, status ${dealResult.status}): ${s(ms(d))} s`);
} finally {
  await core.database.close();
  rmSync(dataDir, { recursive: true, force: true });
}
