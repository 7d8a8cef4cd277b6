import { randomUUID } from 'node:crypto';
import type { Clock } from '../../platform/clock.js';
import { errors } from '../../platform/errors.js';
import { newSecret, normalizeEmail, sha256 } from './credentials.js';
import { hashPassword } from './password.js';
import { assertPasswordAllowed } from './password-policy.js';
import type { Permission } from './permissions.js';
import type { Grantor, Roles } from './roles.js';
import type { AccessStore, ApiKeyRow } from './store.js';

/** Who is calling a management route, once authenticated: an API key, or a user through their session. */
export interface Principal {
  workspaceId: string;
  actor: { type: 'api_key' | 'user'; id: string };
  /** A built-in role's name, or a custom role's id. */
  role: string;
  can(permission: Permission): boolean;
}

export interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  role: string;
  roleName: string | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

const KEY_PREFIX = 'rk_';
const CACHE_MS = 10_000;
const TOUCH_EVERY_MS = 60_000;
const ANNOUNCE_EVERY_MS = 60 * 60_000;

/** A key's first use in an hour on this node, for the audit log. */
export interface KeyUse {
  workspaceId: string;
  keyId: string;
  method?: string;
  path?: string;
  requestId?: string;
  ip?: string;
  userAgent?: string | null;
}

function view(row: ApiKeyRow, names: Map<string, string>): ApiKeyView {
  return {
    id: row.id,
    name: row.name,
    prefix: row.key_prefix,
    role: row.role,
    roleName: names.get(row.role) ?? null,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
  };
}

export function createAccessService({ store, roles, clock, keyUsed }: { store: AccessStore; roles: Roles; clock: Clock; keyUsed?: (use: KeyUse) => Promise<void> }) {
  const iso = () => new Date(clock.now()).toISOString();
  // Hash -> (row, fetchedAt). Revocation takes effect within CACHE_MS on every node.
  const keyCache = new Map<string, { row: ApiKeyRow | undefined; at: number }>();
  const touched = new Map<string, number>();
  const announced = new Map<string, number>();

  async function principalFor(row: ApiKeyRow): Promise<Principal> {
    // A role that no longer exists grants nothing: a key must never fall back to more than it was given.
    const permissions = await roles.permissionsOf(row.workspace_id, row.role);
    return { workspaceId: row.workspace_id, actor: { type: 'api_key', id: row.id }, role: row.role, can: (p) => permissions.has(p as Permission) };
  }

  return {
    async ensureWorkspace(name: string) {
      const trimmed = name.trim();
      if (!trimmed) throw errors.validation('A workspace needs a name.');
      const existing = await store.workspaceByName(trimmed);
      if (existing) return { workspace: existing, created: false };
      await store.insertWorkspace({ id: randomUUID(), name: trimmed, created_at: iso() });
      const workspace = await store.workspaceByName(trimmed);
      if (!workspace) throw new Error('workspace vanished after insert');
      return { workspace, created: true };
    },

    workspace: (id: string) => store.workspaceById(id),

    /** False until the first workspace or user exists (first-run setup is open only until then). */
    installed: () => store.installed(),

    /** Refuses, before anything is created, a password that ensureMember would refuse for this email. */
    async assertNewMemberPassword(email: string, password: string) {
      const normalized = normalizeEmail(email);
      if (!(await store.userByEmail(normalized))) assertPasswordAllowed(password, normalized);
    },

    /**
     * Creates the user if the email is new (the password must pass the policy) and makes them a member with
     * `role`; an existing user's password is left alone.
     */
    async ensureMember(workspaceId: string, email: string, password: string, role: string) {
      const normalized = normalizeEmail(email);
      let user = await store.userByEmail(normalized);
      if (!user) {
        assertPasswordAllowed(password, normalized);
        await store.insertUser({ id: randomUUID(), email: normalized, name: null, password_hash: await hashPassword(password), created_at: iso() });
        user = await store.userByEmail(normalized);
        if (!user) throw new Error('user vanished after insert');
      }
      await store.insertMembership({ workspace_id: workspaceId, user_id: user.id, role, created_at: iso() });
      return user;
    },

    /**
     * The secret is returned here and never again: only its SHA-256 is stored. A `creator` (absent only when
     * setting up a workspace) may give the key no role they could not give a member.
     */
    async createApiKey(workspaceId: string, name: string, role: string, expiresAt: string | null = null, creator?: Grantor) {
      if (creator) await roles.assertAssignable(creator, role);
      const id = randomUUID();
      const secret = newSecret(KEY_PREFIX);
      await store.insertApiKey({
        id,
        workspace_id: workspaceId,
        name,
        key_prefix: secret.slice(0, 10),
        key_hash: sha256(secret),
        role,
        created_at: iso(),
        expires_at: expiresAt,
        revoked_at: null,
        last_used_at: null,
      });
      return { key: secret, apiKey: view((await store.apiKeyByHash(sha256(secret)))!, await roles.names(workspaceId)) };
    },

    async listApiKeys(workspaceId: string) {
      const names = await roles.names(workspaceId);
      return (await store.apiKeys(workspaceId)).map((row) => view(row, names));
    },

    async revokeApiKey(workspaceId: string, id: string) {
      const result = await store.revokeApiKey(workspaceId, id, iso());
      if (Number(result.numUpdatedRows) === 0) throw errors.notFound('API key');
      keyCache.clear();
    },

    /** Resolves a bearer token to a principal, or null when it is unknown, revoked or expired. */
    async authenticate(token: string, context: Omit<KeyUse, 'workspaceId' | 'keyId'> = {}): Promise<Principal | null> {
      if (!token.startsWith(KEY_PREFIX)) return null;
      const hash = sha256(token);
      const now = clock.now();
      let cached = keyCache.get(hash);
      if (!cached || now - cached.at > CACHE_MS) {
        cached = { row: await store.apiKeyByHash(hash), at: now };
        if (keyCache.size > 10_000) keyCache.clear();
        keyCache.set(hash, cached);
      }
      const row = cached.row;
      if (!row || row.revoked_at || (row.expires_at && Date.parse(row.expires_at) <= now)) return null;
      if (now - (touched.get(row.id) ?? 0) > TOUCH_EVERY_MS) {
        touched.set(row.id, now);
        await store.touchApiKey(row.id, iso());
      }
      if (keyUsed && now - (announced.get(row.id) ?? -Infinity) >= ANNOUNCE_EVERY_MS) {
        if (announced.size > 10_000) announced.clear();
        announced.set(row.id, now);
        await keyUsed({ workspaceId: row.workspace_id, keyId: row.id, ...context });
      }
      return await principalFor(row);
    },
  };
}

export type AccessService = ReturnType<typeof createAccessService>;
