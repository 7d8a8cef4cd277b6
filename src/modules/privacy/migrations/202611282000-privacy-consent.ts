import type { Kysely } from 'kysely';
import { isPostgres } from '../../../platform/db/migrate.js';

export async function up(db: Kysely<any>): Promise<void> {
  const pg = isPostgres(db);
  // The workspace's consent categories (Segment's consent spec names them: Analytics, Advertising, …).
  await db.schema
    .createTable('consent_categories')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('consent_categories_name', ['workspace_id', 'name'])
    .execute();

  // A profile's current consent per category: the newest statement wins (event time, or the API's time).
  await db.schema
    .createTable('profile_consent')
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('profile_id', 'text', (c) => c.notNull())
    .addColumn('category', 'text', (c) => c.notNull())
    .addColumn('granted', 'integer', (c) => c.notNull())
    .addColumn('stated_at', 'bigint', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('profile_consent_pk', ['profile_id', 'category'])
    .execute();

  // Every statement of consent that changed something, oldest first: when, from where, which event.
  await db.schema
    .createTable('consent_history')
    .addColumn('id', pg ? 'bigint' : 'integer', (c) => (pg ? c.primaryKey().generatedAlwaysAsIdentity() : c.primaryKey().autoIncrement()))
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('profile_id', 'text', (c) => c.notNull())
    .addColumn('category', 'text', (c) => c.notNull())
    .addColumn('granted', 'integer', (c) => c.notNull())
    .addColumn('stated_at', 'bigint', (c) => c.notNull())
    .addColumn('recorded_at', 'bigint', (c) => c.notNull())
    // event (context.consent of a call) or api (PUT /profiles/:id/consent).
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('actor_type', 'text')
    .addColumn('actor_id', 'text')
    .addColumn('event_offset', 'bigint')
    .addColumn('message_id', 'text')
    .execute();
  await db.schema.createIndex('consent_history_profile').on('consent_history').columns(['profile_id', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['consent_history', 'profile_consent', 'consent_categories']) await db.schema.dropTable(t).execute();
}
