import type { Kysely } from 'kysely';
import { isPostgres } from '../../../platform/db/migrate.js';

export async function up(db: Kysely<any>): Promise<void> {
  const pg = isPostgres(db);
  await db.schema
    .createTable('sources')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('write_key', 'text', (c) => c.notNull().unique())
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('rate_limit', 'integer')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('sources_workspace_name', ['workspace_id', 'name'])
    .execute();

  // The event log: append-only, `offset` only ever grows (see docs/architecture.md on commit order).
  await db.schema
    .createTable('events')
    .addColumn('offset', pg ? 'bigint' : 'integer', (c) =>
      pg ? c.primaryKey().generatedAlwaysAsIdentity() : c.primaryKey().autoIncrement(),
    )
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('source_id', 'text', (c) => c.notNull())
    .addColumn('message_id', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('event', 'text')
    .addColumn('user_id', 'text')
    .addColumn('anonymous_id', 'text')
    .addColumn('timestamp', 'bigint', (c) => c.notNull())
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .addColumn('payload', pg ? 'jsonb' : 'text', (c) => c.notNull())
    .execute();
  // Dedup by messageId per workspace, for as long as the event is in the log (>= 7 days by retention).
  await db.schema.createIndex('events_message').unique().on('events').columns(['workspace_id', 'message_id']).execute();
  await db.schema.createIndex('events_source').on('events').columns(['source_id', 'offset']).execute();

  await db.schema
    .createTable('rejected_events')
    .addColumn('id', pg ? 'bigint' : 'integer', (c) => (pg ? c.primaryKey().generatedAlwaysAsIdentity() : c.primaryKey().autoIncrement()))
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('source_id', 'text', (c) => c.notNull())
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('message_id', 'text')
    .addColumn('payload', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('rejected_events_source').on('rejected_events').columns(['source_id', 'id']).execute();

  // Where each log consumer has got to; committed in the same transaction as the consumer's effects.
  await db.schema
    .createTable('log_consumers')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('offset', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['log_consumers', 'rejected_events', 'events', 'sources']) await db.schema.dropTable(table).execute();
}
