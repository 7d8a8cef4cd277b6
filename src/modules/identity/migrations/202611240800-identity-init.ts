import type { Kysely } from 'kysely';
import { isPostgres } from '../../../platform/db/migrate.js';

export async function up(db: Kysely<any>): Promise<void> {
  const pg = isPostgres(db);
  await db.schema
    .createTable('profiles')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('collection', 'text', (c) => c.notNull())
    .addColumn('created_offset', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('merges', 'integer', (c) => c.notNull().defaultTo(0))
    // A merged profile stays as a tombstone so links to its id keep resolving.
    .addColumn('merged_into', 'text')
    .execute();
  await db.schema.createIndex('profiles_workspace').on('profiles').columns(['workspace_id', 'collection', 'created_at']).execute();

  // key = "<collection>|<type>:<value>": one indexed column to look identifiers up in bulk on both engines.
  await db.schema
    .createTable('identifiers')
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('collection', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('profile_id', 'text', (c) => c.notNull())
    .addColumn('first_seen', 'bigint', (c) => c.notNull())
    .addColumn('first_offset', 'bigint', (c) => c.notNull())
    .addColumn('first_message_id', 'text', (c) => c.notNull())
    .addColumn('source_id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('identifiers_pk', ['workspace_id', 'key'])
    .execute();
  await db.schema.createIndex('identifiers_profile').on('identifiers').column('profile_id').execute();
  await db.schema.createIndex('identifiers_value').on('identifiers').columns(['workspace_id', 'value']).execute();

  await db.schema
    .createTable('merge_log')
    .addColumn('id', pg ? 'bigint' : 'integer', (c) => (pg ? c.primaryKey().generatedAlwaysAsIdentity() : c.primaryKey().autoIncrement()))
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('profile_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('other_profile_id', 'text')
    .addColumn('identifiers', 'text', (c) => c.notNull())
    .addColumn('rule', 'text', (c) => c.notNull())
    .addColumn('message', 'text')
    .addColumn('event_offset', 'bigint')
    .addColumn('message_id', 'text')
    .addColumn('at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('merge_log_profile').on('merge_log').columns(['profile_id', 'id']).execute();
  await db.schema.createIndex('merge_log_other').on('merge_log').columns(['other_profile_id']).execute();

  await db.schema
    .createTable('identity_rules')
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('priority', 'integer', (c) => c.notNull())
    .addColumn('limit_count', 'integer', (c) => c.notNull())
    .addColumn('window_ms', 'bigint')
    .addColumn('blocked', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('identity_rules_pk', ['workspace_id', 'type'])
    .execute();

  // A user belongs to accounts (group calls).
  await db.schema
    .createTable('profile_links')
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('user_profile_id', 'text', (c) => c.notNull())
    .addColumn('account_profile_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('profile_links_pk', ['user_profile_id', 'account_profile_id'])
    .execute();
  await db.schema.createIndex('profile_links_account').on('profile_links').column('account_profile_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['profile_links', 'identity_rules', 'merge_log', 'identifiers', 'profiles']) await db.schema.dropTable(t).execute();
}
