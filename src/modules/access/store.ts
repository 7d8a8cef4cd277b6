import type { Kysely } from 'kysely';

export interface AccessTables {
  workspaces: { id: string; name: string; created_at: string };
  users: { id: string; email: string; password_hash: string; created_at: string };
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
}

export type WorkspaceRow = AccessTables['workspaces'];
export type ApiKeyRow = AccessTables['api_keys'];

export function createAccessStore(db: Kysely<AccessTables>) {
  return {
    workspaceByName: (name: string) => db.selectFrom('workspaces').selectAll().where('name', '=', name).executeTakeFirst(),
    workspaceById: (id: string) => db.selectFrom('workspaces').selectAll().where('id', '=', id).executeTakeFirst(),
    insertWorkspace: (row: WorkspaceRow) => db.insertInto('workspaces').values(row).onConflict((oc) => oc.column('name').doNothing()).execute(),
    userByEmail: (email: string) => db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst(),
    insertUser: (row: AccessTables['users']) => db.insertInto('users').values(row).onConflict((oc) => oc.column('email').doNothing()).execute(),
    insertMembership: (row: AccessTables['memberships']) =>
      db.insertInto('memberships').values(row).onConflict((oc) => oc.columns(['workspace_id', 'user_id']).doNothing()).execute(),
    membership: (workspaceId: string, userId: string) =>
      db.selectFrom('memberships').selectAll().where('workspace_id', '=', workspaceId).where('user_id', '=', userId).executeTakeFirst(),
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
