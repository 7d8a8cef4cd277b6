import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('crm_imports')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('object', 'text', (c) => c.notNull())
    // processing (the pipeline applies the rows' calls), applying (CRM fields being set), done
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('rows', 'integer', (c) => c.notNull())
    .addColumn('valid', 'integer', (c) => c.notNull())
    .addColumn('invalid', 'integer', (c) => c.notNull())
    .addColumn('applied', 'integer', (c) => c.notNull())
    // The last log message of the import: once the pipeline has passed it, every row's profile exists.
    .addColumn('last_message_id', 'text')
    .addColumn('report', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('finished_at', 'bigint')
    .execute();
  await db.schema.createIndex('crm_imports_status').on('crm_imports').columns(['status', 'created_at']).execute();

  // Each good row's CRM fields, kept until its profile exists and they are set.
  await db.schema
    .createTable('crm_import_rows')
    .addColumn('import_id', 'text', (c) => c.notNull())
    .addColumn('line', 'integer', (c) => c.notNull())
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('fields', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('crm_import_rows_pk', ['import_id', 'line'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('crm_import_rows').execute();
  await db.schema.dropTable('crm_imports').execute();
}
