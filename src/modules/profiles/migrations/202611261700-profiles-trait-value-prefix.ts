import { sql, type Kysely } from 'kysely';

/**
 * Trait lookups by value index the value's first 100 characters, not the whole value: on PostgreSQL a B-tree
 * entry may not pass 2,704 bytes, and a long trait (a bio, a token) made the pipeline's upsert fail for ever.
 * Queries compare the same prefix (traitValueIn) and then the whole value.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('profile_traits_search').execute();
  await sql`create index profile_traits_value on profile_traits (workspace_id, name, substr(value, 1, 100))`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('profile_traits_value').execute();
  await db.schema.createIndex('profile_traits_search').on('profile_traits').columns(['workspace_id', 'name', 'value']).execute();
}
