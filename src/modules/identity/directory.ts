import type { Kysely } from 'kysely';
import { errors } from '../../platform/errors.js';
import { normalizeEmail, normalizePhone, type Collection, type Identifier } from './identifiers.js';
import type { IdentifierRow, IdentityTables, ProfileRow } from './store.js';

/** A lookup value normalised the way the pipeline stored it, so `email:Ada@X.com` finds `ada@x.com`. */
export function normalizeLookup(id: Identifier): Identifier {
  if (id.type === 'email') return { type: id.type, value: normalizeEmail(id.value) ?? id.value };
  if (id.type === 'phone') return { type: id.type, value: normalizePhone(id.value) ?? id.value };
  return id;
}

/** Parses Segment's `<type>:<value>` profile reference (the value may itself contain colons). */
export function parseExternalId(ref: string): Identifier {
  const at = ref.indexOf(':');
  if (at <= 0 || at === ref.length - 1) throw errors.invalidRequest(`"${ref}" is not an identifier; use <type>:<value>, e.g. user_id:123.`);
  return normalizeLookup({ type: ref.slice(0, at), value: ref.slice(at + 1) });
}

/** Read side of the identity graph: finding profiles and what they hold. */
export function createDirectory(rawDb: Kysely<any>) {
  const db = rawDb as Kysely<IdentityTables>;

  async function live(workspaceId: string, id: string): Promise<ProfileRow | undefined> {
    let row = await db.selectFrom('profiles').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
    // A merged profile's id keeps working: follow it to the survivor.
    for (let hops = 0; row?.merged_into && hops < 10; hops++) {
      row = await db.selectFrom('profiles').selectAll().where('id', '=', row.merged_into).executeTakeFirst();
    }
    return row;
  }

  const fetchLog = (ids: string[]) => db.selectFrom('merge_log').selectAll().where('profile_id', 'in', ids).orderBy('id').execute();

  return {
    live,
    async byIdentifier(workspaceId: string, collection: Collection, id: Identifier): Promise<ProfileRow | undefined> {
      const hit = await db.selectFrom('identifiers').select('profile_id').where('workspace_id', '=', workspaceId).where('key', '=', `${collection}|${id.type}:${id.value}`).executeTakeFirst();
      return hit ? live(workspaceId, hit.profile_id) : undefined;
    },
    /** Many lookups at once: `type:value` → the live profile holding it (absent when none). */
    async byIdentifiers(workspaceId: string, collection: Collection, ids: Identifier[]): Promise<Map<string, string>> {
      const keys = ids.map((id) => `${collection}|${id.type}:${id.value}`);
      const found = new Map<string, string>();
      for (let i = 0; i < keys.length; i += 500) {
        const rows = await db.selectFrom('identifiers').select(['key', 'profile_id']).where('workspace_id', '=', workspaceId).where('key', 'in', keys.slice(i, i + 500)).execute();
        for (const r of rows) found.set(r.key.slice(collection.length + 1), r.profile_id);
      }
      const live = await this.liveIds([...new Set(found.values())]);
      return new Map([...found].map(([k, p]) => [k, live.get(p) ?? p]));
    },
    identifiers: (profileId: string): Promise<IdentifierRow[]> =>
      db.selectFrom('identifiers').selectAll().where('profile_id', '=', profileId).orderBy('first_offset').orderBy('key').execute(),
    async links(profileId: string, collection: Collection): Promise<string[]> {
      const [mine, theirs] = collection === 'users' ? (['user_profile_id', 'account_profile_id'] as const) : (['account_profile_id', 'user_profile_id'] as const);
      const rows = await db.selectFrom('profile_links').select(theirs).where(mine, '=', profileId).execute();
      return rows.map((r) => (r as Record<string, string>)[theirs]);
    },
    mergeLog: (profileId: string, limit = 200) =>
      db.selectFrom('merge_log').selectAll().where((eb) => eb.or([eb('profile_id', '=', profileId), eb('other_profile_id', '=', profileId)])).orderBy('id', 'desc').limit(limit).execute(),
    /** The merge log of a profile and of every profile merged into it, transitively. */
    async mergeHistory(profileId: string) {
      const rows: Awaited<ReturnType<typeof fetchLog>> = [];
      const seen = new Set<string>();
      let frontier = [profileId];
      while (frontier.length > 0 && seen.size < 1000) {
        frontier.forEach((id) => seen.add(id));
        const batch = await fetchLog(frontier);
        rows.push(...batch.filter((r) => !rows.some((x) => x.id === r.id)));
        frontier = [...new Set(batch.filter((r) => r.kind === 'merged' && r.other_profile_id && !seen.has(r.other_profile_id)).map((r) => r.other_profile_id!))];
      }
      return rows;
    },
    /** Profiles of a workspace, newest first, keyset-paginated on (created_at, id). */
    async list(workspaceId: string, collection: Collection, limit: number, after?: { createdAt: number; id: string }) {
      let q = db.selectFrom('profiles').selectAll().where('workspace_id', '=', workspaceId).where('collection', '=', collection).where('merged_into', 'is', null);
      if (after) q = q.where((eb) => eb.or([eb('created_at', '<', after.createdAt), eb.and([eb('created_at', '=', after.createdAt), eb('id', '<', after.id)])]));
      return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    },
    /** Profiles holding an identifier whose value starts with `prefix` (any type), for search boxes. */
    async searchIdentifiers(workspaceId: string, collection: Collection, prefix: string, limit: number): Promise<string[]> {
      const rows = await db
        .selectFrom('identifiers')
        .select('profile_id')
        .distinct()
        .where('workspace_id', '=', workspaceId)
        .where('collection', '=', collection)
        .where('value', '>=', prefix)
        .where('value', '<', prefix + '\uffff')
        .limit(limit)
        .execute();
      return rows.map((r) => r.profile_id);
    },
    /** How destinations address each profile: its first user_id, anonymous_id, group_id and email. */
    async addresses(profileIds: string[]): Promise<Map<string, { userId?: string; anonymousId?: string; groupId?: string; email?: string }>> {
      const out = new Map<string, { userId?: string; anonymousId?: string; groupId?: string; email?: string }>();
      const field = { user_id: 'userId', anonymous_id: 'anonymousId', group_id: 'groupId', email: 'email' } as const;
      for (let i = 0; i < profileIds.length; i += 500) {
        const rows = await db.selectFrom('identifiers').select(['profile_id', 'type', 'value']).where('profile_id', 'in', profileIds.slice(i, i + 500))
          .where('type', 'in', Object.keys(field)).orderBy('first_offset').execute();
        for (const r of rows) {
          const a = out.get(r.profile_id) ?? out.set(r.profile_id, {}).get(r.profile_id)!;
          a[field[r.type as keyof typeof field]] ??= r.value;
        }
      }
      return out;
    },
    /** Where each id lives now: itself, or the profile it was merged into (transitively); absent when unknown. */
    async liveIds(ids: string[]): Promise<Map<string, string>> {
      const mergedInto = new Map<string, string | null>();
      let frontier = [...new Set(ids)];
      for (let hops = 0; frontier.length > 0 && hops < 10; hops++) {
        // In chunks: SQLite refuses a statement with more than 32,766 parameters.
        const rows: { id: string; merged_into: string | null }[] = [];
        for (let i = 0; i < frontier.length; i += 5_000) rows.push(...(await db.selectFrom('profiles').select(['id', 'merged_into']).where('id', 'in', frontier.slice(i, i + 5_000)).execute()));
        rows.forEach((r) => mergedInto.set(r.id, r.merged_into));
        frontier = [...new Set(rows.map((r) => r.merged_into).filter((m): m is string => m !== null && !mergedInto.has(m)))];
      }
      const out = new Map<string, string>();
      for (const id of ids) {
        let at: string | null | undefined = id;
        for (let hops = 0; at && mergedInto.get(at) && hops < 10; hops++) at = mergedInto.get(at);
        if (at && mergedInto.has(at)) out.set(id, at);
      }
      return out;
    },
  };
}

export type Directory = ReturnType<typeof createDirectory>;
