import { sql, type Kysely, type RawBuilder } from 'kysely';
import { errors } from '../../platform/errors.js';

/**
 * Which owned contacts and deals a caller sees (the access module decides, from the workspace's record
 * visibility, the caller's role and teams): all, or those owned by one of `ownerIds`. Unowned records are
 * always visible. A record out of scope answers 404, as one of another workspace does.
 */
export type RecordScope = { all: true } | { all: false; ownerIds: readonly string[] };

export const ALL_RECORDS: RecordScope = { all: true };

/** A SQL condition: the owner in `column` is visible in `scope`. */
export function ownerVisible(column: string, scope: RecordScope): RawBuilder<boolean> {
  if (scope.all) return sql<boolean>`1 = 1`;
  const ref = sql.ref(column);
  return scope.ownerIds.length ? sql<boolean>`(${ref} is null or ${ref} in (${sql.join([...scope.ownerIds])}))` : sql<boolean>`${ref} is null`;
}

export function isVisible(ownerId: string | null | undefined, scope: RecordScope): boolean {
  return scope.all || ownerId === null || ownerId === undefined || scope.ownerIds.includes(ownerId);
}

export function assertVisible(ownerId: string | null | undefined, scope: RecordScope, what: string): void {
  if (!isVisible(ownerId, scope)) throw errors.notFound(what);
}

/** Search hits without the contacts and deals out of scope. */
export async function visibleHits<T extends { object: string; id: string }>(db: Kysely<any>, hits: T[], scope: RecordScope): Promise<T[]> {
  if (scope.all) return hits;
  const ids = (object: string) => hits.filter((h) => h.object === object).map((h) => h.id);
  const owners = new Map<string, string | null>();
  const contacts = ids('contact');
  const deals = ids('deal');
  if (contacts.length) {
    for (const r of await db.selectFrom('crm_contacts').select(['profile_id', 'owner_id']).where('profile_id', 'in', contacts).execute()) owners.set(`contact:${r.profile_id}`, r.owner_id);
  }
  if (deals.length) {
    for (const r of await db.selectFrom('crm_deals').select(['id', 'owner_id']).where('id', 'in', deals).execute()) owners.set(`deal:${r.id}`, r.owner_id);
  }
  return hits.filter((h) => (h.object !== 'contact' && h.object !== 'deal') || isVisible(owners.get(`${h.object}:${h.id}`), scope));
}
