import { sql, type Kysely } from 'kysely';
import { isPostgres } from '../../../platform/db/migrate.js';

export async function up(db: Kysely<any>): Promise<void> {
  const pg = isPostgres(db);
  const serial = (c: any) => (pg ? c.primaryKey().generatedAlwaysAsIdentity() : c.primaryKey().autoIncrement());
  const idType = pg ? 'bigint' : 'integer';

  await db.schema
    .createTable('destinations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull())
    // The whole definition (settings, filter, mapping, consent, rate limit, retry) as JSON; secrets included.
    .addColumn('config', 'text', (c) => c.notNull())
    // A failure streak: when the destination last started failing (null when healthy) and how many sends failed since.
    .addColumn('failing_since', 'bigint')
    .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('destinations_workspace').on('destinations').column('workspace_id').execute();

  // Undelivered messages only: a delivered row is deleted, a failed one moves to dead_letters. A row names its
  // event by log offset (the message is read at send time) or carries its own payload (audience resyncs).
  await db.schema
    .createTable('outbox')
    .addColumn('id', idType, serial)
    .addColumn('destination_id', 'text', (c) => c.notNull())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('event_offset', 'bigint')
    .addColumn('payload', 'text')
    // Order is kept per key (the profile): a key's rows are sent in id order, never past one waiting to retry.
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('profile_id', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
    .addColumn('enqueued_at', 'bigint', (c) => c.notNull())
    .addColumn('last_error', 'text')
    .execute();
  await db.schema.createIndex('outbox_destination').on('outbox').columns(['destination_id', 'id']).execute();
  // Only rows that have failed can wait for a retry: a partial index keeps a healthy destination's rows out
  // of it (nothing to maintain on insert and delete) and makes the check for waiting keys read almost nothing.
  await db.schema.createIndex('outbox_waiting').on('outbox').columns(['destination_id', 'key']).where(sql<boolean>`attempts > 0`).execute();

  await db.schema
    .createTable('dead_letters')
    .addColumn('id', idType, serial)
    .addColumn('destination_id', 'text', (c) => c.notNull())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('event_offset', 'bigint')
    .addColumn('payload', 'text')
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('profile_id', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('enqueued_at', 'bigint', (c) => c.notNull())
    .addColumn('failed_at', 'bigint', (c) => c.notNull())
    // rejected (the destination answered a permanent 4xx) or retries_exhausted.
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('status_code', 'integer')
    .addColumn('error', 'text')
    .addColumn('response', 'text')
    .execute();
  await db.schema.createIndex('dead_letters_destination').on('dead_letters').columns(['destination_id', 'id']).execute();

  // One row per request sent (a batch or a single event): the delivery log the web app shows.
  await db.schema
    .createTable('delivery_attempts')
    .addColumn('id', idType, serial)
    .addColumn('destination_id', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    // delivered, retry (will be retried), failed (dead-lettered)
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('status_code', 'integer')
    .addColumn('latency_ms', 'integer', (c) => c.notNull())
    .addColumn('events', 'integer', (c) => c.notNull())
    .addColumn('first_message_id', 'text')
    .addColumn('error', 'text')
    .addColumn('response', 'text')
    .execute();
  await db.schema.createIndex('delivery_attempts_destination').on('delivery_attempts').columns(['destination_id', 'id']).execute();

  // Which node delivers for a destination, until when: a node that dies hands its destinations over on expiry.
  await db.schema
    .createTable('destination_leases')
    .addColumn('destination_id', 'text', (c) => c.primaryKey())
    .addColumn('holder', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();

  // Replays of the event log into a destination's outbox, advanced in chunks by the delivery worker.
  await db.schema
    .createTable('destination_replays')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('destination_id', 'text', (c) => c.notNull())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('from_at', 'bigint', (c) => c.notNull())
    .addColumn('to_at', 'bigint', (c) => c.notNull())
    .addColumn('next_offset', 'bigint', (c) => c.notNull())
    .addColumn('end_offset', 'bigint', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('scanned', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('enqueued', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('finished_at', 'bigint')
    .execute();
  await db.schema.createIndex('destination_replays_status').on('destination_replays').columns(['status', 'created_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['destination_replays', 'destination_leases', 'delivery_attempts', 'dead_letters', 'outbox', 'destinations']) await db.schema.dropTable(t).execute();
}
