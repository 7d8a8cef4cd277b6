import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // Per workspace: raw events older than retention_days are deleted (null: kept for ever).
  await db.schema
    .createTable('privacy_settings')
    .addColumn('workspace_id', 'text', (c) => c.primaryKey())
    .addColumn('retention_days', 'integer')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('privacy_settings').execute();
}
