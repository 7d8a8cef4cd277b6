import type { Kysely } from 'kysely';

export interface AccessTables {
  workspaces: { id: string; name: string; created_at: string; record_visibility?: string };
  users: { id: string; email: string; name: string | null; password_hash: string; created_at: string };
  memberships: { workspace_id: string; user_id: string; role: string; created_at: string };
  api_keys: {
    id: string;
    workspace_id: string;
    name: string;
    key_prefix: string;
    key_hash: string;
    role: string;
    created_at: string;
    expires_at: string | null;
    revoked_at: string | null;
    last_used_at: string | null;
  };
  sessions: {
    id: string;
    user_id: string;
    workspace_id: string;
    csrf_hash: string;
    created_at: string;
    last_seen_at: string;
    expires_at: string;
    revoked_at: string | null;
    user_agent: string | null;
    ip: string | null;
  };
  login_failures: { id: string; key: string; at: string };
  teams: { id: string; workspace_id: string; name: string; created_at: string; updated_at: string };
  team_members: { team_id: string; workspace_id: string; user_id: string };
  roles: { id: string; workspace_id: string; name: string; description: string; permissions: string; created_at: string; updated_at: string };
  invitations: {
    id: string;
    workspace_id: string;
    email: string;
    role: string;
    token_hash: string;
    invited_by: string;
    created_at: string;
    expires_at: string;
    accepted_at: string | null;
    accepted_by: string | null;
    revoked_at: string | null;
  };
}

export type WorkspaceRow = AccessTables['workspaces'];
export type ApiKeyRow = AccessTables['api_keys'];
export type UserRow = AccessTables['users'];

export function createAccessStore(db: Kysely<AccessTables>) {
  return {
    workspaceByName: (name: string) => db.selectFrom('workspaces').selectAll().where('name', '=', name).executeTakeFirst(),
    /** True once any workspace or user exists: the installation is no longer waiting for its first owner. */
    installed: async () =>
      Boolean((await db.selectFrom('workspaces').select('id').limit(1).executeTakeFirst()) ?? (await db.selectFrom('users').select('id').limit(1).executeTakeFirst())),
    workspaceById: (id: string) => db.selectFrom('workspaces').selectAll().where('id', '=', id).executeTakeFirst(),
    /** Holds the workspace's row until the transaction ends, so membership checks and changes in it run one at a time. */
    lockWorkspace: (id: string) => db.updateTable('workspaces').set((eb) => ({ name: eb.ref('name') })).where('id', '=', id).execute(),
    insertWorkspace: (row: WorkspaceRow) => db.insertInto('workspaces').values(row).onConflict((oc) => oc.column('name').doNothing()).execute(),
    userByEmail: (email: string) => db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst(),
    userById: (id: string) => db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst(),
    /** Inserts unless the email is taken; true when this call created the user. */
    insertUser: async (row: UserRow) =>
      Number((await db.insertInto('users').values(row).onConflict((oc) => oc.column('email').doNothing()).executeTakeFirst()).numInsertedOrUpdatedRows ?? 0) > 0,
    setPasswordHash: (userId: string, hash: string) => db.updateTable('users').set({ password_hash: hash }).where('id', '=', userId).execute(),
    setName: (userId: string, name: string) => db.updateTable('users').set({ name }).where('id', '=', userId).execute(),
    insertMembership: (row: AccessTables['memberships']) =>
      db.insertInto('memberships').values(row).onConflict((oc) => oc.columns(['workspace_id', 'user_id']).doNothing()).execute(),
    membership: (workspaceId: string, userId: string) =>
      db.selectFrom('memberships').selectAll().where('workspace_id', '=', workspaceId).where('user_id', '=', userId).executeTakeFirst(),
    /** A user's workspaces, the oldest membership first. */
    membershipsOf: (userId: string) =>
      db.selectFrom('memberships').innerJoin('workspaces', 'workspaces.id', 'memberships.workspace_id')
        .select(['memberships.workspace_id', 'workspaces.name as workspace_name', 'memberships.role', 'memberships.created_at'])
        .where('memberships.user_id', '=', userId).orderBy('memberships.created_at').orderBy('memberships.workspace_id').execute(),
    members: (workspaceId: string) =>
      db.selectFrom('memberships').innerJoin('users', 'users.id', 'memberships.user_id')
        .select(['users.id', 'users.email', 'users.name', 'memberships.role', 'memberships.created_at'])
        .where('memberships.workspace_id', '=', workspaceId).orderBy('memberships.created_at').orderBy('users.id').execute(),
    deleteMembership: async (workspaceId: string, userId: string) =>
      Number((await db.deleteFrom('memberships').where('workspace_id', '=', workspaceId).where('user_id', '=', userId).executeTakeFirst()).numDeletedRows) > 0,
    setMemberRole: (workspaceId: string, userId: string, role: string) =>
      db.updateTable('memberships').set({ role }).where('workspace_id', '=', workspaceId).where('user_id', '=', userId).execute(),
    countOwners: async (workspaceId: string) =>
      Number((await db.selectFrom('memberships').select((eb) => eb.fn.countAll().as('n')).where('workspace_id', '=', workspaceId).where('role', '=', 'owner').executeTakeFirstOrThrow()).n),
    insertApiKey: (row: ApiKeyRow) => db.insertInto('api_keys').values(row).execute(),
    apiKeyByHash: (hash: string) => db.selectFrom('api_keys').selectAll().where('key_hash', '=', hash).executeTakeFirst(),
    apiKeys: (workspaceId: string) =>
      db.selectFrom('api_keys').selectAll().where('workspace_id', '=', workspaceId).orderBy('created_at', 'desc').execute(),
    touchApiKey: (id: string, at: string) => db.updateTable('api_keys').set({ last_used_at: at }).where('id', '=', id).execute(),
    revokeApiKey: (workspaceId: string, id: string, at: string) =>
      db.updateTable('api_keys').set({ revoked_at: at }).where('workspace_id', '=', workspaceId).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst(),
  };
}

export type AccessStore = ReturnType<typeof createAccessStore>;

/** Runs `work` in one transaction, with the store bound to it. */
export function inTransaction<T>(db: Kysely<AccessTables>, work: (db: Kysely<AccessTables>) => Promise<T>): Promise<T> {
  return db.transaction().execute(work);
}
