import type { Kysely } from 'kysely';
import { isPostgres } from '../../../platform/db/migrate.js';

export async function up(db: Kysely<any>): Promise<void> {
  const pg = isPostgres(db);
  for (const table of ['computed_traits', 'audiences']) {
    let t = db.schema
      .createTable(table)
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('workspace_id', 'text', (c) => c.notNull())
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('collection', 'text', (c) => c.notNull())
      .addColumn('definition', 'text', (c) => c.notNull())
      // pending: saved, its backfill and first computation not yet run by a worker; ready: kept current.
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('computed_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull());
    if (table === 'audiences') t = t.addColumn('description', 'text').addColumn('size', 'integer', (c) => c.notNull().defaultTo(0));
    await t.addUniqueConstraint(`${table}_key`, ['workspace_id', 'key']).execute();
  }

  // Incremental state of every aggregate (computed traits, scores, audiences' event conditions) per profile.
  await db.schema
    .createTable('aggregate_states')
    .addColumn('aggregate_id', 'text', (c) => c.notNull())
    .addColumn('profile_id', 'text', (c) => c.notNull())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    // When time alone next changes the value read from the state (a bucket leaves a window); null: never.
    .addColumn('expires_at', 'bigint')
    .addPrimaryKeyConstraint('aggregate_states_pk', ['aggregate_id', 'profile_id'])
    .execute();
  await db.schema.createIndex('aggregate_states_profile').on('aggregate_states').column('profile_id').execute();
  await db.schema.createIndex('aggregate_states_expiry').on('aggregate_states').columns(['aggregate_id', 'expires_at']).where('expires_at', 'is not', null).execute();

  await db.schema
    .createTable('computed_values')
    .addColumn('trait_id', 'text', (c) => c.notNull())
    .addColumn('profile_id', 'text', (c) => c.notNull())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('computed_values_pk', ['trait_id', 'profile_id'])
    .execute();
  await db.schema.createIndex('computed_values_profile').on('computed_values').column('profile_id').execute();

  await db.schema
    .createTable('audience_members')
    .addColumn('audience_id', 'text', (c) => c.notNull())
    .addColumn('profile_id', 'text', (c) => c.notNull())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('entered_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('audience_members_pk', ['audience_id', 'profile_id'])
    .execute();
  await db.schema.createIndex('audience_members_profile').on('audience_members').column('profile_id').execute();

  // One row per stint in an audience: open while exited_at is null.
  await db.schema
    .createTable('audience_history')
    .addColumn('id', pg ? 'bigint' : 'integer', (c) => (pg ? c.primaryKey().generatedAlwaysAsIdentity() : c.primaryKey().autoIncrement()))
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('audience_id', 'text', (c) => c.notNull())
    .addColumn('profile_id', 'text', (c) => c.notNull())
    .addColumn('entered_at', 'bigint', (c) => c.notNull())
    .addColumn('exited_at', 'bigint')
    .addColumn('exit_reason', 'text')
    .execute();
  await db.schema.createIndex('audience_history_audience').on('audience_history').columns(['audience_id', 'entered_at']).execute();
  await db.schema.createIndex('audience_history_profile').on('audience_history').columns(['profile_id', 'audience_id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['audience_history', 'audience_members', 'computed_values', 'aggregate_states', 'audiences', 'computed_traits']) await db.schema.dropTable(t).execute();
}
