import type BetterSqlite3 from 'better-sqlite3';
import type { ExpressionBuilder, Kysely } from 'kysely';
import type { TraitWrite } from './traits.js';

export interface ProfilesTables {
  profile_traits: {
    workspace_id: string;
    profile_id: string;
    name: string;
    value: string;
    updated_at: number;
    event_offset: number;
    source_id: string;
    message_id: string;
  };
  profile_events: {
    workspace_id: string;
    profile_id: string;
    event_offset: number;
    timestamp: number;
    type: string;
    event: string | null;
    identifiers: string;
  };
  profile_settings: { workspace_id: string; set_once_traits: string };
}

export type TraitRow = ProfilesTables['profile_traits'];
export type TimelineRow = ProfilesTables['profile_events'];

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const toRow = (w: TraitWrite): TraitRow => ({
  workspace_id: w.workspaceId, profile_id: w.profileId, name: w.name, value: JSON.stringify(w.value ?? null),
  updated_at: w.at, event_offset: w.offset, source_id: w.sourceId, message_id: w.messageId,
});

const TRAIT_COLUMNS = 'workspace_id, profile_id, name, value, updated_at, event_offset, source_id, message_id';
// The same comparison as the Kysely upsert below: a newer event (ties: the later offset) wins; set-once, an older one.
const NEWER = '(excluded.updated_at > profile_traits.updated_at or (excluded.updated_at = profile_traits.updated_at and excluded.event_offset >= profile_traits.event_offset))';
const OLDER = '(excluded.updated_at < profile_traits.updated_at or (excluded.updated_at = profile_traits.updated_at and excluded.event_offset < profile_traits.event_offset))';
const upsertTrait = (where: string) =>
  `insert into profile_traits (${TRAIT_COLUMNS}) values (?, ?, ?, ?, ?, ?, ?, ?) on conflict (profile_id, name) do update set
   value = excluded.value, updated_at = excluded.updated_at, event_offset = excluded.event_offset, source_id = excluded.source_id, message_id = excluded.message_id
   where ${where}`;

/**
 * The pipeline's hottest writes as statements prepared once per SQLite connection: through Kysely each
 * batch compiled and prepared them anew, which cost as much as SQLite's own work. Same SQL semantics.
 */
const prepared = new WeakMap<BetterSqlite3.Database, ReturnType<typeof prepare>>();
function prepare(sqlite: BetterSqlite3.Database) {
  return {
    timeline: sqlite.prepare(
      `insert into profile_events (workspace_id, profile_id, event_offset, timestamp, type, event, identifiers) values (?, ?, ?, ?, ?, ?, ?) on conflict (profile_id, event_offset) do nothing`,
    ),
    // Most identify calls repeat values the profile already holds. Updating only the provenance columns
    // then leaves the (workspace_id, name, value) index alone, which SQLite rewrites whenever `value` is set.
    touchNewer: sqlite.prepare(
      `update profile_traits set updated_at = ?, event_offset = ?, source_id = ?, message_id = ?
       where profile_id = ? and name = ? and value = ? and (? > updated_at or (? = updated_at and ? >= event_offset))`,
    ),
    touchOlder: sqlite.prepare(
      `update profile_traits set updated_at = ?, event_offset = ?, source_id = ?, message_id = ?
       where profile_id = ? and name = ? and value = ? and (? < updated_at or (? = updated_at and ? < event_offset))`,
    ),
    upsertNewer: sqlite.prepare(upsertTrait(NEWER)),
    upsertOlder: sqlite.prepare(upsertTrait(OLDER)),
  };
}
const statements = (sqlite: BetterSqlite3.Database) => {
  let s = prepared.get(sqlite);
  if (!s) prepared.set(sqlite, (s = prepare(sqlite)));
  return s;
};
// Rows in key order touch each index page once, one after the other.
const byProfileAndName = (a: TraitRow, b: TraitRow) => (a.profile_id < b.profile_id ? -1 : a.profile_id > b.profile_id ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export const profilesStore = {
  /**
   * Upserts trait values; a stored value is replaced only by a newer one (or, set-once, an older one).
   * `sqlite`: the raw handle of the connection `db` runs on, for the prepared fast path.
   */
  async writeTraits(db: Kysely<ProfilesTables>, rows: TraitRow[], setOnce: boolean, sqlite?: BetterSqlite3.Database) {
    if (sqlite) {
      const s = statements(sqlite);
      const [touch, upsert] = setOnce ? [s.touchOlder, s.upsertOlder] : [s.touchNewer, s.upsertNewer];
      for (const r of [...rows].sort(byProfileAndName)) {
        const touched = touch.run(r.updated_at, r.event_offset, r.source_id, r.message_id, r.profile_id, r.name, r.value, r.updated_at, r.updated_at, r.event_offset).changes;
        if (touched === 0) upsert.run(r.workspace_id, r.profile_id, r.name, r.value, r.updated_at, r.event_offset, r.source_id, r.message_id);
      }
      return;
    }
    for (const part of chunks(rows, 200)) {
      await db
        .insertInto('profile_traits')
        .values(part)
        .onConflict((oc) =>
          oc
            .columns(['profile_id', 'name'])
            .doUpdateSet((eb) => ({
              value: eb.ref('excluded.value'), updated_at: eb.ref('excluded.updated_at'), event_offset: eb.ref('excluded.event_offset'),
              source_id: eb.ref('excluded.source_id'), message_id: eb.ref('excluded.message_id'),
            }))
            .where((eb) =>
              setOnce
                ? eb.or([
                    eb('excluded.updated_at', '<', eb.ref('profile_traits.updated_at')),
                    eb.and([eb('excluded.updated_at', '=', eb.ref('profile_traits.updated_at')), eb('excluded.event_offset', '<', eb.ref('profile_traits.event_offset'))]),
                  ])
                : eb.or([
                    eb('excluded.updated_at', '>', eb.ref('profile_traits.updated_at')),
                    eb.and([eb('excluded.updated_at', '=', eb.ref('profile_traits.updated_at')), eb('excluded.event_offset', '>=', eb.ref('profile_traits.event_offset'))]),
                  ]),
            ),
        )
        .execute();
    }
  },
  traitsOf: (db: Kysely<ProfilesTables>, profileId: string) => db.selectFrom('profile_traits').selectAll().where('profile_id', '=', profileId).orderBy('name').execute(),
  async deleteTraits(db: Kysely<ProfilesTables>, profileId: string) {
    await db.deleteFrom('profile_traits').where('profile_id', '=', profileId).execute();
  },
  async insertTimeline(db: Kysely<ProfilesTables>, rows: TimelineRow[], sqlite?: BetterSqlite3.Database) {
    if (sqlite) {
      const { timeline } = statements(sqlite);
      const sorted = [...rows].sort((a, b) => (a.profile_id < b.profile_id ? -1 : a.profile_id > b.profile_id ? 1 : a.event_offset - b.event_offset));
      for (const r of sorted) timeline.run(r.workspace_id, r.profile_id, r.event_offset, r.timestamp, r.type, r.event, r.identifiers);
      return;
    }
    for (const part of chunks(rows, 200)) {
      await db.insertInto('profile_events').values(part).onConflict((oc) => oc.columns(['profile_id', 'event_offset']).doNothing()).execute();
    }
  },
  async moveTimeline(db: Kysely<ProfilesTables>, from: string, to: string, offsets?: number[]) {
    let q = db.updateTable('profile_events').set({ profile_id: to }).where('profile_id', '=', from);
    if (offsets) q = q.where('event_offset', 'in', offsets);
    await q.execute();
  },
  /** One page of a timeline, filtered in SQL: time range, names (an event's name, or its type when unnamed), order. */
  timelinePage(
    db: Kysely<ProfilesTables>,
    profileId: string,
    q: { from?: number; to?: number; include?: string[]; exclude?: string[]; sort: 'asc' | 'desc'; skip: number; limit: number },
  ) {
    let query = db.selectFrom('profile_events').selectAll().where('profile_id', '=', profileId);
    if (q.from !== undefined) query = query.where('timestamp', '>=', q.from);
    if (q.to !== undefined) query = query.where('timestamp', '<=', q.to);
    const named = (names: string[]) => (eb: ExpressionBuilder<ProfilesTables, 'profile_events'>) => eb.or([eb('event', 'in', names), eb.and([eb('event', 'is', null), eb('type', 'in', names)])]);
    if (q.include?.length) query = query.where(named(q.include));
    if (q.exclude?.length) query = query.where((eb) => eb.not(named(q.exclude!)(eb)));
    return query.orderBy('timestamp', q.sort).orderBy('event_offset', q.sort).offset(q.skip).limit(q.limit).execute();
  },
  /** Newest first, before (timestamp, offset): keyset pages for timelines. */
  timelineBefore(db: Kysely<ProfilesTables>, profileId: string, before: { at: number; offset: number } | undefined, limit: number) {
    let query = db.selectFrom('profile_events').selectAll().where('profile_id', '=', profileId);
    if (before) query = query.where((eb) => eb.or([eb('timestamp', '<', before.at), eb.and([eb('timestamp', '=', before.at), eb('event_offset', '<', before.offset)])]));
    return query.orderBy('timestamp', 'desc').orderBy('event_offset', 'desc').limit(limit).execute();
  },
  timeline: (db: Kysely<ProfilesTables>, profileId: string) => db.selectFrom('profile_events').selectAll().where('profile_id', '=', profileId).orderBy('event_offset').execute(),
  settings: (db: Kysely<ProfilesTables>, workspaceId: string) => db.selectFrom('profile_settings').selectAll().where('workspace_id', '=', workspaceId).executeTakeFirst(),
  async saveSettings(db: Kysely<ProfilesTables>, workspaceId: string, setOnce: string[]) {
    await db
      .insertInto('profile_settings')
      .values({ workspace_id: workspaceId, set_once_traits: JSON.stringify(setOnce) })
      .onConflict((oc) => oc.column('workspace_id').doUpdateSet({ set_once_traits: JSON.stringify(setOnce) }))
      .execute();
  },
};
