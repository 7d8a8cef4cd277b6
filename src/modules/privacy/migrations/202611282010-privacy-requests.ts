import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // Requests by identifier (suppress, unsuppress, delete, export), tracked to completion. The identifier's
  // value is kept only until the request is done; a finished deletion is the non-personal tombstone.
  await db.schema
    .createTable('privacy_requests')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('identifier_type', 'text', (c) => c.notNull())
    .addColumn('identifier_value', 'text')
    .addColumn('profile_id', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('actor_type', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('started_at', 'bigint')
    .addColumn('finished_at', 'bigint')
    .addColumn('error', 'text')
    // Counts of what was done (JSON): never a value.
    .addColumn('result', 'text')
    .execute();
  await db.schema.createIndex('privacy_requests_workspace').on('privacy_requests').columns(['workspace_id', 'created_at']).execute();
  await db.schema.createIndex('privacy_requests_status').on('privacy_requests').columns(['status', 'created_at']).execute();

  // Suppressed identifiers and profiles, by SHA-256 of (workspace, key): the pipeline drops their events
  // without the store holding the values themselves.
  await db.schema
    .createTable('suppressions')
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('key_hash', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('request_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('suppressions_pk', ['workspace_id', 'key_hash'])
    .execute();
  await db.schema.createIndex('suppressions_request').on('suppressions').column('request_id').execute();

  // An export's document until it expires (or the person is deleted).
  await db.schema
    .createTable('privacy_exports')
    .addColumn('request_id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('profile_id', 'text')
    .addColumn('document', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('privacy_exports_profile').on('privacy_exports').column('profile_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['privacy_exports', 'suppressions', 'privacy_requests']) await db.schema.dropTable(t).execute();
}
