import { sql, type Kysely } from 'kysely';
import type { IdentityTables } from './store.js';

const CHUNK = 500;
const chunks = <T>(list: T[]) => Array.from({ length: Math.ceil(list.length / CHUNK) }, (_, i) => list.slice(i * CHUNK, (i + 1) * CHUNK));
const pattern = (v: string) => `%${v.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
const likeAny = (values: string[]) => values.flatMap((v) => ['identifiers', 'message'].map((column) => sql<boolean>`${sql.ref(column)} like ${pattern(v)} escape '\\'`));

/** Erasure of a person from the identity graph (privacy deletions). */
export const identityErasure = {
  /** A profile and every profile merged into it, transitively (their tombstones name the person too). */
  async family(rawDb: Kysely<any>, profileId: string): Promise<string[]> {
    const db = rawDb as Kysely<IdentityTables>;
    const seen = new Set<string>([profileId]);
    let frontier = [profileId];
    while (frontier.length > 0 && seen.size < 10_000) {
      const rows = await db.selectFrom('profiles').select('id').where('merged_into', 'in', frontier).execute();
      frontier = rows.map((r) => r.id).filter((id) => !seen.has(id));
      frontier.forEach((id) => seen.add(id));
    }
    return [...seen];
  },

  /**
   * Deletes the profiles, their identifiers, their account links and every merge-log row about them, and
   * the warnings of other profiles that name one of the values (an identifier dropped by a limit).
   */
  async erase(rawDb: Kysely<any>, workspaceId: string, profileIds: string[], values: string[]) {
    const db = rawDb as Kysely<IdentityTables>;
    let identifiers = 0;
    let profiles = 0;
    let mergeLog = 0;
    for (const part of chunks(profileIds)) {
      identifiers += Number((await db.deleteFrom('identifiers').where('workspace_id', '=', workspaceId).where('profile_id', 'in', part).executeTakeFirst()).numDeletedRows);
      mergeLog += Number((await db.deleteFrom('merge_log').where('workspace_id', '=', workspaceId)
        .where((eb) => eb.or([eb('profile_id', 'in', part), eb('other_profile_id', 'in', part)])).executeTakeFirst()).numDeletedRows);
      await db.deleteFrom('profile_links').where('workspace_id', '=', workspaceId).where('user_profile_id', 'in', part).execute();
      profiles += Number((await db.deleteFrom('profiles').where('workspace_id', '=', workspaceId).where('id', 'in', part).executeTakeFirst()).numDeletedRows);
    }
    for (const part of chunks(values.filter((v) => v.length > 0))) {
      mergeLog += Number((await db.deleteFrom('merge_log').where('workspace_id', '=', workspaceId).where('kind', '=', 'warning')
        .where((eb) => eb.or(likeAny(part))).executeTakeFirst()).numDeletedRows);
    }
    return { profiles, identifiers, mergeLog };
  },
};
