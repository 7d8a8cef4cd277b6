import { sql, type Kysely } from 'kysely';
import { addEvent, expiresAt, mergeStates, prune, valueOf, type AggregateSpec, type AggregateState } from './aggregate.js';
import { eventKey, type AudienceEntry, type Catalog, type Dependencies, type TraitEntry } from './catalog.js';
import type { Relations } from './compile.js';
import { loadContexts, type AudiencesDeps } from './context.js';
import type { Collection } from './definition.js';
import { evaluate } from './evaluate.js';
import { testValue } from './match.js';
import { audiencesStore as store, chunks, type AudiencesTables, type ComputedValueWrite } from './store.js';
import { applyTransitions, type Transition } from './transitions.js';
import { windowStart } from './window.js';

export interface BatchEvent {
  offset: number;
  workspaceId: string;
  type: string;
  event: string | null;
  timestamp: number;
  message: Record<string, unknown>;
  /** The profiles the event was attributed to, final after the batch's merges. */
  profileId: string | null;
  accountProfileId: string | null;
  /** Trait names the event set on the user and on the account. */
  userTraits: string[];
  accountTraits: string[];
}

/** What changed on one profile in a batch. */
interface Touch {
  collection: Collection;
  all: boolean;
  aggregates: Set<string>;
  traits: Set<string>;
  computed: Set<string>;
  audiences: Set<string>;
}

const newTouch = (collection: Collection): Touch => ({ collection, all: false, aggregates: new Set(), traits: new Set(), computed: new Set(), audiences: new Set() });
const meets = (d: Dependencies | undefined, t: Touch) =>
  d !== undefined && (t.all || [...d.aggregates].some((x) => t.aggregates.has(x)) || [...d.traits].some((x) => t.traits.has(x)) || [...d.computed].some((x) => t.computed.has(x)) || [...d.audiences].some((x) => t.audiences.has(x)));

/** The stored form of a state, with when time alone next changes its value. */
export const stateRow = (spec: AggregateSpec, profileId: string, state: AggregateState, now: number): AudiencesTables['aggregate_states'] => ({
  aggregate_id: spec.id, profile_id: profileId, workspace_id: spec.workspaceId, state: JSON.stringify(state), expires_at: expiresAt(spec, state, now),
});

/** A computed trait's value on one profile now: its aggregate over its window, plus a score's trait points. */
export function traitValue(entry: TraitEntry, state: AggregateState | undefined, traits: Map<string, unknown> | undefined, now: number): unknown {
  const events = state ? valueOf(entry.spec, state, windowStart(entry.window, now), now, entry.decayMs) : undefined;
  if (entry.spec.kind !== 'points') return events;
  let points = (events as number | undefined) ?? 0;
  let matched = events !== undefined;
  for (const rule of entry.traitRules) {
    if (testValue(rule.test, traits?.get(rule.test.trait))) {
      points += rule.points;
      matched = true;
    }
  }
  return matched ? Math.round(points * 100) / 100 : undefined;
}

/**
 * Applies one micro-batch to computed traits and audiences, on the batch's transaction, after identity and
 * profiles: merges fold counters together, events feed the counters they match, computed values are
 * refreshed where their inputs moved, and every audience whose inputs moved is re-decided for exactly the
 * profiles concerned. Membership changes are recorded and announced on the log.
 */
export async function applyBatch(
  db: Kysely<any>, deps: AudiencesDeps, catalog: Catalog, events: BatchEvent[], merges: { winner: string; loser: string }[], created: Set<string>, now: number,
): Promise<void> {
  const t = db as Kysely<AudiencesTables>;
  const touched = new Map<string, Touch>();
  const touch = (id: string, collection: Collection) => touched.get(id) ?? touched.set(id, newTouch(collection)).get(id)!;
  const transitions: Transition[] = [];

  const mergedAway = await foldMerges(t, deps.relations, catalog, merges, transitions, touch, now);

  // Counters: load every state the batch's events reach, fold the events in log order, write back.
  const states = new Map<string, AggregateState>();
  const work: [AggregateSpec, string, BatchEvent][] = [];
  for (const e of events) {
    for (const [profileId, collection, names] of [[e.profileId, 'users', e.userTraits], [e.accountProfileId, 'accounts', e.accountTraits]] as const) {
      if (!profileId) continue;
      const tc = touch(profileId, collection);
      // A new profile has never been decided: conditions that hold without any event (`not`, `at_most`) may hold.
      if (created.has(profileId)) tc.all = true;
      names.forEach((n) => tc.traits.add(n));
      for (const spec of [...(catalog.byEvent.get(eventKey(e.type, e.event)) ?? []), ...(e.event ? catalog.byEvent.get(eventKey(e.type, '')) ?? [] : [])]) {
        if (spec.collection === collection) work.push([spec, profileId, e]);
      }
    }
  }
  if (work.length) {
    const loaded = await store.states(t, [...new Set(work.map((w) => w[0].id))], [...new Set(work.map((w) => w[1]))]);
    for (const [k, v] of loaded) states.set(k, JSON.parse(v) as AggregateState);
    const dirty = new Map<string, [AggregateSpec, string]>();
    for (const [spec, profileId, e] of work) {
      const key = `${spec.id}|${profileId}`;
      const state = states.get(key) ?? states.set(key, {}).get(key)!;
      if (addEvent(spec, state, e)) {
        touched.get(profileId)!.aggregates.add(spec.id);
        dirty.set(key, [spec, profileId]);
      }
    }
    const rows: AudiencesTables['aggregate_states'][] = [];
    for (const [key, [spec, profileId]] of dirty) {
      const state = states.get(key)!;
      if (prune(spec, state, now)) rows.push(stateRow(spec, profileId, state, now));
      else await store.deleteStates(t, spec.id, [profileId]);
    }
    await store.writeStates(t, rows);
  }

  await refreshComputedValues(t, deps, catalog, touched, states, now);
  const members = await decideAudiences(t, deps, catalog, touched, states, transitions, now);
  for (const x of transitions) {
    if (x.reason !== 'merged') continue;
    const gone = x.exited.map((loser) => [loser, mergedAway.get(loser)!] as const).filter(([, survivor]) => survivor && !members(survivor)?.has(x.audience.row.key));
    if (gone.length) x.announceMerged = new Map(gone);
  }
  await applyTransitions(db, deps, transitions, now);
}

/**
 * Re-derives everything about some profiles after their events changed hands (a split): their counters are
 * rebuilt from their timelines by the caller, then values and memberships are re-decided in full.
 */
export async function redecideProfiles(db: Kysely<any>, deps: AudiencesDeps, catalog: Catalog, profiles: Map<string, Collection>, now: number): Promise<void> {
  const t = db as Kysely<AudiencesTables>;
  const touched = new Map<string, Touch>([...profiles].map(([id, c]) => [id, { ...newTouch(c), all: true }]));
  const states = new Map<string, AggregateState>();
  const transitions: Transition[] = [];
  await refreshComputedValues(t, deps, catalog, touched, states, now);
  await decideAudiences(t, deps, catalog, touched, states, transitions, now);
  await applyTransitions(db, deps, transitions, now);
}

/**
 * The batch's merges, in the order they happened: each loser's counters fold into its winner's (in memory,
 * so a chain A -> B -> C ends on C), its computed values go, it leaves its audiences (reason `merged`),
 * and the survivors are marked for a full re-decision.
 */
async function foldMerges(
  t: Kysely<AudiencesTables>, relations: Relations, catalog: Catalog, merges: { winner: string; loser: string }[], transitions: Transition[], touch: (id: string, c: Collection) => Touch, now: number,
): Promise<Map<string, string>> {
  // Each loser's final survivor (a chain A -> B -> C in one batch ends on C).
  const survivorOf = new Map<string, string>();
  for (const m of merges) {
    survivorOf.set(m.loser, m.winner);
    for (const [loser, survivor] of survivorOf) if (survivor === m.loser) survivorOf.set(loser, m.winner);
  }
  if (merges.length === 0) return survivorOf;
  const ids = [...new Set(merges.flatMap((m) => [m.winner, m.loser]))];
  const byProfile = new Map<string, Map<string, string>>();
  for (const part of chunks(ids)) {
    const rows = await t.selectFrom('aggregate_states').select(['aggregate_id', 'profile_id', 'state']).where('profile_id', 'in', part).execute();
    for (const r of rows) (byProfile.get(r.profile_id) ?? byProfile.set(r.profile_id, new Map()).get(r.profile_id)!).set(r.aggregate_id, r.state);
  }
  const losers = new Set<string>();
  const changed = new Set<string>();
  for (const m of merges) {
    losers.add(m.loser);
    const theirs = byProfile.get(m.loser);
    byProfile.delete(m.loser);
    if (!theirs?.size) continue;
    const mine = byProfile.get(m.winner) ?? byProfile.set(m.winner, new Map()).get(m.winner)!;
    for (const [aggregateId, state] of theirs) {
      const spec = catalog.aggregates.get(aggregateId);
      const prior = mine.get(aggregateId);
      mine.set(aggregateId, prior === undefined ? state : spec ? JSON.stringify(mergeStates(spec, JSON.parse(prior), JSON.parse(state))) : prior);
    }
    changed.add(m.winner);
  }
  const loserIds = [...losers];
  for (const part of chunks(loserIds)) {
    await t.deleteFrom('aggregate_states').where('profile_id', 'in', part).execute();
    await t.deleteFrom('computed_values').where('profile_id', 'in', part).execute();
  }
  const rows: AudiencesTables['aggregate_states'][] = [];
  for (const id of changed) {
    if (losers.has(id)) continue;
    for (const [aggregateId, state] of byProfile.get(id) ?? []) {
      const spec = catalog.aggregates.get(aggregateId);
      rows.push(spec ? stateRow(spec, id, JSON.parse(state), now) : { aggregate_id: aggregateId, profile_id: id, workspace_id: catalog.workspaceId, state, expires_at: null });
    }
  }
  await store.writeStates(t, rows);
  const memberships = await store.memberships(t, loserIds);
  const byAudience = new Map<string, string[]>();
  for (const [profileId, audiences] of memberships) for (const a of audiences) (byAudience.get(a) ?? byAudience.set(a, []).get(a)!).push(profileId);
  for (const [audienceId, exited] of byAudience) {
    const audience = catalog.audiences.find((a) => a.row.id === audienceId);
    if (audience) transitions.push({ audience, entered: [], exited, reason: 'merged' });
    else await store.exit(t, audienceId, exited, now, 'merged');
  }
  const survivors = [...new Set(merges.map((m) => m.winner))].filter((id) => !losers.has(id));
  for (const part of chunks(survivors)) {
    const found = await sql<{ id: string; collection: Collection }>`select id, collection from ${sql.table(relations.profiles)} where id in (${sql.join(part)})`.execute(t);
    for (const r of found.rows) touch(r.id, r.collection).all = true;
  }
  return survivorOf;
}

async function refreshComputedValues(t: Kysely<AudiencesTables>, deps: AudiencesDeps, catalog: Catalog, touched: Map<string, Touch>, states: Map<string, AggregateState>, now: number) {
  const ready = catalog.traits.filter((x) => x.row.status === 'ready');
  if (ready.length === 0) return;
  const due: [TraitEntry, string][] = [];
  for (const [profileId, tc] of touched) {
    for (const entry of ready) {
      if (entry.spec.collection !== tc.collection) continue;
      if (tc.all || tc.aggregates.has(entry.spec.id) || entry.traitRules.some((r) => tc.traits.has(r.test.trait))) due.push([entry, profileId]);
    }
  }
  if (due.length === 0) return;
  const profileIds = [...new Set(due.map((d) => d[1]))];
  const missing = await store.states(t, [...new Set(due.map((d) => d[0].spec.id))], profileIds.filter((p) => due.some(([e, id]) => id === p && !states.has(`${e.spec.id}|${p}`))));
  for (const [k, v] of missing) if (!states.has(k)) states.set(k, JSON.parse(v));
  const withRules = due.filter(([e]) => e.traitRules.length).map((d) => d[1]);
  const traits = new Map<string, Map<string, unknown>>();
  for (const part of chunks([...new Set(withRules)])) {
    const rows = await sql<{ profile_id: string; name: string; value: string }>`select profile_id, name, value from ${sql.table(deps.relations.traits)} where profile_id in (${sql.join(part)})`.execute(t);
    for (const r of rows.rows) (traits.get(r.profile_id) ?? traits.set(r.profile_id, new Map()).get(r.profile_id)!).set(r.name, JSON.parse(r.value));
  }
  const current = new Map((await store.values(t, [...new Set(due.map((d) => d[0].spec.id.slice(3)))], profileIds)).map((v) => [`${v.trait_id}|${v.profile_id}`, v.value]));
  const writes: ComputedValueWrite[] = [];
  for (const [entry, profileId] of due) {
    const traitId = entry.spec.id.slice(3);
    const value = traitValue(entry, states.get(`${entry.spec.id}|${profileId}`), traits.get(profileId), now);
    const json = value === undefined ? undefined : JSON.stringify(value);
    if (json === current.get(`${traitId}|${profileId}`)) continue;
    touched.get(profileId)!.computed.add(entry.row.key);
    if (json === undefined) await store.deleteValues(t, traitId, [profileId]);
    else writes.push({ trait_id: traitId, profile_id: profileId, workspace_id: catalog.workspaceId, value: json, updated_at: now });
  }
  await store.writeValues(t, writes);
}

/** Re-decides the audiences concerned; returns each concerned profile's audience keys afterwards. */
async function decideAudiences(
  t: Kysely<AudiencesTables>, deps: AudiencesDeps, catalog: Catalog, touched: Map<string, Touch>, states: Map<string, AggregateState>, transitions: Transition[], now: number,
): Promise<(profileId: string) => Set<string> | undefined> {
  const none = () => undefined;
  const ready = catalog.audiences.filter((a) => a.row.status === 'ready');
  if (ready.length === 0 || touched.size === 0) return none;
  // Users whose accounts changed are candidates for audiences with account conditions.
  const viaAccount = new Map<string, Touch[]>();
  const accounts = [...touched].filter(([, tc]) => tc.collection === 'accounts').map(([id]) => id);
  if (accounts.length && ready.some((a) => a.account)) {
    for (const part of chunks(accounts)) {
      const rows = await sql<{ user_profile_id: string; account_profile_id: string }>`select user_profile_id, account_profile_id from ${sql.table(deps.relations.links)} where account_profile_id in (${sql.join(part)})`.execute(t);
      for (const r of rows.rows) (viaAccount.get(r.user_profile_id) ?? viaAccount.set(r.user_profile_id, []).get(r.user_profile_id)!).push(touched.get(r.account_profile_id)!);
    }
  }
  const candidates = new Map<string, Collection>([...touched].map(([id, tc]) => [id, tc.collection]));
  for (const id of viaAccount.keys()) candidates.set(id, 'users');
  const affected = (a: AudienceEntry, id: string) => {
    const tc = touched.get(id);
    if (tc && (meets(a.own, tc) || (a.account && tc.collection === 'users'))) return true;
    return a.account !== undefined && (viaAccount.get(id) ?? []).some((acc) => meets(a.account, acc));
  };
  // Decided up front, before any membership moves: a user whose account may enter an audience this batch
  // stays concerned for audiences with account conditions.
  const concerned = new Map([...candidates].filter(([id, c]) => ready.some((a) => c === a.row.collection && (affected(a, id) || (a.account !== undefined && viaAccount.has(id))))));
  if (concerned.size === 0) return none;
  const contexts = await loadContexts(t, deps, catalog, concerned, now, states);
  for (const a of ready) {
    const entered: string[] = [];
    const exited: string[] = [];
    for (const [id, collection] of concerned) {
      if (collection !== a.row.collection || !affected(a, id)) continue;
      const ctx = contexts.get(id)!;
      const now_ = evaluate(a.definition.condition, ctx);
      if (now_ === ctx.audiences.has(a.row.key)) continue;
      if (now_) {
        ctx.audiences.add(a.row.key);
        entered.push(id);
      } else {
        ctx.audiences.delete(a.row.key);
        exited.push(id);
      }
      (touched.get(id) ?? touched.set(id, newTouch(collection)).get(id)!).audiences.add(a.row.key);
    }
    if (entered.length || exited.length) transitions.push({ audience: a, entered, exited, reason: 'condition' });
  }
  return (profileId) => contexts.get(profileId)?.audiences;
}
