import type { Kysely } from 'kysely';
import type { AccessTables } from './store.js';

export type RoleRow = AccessTables['roles'];

/** The roles table, and where a role is in use. */
export function createRoleStore(db: Kysely<AccessTables>) {
  return {
    roles: (workspaceId: string) => db.selectFrom('roles').selectAll().where('workspace_id', '=', workspaceId).orderBy('name').orderBy('id').execute(),
    role: (workspaceId: string, id: string) => db.selectFrom('roles').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst(),
    roleByName: (workspaceId: string, name: string) =>
      db.selectFrom('roles').selectAll().where('workspace_id', '=', workspaceId).where((eb) => eb(eb.fn('lower', ['name']), '=', name.toLowerCase())).executeTakeFirst(),
    insertRole: (row: RoleRow) => db.insertInto('roles').values(row).execute(),
    updateRole: (workspaceId: string, id: string, changes: Partial<Pick<RoleRow, 'name' | 'description' | 'permissions' | 'updated_at'>>) =>
      db.updateTable('roles').set(changes).where('workspace_id', '=', workspaceId).where('id', '=', id).execute(),
    deleteRole: (workspaceId: string, id: string) => db.deleteFrom('roles').where('workspace_id', '=', workspaceId).where('id', '=', id).execute(),
    /** Who holds the role: members, invitations still pending, and API keys not revoked (expired ones could be renewed by no one, but are listed). */
    async usage(workspaceId: string, role: string, now: string) {
      const count = async (query: { executeTakeFirstOrThrow(): Promise<{ n: unknown }> }) => Number((await query.executeTakeFirstOrThrow()).n);
      const [members, invitations, apiKeys] = await Promise.all([
        count(db.selectFrom('memberships').select((eb) => eb.fn.countAll().as('n')).where('workspace_id', '=', workspaceId).where('role', '=', role)),
        count(db.selectFrom('invitations').select((eb) => eb.fn.countAll().as('n')).where('workspace_id', '=', workspaceId).where('role', '=', role)
          .where('accepted_at', 'is', null).where('revoked_at', 'is', null).where('expires_at', '>', now)),
        count(db.selectFrom('api_keys').select((eb) => eb.fn.countAll().as('n')).where('workspace_id', '=', workspaceId).where('role', '=', role).where('revoked_at', 'is', null)),
      ]);
      return { members, invitations, apiKeys };
    },
  };
}

export type RoleStore = ReturnType<typeof createRoleStore>;
