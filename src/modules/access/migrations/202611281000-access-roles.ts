import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // A workspace's own roles. Memberships, invitations and API keys name a role by a built-in's name or one of these ids.
  await db.schema
    .createTable('roles')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'text', (c) => c.notNull().references('workspaces.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('permissions', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('roles_workspace_name', ['workspace_id', 'name'])
    .execute();
  await db.schema.createIndex('memberships_role').on('memberships').columns(['workspace_id', 'role']).execute();
  await db.schema.createIndex('api_keys_role').on('api_keys').columns(['workspace_id', 'role']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('api_keys_role').execute();
  await db.schema.dropIndex('memberships_role').execute();
  await db.schema.dropTable('roles').execute();
}
