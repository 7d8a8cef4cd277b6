import type { Clock } from '../../platform/clock.js';
import { errors } from '../../platform/errors.js';
import { csrfTokenFor, matchesHash, newSecret, normalizeEmail, sha256 } from './credentials.js';
import type { LoginThrottle } from './login-throttle.js';
import { hashPassword, needsRehash, verifyPassword } from './password.js';
import { assertPasswordAllowed } from './password-policy.js';
import { PERMISSIONS, type Permission } from './permissions.js';
import type { Roles } from './roles.js';
import type { Principal } from './service.js';
import type { SessionStore } from './session-store.js';
import type { AccessStore, UserRow } from './store.js';

export interface SessionOptions {
  idleMs: number;
  maxMs: number;
}

/** Where a sign-in comes from, kept with the session. */
export interface Client {
  ip: string;
  userAgent?: string;
  requestId?: string;
}

/**
 * A sign-in's outcome, for the audit log of each workspace it concerns: `succeeded` in the workspace the
 * session opens; `failed` (wrong password) and `throttled` in every workspace of the account that was tried.
 * An unknown email concerns no workspace and is not reported.
 */
export interface SignInEvent {
  outcome: 'succeeded' | 'failed' | 'throttled';
  /** `password` for POST /auth/login, `invitation` for accepting one. */
  via: 'password' | 'invitation';
  userId: string;
  workspaceIds: string[];
  client: Client;
}

/** A session's principal, and the check of the CSRF token its writes must carry. */
export interface SessionCaller {
  principal: Principal;
  csrfMatches(token: string): boolean;
}

/** What GET /auth/session and sign-in answer: who is calling, in which workspace, allowed to do what. */
export interface SessionView {
  actor: { type: 'api_key' | 'user'; id: string };
  user: { id: string; email: string; name: string | null } | null;
  workspace: { id: string; name: string };
  role: string;
  roleName: string | null;
  permissions: Permission[];
  csrfToken: string | null;
  session: { createdAt: string; expiresAt: string; idleTimeoutSeconds: number } | null;
  workspaces: { id: string; name: string; role: string }[];
}

// last_seen_at is written at most this often, so the idle timeout is honoured to within a minute.
const TOUCH_EVERY_MS = 60_000;
// Sessions over for this long are deleted when their user next signs in.
const KEEP_ENDED_MS = 7 * 24 * 3_600_000;
const WRONG_CREDENTIALS = 'Wrong email or password.';

export function createSessions(deps: {
  store: AccessStore; sessionStore: SessionStore; roles: Roles; clock: Clock; throttle: LoginThrottle; options: SessionOptions;
  signIns?: (event: SignInEvent) => Promise<void>;
}) {
  const { store, sessionStore, roles, clock, throttle, options } = deps;
  const report = async (outcome: SignInEvent['outcome'], via: SignInEvent['via'], user: UserRow | undefined, client: Client, workspaceIds?: string[]) => {
    if (!user || !deps.signIns) return;
    const ids = workspaceIds ?? (await store.membershipsOf(user.id)).map((m) => m.workspace_id);
    if (ids.length > 0) await deps.signIns({ outcome, via, userId: user.id, workspaceIds: ids, client });
  };
  const iso = (ms = clock.now()) => new Date(ms).toISOString();

  async function view(principal: Principal, secret: string | undefined): Promise<SessionView> {
    const workspace = (await store.workspaceById(principal.workspaceId))!;
    const base = {
      actor: principal.actor,
      workspace: { id: workspace.id, name: workspace.name },
      role: principal.role,
      roleName: (await roles.names(principal.workspaceId)).get(principal.role) ?? null,
      permissions: PERMISSIONS.filter((p) => principal.can(p)),
    };
    if (principal.actor.type !== 'user' || !secret) return { ...base, user: null, csrfToken: null, session: null, workspaces: [] };
    const [user, row, memberships] = await Promise.all([store.userById(principal.actor.id), sessionStore.sessionByHash(sha256(secret)), store.membershipsOf(principal.actor.id)]);
    return {
      ...base,
      user: { id: user!.id, email: user!.email, name: user!.name },
      csrfToken: csrfTokenFor(secret),
      session: { createdAt: row!.created_at, expiresAt: row!.expires_at, idleTimeoutSeconds: options.idleMs / 1000 },
      workspaces: memberships.map((m) => ({ id: m.workspace_id, name: m.workspace_name, role: m.role })),
    };
  }

  async function principalOf(userId: string, workspaceId: string, role: string): Promise<Principal> {
    // The membership's role is read with the session on every request; a custom role's permissions are cached
    // briefly. An unknown role grants nothing.
    const permissions = await roles.permissionsOf(workspaceId, role);
    return { workspaceId, actor: { type: 'user', id: userId }, role, can: (p) => permissions.has(p as Permission) };
  }

  return {
    /** Reports a sign-in attempt made elsewhere (accepting an invitation with an existing account's password). */
    reportSignIn: report,
    /**
     * A new session for `user` in `workspaceId`, with a new secret every time (sign-in rotates the id, so a
     * cookie planted before sign-in is worth nothing after it). `replacing` is the session the browser held
     * until now, which ends.
     */
    async start(user: UserRow, workspaceId: string, role: string, client: Client, replacing?: string, via: SignInEvent['via'] = 'password') {
      const now = clock.now();
      const secret = newSecret();
      await sessionStore.insertSession({
        id: sha256(secret),
        user_id: user.id,
        workspace_id: workspaceId,
        csrf_hash: sha256(csrfTokenFor(secret)),
        created_at: iso(now),
        last_seen_at: iso(now),
        expires_at: iso(now + options.maxMs),
        revoked_at: null,
        user_agent: client.userAgent?.slice(0, 512) ?? null,
        ip: client.ip,
      });
      if (replacing) await sessionStore.revokeSession(sha256(replacing), iso(now));
      await sessionStore.pruneSessions(user.id, iso(now - KEEP_ENDED_MS));
      await report('succeeded', via, user, client, [workspaceId]);
      return { secret, maxAgeSeconds: Math.floor(options.maxMs / 1000), session: await view(await principalOf(user.id, workspaceId, role), secret) };
    },

    /**
     * Email and password to a session, in the workspace asked for or else the user's first. A wrong password
     * and an unknown email get the same error after the same work (a scrypt run either way).
     */
    async login(input: { email: string; password: string; workspaceId?: string }, client: Client, replacing?: string) {
      let email: string;
      try {
        email = normalizeEmail(input.email);
      } catch {
        throw errors.authentication(WRONG_CREDENTIALS);
      }
      const user = await store.userByEmail(email);
      const attempt = await throttle.begin(email, client.ip).catch(async (error: unknown) => {
        await report('throttled', 'password', user, client);
        throw error;
      });
      const ok = await verifyPassword(input.password, user?.password_hash);
      if (!user || !ok) {
        await report('failed', 'password', user, client);
        throw errors.authentication(WRONG_CREDENTIALS);
      }
      await attempt.succeeded();
      if (needsRehash(user.password_hash)) await store.setPasswordHash(user.id, await hashPassword(input.password));
      const memberships = await store.membershipsOf(user.id);
      const membership = input.workspaceId ? memberships.find((m) => m.workspace_id === input.workspaceId) : memberships[0];
      if (!membership) throw errors.forbidden(input.workspaceId ? 'You are not a member of that workspace.' : 'You are not a member of any workspace.');
      return this.start(user, membership.workspace_id, membership.role, client, replacing);
    },

    /** A new session for the same user in another of their workspaces; the one they held ends. */
    async switchWorkspace(userId: string, workspaceId: string, client: Client, replacing: string) {
      const user = await store.userById(userId);
      const membership = (await store.membershipsOf(userId)).find((m) => m.workspace_id === workspaceId);
      if (!user || !membership) throw errors.forbidden('You are not a member of that workspace.');
      return this.start(user, membership.workspace_id, membership.role, client, replacing);
    },

    /** The cookie's session, if it is live: not revoked, not idle too long, not too old, its membership still there. */
    async authenticate(secret: string): Promise<SessionCaller | null> {
      if (secret.length > 100) return null;
      const row = await sessionStore.sessionByHash(sha256(secret));
      const now = clock.now();
      if (!row || row.revoked_at || !row.role) return null;
      if (Date.parse(row.expires_at) <= now || now - Date.parse(row.last_seen_at) >= options.idleMs) return null;
      if (now - Date.parse(row.last_seen_at) >= TOUCH_EVERY_MS) await sessionStore.touchSession(row.id, iso(now));
      return { principal: await principalOf(row.user_id, row.workspace_id, row.role), csrfMatches: (token) => matchesHash(token, row.csrf_hash) };
    },

    view,

    async logout(secret: string) {
      await sessionStore.revokeSession(sha256(secret), iso());
    },

    /** Checks the current password, stores the new one and ends every other session of the user, in every workspace. */
    async changePassword(userId: string, secret: string, current: string, next: string, client: Client) {
      const user = await store.userById(userId);
      if (!user) throw errors.authentication();
      assertPasswordAllowed(next, user.email);
      // Guessing the current password from a stolen session is throttled like guessing it at sign-in.
      const attempt = await throttle.begin(user.email, client.ip);
      if (!(await verifyPassword(current, user.password_hash))) throw errors.validation('The current password is wrong.', { field: 'currentPassword' });
      await attempt.succeeded();
      await store.setPasswordHash(user.id, await hashPassword(next));
      await sessionStore.revokeUserSessions(user.id, iso(), sha256(secret));
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;
