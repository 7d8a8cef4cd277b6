import { sql, type Kysely } from 'kysely';
import type { Engine } from '../../platform/db/database.js';
import type { LogEntry } from '../collect/index.js';
import { valueOf, type AggregateState } from './aggregate.js';
import { leafAggregateId, type Catalog } from './catalog.js';
import type { Collection, EventFilter, Window } from './definition.js';
import type { ProfileContext } from './evaluate.js';
import type { Relations } from './compile.js';
import { audiencesStore as store, chunks, type AudiencesTables } from './store.js';
import { windowStart } from './window.js';

/** An entry of the event log, appended through collect's interface: the pipeline's transitions become events. */
export type LogEntryInput = LogEntry;

export interface AudiencesDeps {
  engine: Engine;
  relations: Relations;
  now(): number;
  /** Appends to the event log inside the caller's transaction. */
  appendToLog(db: Kysely<any>, entries: LogEntryInput[]): Promise<void>;
}

/**
 * Loads what the evaluator needs about a set of profiles in a handful of bulk reads: traits, computed
 * values, memberships, the states of the event conditions' counters, and (users) their live accounts.
 */
export async function loadContexts(db: Kysely<any>, deps: AudiencesDeps, catalog: Catalog, profiles: Map<string, Collection>, now: number, states?: Map<string, AggregateState>) {
  const t = db as Kysely<AudiencesTables>;
  const r = deps.relations;
  const userIds = [...profiles].filter(([, c]) => c === 'users').map(([id]) => id);
  const accountsOf = new Map<string, string[]>();
  const needsAccounts = catalog.audiences.some((a) => a.account);
  if (needsAccounts && userIds.length > 0) {
    for (const part of chunks(userIds)) {
      const rows = await sql<{ user_profile_id: string; account_profile_id: string }>`select l.user_profile_id, l.account_profile_id from ${sql.table(r.links)} l
        join ${sql.table(r.profiles)} a on a.id = l.account_profile_id and a.merged_into is null where l.user_profile_id in (${sql.join(part)})`.execute(db);
      for (const row of rows.rows) (accountsOf.get(row.user_profile_id) ?? accountsOf.set(row.user_profile_id, []).get(row.user_profile_id)!).push(row.account_profile_id);
    }
  }
  const all = new Map(profiles);
  for (const ids of accountsOf.values()) for (const id of ids) all.set(id, 'accounts');
  const ids = [...all.keys()];

  // Only the traits some audience reads: a profile may hold dozens.
  const names = [...new Set(catalog.audiences.flatMap((a) => [...a.own.traits, ...(a.account?.traits ?? [])]))];
  const traits = new Map<string, Map<string, unknown>>();
  for (const part of names.length ? chunks(ids) : []) {
    const rows = await sql<{ profile_id: string; name: string; value: string }>`select profile_id, name, value from ${sql.table(r.traits)}
      where profile_id in (${sql.join(part)}) and name in (${sql.join(names)})`.execute(db);
    for (const row of rows.rows) (traits.get(row.profile_id) ?? traits.set(row.profile_id, new Map()).get(row.profile_id)!).set(row.name, JSON.parse(row.value));
  }
  const keyOf = new Map(catalog.traits.map((x) => [x.spec.id.slice(3), x.row.key]));
  const computed = new Map<string, Map<string, unknown>>();
  for (const v of await store.values(t, [...keyOf.keys()], ids)) {
    (computed.get(v.profile_id) ?? computed.set(v.profile_id, new Map()).get(v.profile_id)!).set(keyOf.get(v.trait_id)!, JSON.parse(v.value));
  }
  const memberships = await store.memberships(t, ids);
  const leafIds = [...catalog.aggregates.keys()].filter((id) => id.startsWith('ev:'));
  const loaded = await store.states(t, leafIds, ids);
  const stateOf = (aggregateId: string, profileId: string): AggregateState | undefined => {
    const key = `${aggregateId}|${profileId}`;
    const s = states?.get(key);
    if (s) return s;
    const raw = loaded.get(key);
    return raw ? (JSON.parse(raw) as AggregateState) : undefined;
  };
  const audienceKeys = new Map(catalog.audiences.map((a) => [a.row.id, a.row.key]));
  const leafId = memoLeafIds(catalog.workspaceId);

  const contexts = new Map<string, ProfileContext>();
  const build = (id: string, collection: Collection): ProfileContext => {
    const existing = contexts.get(id);
    if (existing) return existing;
    const ctx: ProfileContext = {
      traits: traits.get(id) ?? new Map(),
      computed: computed.get(id) ?? new Map(),
      audiences: new Set([...(memberships.get(id) ?? [])].map((a) => audienceKeys.get(a)).filter((k): k is string => k !== undefined)),
      accounts: [],
      count(filter: EventFilter, within: Window | undefined) {
        const aggregateId = leafId(collection, filter, within);
        const spec = catalog.aggregates.get(aggregateId);
        const state = stateOf(aggregateId, id);
        if (!spec || !state) return 0;
        return (valueOf(spec, state, windowStart(within, now), now) as number | undefined) ?? 0;
      },
    };
    contexts.set(id, ctx);
    if (collection === 'users') ctx.accounts = (accountsOf.get(id) ?? []).map((a) => build(a, 'accounts'));
    return ctx;
  };
  for (const [id, collection] of profiles) build(id, collection);
  return contexts;
}

/** leafAggregateId hashes; the evaluator asks the same filter objects again and again. */
function memoLeafIds(workspaceId: string) {
  const memo = new Map<string, WeakMap<EventFilter, Map<string, string>>>();
  return (collection: Collection, filter: EventFilter, within: Window | undefined): string => {
    const byFilter = memo.get(collection) ?? memo.set(collection, new WeakMap()).get(collection)!;
    const byWindow = byFilter.get(filter) ?? byFilter.set(filter, new Map()).get(filter)!;
    const w = within ? `${within.last}${within.unit}` : '';
    let id = byWindow.get(w);
    if (!id) byWindow.set(w, (id = leafAggregateId(workspaceId, collection, filter, within)));
    return id;
  };
}
