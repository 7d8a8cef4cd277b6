import type { Generated, Kysely } from 'kysely';

export interface ConsentCategoryRow {
  id: string;
  workspace_id: string;
  name: string;
  description: string | null;
  created_at: string;
  updated_at: string;
}

export interface ProfileConsentRow {
  workspace_id: string;
  profile_id: string;
  category: string;
  granted: number;
  stated_at: number;
  source: string;
}

export interface ConsentHistoryRow {
  id: number;
  workspace_id: string;
  profile_id: string;
  category: string;
  granted: number;
  stated_at: number;
  recorded_at: number;
  source: string;
  actor_type: string | null;
  actor_id: string | null;
  event_offset: number | null;
  message_id: string | null;
}

export interface ConsentTables {
  consent_categories: ConsentCategoryRow;
  profile_consent: ProfileConsentRow;
  consent_history: Omit<ConsentHistoryRow, 'id'> & { id: Generated<number> };
}

const CHUNK = 500;
const chunks = <T>(list: T[]) => Array.from({ length: Math.ceil(list.length / CHUNK) }, (_, i) => list.slice(i * CHUNK, (i + 1) * CHUNK));

export const consentStore = {
  categories: (db: Kysely<ConsentTables>, workspaceId: string) =>
    db.selectFrom('consent_categories').selectAll().where('workspace_id', '=', workspaceId).orderBy('name').execute(),
  category: (db: Kysely<ConsentTables>, workspaceId: string, id: string) =>
    db.selectFrom('consent_categories').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst(),
  categoryNamed: (db: Kysely<ConsentTables>, workspaceId: string, name: string) =>
    db.selectFrom('consent_categories').selectAll().where('workspace_id', '=', workspaceId).where('name', '=', name).executeTakeFirst(),
  insertCategory: (db: Kysely<ConsentTables>, row: ConsentCategoryRow) => db.insertInto('consent_categories').values(row).execute(),
  updateCategory: (db: Kysely<ConsentTables>, id: string, change: Partial<ConsentCategoryRow>) => db.updateTable('consent_categories').set(change).where('id', '=', id).execute(),
  async removeCategory(db: Kysely<ConsentTables>, row: ConsentCategoryRow) {
    await db.deleteFrom('profile_consent').where('workspace_id', '=', row.workspace_id).where('category', '=', row.name).execute();
    await db.deleteFrom('consent_categories').where('id', '=', row.id).execute();
  },

  async current(db: Kysely<ConsentTables>, profileIds: string[]): Promise<ProfileConsentRow[]> {
    const out: ProfileConsentRow[] = [];
    for (const part of chunks([...new Set(profileIds)])) out.push(...(await db.selectFrom('profile_consent').selectAll().where('profile_id', 'in', part).execute()));
    return out;
  },
  async upsert(db: Kysely<ConsentTables>, rows: ProfileConsentRow[]) {
    for (const part of chunks(rows)) {
      await db.insertInto('profile_consent').values(part)
        .onConflict((oc) => oc.columns(['profile_id', 'category']).doUpdateSet((eb) => ({
          granted: eb.ref('excluded.granted'), stated_at: eb.ref('excluded.stated_at'), source: eb.ref('excluded.source'), workspace_id: eb.ref('excluded.workspace_id'),
        })))
        .execute();
    }
  },
  async appendHistory(db: Kysely<ConsentTables>, rows: Omit<ConsentHistoryRow, 'id'>[]) {
    for (const part of chunks(rows)) await db.insertInto('consent_history').values(part).execute();
  },
  history: (db: Kysely<ConsentTables>, profileId: string, limit: number) =>
    db.selectFrom('consent_history').selectAll().where('profile_id', '=', profileId).orderBy('id', 'desc').limit(limit).execute(),
  async deleteProfiles(db: Kysely<ConsentTables>, profileIds: string[]) {
    let n = 0;
    for (const part of chunks(profileIds)) {
      n += Number((await db.deleteFrom('profile_consent').where('profile_id', 'in', part).executeTakeFirst()).numDeletedRows);
      n += Number((await db.deleteFrom('consent_history').where('profile_id', 'in', part).executeTakeFirst()).numDeletedRows);
    }
    return n;
  },
  repointHistory: (db: Kysely<ConsentTables>, from: string, to: string) => db.updateTable('consent_history').set({ profile_id: to }).where('profile_id', '=', from).execute(),
  deleteCurrent: (db: Kysely<ConsentTables>, profileId: string) => db.deleteFrom('profile_consent').where('profile_id', '=', profileId).execute(),
};
