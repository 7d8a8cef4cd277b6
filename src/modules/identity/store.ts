import type BetterSqlite3 from 'better-sqlite3';
import { sql, type Generated, type Kysely, type Selectable } from 'kysely';
import { isPostgres } from '../../platform/db/migrate.js';
import type { Collection } from './identifiers.js';

export interface IdentityTables {
  profiles: {
    id: string;
    workspace_id: string;
    collection: string;
    created_offset: number;
    created_at: number;
    updated_at: number;
    merges: number;
    merged_into: string | null;
  };
  identifiers: {
    workspace_id: string;
    key: string;
    collection: string;
    type: string;
    value: string;
    profile_id: string;
    first_seen: number;
    first_offset: number;
    first_message_id: string;
    source_id: string;
  };
  merge_log: {
    id: Generated<number>;
    workspace_id: string;
    profile_id: string;
    kind: string;
    other_profile_id: string | null;
    identifiers: string;
    rule: string;
    message: string | null;
    event_offset: number | null;
    message_id: string | null;
    at: number;
  };
  identity_rules: { workspace_id: string; type: string; priority: number; limit_count: number; window_ms: number | null; blocked: string };
  profile_links: { workspace_id: string; user_profile_id: string; account_profile_id: string; created_at: number };
}

export type ProfileRow = IdentityTables['profiles'];
export type IdentifierRow = IdentityTables['identifiers'];
export type MergeLogRow = Selectable<IdentityTables['merge_log']>;

/** Large IN lists are cut to stay under both engines' bound-parameter limits. */
export function chunks<T>(items: T[], size = 500): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * A micro-batch's bulk reads and inserts as statements prepared once per SQLite connection: through Kysely
 * each IN list of 500 and each multi-row insert was compiled and prepared anew, costing more than SQLite's
 * own work. Same SQL semantics; a list travels as one JSON parameter.
 */
const prepared = new WeakMap<BetterSqlite3.Database, ReturnType<typeof prepare>>();
function prepare(sqlite: BetterSqlite3.Database) {
  return {
    identifiersByKey: sqlite.prepare(`select * from identifiers where workspace_id = ? and key in (select value from json_each(?))`),
    identifiersOfProfiles: sqlite.prepare(`select * from identifiers where profile_id in (select value from json_each(?))`),
    profilesById: sqlite.prepare(`select * from profiles where id in (select value from json_each(?))`),
    insertProfile: sqlite.prepare(
      `insert into profiles (id, workspace_id, collection, created_offset, created_at, updated_at, merges, merged_into) values (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertIdentifier: sqlite.prepare(
      `insert into identifiers (workspace_id, key, collection, type, value, profile_id, first_seen, first_offset, first_message_id, source_id) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertMergeLog: sqlite.prepare(
      `insert into merge_log (workspace_id, profile_id, kind, other_profile_id, identifiers, rule, message, event_offset, message_id, at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
  };
}
/**
 * PostgreSQL: a list as one array parameter. An IN list of 500 parameters is planned value by value, which
 * took ten times as long as the lookups themselves.
 */
const anyOf = (values: string[]) => sql<string>`any(${values}::text[])`;

/** The raw handle of the SQLite connection a batch's Kysely transaction runs on; absent on PostgreSQL. */
export type RawSqlite = BetterSqlite3.Database | undefined;
const statements = (sqlite: BetterSqlite3.Database) => {
  let s = prepared.get(sqlite);
  if (!s) prepared.set(sqlite, (s = prepare(sqlite)));
  return s;
};

export const identityStore = {
  async identifiersByKey(db: Kysely<IdentityTables>, workspaceId: string, keys: string[], sqlite?: RawSqlite) {
    if (sqlite) return statements(sqlite).identifiersByKey.all(workspaceId, JSON.stringify(keys)) as IdentifierRow[];
    if (isPostgres(db)) return db.selectFrom('identifiers').selectAll().where('workspace_id', '=', workspaceId).where('key', '=', anyOf(keys)).execute();
    const rows: IdentifierRow[] = [];
    for (const part of chunks(keys)) rows.push(...(await db.selectFrom('identifiers').selectAll().where('workspace_id', '=', workspaceId).where('key', 'in', part).execute()));
    return rows;
  },
  async identifiersOfProfiles(db: Kysely<IdentityTables>, profileIds: string[], sqlite?: RawSqlite) {
    if (sqlite) return statements(sqlite).identifiersOfProfiles.all(JSON.stringify(profileIds)) as IdentifierRow[];
    if (isPostgres(db)) return db.selectFrom('identifiers').selectAll().where('profile_id', '=', anyOf(profileIds)).execute();
    const rows: IdentifierRow[] = [];
    for (const part of chunks(profileIds)) rows.push(...(await db.selectFrom('identifiers').selectAll().where('profile_id', 'in', part).execute()));
    return rows;
  },
  async profilesById(db: Kysely<IdentityTables>, ids: string[], sqlite?: RawSqlite) {
    if (sqlite) return statements(sqlite).profilesById.all(JSON.stringify(ids)) as ProfileRow[];
    if (isPostgres(db)) return db.selectFrom('profiles').selectAll().where('id', '=', anyOf(ids)).execute();
    const rows: ProfileRow[] = [];
    for (const part of chunks(ids)) rows.push(...(await db.selectFrom('profiles').selectAll().where('id', 'in', part).execute()));
    return rows;
  },
  async insertProfiles(db: Kysely<IdentityTables>, rows: ProfileRow[], sqlite?: RawSqlite) {
    if (sqlite) {
      const { insertProfile } = statements(sqlite);
      for (const r of rows) insertProfile.run(r.id, r.workspace_id, r.collection, r.created_offset, r.created_at, r.updated_at, r.merges, r.merged_into);
      return;
    }
    for (const part of chunks(rows, 100)) await db.insertInto('profiles').values(part).execute();
  },
  async insertIdentifiers(db: Kysely<IdentityTables>, rows: IdentifierRow[], sqlite?: RawSqlite) {
    if (sqlite) {
      const { insertIdentifier } = statements(sqlite);
      for (const r of rows) insertIdentifier.run(r.workspace_id, r.key, r.collection, r.type, r.value, r.profile_id, r.first_seen, r.first_offset, r.first_message_id, r.source_id);
      return;
    }
    for (const part of chunks(rows, 100)) await db.insertInto('identifiers').values(part).execute();
  },
  async insertMergeLog(db: Kysely<IdentityTables>, rows: Omit<MergeLogRow, 'id'>[], sqlite?: RawSqlite) {
    if (sqlite) {
      const { insertMergeLog } = statements(sqlite);
      for (const r of rows) insertMergeLog.run(r.workspace_id, r.profile_id, r.kind, r.other_profile_id, r.identifiers, r.rule, r.message, r.event_offset, r.message_id, r.at);
      return;
    }
    for (const part of chunks(rows, 100)) await db.insertInto('merge_log').values(part).execute();
  },
  /** Folds `loser` into `winner`: its identifiers, its tombstone chain and its account links. */
  async merge(db: Kysely<IdentityTables>, winner: string, loser: string, collection: Collection, at: number) {
    await db.updateTable('identifiers').set({ profile_id: winner }).where('profile_id', '=', loser).execute();
    // Two statements, not one with OR: each then uses its index (the primary key, profiles_merged_into).
    await db.updateTable('profiles').set({ merged_into: winner, updated_at: at }).where('merged_into', '=', loser).execute();
    await db.updateTable('profiles').set({ merged_into: winner, updated_at: at }).where('id', '=', loser).execute();
    const mine = collection === 'users' ? 'user_profile_id' : 'account_profile_id';
    const links = await db.selectFrom('profile_links').selectAll().where(mine, '=', loser).execute();
    for (const link of links) {
      await db.insertInto('profile_links').values({ ...link, [mine]: winner }).onConflict((oc) => oc.columns(['user_profile_id', 'account_profile_id']).doNothing()).execute();
    }
    await db.deleteFrom('profile_links').where(mine, '=', loser).execute();
  },
  async setProfileCounters(db: Kysely<IdentityTables>, id: string, merges: number, at: number) {
    await db.updateTable('profiles').set({ merges, updated_at: at }).where('id', '=', id).execute();
  },
  async link(db: Kysely<IdentityTables>, rows: IdentityTables['profile_links'][]) {
    for (const part of chunks(rows, 100)) {
      await db.insertInto('profile_links').values(part).onConflict((oc) => oc.columns(['user_profile_id', 'account_profile_id']).doNothing()).execute();
    }
  },
  rules: (db: Kysely<IdentityTables>, workspaceId: string) => db.selectFrom('identity_rules').selectAll().where('workspace_id', '=', workspaceId).execute(),
};
