import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import { errors } from '../../platform/errors.js';
import { newSecret, normalizeEmail, sha256 } from './credentials.js';
import type { LoginThrottle } from './login-throttle.js';
import type { Grantor, Roles } from './roles.js';
import type { Teams } from './teams.js';
import { hashPassword, verifyPassword } from './password.js';
import { assertPasswordAllowed } from './password-policy.js';
import { createSessionStore, type InvitationRow } from './session-store.js';
import type { Client, Sessions } from './sessions.js';
import { createAccessStore, inTransaction, type AccessTables } from './store.js';

export interface InvitationView {
  id: string;
  email: string;
  role: string;
  invitedBy: string;
  createdAt: string;
  expiresAt: string;
}

export interface MemberView {
  id: string;
  email: string;
  name: string | null;
  role: string;
  /** The role's name (a custom role's `role` is its id); null when the role no longer exists. */
  roleName: string | null;
  joinedAt: string;
}

const INVITATION_PREFIX = 'rinv_';
const INVITATION_MS = 7 * 24 * 3_600_000;
const UNUSABLE = 'This invitation is unknown, already used, revoked or expired; ask for a new one.';

function invitationView(row: InvitationRow): InvitationView {
  return { id: row.id, email: row.email, role: row.role, invitedBy: row.invited_by, createdAt: row.created_at, expiresAt: row.expires_at };
}

/** Who belongs to a workspace: invitations (single-use tokens, hashed at rest), members and their removal. */
export function createMembers(deps: { db: Kysely<AccessTables>; clock: Clock; sessions: Sessions; throttle: LoginThrottle; roles: Roles; teams: Teams }) {
  const { db, clock, sessions, throttle, roles, teams } = deps;
  const store = createAccessStore(db);
  const sessionStore = createSessionStore(db);
  const iso = (ms = clock.now()) => new Date(ms).toISOString();

  return {
    /** The token is in this answer only; the invitee posts it to /invitations/accept within 7 days, once. */
    async invite(inviter: Grantor & { actor: { type: string; id: string } }, email: string, role: string) {
      const { workspaceId, actor: invitedBy } = inviter;
      await roles.assertAssignable(inviter, role);
      const normalized = normalizeEmail(email);
      const existing = await store.userByEmail(normalized);
      if (existing && (await store.membership(workspaceId, existing.id))) throw errors.conflict(`${normalized} is already a member of this workspace.`);
      const now = clock.now();
      const token = newSecret(INVITATION_PREFIX);
      const row: InvitationRow = {
        id: randomUUID(),
        workspace_id: workspaceId,
        email: normalized,
        role,
        token_hash: sha256(token),
        invited_by: `${invitedBy.type}:${invitedBy.id}`,
        created_at: iso(now),
        expires_at: iso(now + INVITATION_MS),
        accepted_at: null,
        accepted_by: null,
        revoked_at: null,
      };
      await sessionStore.insertInvitation(row);
      return { token, invitation: invitationView(row) };
    },

    async invitations(workspaceId: string) {
      return (await sessionStore.pendingInvitations(workspaceId, iso())).map(invitationView);
    },

    async revokeInvitation(workspaceId: string, id: string) {
      if (!(await sessionStore.revokeInvitation(workspaceId, id, iso()))) throw errors.notFound('Pending invitation');
    },

    /**
     * Uses the invitation: a new account with `password` (which must pass the policy), or, when the email
     * already has one, a membership for it once `password` proves it is theirs. Then signs them in.
     */
    async accept(input: { token: string; password: string; name?: string }, client: Client, replacing?: string) {
      const invitation = await sessionStore.invitationByHash(sha256(input.token));
      const now = clock.now();
      if (!invitation || invitation.accepted_at || invitation.revoked_at || Date.parse(invitation.expires_at) <= now) throw errors.gone(UNUSABLE);
      const existing = await store.userByEmail(invitation.email);
      let hash: string | undefined;
      if (existing) {
        // Audited like a sign-in: in the account's workspaces and the one inviting it.
        const workspaces = async () => [...new Set([invitation.workspace_id, ...(await store.membershipsOf(existing.id)).map((m) => m.workspace_id)])];
        const attempt = await throttle.begin(existing.email, client.ip).catch(async (error: unknown) => {
          await sessions.reportSignIn('throttled', 'invitation', existing, client, await workspaces());
          throw error;
        });
        if (!(await verifyPassword(input.password, existing.password_hash))) {
          await sessions.reportSignIn('failed', 'invitation', existing, client, await workspaces());
          throw errors.authentication(`${existing.email} already has an account: send its password to join this workspace with it.`);
        }
        await attempt.succeeded();
      } else {
        assertPasswordAllowed(input.password, invitation.email);
        hash = await hashPassword(input.password);
      }
      const userId = existing?.id ?? randomUUID();
      const name = input.name?.trim() || null;
      await inTransaction(db, async (tx) => {
        const txStore = createAccessStore(tx);
        if (!(await createSessionStore(tx).claimInvitation(invitation.id, userId, iso()))) throw errors.gone(UNUSABLE);
        if (!existing && !(await txStore.insertUser({ id: userId, email: invitation.email, name, password_hash: hash!, created_at: iso() }))) {
          throw errors.conflict(`An account for ${invitation.email} was created meanwhile; accept the invitation again with its password.`);
        }
        if (existing && name && !existing.name) await txStore.setName(userId, name);
        await txStore.insertMembership({ workspace_id: invitation.workspace_id, user_id: userId, role: invitation.role, created_at: iso() });
      });
      const user = (await store.userById(userId))!;
      const membership = (await store.membership(invitation.workspace_id, userId))!;
      return sessions.start(user, invitation.workspace_id, membership.role, client, replacing, 'invitation');
    },

    async members(workspaceId: string): Promise<MemberView[]> {
      const names = await roles.names(workspaceId);
      return (await store.members(workspaceId)).map((m) => ({ id: m.id, email: m.email, name: m.name, role: m.role, roleName: names.get(m.role) ?? null, joinedAt: m.created_at }));
    },

    /**
     * Gives a member another role, at once (sessions read it on every request). Only an owner changes an
     * owner, nobody gives more than they hold, and a workspace keeps at least one owner.
     */
    async setRole(caller: Grantor, userId: string, role: string): Promise<MemberView> {
      const { workspaceId } = caller;
      await inTransaction(db, async (tx) => {
        const txStore = createAccessStore(tx);
        await txStore.lockWorkspace(workspaceId);
        const membership = await txStore.membership(workspaceId, userId);
        if (!membership) throw errors.notFound('Member');
        await roles.assertCanManageHolder(caller, membership.role, tx);
        await roles.assertAssignable(caller, role, tx);
        if (membership.role === 'owner' && role !== 'owner' && (await txStore.countOwners(workspaceId)) <= 1) {
          throw errors.conflict('This is the workspace\'s last owner: make another member owner first.');
        }
        await txStore.setMemberRole(workspaceId, userId, role);
      });
      return (await this.members(workspaceId)).find((m) => m.id === userId)!;
    },

    /** Ends a membership and its sessions at once; a workspace keeps at least one owner. */
    async removeMember(caller: Grantor, userId: string) {
      const { workspaceId } = caller;
      await inTransaction(db, async (tx) => {
        const txStore = createAccessStore(tx);
        await txStore.lockWorkspace(workspaceId);
        const membership = await txStore.membership(workspaceId, userId);
        if (!membership) throw errors.notFound('Member');
        await roles.assertCanManageHolder(caller, membership.role, tx);
        if (membership.role === 'owner' && (await txStore.countOwners(workspaceId)) <= 1) {
          throw errors.conflict('This is the workspace\'s last owner: invite another owner before removing them.');
        }
        await txStore.deleteMembership(workspaceId, userId);
        await teams.leaveAll(tx, workspaceId, userId);
        await createSessionStore(tx).revokeMemberSessions(workspaceId, userId, iso());
      });
    },
  };
}

export type Members = ReturnType<typeof createMembers>;
