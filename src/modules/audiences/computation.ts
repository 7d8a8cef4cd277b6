import { sql, type Kysely } from 'kysely';
import { addEvent, type AggregateSpec, type AggregateState } from './aggregate.js';
import type { AudienceEntry, Catalog, TraitEntry } from './catalog.js';
import { compileAudience, type CompileContext } from './compile.js';
import type { AudiencesDeps } from './context.js';
import type { Collection, Condition } from './definition.js';
import { stateRow, traitValue } from './incremental.js';
import { filterType } from './match.js';
import { audiencesStore as store, chunks, type AudiencesTables, type ComputedValueWrite } from './store.js';
import { applyTransitions } from './transitions.js';

const PAGE = 20_000;

/**
 * Rebuilds an aggregate's states from the profiles' timelines (the events they hold now, merges and
 * splits included), folding with the same code the pipeline uses. Runs in the pipeline's serialisation
 * (see service.maintain), so no micro-batch is half in and half out of it.
 */
export async function backfillAggregate(db: Kysely<any>, deps: AudiencesDeps, spec: AggregateSpec, now: number, only?: string[]): Promise<number> {
  const t = db as Kysely<AudiencesTables>;
  const r = deps.relations;
  await store.deleteStates(t, spec.id, only);
  // A score made only of trait rules counts no events.
  if (spec.filters.length === 0) return 0;
  const needsPayload = spec.kind !== 'count' && spec.kind !== 'points' ? true : spec.filters.some((f) => f.where?.length);
  const from = spec.retain === Infinity ? -Infinity : now - spec.retain - spec.bucket;
  const kinds = spec.filters.map((f) => sql`(pe.type = ${filterType(f)}${f.name === undefined ? sql`` : sql` and pe.event = ${f.name}`})`);
  let after: [string, number] = ['', -1];
  let written = 0;
  let current: { id: string; state: AggregateState } | undefined;
  let rows: AudiencesTables['aggregate_states'][] = [];
  const flush = async (force: boolean) => {
    if (rows.length >= 500 || (force && rows.length)) {
      await store.writeStates(t, rows);
      written += rows.length;
      rows = [];
    }
  };
  const finish = () => {
    if (current && Object.keys(current.state).length) rows.push(stateRow(spec, current.id, current.state, now));
  };
  for (;;) {
    const page = await sql<{ profile_id: string; event_offset: number; timestamp: number; type: string; event: string | null; payload?: unknown }>`
      select pe.profile_id, pe.event_offset, pe.timestamp, pe.type, pe.event${needsPayload ? sql`, e.payload` : sql``}
      from ${sql.table(r.timeline)} pe join ${sql.table(r.profiles)} p on p.id = pe.profile_id
      ${needsPayload ? sql`join ${sql.table(r.events)} e on e.offset = pe.event_offset` : sql``}
      where pe.workspace_id = ${spec.workspaceId} and p.collection = ${spec.collection} and (${sql.join(kinds, sql` or `)})
        ${from === -Infinity ? sql`` : sql`and pe.timestamp >= ${from}`}
        ${only ? sql`and pe.profile_id in (${sql.join(only)})` : sql``}
        and (pe.profile_id > ${after[0]} or (pe.profile_id = ${after[0]} and pe.event_offset > ${after[1]}))
      order by pe.profile_id, pe.event_offset limit ${PAGE}`.execute(db);
    for (const row of page.rows) {
      if (current?.id !== row.profile_id) {
        finish();
        await flush(false);
        current = { id: row.profile_id, state: {} };
      }
      const message = needsPayload ? ((typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload) as Record<string, unknown>) : {};
      addEvent(spec, current.state, { type: row.type, event: row.event, message, timestamp: Number(row.timestamp), offset: Number(row.event_offset) });
    }
    if (page.rows.length < PAGE) break;
    const last = page.rows[page.rows.length - 1];
    after = [last.profile_id, Number(last.event_offset)];
  }
  finish();
  await flush(true);
  return written;
}

/** Recomputes a computed trait's value on every profile that has one or could have one; writes only changes and returns who changed. */
export async function recomputeValues(db: Kysely<any>, deps: AudiencesDeps, entry: TraitEntry, now: number): Promise<string[]> {
  const t = db as Kysely<AudiencesTables>;
  const traitId = entry.spec.id.slice(3);
  const ids = new Set<string>();
  const fromStates = await t.selectFrom('aggregate_states').select('profile_id').where('aggregate_id', '=', entry.spec.id).execute();
  fromStates.forEach((r) => ids.add(r.profile_id));
  const existing = await t.selectFrom('computed_values').select('profile_id').where('trait_id', '=', traitId).execute();
  existing.forEach((r) => ids.add(r.profile_id));
  const ruleTraits = [...new Set(entry.traitRules.map((r) => r.test.trait))];
  if (ruleTraits.length) {
    const rows = await sql<{ profile_id: string }>`select distinct v.profile_id from ${sql.table(deps.relations.traits)} v join ${sql.table(deps.relations.profiles)} p on p.id = v.profile_id
      where v.workspace_id = ${entry.row.workspace_id} and p.collection = ${entry.row.collection} and v.name in (${sql.join(ruleTraits)})`.execute(db);
    rows.rows.forEach((r) => ids.add(r.profile_id));
  }
  const changed: string[] = [];
  for (const part of chunks([...ids].sort(), 500)) {
    const states = await store.states(t, [entry.spec.id], part);
    const traits = new Map<string, Map<string, unknown>>();
    if (ruleTraits.length) {
      const rows = await sql<{ profile_id: string; name: string; value: string }>`select profile_id, name, value from ${sql.table(deps.relations.traits)}
        where profile_id in (${sql.join(part)}) and name in (${sql.join(ruleTraits)})`.execute(db);
      for (const r of rows.rows) (traits.get(r.profile_id) ?? traits.set(r.profile_id, new Map()).get(r.profile_id)!).set(r.name, JSON.parse(r.value));
    }
    const current = new Map((await store.values(t, [traitId], part)).map((v) => [v.profile_id, v.value]));
    const writes: ComputedValueWrite[] = [];
    const deletes: string[] = [];
    for (const id of part) {
      const raw = states.get(`${entry.spec.id}|${id}`);
      const value = traitValue(entry, raw ? (JSON.parse(raw) as AggregateState) : undefined, traits.get(id), now);
      const json = value === undefined ? undefined : JSON.stringify(value);
      if (json === current.get(id)) continue;
      changed.push(id);
      if (json === undefined) deletes.push(id);
      else writes.push({ trait_id: traitId, profile_id: id, workspace_id: entry.row.workspace_id, value: json, updated_at: now });
    }
    await store.writeValues(t, writes);
    if (deletes.length) await store.deleteValues(t, traitId, deletes);
  }
  return changed;
}

export function compileContext(deps: AudiencesDeps, catalog: Catalog, now: number): CompileContext {
  return {
    engine: deps.engine, workspaceId: catalog.workspaceId, now, relations: deps.relations,
    computedTraitId: (key) => catalog.traitsByKey.get(key)!.row.id,
    audienceId: (key) => catalog.audiencesByKey.get(key)!.row.id,
  };
}

/** The members by the SQL computation (the full one, for new and edited audiences, re-checks and previews). */
export async function membersBySql(db: Kysely<any>, deps: AudiencesDeps, catalog: Catalog, collection: Collection, condition: Condition, now: number): Promise<string[]> {
  const query = compileAudience(compileContext(deps, catalog, now), collection, condition);
  const run = async (on: Kysely<any>) => (await sql<{ id: string }>`${query}`.execute(on)).rows.map((r) => r.id);
  if (deps.engine !== 'postgres') return run(db);
  // The leaves' sets must fit in memory as hash tables; with the default 4 MB, PostgreSQL would probe a
  // million-row set by rescanning it for every profile.
  const inMemory = async (tx: Kysely<any>) => {
    await sql`set local work_mem = '256MB'`.execute(tx);
    return run(tx);
  };
  return db.isTransaction ? inMemory(db) : db.transaction().execute(inMemory);
}

/** Computes an audience in full and records the difference from its stored membership as transitions. */
export async function computeAudience(db: Kysely<any>, deps: AudiencesDeps, catalog: Catalog, audience: AudienceEntry, now: number): Promise<{ entered: number; exited: number }> {
  const t = db as Kysely<AudiencesTables>;
  const members = new Set(await membersBySql(db, deps, catalog, audience.definition.collection, audience.definition.condition, now));
  const stored = new Set((await store.membersOf(t, audience.row.id)).map((r) => r.profile_id));
  const entered = [...members].filter((id) => !stored.has(id));
  const exited = [...stored].filter((id) => !members.has(id));
  await applyTransitions(db, deps, [{ audience, entered, exited, reason: 'condition' }], now);
  await store.setSize(t, audience.row.id, { exactly: members.size });
  return { entered: entered.length, exited: exited.length };
}
