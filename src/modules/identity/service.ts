import { timeOrderedUuid } from '../../platform/ids.js';
import type { Kysely } from 'kysely';
import type { LoggedEvent } from '../collect/index.js';
import { GraphView, type ProfileNode } from './graph.js';
import { extractIdentifiers, keyOf, type Collection, type Identifier } from './identifiers.js';
import { resolveEvent, type Resolution, type ResolutionWarning } from './resolve.js';
import { RuleBook, type IdentifierRule } from './rules.js';
import { errors } from '../../platform/errors.js';
import { identityStore as store, type IdentifierRow, type IdentityTables, type MergeLogRow, type ProfileRow, type RawSqlite } from './store.js';

/** Where one event landed. */
export interface EventProfiles {
  profileId: string | null;
  accountProfileId: string | null;
  /** `type:value` of every identifier the event carried for the user (what a split re-attributes by). */
  identifiers: string[];
  warnings: ResolutionWarning[];
}

export interface ProfileMerge {
  workspaceId: string;
  collection: Collection;
  winner: string;
  loser: string;
}

export interface BatchResolution {
  /** By log offset; ids are final (a profile merged later in the same batch is already redirected). */
  events: Map<number, EventProfiles>;
  /** In the order they happened; effects owned by other modules (traits, timelines) follow them. */
  merges: ProfileMerge[];
  /** Profiles the batch created (some may be merged away within it). */
  created: string[];
}

const RULES_CACHE_MS = 10_000;

const list = (ids: Identifier[]) => ids.map((v) => `${v.type} "${v.value}"`).join(', ');

export function createIdentityService(deps: { now: () => number }) {
  const rulesCache = new Map<string, { book: RuleBook; at: number }>();

  async function ruleBook(db: Kysely<IdentityTables>, workspaceId: string): Promise<RuleBook> {
    const cached = rulesCache.get(workspaceId);
    if (cached && deps.now() - cached.at < RULES_CACHE_MS) return cached.book;
    const rows = await store.rules(db, workspaceId);
    const book = new RuleBook(
      rows.map((r): IdentifierRule => ({ type: r.type, priority: r.priority, limit: r.limit_count, windowMs: r.window_ms === null ? null : Number(r.window_ms), blocked: JSON.parse(r.blocked) as string[] })),
    );
    rulesCache.set(workspaceId, { book, at: deps.now() });
    return book;
  }

  /** Loads the part of the graph these keys touch: their owners, with every identifier those owners hold. */
  async function loadView(db: Kysely<IdentityTables>, workspaceId: string, keys: string[], sqlite: RawSqlite): Promise<GraphView> {
    const view = new GraphView();
    const hits = await store.identifiersByKey(db, workspaceId, keys, sqlite);
    const ownerIds = [...new Set(hits.map((h) => h.profile_id))];
    if (ownerIds.length === 0) return view;
    const [profiles, held] = await Promise.all([store.profilesById(db, ownerIds, sqlite), store.identifiersOfProfiles(db, ownerIds, sqlite)]);
    const nodes = new Map<string, ProfileNode>();
    for (const p of profiles) {
      nodes.set(p.id, { id: p.id, collection: p.collection as Collection, createdOffset: Number(p.created_offset), merges: p.merges, identifiers: new Map() });
    }
    for (const h of held) {
      nodes.get(h.profile_id)?.identifiers.set(`${h.type}:${h.value}`, { type: h.type, value: h.value, firstSeen: Number(h.first_seen), firstOffset: Number(h.first_offset) });
    }
    for (const node of nodes.values()) view.addProfile(node);
    return view;
  }

  async function resolveWorkspace(db: Kysely<IdentityTables>, workspaceId: string, events: LoggedEvent[], out: BatchResolution, sqlite: RawSqlite): Promise<void> {
    const rules = await ruleBook(db, workspaceId);
    const extracted = events.map((e) => extractIdentifiers(e.message));
    const keys = new Set<string>();
    extracted.forEach((x) => {
      for (const id of x.user) keys.add(GraphView.ownerKey('users', id));
      for (const id of x.account) keys.add(GraphView.ownerKey('accounts', id));
      if (x.previousId) {
        keys.add(GraphView.ownerKey('users', { type: 'user_id', value: x.previousId }));
        keys.add(GraphView.ownerKey('users', { type: 'anonymous_id', value: x.previousId }));
      }
    });
    const view = await loadView(db, workspaceId, [...keys], sqlite);

    const created: ProfileRow[] = [];
    const log: Omit<MergeLogRow, 'id'>[] = [];
    const merges: ProfileMerge[] = [];
    const links: IdentityTables['profile_links'][] = [];
    const newIdentifiers = new Map<string, { event: LoggedEvent; collection: Collection; id: Identifier }>();
    const touched = new Set<ProfileNode>();
    const redirect = new Map<string, string>();
    const results: [number, EventProfiles][] = [];

    const record = (event: LoggedEvent, collection: Collection, r: Resolution) => {
      if (!r.profileId) return;
      const node = view.profiles.get(r.profileId)!;
      touched.add(node);
      const base = { workspace_id: workspaceId, event_offset: event.offset, message_id: event.messageId, at: event.timestamp };
      if (r.created) {
        created.push({ id: node.id, workspace_id: workspaceId, collection, created_offset: event.offset, created_at: event.timestamp, updated_at: event.timestamp, merges: 0, merged_into: null });
        log.push({ ...base, profile_id: node.id, kind: 'created', other_profile_id: null, identifiers: JSON.stringify(r.attached), rule: 'no_match', message: null });
      }
      for (const id of r.attached) newIdentifiers.set(`${collection}|${keyOf(id)}`, { event, collection, id });
      for (const m of r.merged) {
        merges.push({ workspaceId, collection, winner: node.id, loser: m.profileId });
        redirect.set(m.profileId, node.id);
        log.push({
          ...base, profile_id: node.id, kind: 'merged', other_profile_id: m.profileId, identifiers: JSON.stringify(m.moved),
          rule: `linked:${[...new Set([...m.anchor, ...m.via].map((v) => v.type))].join('+')}`,
          message: `One event carried ${list(m.anchor)} (on this profile) and ${list(m.via)} (on profile ${m.profileId}).`,
        });
      }
      for (const w of r.warnings) {
        log.push({ ...base, profile_id: node.id, kind: 'warning', other_profile_id: null, identifiers: JSON.stringify(w.identifier ? [w.identifier] : []), rule: w.rule, message: w.message });
      }
    };

    events.forEach((event, i) => {
      const x = extracted[i];
      const userIds = [...x.user];
      if (x.previousId) {
        const asUser = view.ownerOf('users', { type: 'user_id', value: x.previousId });
        userIds.push({ type: asUser ? 'user_id' : 'anonymous_id', value: x.previousId });
      }
      const r = resolveEvent(view, rules, { collection: 'users', identifiers: userIds, at: event.timestamp, offset: event.offset }, timeOrderedUuid);
      record(event, 'users', r);
      let accountProfileId: string | null = null;
      const warnings = [...r.warnings];
      if (x.account.length > 0) {
        const ra = resolveEvent(view, rules, { collection: 'accounts', identifiers: x.account, at: event.timestamp, offset: event.offset }, timeOrderedUuid);
        record(event, 'accounts', ra);
        accountProfileId = ra.profileId;
        warnings.push(...ra.warnings);
        if (r.profileId && ra.profileId) links.push({ workspace_id: workspaceId, user_profile_id: r.profileId, account_profile_id: ra.profileId, created_at: event.timestamp });
      }
      results.push([event.offset, { profileId: r.profileId, accountProfileId, identifiers: userIds.map(keyOf), warnings }]);
    });

    const final = (id: string | null): string | null => {
      let current = id;
      while (current && redirect.has(current)) current = redirect.get(current)!;
      return current;
    };

    // Writes, in an order that keeps every constraint: profiles, then merges as they happened, then new identifiers at their final owner.
    await store.insertProfiles(db, created, sqlite);
    const last = events[events.length - 1].timestamp;
    for (const m of merges) await store.merge(db, m.winner, m.loser, m.collection, last);
    const rows: IdentifierRow[] = [];
    for (const [ownerKey, n] of newIdentifiers) {
      const owner = view.owners.get(ownerKey);
      if (!owner) continue;
      rows.push({
        workspace_id: workspaceId, key: ownerKey, collection: n.collection, type: n.id.type, value: n.id.value, profile_id: owner,
        first_seen: n.event.timestamp, first_offset: n.event.offset, first_message_id: n.event.messageId, source_id: n.event.sourceId,
      });
    }
    await store.insertIdentifiers(db, rows, sqlite);
    await store.insertMergeLog(db, log, sqlite);
    for (const node of touched) if (view.profiles.has(node.id) && node.merges > 0) await store.setProfileCounters(db, node.id, node.merges, last);
    const finalLinks = new Map<string, IdentityTables['profile_links']>();
    for (const l of links) {
      const link = { ...l, user_profile_id: final(l.user_profile_id)!, account_profile_id: final(l.account_profile_id)! };
      finalLinks.set(`${link.user_profile_id}|${link.account_profile_id}`, link);
    }
    await store.link(db, [...finalLinks.values()]);

    for (const [offset, r] of results) out.events.set(offset, { ...r, profileId: final(r.profileId), accountProfileId: final(r.accountProfileId) });
    out.merges.push(...merges);
    out.created.push(...created.map((p) => p.id));
  }

  return {
    /**
     * Resolves a micro-batch of log events (in offset order) and writes the graph's changes on `db` (the
     * batch's transaction). `sqlite`: the raw handle of that connection, when it is SQLite, for the store's prepared fast path.
     */
    async resolveBatch(db: Kysely<any>, events: LoggedEvent[], sqlite?: RawSqlite): Promise<BatchResolution> {
      const out: BatchResolution = { events: new Map(), merges: [], created: [] };
      const byWorkspace = new Map<string, LoggedEvent[]>();
      for (const e of events) {
        const list = byWorkspace.get(e.workspaceId) ?? [];
        list.push(e);
        byWorkspace.set(e.workspaceId, list);
      }
      for (const [workspaceId, list] of byWorkspace) await resolveWorkspace(db as Kysely<IdentityTables>, workspaceId, list, out, sqlite);
      return out;
    },
    /**
     * Moves one identifier off a profile onto a new profile and records the split in the merge log.
     * Runs on the caller's transaction; the caller re-attributes events and traits.
     */
    async splitIdentifier(rawDb: Kysely<any>, workspaceId: string, profileId: string, id: Identifier, actor: string, at: number, offset: number) {
      const db = rawDb as Kysely<IdentityTables>;
      const profile = await db.selectFrom('profiles').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', profileId).executeTakeFirst();
      if (!profile) throw errors.notFound('Profile');
      if (profile.merged_into) throw errors.conflict(`Profile ${profileId} was merged into ${profile.merged_into}; split that profile instead.`);
      const collection = profile.collection as Collection;
      const held = await store.identifiersOfProfiles(db, [profileId]);
      const key = `${collection}|${id.type}:${id.value}`;
      if (!held.some((h) => h.key === key)) throw errors.notFound(`Identifier ${id.type}:${id.value} on this profile`);
      if (held.length < 2) throw errors.conflict('A profile with a single identifier cannot be split.');
      const newProfileId = timeOrderedUuid();
      await store.insertProfiles(db, [{ id: newProfileId, workspace_id: workspaceId, collection, created_offset: offset, created_at: at, updated_at: at, merges: 0, merged_into: null }]);
      await db.updateTable('identifiers').set({ profile_id: newProfileId }).where('workspace_id', '=', workspaceId).where('key', '=', key).execute();
      const common = { workspace_id: workspaceId, identifiers: JSON.stringify([id]), event_offset: null, message_id: null, at };
      await store.insertMergeLog(db, [
        { ...common, profile_id: profileId, kind: 'split', other_profile_id: newProfileId, rule: 'manual:split', message: `${id.type} "${id.value}" split off to a new profile by ${actor}.` },
        { ...common, profile_id: newProfileId, kind: 'created', other_profile_id: profileId, rule: 'split', message: `Created by splitting ${id.type} "${id.value}" off profile ${profileId}.` },
      ]);
      return { newProfileId, collection };
    },
    /**
     * Merges `duplicate` into `primary` by hand (two records of one person): the duplicate's identifiers, links
     * and tombstone chain move to the primary, and the merge log records who asked. Refused, with the reason,
     * when the two are not live profiles of one collection or when the merged profile would break a limit
     * (two user ids, more emails than allowed, the merge cap): the same rules as automatic merges.
     * Runs on the caller's transaction; the caller moves traits, timelines and memberships.
     */
    async mergeProfiles(rawDb: Kysely<any>, workspaceId: string, primaryId: string, duplicateId: string, actor: string, at: number) {
      const db = rawDb as Kysely<IdentityTables>;
      if (primaryId === duplicateId) throw errors.conflict('A profile cannot be merged into itself.');
      const rows = await db.selectFrom('profiles').selectAll().where('workspace_id', '=', workspaceId).where('id', 'in', [primaryId, duplicateId]).execute();
      const primary = rows.find((p) => p.id === primaryId);
      const duplicate = rows.find((p) => p.id === duplicateId);
      if (!primary || !duplicate) throw errors.notFound('Profile');
      for (const p of [primary, duplicate]) if (p.merged_into) throw errors.conflict(`Profile ${p.id} was already merged into ${p.merged_into}.`);
      if (primary.collection !== duplicate.collection) throw errors.conflict('A person profile and an account profile cannot be merged.');
      const rules = await ruleBook(db, workspaceId);
      const held = await store.identifiersOfProfiles(db, [primaryId, duplicateId]);
      const byType = new Map<string, Set<string>>();
      for (const h of held) byType.set(h.type, (byType.get(h.type) ?? new Set()).add(h.value));
      for (const [type, values] of byType) {
        const rule = rules.rule(type);
        // Windowed limits (anonymous ids) count recent values only; a hand merge does not re-check those.
        if (rule.windowMs === null && values.size > rule.limit) {
          throw errors.conflict(`These profiles cannot be merged: together they hold ${values.size} ${type} values (${[...values].join(', ')}) and a profile may hold ${rule.limit}.`);
        }
      }
      const merges = Number(primary.merges) + Number(duplicate.merges) + 1;
      if (merges > rules.caps.mergesPerProfile) throw errors.conflict(`Profile ${primaryId} would pass the cap of ${rules.caps.mergesPerProfile} merges.`);
      if (held.length > rules.caps.identifiersPerProfile) throw errors.conflict(`The merged profile would pass the cap of ${rules.caps.identifiersPerProfile} identifiers.`);
      await store.merge(db, primaryId, duplicateId, primary.collection as Collection, at);
      await store.setProfileCounters(db, primaryId, merges, at);
      const moved = held.filter((h) => h.profile_id === duplicateId).map((h) => ({ type: h.type, value: h.value }));
      await store.insertMergeLog(db, [{
        workspace_id: workspaceId, profile_id: primaryId, kind: 'merged', other_profile_id: duplicateId, identifiers: JSON.stringify(moved), event_offset: null, message_id: null, at,
        rule: 'manual:merge', message: `Profile ${duplicateId} merged into this one by ${actor}.`,
      }]);
      return { winner: primaryId, loser: duplicateId, collection: primary.collection as Collection, workspaceId };
    },
    forgetRules: (workspaceId: string) => rulesCache.delete(workspaceId),
    ruleBook: (db: Kysely<any>, workspaceId: string) => ruleBook(db as Kysely<IdentityTables>, workspaceId),
  };
}

export type IdentityService = ReturnType<typeof createIdentityService>;
