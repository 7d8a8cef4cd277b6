import type { Kysely } from 'kysely';
import type { AccessTables } from './store.js';

export type SessionRow = AccessTables['sessions'];
export type InvitationRow = AccessTables['invitations'];

/** Sessions, sign-in failures and invitations: the access module's tables that hold secrets' hashes. */
export function createSessionStore(db: Kysely<AccessTables>) {
  return {
    insertSession: (row: SessionRow) => db.insertInto('sessions').values(row).execute(),
    /** The session and the role its user holds now in its workspace (none once the membership is gone). */
    sessionByHash: (id: string) =>
      db.selectFrom('sessions')
        .leftJoin('memberships', (join) => join.onRef('memberships.workspace_id', '=', 'sessions.workspace_id').onRef('memberships.user_id', '=', 'sessions.user_id'))
        .selectAll('sessions')
        .select('memberships.role')
        .where('sessions.id', '=', id)
        .executeTakeFirst(),
    touchSession: (id: string, at: string) => db.updateTable('sessions').set({ last_seen_at: at }).where('id', '=', id).execute(),
    revokeSession: (id: string, at: string) => db.updateTable('sessions').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).execute(),
    /** Every live session of a user, but `keep` (the one changing the password), in every workspace. */
    revokeUserSessions: (userId: string, at: string, keep?: string) => {
      let query = db.updateTable('sessions').set({ revoked_at: at }).where('user_id', '=', userId).where('revoked_at', 'is', null);
      if (keep) query = query.where('id', '!=', keep);
      return query.execute();
    },
    revokeMemberSessions: (workspaceId: string, userId: string, at: string) =>
      db.updateTable('sessions').set({ revoked_at: at }).where('user_id', '=', userId).where('workspace_id', '=', workspaceId).where('revoked_at', 'is', null).execute(),
    /** Sessions that ended long ago are of no use to anyone. */
    pruneSessions: (userId: string, endedBefore: string) =>
      db.deleteFrom('sessions').where('user_id', '=', userId).where((eb) => eb.or([eb('expires_at', '<', endedBefore), eb('revoked_at', '<', endedBefore)])).execute(),

    insertFailure: (row: AccessTables['login_failures']) => db.insertInto('login_failures').values(row).execute(),
    /** When each failure of `key` since `since` happened, oldest first. */
    failuresSince: async (key: string, since: string) =>
      (await db.selectFrom('login_failures').select('at').where('key', '=', key).where('at', '>', since).orderBy('at').execute()).map((r) => r.at),
    deleteFailure: (id: string) => db.deleteFrom('login_failures').where('id', '=', id).execute(),
    clearFailures: (key: string) => db.deleteFrom('login_failures').where('key', '=', key).execute(),
    pruneFailures: (before: string) => db.deleteFrom('login_failures').where('at', '<=', before).execute(),

    insertInvitation: (row: InvitationRow) => db.insertInto('invitations').values(row).execute(),
    invitationByHash: (hash: string) => db.selectFrom('invitations').selectAll().where('token_hash', '=', hash).executeTakeFirst(),
    invitationById: (workspaceId: string, id: string) =>
      db.selectFrom('invitations').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst(),
    pendingInvitations: (workspaceId: string, now: string) =>
      db.selectFrom('invitations').selectAll().where('workspace_id', '=', workspaceId).where('accepted_at', 'is', null).where('revoked_at', 'is', null)
        .where('expires_at', '>', now).orderBy('created_at', 'desc').orderBy('id').execute(),
    /** Marks the invitation used if it still can be: true for exactly one caller, however many race. */
    claimInvitation: async (id: string, userId: string, now: string) =>
      Number((await db.updateTable('invitations').set({ accepted_at: now, accepted_by: userId }).where('id', '=', id).where('accepted_at', 'is', null)
        .where('revoked_at', 'is', null).where('expires_at', '>', now).executeTakeFirst()).numUpdatedRows) === 1,
    revokeInvitation: async (workspaceId: string, id: string, at: string) =>
      Number((await db.updateTable('invitations').set({ revoked_at: at }).where('workspace_id', '=', workspaceId).where('id', '=', id)
        .where('accepted_at', 'is', null).where('revoked_at', 'is', null).executeTakeFirst()).numUpdatedRows) === 1,
  };
}

export type SessionStore = ReturnType<typeof createSessionStore>;
