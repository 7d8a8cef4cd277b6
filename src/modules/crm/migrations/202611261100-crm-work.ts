import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // Notes, calls, emails and meetings.
  await db.schema
    .createTable('crm_activities')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('subject', 'text')
    .addColumn('body', 'text')
    .addColumn('occurred_at', 'bigint', (c) => c.notNull())
    .addColumn('duration_s', 'integer')
    .addColumn('direction', 'text')
    .addColumn('outcome', 'text')
    .addColumn('owner_id', 'text')
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('crm_activities_owner').on('crm_activities').columns(['workspace_id', 'owner_id', 'occurred_at']).execute();

  await db.schema
    .createTable('crm_tasks')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('body', 'text')
    .addColumn('due_at', 'bigint')
    .addColumn('assignee_id', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('priority', 'text', (c) => c.notNull())
    .addColumn('completed_at', 'bigint')
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('crm_tasks_assignee').on('crm_tasks').columns(['workspace_id', 'assignee_id', 'status', 'due_at']).execute();

  await db.schema
    .createTable('crm_tickets')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('priority', 'text', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('assignee_id', 'text')
    .addColumn('contact_id', 'text')
    .addColumn('company_id', 'text')
    .addColumn('custom', 'text', (c) => c.notNull())
    // SLA targets fixed when the ticket opens (or its priority changes), and when they were met.
    .addColumn('first_response_due_at', 'bigint', (c) => c.notNull())
    .addColumn('resolution_due_at', 'bigint', (c) => c.notNull())
    .addColumn('first_responded_at', 'bigint')
    .addColumn('resolved_at', 'bigint')
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('crm_tickets_queue').on('crm_tickets').columns(['workspace_id', 'status', 'priority', 'created_at']).execute();
  await db.schema.createIndex('crm_tickets_contact').on('crm_tickets').column('contact_id').execute();

  // SLA targets per priority, in minutes of calendar time; absent rows use the defaults.
  await db.schema
    .createTable('crm_sla_policies')
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('priority', 'text', (c) => c.notNull())
    .addColumn('first_response_minutes', 'integer', (c) => c.notNull())
    .addColumn('resolution_minutes', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('crm_sla_policies_pk', ['workspace_id', 'priority'])
    .execute();

  // What an activity or a task is about: contacts and companies (profile ids), deals, tickets.
  await db.schema
    .createTable('crm_associations')
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('record_type', 'text', (c) => c.notNull())
    .addColumn('record_id', 'text', (c) => c.notNull())
    .addColumn('object', 'text', (c) => c.notNull())
    .addColumn('target_id', 'text', (c) => c.notNull())
    .addColumn('position', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('crm_associations_pk', ['record_type', 'record_id', 'object', 'target_id'])
    .execute();
  await db.schema.createIndex('crm_associations_target').on('crm_associations').columns(['workspace_id', 'object', 'target_id', 'record_type']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['crm_associations', 'crm_sla_policies', 'crm_tickets', 'crm_tasks', 'crm_activities']) await db.schema.dropTable(t).execute();
}
