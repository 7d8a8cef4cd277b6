import type { Kysely } from 'kysely';

// A merge re-points the loser's tombstones at the winner (`where merged_into = loser`); without an index
// that was a scan of every profile per merge. Partial: only tombstones carry merged_into.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('profiles_merged_into').on('profiles').column('merged_into').where('merged_into', 'is not', null).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('profiles_merged_into').execute();
}
