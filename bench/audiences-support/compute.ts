import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { sql, type Kysely } from 'kysely';
import { openRapport } from '../../src/app.js';
import { buildCatalog, type DefinitionRow } from '../../src/modules/audiences/catalog.js';
import { compileAudience } from '../../src/modules/audiences/compile.js';
import { compileContext, computeAudience, membersBySql } from '../../src/modules/audiences/computation.js';
import type { AudiencesDeps } from '../../src/modules/audiences/index.js';
import { audiencesStore } from '../../src/modules/audiences/store.js';
import { collectRelations, eventLog } from '../../src/modules/collect/index.js';
import { identityRelations } from '../../src/modules/identity/index.js';
import { profilesRelations } from '../../src/modules/profiles/index.js';
import { loadConfig } from '../../src/platform/config.js';
import type { Dataset } from './dataset.js';
import { FULL_AUDIENCE, FULL_AUDIENCE_PARTS } from './definitions.js';

/**
 * Child process: the full computation of the three-condition audience on the generated store, as the
 * service runs it (`membersBySql`: the compiled query, then the ids into an array), `rounds` times, plus
 * the query plan, each condition alone, and `computeAudience` (the query, the difference from the stored
 * membership, the transitions recorded and announced on the log) in a transaction rolled back afterwards.
 * Prints one JSON line.
 *
 * `--set-based` also times a hand-written form of the same audience for comparison: each condition as an
 * `id IN (…)` set (traits through their (workspace_id, name, value) index, computed values through their
 * trait's key range, the counts grouped with HAVING) instead of a test per profile.
 *
 *   --dataset <dataset.json> [--rounds 5] [--parts] [--transitions] [--set-based]
 */
const { values: flags } = parseArgs({
  options: { dataset: { type: 'string' }, rounds: { type: 'string', default: '5' }, parts: { type: 'boolean', default: false }, transitions: { type: 'boolean', default: false }, 'set-based': { type: 'boolean', default: false } },
});
const dataset = JSON.parse(readFileSync(flags.dataset!, 'utf8')) as Dataset;
const core = await openRapport({ ...loadConfig({ RAPPORT_DATA_DIR: dataset.dataDir, ...(dataset.databaseUrl ? { DATABASE_URL: dataset.databaseUrl } : {}) }), logLevel: 'warn' });
const { database } = core;
const db = database.db;
const now = dataset.now;
const deps: AudiencesDeps = {
  engine: database.engine,
  relations: { ...identityRelations, ...profilesRelations, ...collectRelations },
  now: () => now,
  appendToLog: (tx, entries) => eventLog.appendInTransaction(tx, entries, database.engine === 'postgres'),
};
const traitRows = await audiencesStore.traitRows(db, dataset.workspaceId);
const row: DefinitionRow = {
  id: 'bench-audience', workspace_id: dataset.workspaceId, key: 'bench_audience', name: 'Bench audience', collection: 'users',
  definition: JSON.stringify({ condition: FULL_AUDIENCE }), status: 'ready', computed_at: null, created_at: now, updated_at: now, description: null, size: 0,
};
const catalog = buildCatalog(dataset.workspaceId, traitRows, [row]);
const ms = (t: number) => Math.round((performance.now() - t) * 10) / 10;

async function plan(): Promise<string[]> {
  const compiled = compileAudience(compileContext(deps, catalog, now), 'users', FULL_AUDIENCE).compile(db);
  if (database.sqlite) {
    const rows = database.sqlite.prepare(`explain query plan ${compiled.sql}`).all(...(compiled.parameters as unknown[])) as { id: number; parent: number; detail: string }[];
    const depth = new Map<number, number>([[0, -1]]);
    return rows.map((r) => {
      const d = (depth.get(r.parent) ?? -1) + 1;
      depth.set(r.id, d);
      return `${'  '.repeat(d)}${r.detail}`;
    });
  }
  const result = await database.pg!.query<{ 'QUERY PLAN': string }>(`explain (analyze, buffers) ${compiled.sql}`, compiled.parameters as unknown[]);
  return result.rows.map((r) => r['QUERY PLAN']);
}

const sqlText = compileAudience(compileContext(deps, catalog, now), 'users', FULL_AUDIENCE).compile(db).sql;
const timings: number[] = [];
let members = 0;
for (let r = 0; r < Number(flags.rounds); r++) {
  const t = performance.now();
  const ids = await membersBySql(db, deps, catalog, 'users', FULL_AUDIENCE, now);
  timings.push(ms(t));
  members = ids.length;
}
const queryPlan = await plan();

const parts: Record<string, { ms: number[]; members: number }> = {};
if (flags.parts) {
  for (const [name, condition] of Object.entries(FULL_AUDIENCE_PARTS)) {
    const times: number[] = [];
    let n = 0;
    for (let r = 0; r < 2; r++) {
      const t = performance.now();
      n = (await membersBySql(db, deps, catalog, 'users', condition, now)).length;
      times.push(ms(t));
    }
    parts[name] = { ms: times, members: n };
  }
}

let setBased: { ms: number[]; members: number; same: boolean } | undefined;
if (flags['set-based']) {
  const ws = dataset.workspaceId;
  const traitId = catalog.traitsByKey.get('lifetime_orders')!.row.id;
  const from = Math.floor((now - 30 * 86_400_000) / 3_600_000) * 3_600_000;
  const atLeastOne = database.engine === 'postgres'
    ? sql`case when jsonb_typeof(value::jsonb) = 'number' then (value::jsonb)::numeric >= 1 else false end`
    : sql`(json_type(value) in ('integer', 'real') and json_extract(value, '$') >= 1)`;
  const query = sql<{ id: string }>`select p.id from profiles p where p.workspace_id = ${ws} and p.collection = 'users' and p.merged_into is null
    and p.id in (select profile_id from profile_traits where workspace_id = ${ws} and name = 'plan' and value in ('"pro"', '"team"'))
    and p.id in (select profile_id from profile_events where workspace_id = ${ws} and type = 'track' and event = 'Product Viewed' and timestamp >= ${from} group by profile_id having count(*) >= 3)
    and p.id in (select profile_id from computed_values where trait_id = ${traitId} and ${atLeastOne})`;
  const reference = new Set(await membersBySql(db, deps, catalog, 'users', FULL_AUDIENCE, now));
  const times: number[] = [];
  let ids: string[] = [];
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    ids = (await query.execute(db)).rows.map((x) => x.id);
    times.push(ms(t));
  }
  setBased = { ms: times, members: ids.length, same: ids.length === reference.size && ids.every((id) => reference.has(id)) };
}

let transitions: { firstMs: number; entered: number; againMs: number; enteredAgain: number } | undefined;
if (flags.transitions) {
  class Rollback extends Error {}
  try {
    await db.transaction().execute(async (tx: Kysely<any>) => {
      const entry = catalog.audiencesByKey.get('bench_audience')!;
      let t = performance.now();
      const first = await computeAudience(tx, deps, catalog, entry, now);
      const firstMs = ms(t);
      t = performance.now();
      const again = await computeAudience(tx, deps, catalog, entry, now);
      transitions = { firstMs, entered: first.entered, againMs: ms(t), enteredAgain: again.entered };
      throw new Rollback();
    });
  } catch (error) {
    if (!(error instanceof Rollback)) throw error;
  }
}

const counts = async (table: string) => Number((await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(db)).rows[0].n);
const check = { profiles: await counts('profiles'), profile_events: await counts('profile_events'), computed_values: await counts('computed_values') };
await database.close();
process.stdout.write(JSON.stringify({ sql: sqlText, timings, members, queryPlan, parts, setBased, transitions, check }) + '\n');
