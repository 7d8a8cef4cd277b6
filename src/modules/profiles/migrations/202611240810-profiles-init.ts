import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('profile_traits')
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('profile_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    // Event time of the value: a newer event wins whatever the order events arrive in.
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('event_offset', 'bigint', (c) => c.notNull())
    .addColumn('source_id', 'text', (c) => c.notNull())
    .addColumn('message_id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('profile_traits_pk', ['profile_id', 'name'])
    .execute();
  await db.schema.createIndex('profile_traits_search').on('profile_traits').columns(['workspace_id', 'name', 'value']).execute();

  // The timeline: which log events belong to which profile; re-pointed on merge and split.
  await db.schema
    .createTable('profile_events')
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('profile_id', 'text', (c) => c.notNull())
    .addColumn('event_offset', 'bigint', (c) => c.notNull())
    .addColumn('timestamp', 'bigint', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('event', 'text')
    .addColumn('identifiers', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('profile_events_pk', ['profile_id', 'event_offset'])
    .execute();
  await db.schema.createIndex('profile_events_time').on('profile_events').columns(['profile_id', 'timestamp']).execute();

  await db.schema
    .createTable('profile_settings')
    .addColumn('workspace_id', 'text', (c) => c.primaryKey())
    .addColumn('set_once_traits', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['profile_settings', 'profile_events', 'profile_traits']) await db.schema.dropTable(t).execute();
}
