import type { Kysely } from 'kysely';
import { isPostgres } from '../../../platform/db/migrate.js';

export async function up(db: Kysely<any>): Promise<void> {
  const pg = isPostgres(db);

  await db.schema
    .createTable('crm_pipelines')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('crm_pipelines_workspace').on('crm_pipelines').columns(['workspace_id', 'position']).execute();

  await db.schema
    .createTable('crm_stages')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('pipeline_id', 'text', (c) => c.notNull())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('position', 'integer', (c) => c.notNull())
    // Percent; a won stage is 100, a lost one 0.
    .addColumn('probability', 'integer', (c) => c.notNull())
    // open, won or lost
    .addColumn('outcome', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('crm_stages_pipeline').on('crm_stages').columns(['pipeline_id', 'position']).execute();

  await db.schema
    .createTable('crm_deals')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('pipeline_id', 'text', (c) => c.notNull())
    .addColumn('stage_id', 'text', (c) => c.notNull())
    // In minor units of the currency (cents), so sums are exact on both engines.
    .addColumn('amount_minor', 'bigint')
    // The same in major units, for sorting and reports across currencies (never summed for money).
    .addColumn('amount', pg ? 'double precision' : 'real')
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('close_date', 'text')
    .addColumn('owner_id', 'text')
    .addColumn('company_id', 'text')
    .addColumn('custom', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('closed_at', 'bigint')
    // Bumped by every change: the ETag, and the guard of optimistic concurrency.
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('crm_deals_stage').on('crm_deals').columns(['workspace_id', 'pipeline_id', 'stage_id']).execute();
  await db.schema.createIndex('crm_deals_created').on('crm_deals').columns(['workspace_id', 'created_at', 'id']).execute();
  await db.schema.createIndex('crm_deals_owner').on('crm_deals').columns(['workspace_id', 'owner_id']).execute();
  await db.schema.createIndex('crm_deals_company').on('crm_deals').column('company_id').execute();

  // A deal's contacts, in the order given (the first is the one its events are about).
  await db.schema
    .createTable('crm_deal_contacts')
    .addColumn('deal_id', 'text', (c) => c.notNull())
    .addColumn('profile_id', 'text', (c) => c.notNull())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('position', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('crm_deal_contacts_pk', ['deal_id', 'profile_id'])
    .execute();
  await db.schema.createIndex('crm_deal_contacts_profile').on('crm_deal_contacts').column('profile_id').execute();

  await db.schema
    .createTable('crm_deal_stage_history')
    .addColumn('id', pg ? 'bigint' : 'integer', (c) => (pg ? c.primaryKey().generatedAlwaysAsIdentity() : c.primaryKey().autoIncrement()))
    .addColumn('deal_id', 'text', (c) => c.notNull())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('from_stage_id', 'text')
    .addColumn('to_stage_id', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('crm_deal_stage_history_deal').on('crm_deal_stage_history').columns(['deal_id', 'id']).execute();

  // Custom field definitions per object; values live in each record's `custom` JSON.
  await db.schema
    .createTable('crm_fields')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('object', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('definition', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('crm_fields_key', ['workspace_id', 'object', 'key'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['crm_fields', 'crm_deal_stage_history', 'crm_deal_contacts', 'crm_deals', 'crm_stages', 'crm_pipelines']) await db.schema.dropTable(t).execute();
}
