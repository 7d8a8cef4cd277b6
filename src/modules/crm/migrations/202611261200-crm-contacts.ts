import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // What the CRM keeps about a contact beyond its profile's traits: owner, lifecycle stage, custom fields.
  await db.schema
    .createTable('crm_contacts')
    .addColumn('profile_id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('owner_id', 'text')
    .addColumn('lifecycle_stage', 'text')
    .addColumn('custom', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('crm_contacts_owner').on('crm_contacts').columns(['workspace_id', 'owner_id']).execute();
  await db.schema.createIndex('crm_contacts_stage').on('crm_contacts').columns(['workspace_id', 'lifecycle_stage']).execute();

  // The same for companies (account profiles): owner and custom fields.
  await db.schema
    .createTable('crm_companies')
    .addColumn('profile_id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('owner_id', 'text')
    .addColumn('custom', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('crm_companies_owner').on('crm_companies').columns(['workspace_id', 'owner_id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('crm_companies').execute();
  await db.schema.dropTable('crm_contacts').execute();
}
