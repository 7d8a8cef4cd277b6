import { randomUUID } from 'node:crypto';
import { Ajv, type ErrorObject } from 'ajv';
import { sql, type Kysely } from 'kysely';
import { errors } from '../../platform/errors.js';
import { buildCatalog, checkAudience, checkComputedTrait, traitEntry, type AudienceEntry, type Catalog, type DefinitionRow } from './catalog.js';
import { backfillAggregate, computeAudience, membersBySql, recomputeValues } from './computation.js';
import type { AudiencesDeps } from './context.js';
import { audienceSchema, computedTraitSchema, sharedSchemas, type AudienceDefinition, type Collection, type ComputedTraitDefinition, type Condition } from './definition.js';
import { prune, type AggregateState } from './aggregate.js';
import { applyBatch, redecideProfiles, stateRow, type BatchEvent } from './incremental.js';
import { audiencesStore as store, type AudiencesTables } from './store.js';
import { applyTransitions } from './transitions.js';

const CATALOG_TTL_MS = 5_000;
const DAY_MS = 86_400_000;

export interface AudiencesOptions {
  /** How often time-dependent computed traits and audiences are re-checked (conditions that age out). */
  recheckMs: number;
}

// allErrors: explain() needs every branch's complaints to tell which branch the input meant.
const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, allowUnionTypes: true });
for (const s of sharedSchemas) ajv.addSchema(s);
const validAudience = ajv.compile(audienceSchema);
const validTrait = ajv.compile(computedTraitSchema);

function validate<T>(check: typeof validAudience, input: unknown): T {
  const copy = structuredClone(input);
  if (!check(copy)) throw errors.validation(`Invalid definition: ${explain(check.errors ?? [])}.`, check.errors);
  return copy as T;
}

const TAGS = new Set(['all', 'any', 'not', 'trait', 'computed_trait', 'event', 'audience', 'account']);

/**
 * One sentence for what is wrong. A condition is a oneOf of shapes told apart by their tag (`trait`,
 * `event`, `all`, …) and then by `op`: a branch missing the input's tag, or refusing its op, is another
 * shape, so its complaints are noise; when every branch refused the op, the op is what is wrong and every
 * allowed op is listed.
 */
function explain(all: ErrorObject[]): string {
  const branchOf = (e: ErrorObject) => e.schemaPath.match(/^.*\/oneOf\/\d+/)?.[0] ?? '';
  const discriminator = (e: ErrorObject) => e.keyword === 'enum' && /\/(op|kind|unit)$/.test(e.instancePath);
  const otherShape = (e: ErrorObject) =>
    discriminator(e) ||
    (e.keyword === 'required' && TAGS.has((e.params as { missingProperty: string }).missingProperty)) ||
    (e.keyword === 'additionalProperties' && TAGS.has((e.params as { additionalProperty: string }).additionalProperty));
  const refused = new Set(all.filter(otherShape).map(branchOf));
  const specific = all.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf' && !discriminator(e) && !refused.has(branchOf(e)));
  const say = (e: ErrorObject) => `${e.instancePath || 'the definition'} ${e.keyword === 'additionalProperties' ? `has an unexpected property "${(e.params as { additionalProperty: string }).additionalProperty}"` : e.message}`;
  const deepest = (list: ErrorObject[]) => [...list].sort((a, b) => b.instancePath.length - a.instancePath.length)[0];
  if (specific.length) return say(deepest(specific));
  const wrong = all.filter(discriminator);
  if (wrong.length) {
    const at = deepest(wrong).instancePath;
    const allowed = [...new Set(wrong.filter((e) => e.instancePath === at).flatMap((e) => (e.params as { allowedValues: unknown[] }).allowedValues))];
    return `${at} must be equal to one of the allowed values (${allowed.join(', ')})`;
  }
  return all[0] ? say(all[0]) : 'not valid';
}

export function createAudiencesService(deps: AudiencesDeps, options: Partial<AudiencesOptions> = {}) {
  const opts: AudiencesOptions = { recheckMs: 15_000, ...options };
  const catalogs = new Map<string, { catalog: Catalog; at: number; signature: string }>();
  const lastRecheck = new Map<string, number>();

  async function catalog(db: Kysely<any>, workspaceId: string, fresh = false): Promise<Catalog> {
    const cached = catalogs.get(workspaceId);
    if (!fresh && cached && deps.now() - cached.at < CATALOG_TTL_MS) return cached.catalog;
    const t = db as Kysely<AudiencesTables>;
    const built = buildCatalog(workspaceId, await store.traitRows(t, workspaceId), await store.audienceRows(t, workspaceId));
    catalogs.set(workspaceId, { catalog: built, at: deps.now(), signature: await store.signature(t, workspaceId) });
    return built;
  }

  /**
   * The catalog a micro-batch uses: cached, but checked against the definitions' signature first, so a
   * definition made ready or changed by another node is never missed by a batch that follows it.
   */
  async function currentCatalog(db: Kysely<any>, workspaceId: string): Promise<Catalog> {
    const cached = catalogs.get(workspaceId);
    if (cached && cached.signature === (await store.signature(db as Kysely<AudiencesTables>, workspaceId))) return cached.catalog;
    return catalog(db, workspaceId, true);
  }
  const forget = (workspaceId: string) => catalogs.delete(workspaceId);

  /** Audiences that depend on any of `keys` (audience keys) or `traitKeys`, transitively, in dependency order. */
  function dependents(c: Catalog, keys: Set<string>, traitKeys: Set<string>): AudienceEntry[] {
    const hit = new Set<string>(keys);
    for (const a of c.audiences) {
      const deps = [a.own, a.account].filter((d) => d !== undefined);
      if (deps.some((d) => [...d.audiences].some((k) => hit.has(k)) || [...d.computed].some((k) => traitKeys.has(k)))) hit.add(a.row.key);
    }
    return c.audiences.filter((a) => hit.has(a.row.key));
  }

  /** Backfills and computes what is pending, then re-decides what depends on it. */
  async function runPending(db: Kysely<any>, workspaceId: string, now: number) {
    const t = db as Kysely<AudiencesTables>;
    const traitRows = await store.traitRows(t, workspaceId);
    const audienceRows = await store.audienceRows(t, workspaceId);
    const pendingTraits = traitRows.filter((r) => r.status === 'pending');
    const pendingAudiences = new Set(audienceRows.filter((r) => r.status === 'pending').map((r) => r.key));
    const ready = (rows: DefinitionRow[]) => rows.map((r) => ({ ...r, status: 'ready' }));
    const c = buildCatalog(workspaceId, ready(traitRows), ready(audienceRows));
    for (const row of pendingTraits) {
      const entry = traitEntry({ ...row, status: 'ready' });
      await backfillAggregate(db, deps, entry.spec, now);
      await recomputeValues(db, deps, entry, now);
      await t.updateTable('computed_traits').set({ status: 'ready', computed_at: now }).where('id', '=', row.id).where('updated_at', '=', row.updated_at).execute();
    }
    const redo = dependents(c, pendingAudiences, new Set(pendingTraits.map((r) => r.key)));
    for (const a of redo) {
      if (pendingAudiences.has(a.row.key)) {
        for (const id of [...a.own.aggregates, ...(a.account?.aggregates ?? [])]) await backfillAggregate(db, deps, c.aggregates.get(id)!, now);
      }
      await computeAudience(db, deps, c, a, now);
      await t.updateTable('audiences').set({ status: 'ready', computed_at: now }).where('id', '=', a.row.id).where('updated_at', '=', a.row.updated_at).execute();
    }
    forget(workspaceId);
  }

  /**
   * Conditions that age out: the counters a window has moved past since they were written (each state
   * records when that happens) and decaying scores; only the profiles concerned are re-decided, by the
   * same incremental code as a micro-batch.
   */
  async function recheck(db: Kysely<any>, workspaceId: string, now: number) {
    const t = db as Kysely<AudiencesTables>;
    const c = await catalog(db, workspaceId, true);
    const profiles = new Map<string, Collection>();
    const windowed = [...c.aggregates.values()].filter((s) => s.windows?.length);
    const expired = await store.expired(t, windowed.map((s) => s.id), now);
    const rows: AudiencesTables['aggregate_states'][] = [];
    for (const row of expired) {
      const spec = c.aggregates.get(row.aggregate_id)!;
      const state = JSON.parse(row.state) as AggregateState;
      if (prune(spec, state, now)) rows.push(stateRow(spec, row.profile_id, state, now));
      else await store.deleteStates(t, spec.id, [row.profile_id]);
      profiles.set(row.profile_id, spec.collection);
    }
    await store.writeStates(t, rows);
    for (const entry of c.traits.filter((x) => x.row.status === 'ready' && x.decayMs)) {
      for (const id of await recomputeValues(db, deps, entry, now)) profiles.set(id, entry.spec.collection);
    }
    if (profiles.size) await redecideProfiles(db, deps, c, profiles, now);
  }

  return {
    catalog,

    /** The pipeline's stage: see incremental.ts. */
    async applyBatch(db: Kysely<any>, events: BatchEvent[], merges: { winner: string; loser: string; workspaceId: string }[], created: Set<string>, now = deps.now()) {
      for (const workspaceId of new Set([...events.map((e) => e.workspaceId), ...merges.map((m) => m.workspaceId)])) {
        const c = await currentCatalog(db, workspaceId);
        if (c.traits.length === 0 && c.audiences.length === 0) continue;
        await applyBatch(db, deps, c, events.filter((e) => e.workspaceId === workspaceId), merges.filter((m) => m.workspaceId === workspaceId), created, now);
      }
    },

    /** After a split moved events between two profiles: rebuilds their counters from their timelines and re-decides them. */
    async rebuildProfiles(db: Kysely<any>, workspaceId: string, profiles: Map<string, Collection>, now = deps.now()) {
      const c = await currentCatalog(db, workspaceId);
      if (c.traits.length === 0 && c.audiences.length === 0) return;
      for (const spec of c.aggregates.values()) {
        const ids = [...profiles].filter(([, col]) => col === spec.collection).map(([id]) => id);
        if (ids.length) await backfillAggregate(db, deps, spec, now, ids);
      }
      await redecideProfiles(db, deps, c, profiles, now);
    },

    /** Workspaces with work between micro-batches: a pending definition, or a time re-check due. */
    async dueWorkspaces(db: Kysely<any>, now = deps.now()): Promise<string[]> {
      const t = db as Kysely<AudiencesTables>;
      const due = new Set(await store.pendingWorkspaces(t));
      for (const ws of await store.workspacesWithDefinitions(t)) if (now - (lastRecheck.get(ws) ?? 0) >= opts.recheckMs) due.add(ws);
      return [...due];
    },

    /** One workspace's work between micro-batches, serialised with them by the caller: pending backfills, then a due re-check. */
    async maintainWorkspace(db: Kysely<any>, workspaceId: string, now = deps.now()): Promise<void> {
      const t = db as Kysely<AudiencesTables>;
      if ((await store.pendingWorkspaces(t)).includes(workspaceId)) await runPending(db, workspaceId, now);
      if (now - (lastRecheck.get(workspaceId) ?? 0) >= opts.recheckMs) {
        lastRecheck.set(workspaceId, now);
        await recheck(db, workspaceId, now);
      }
    },

    async saveComputedTrait(db: Kysely<any>, workspaceId: string, input: unknown, key?: string) {
      const d = validate<ComputedTraitDefinition>(validTrait, key ? { ...(input as object), key } : input);
      checkComputedTrait(d);
      const t = db as Kysely<AudiencesTables>;
      const now = deps.now();
      const { key: k, name, collection, ...rest } = d;
      const existing = await t.selectFrom('computed_traits').selectAll().where('workspace_id', '=', workspaceId).where('key', '=', k).executeTakeFirst();
      if (!key && existing) throw errors.conflict(`A computed trait "${k}" exists; PUT /computed-traits/${k} changes it.`);
      if (key && !existing) throw errors.notFound(`Computed trait "${key}"`);
      if (existing && existing.collection !== collection) throw errors.validation('The collection of a computed trait cannot change; create another.');
      const row = { workspace_id: workspaceId, key: k, name, collection, definition: JSON.stringify(rest), status: 'pending', computed_at: null, updated_at: now };
      if (existing) await t.updateTable('computed_traits').set(row).where('id', '=', existing.id).execute();
      else await t.insertInto('computed_traits').values({ ...row, id: randomUUID(), created_at: now }).execute();
      forget(workspaceId);
      return (await this.computedTrait(db, workspaceId, k))!;
    },

    async saveAudience(db: Kysely<any>, workspaceId: string, input: unknown, key?: string) {
      const d = validate<AudienceDefinition>(validAudience, key ? { ...(input as object), key } : input);
      const t = db as Kysely<AudiencesTables>;
      const existing = await t.selectFrom('audiences').selectAll().where('workspace_id', '=', workspaceId).where('key', '=', d.key).executeTakeFirst();
      if (!key && existing) throw errors.conflict(`An audience "${d.key}" exists; PUT /audiences/${d.key} changes it.`);
      if (key && !existing) throw errors.notFound(`Audience "${key}"`);
      if (existing && existing.collection !== d.collection) throw errors.validation('The collection of an audience cannot change; create another.');
      const current = await catalog(db, workspaceId, true);
      checkAudience(d, current);
      const now = deps.now();
      const row = { workspace_id: workspaceId, key: d.key, name: d.name, description: d.description ?? null, collection: d.collection, definition: JSON.stringify({ condition: d.condition }), status: 'pending', computed_at: null, updated_at: now };
      const rows = await store.audienceRows(t, workspaceId);
      const next = existing ? rows.map((r) => (r.id === existing.id ? { ...r, ...row } : r)) : [...rows, { ...row, id: 'new', created_at: now, size: 0 }];
      buildCatalog(workspaceId, await store.traitRows(t, workspaceId), next); // throws on a cycle
      if (existing) await t.updateTable('audiences').set(row).where('id', '=', existing.id).execute();
      else await t.insertInto('audiences').values({ ...row, id: randomUUID(), created_at: now, size: 0 }).execute();
      forget(workspaceId);
      return (await this.audience(db, workspaceId, d.key))!;
    },

    async deleteComputedTrait(db: Kysely<any>, workspaceId: string, key: string) {
      const c = await catalog(db, workspaceId, true);
      const entry = c.traitsByKey.get(key);
      if (!entry) throw errors.notFound(`Computed trait "${key}"`);
      const users = c.audiences.filter((a) => a.own.computed.has(key) || a.account?.computed.has(key)).map((a) => a.row.key);
      if (users.length) throw errors.conflict(`Audiences ${users.join(', ')} use computed trait "${key}"; change them first.`);
      const t = db as Kysely<AudiencesTables>;
      await store.deleteStates(t, entry.spec.id);
      await store.deleteValues(t, entry.row.id);
      await t.deleteFrom('computed_traits').where('id', '=', entry.row.id).execute();
      forget(workspaceId);
    },

    async deleteAudience(db: Kysely<any>, workspaceId: string, key: string) {
      const c = await catalog(db, workspaceId, true);
      const entry = c.audiencesByKey.get(key);
      if (!entry) throw errors.notFound(`Audience "${key}"`);
      const users = c.audiences.filter((a) => a.own.audiences.has(key) || a.account?.audiences.has(key)).map((a) => a.row.key);
      if (users.length) throw errors.conflict(`Audiences ${users.join(', ')} use audience "${key}"; change them first.`);
      const t = db as Kysely<AudiencesTables>;
      const members = (await store.membersOf(t, entry.row.id)).map((r) => r.profile_id);
      await applyTransitions(db, deps, [{ audience: entry, entered: [], exited: members, reason: 'deleted' }], deps.now(), false);
      await t.deleteFrom('audiences').where('id', '=', entry.row.id).execute();
      const stillUsed = new Set(c.audiences.filter((a) => a !== entry).flatMap((a) => [...a.own.aggregates, ...(a.account?.aggregates ?? [])]));
      for (const id of [...entry.own.aggregates, ...(entry.account?.aggregates ?? [])]) if (!stillUsed.has(id)) await store.deleteStates(t, id);
      forget(workspaceId);
    },

    /** Size and a sample of members by the SQL computation, without saving anything. */
    async preview(db: Kysely<any>, workspaceId: string, input: { collection?: Collection; condition: Condition }, sample = 20) {
      const d = validate<AudienceDefinition>(validAudience, { key: 'preview', name: 'preview', ...input });
      const c = await catalog(db, workspaceId, true);
      checkAudience(d, c);
      const members = await membersBySql(db, deps, c, d.collection, d.condition, deps.now());
      return { size: members.length, sample: members.sort().slice(0, sample) };
    },

    computedTraits: (db: Kysely<any>, workspaceId: string) => store.traitRows(db as Kysely<AudiencesTables>, workspaceId),
    audiences: (db: Kysely<any>, workspaceId: string) => store.audienceRows(db as Kysely<AudiencesTables>, workspaceId),
    computedTrait: (db: Kysely<any>, workspaceId: string, key: string) =>
      (db as Kysely<AudiencesTables>).selectFrom('computed_traits').selectAll().where('workspace_id', '=', workspaceId).where('key', '=', key).executeTakeFirst(),
    audience: (db: Kysely<any>, workspaceId: string, key: string) =>
      (db as Kysely<AudiencesTables>).selectFrom('audiences').selectAll().where('workspace_id', '=', workspaceId).where('key', '=', key).executeTakeFirst(),
    async requestRecompute(db: Kysely<any>, workspaceId: string, key: string) {
      const r = await (db as Kysely<AudiencesTables>).updateTable('audiences').set({ status: 'pending' }).where('workspace_id', '=', workspaceId).where('key', '=', key).executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) throw errors.notFound(`Audience "${key}"`);
      forget(workspaceId);
    },

    /** A profile's computed traits, by key. */
    async valuesOf(db: Kysely<any>, workspaceId: string, profileId: string): Promise<{ name: string; value: unknown; updated_at: number }[]> {
      const t = db as Kysely<AudiencesTables>;
      const keys = new Map((await store.traitRows(t, workspaceId)).map((r) => [r.id, r.key]));
      const rows = await store.valuesOfProfile(t, profileId);
      return rows.filter((r) => keys.has(r.trait_id)).map((r) => ({ name: keys.get(r.trait_id)!, value: JSON.parse(r.value), updated_at: Number(r.updated_at) })).sort((a, b) => (a.name < b.name ? -1 : 1));
    },
    /** The audiences a profile is in, by key. */
    async membershipsOf(db: Kysely<any>, workspaceId: string, profileId: string): Promise<{ name: string; value: true; updated_at: number }[]> {
      const t = db as Kysely<AudiencesTables>;
      const rows = await t.selectFrom('audience_members').innerJoin('audiences', 'audiences.id', 'audience_members.audience_id')
        .select(['audiences.key', 'audience_members.entered_at']).where('audience_members.profile_id', '=', profileId).where('audiences.workspace_id', '=', workspaceId).orderBy('audiences.key').execute();
      return rows.map((r) => ({ name: r.key, value: true as const, updated_at: Number(r.entered_at) }));
    },
    /** Which of `profileIds` are members now, per audience key (keys of no audience map to empty sets). */
    async membershipSets(db: Kysely<any>, workspaceId: string, keys: string[], profileIds: string[]): Promise<Map<string, Set<string>>> {
      const t = db as Kysely<AudiencesTables>;
      const out = new Map(keys.map((k) => [k, new Set<string>()]));
      if (keys.length === 0 || profileIds.length === 0) return out;
      for (let i = 0; i < profileIds.length; i += 500) {
        const rows = await t.selectFrom('audience_members').innerJoin('audiences', 'audiences.id', 'audience_members.audience_id').select(['audiences.key', 'audience_members.profile_id'])
          .where('audiences.workspace_id', '=', workspaceId).where('audiences.key', 'in', keys).where('audience_members.profile_id', 'in', profileIds.slice(i, i + 500)).execute();
        for (const r of rows) out.get(r.key)!.add(r.profile_id);
      }
      return out;
    },
    async members(db: Kysely<any>, audienceId: string, limit: number, after?: string) {
      let q = (db as Kysely<AudiencesTables>).selectFrom('audience_members').selectAll().where('audience_id', '=', audienceId);
      if (after) q = q.where('profile_id', '>', after);
      return q.orderBy('profile_id').limit(limit).execute();
    },
    async history(db: Kysely<any>, audienceId: string, q: { profileId?: string; limit: number; before?: number }) {
      let query = (db as Kysely<AudiencesTables>).selectFrom('audience_history').selectAll().where('audience_id', '=', audienceId);
      if (q.profileId) query = query.where('profile_id', '=', q.profileId);
      if (q.before) query = query.where('id', '<', q.before);
      return query.orderBy('id', 'desc').limit(q.limit).execute();
    },
    /**
     * Per UTC day over the last `days`: how many entered, how many exited, and the size at the day's end
     * (counted back from the current size), for the membership chart.
     */
    async daily(db: Kysely<any>, audience: { id: string; size: number }, days: number, now = deps.now()) {
      const t = db as Kysely<AudiencesTables>;
      const first = Math.floor(now / DAY_MS) - days + 1;
      const count = async (column: 'entered_at' | 'exited_at') => {
        const rows = await t.selectFrom('audience_history').select((eb) => [sql<number>`${eb.ref(column)} / ${sql.lit(DAY_MS)}`.as('day'), eb.fn.countAll().as('n')])
          .where('audience_id', '=', audience.id).where(column, '>=', first * DAY_MS).groupBy(sql`${sql.ref(column)} / ${sql.lit(DAY_MS)}`).execute();
        return new Map(rows.map((r) => [Number(r.day), Number(r.n)]));
      };
      const entered = await count('entered_at');
      const exited = await count('exited_at');
      const out: { day: string; entered: number; exited: number; size: number }[] = [];
      let size = audience.size;
      for (let day = first + days - 1; day >= first; day--) {
        const e = entered.get(day) ?? 0;
        const x = exited.get(day) ?? 0;
        out.push({ day: new Date(day * DAY_MS).toISOString().slice(0, 10), entered: e, exited: x, size });
        size = size - e + x;
      }
      return out.reverse();
    },
  };
}

export type AudiencesService = ReturnType<typeof createAudiencesService>;
