import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import { errors } from '../../platform/errors.js';
import { BUILT_IN_ROLES, PERMISSIONS, ROLE_PERMISSIONS, isBuiltInRole, isPermission, type Permission } from './permissions.js';
import { createRoleStore, type RoleRow } from './role-store.js';
import type { AccessTables } from './store.js';

/** Whoever acts on roles: what they may do, and under which role. */
export interface Grantor {
  workspaceId: string;
  role: string;
  can(permission: Permission): boolean;
}

export interface RoleView {
  /** A built-in role's name, or a custom role's id: what memberships, invitations and API keys hold. */
  id: string;
  name: string;
  description: string;
  builtIn: boolean;
  permissions: Permission[];
  createdAt: string | null;
  updatedAt: string | null;
}

export interface RoleInput {
  name?: string;
  description?: string;
  permissions?: string[];
}

const BUILT_IN_DESCRIPTIONS: Record<(typeof BUILT_IN_ROLES)[number], string> = {
  owner: 'Everything, including making and removing owners.',
  admin: 'Everything but making or removing owners.',
  marketer: 'The CDP (sources read, profiles, audiences, computed traits, destinations) and the CRM read-only; no personal data.',
  sales: 'Contacts, companies, deals, activities and tasks; tickets read-only; personal data.',
  support: 'Tickets, contacts, activities and tasks; companies read-only; personal data.',
  analyst: 'Read-only everything readable, without personal data, users, roles, API keys or the audit log.',
};

// A custom role's edits reach every node's sessions and keys within this long.
const CACHE_MS = 5_000;
const NONE: ReadonlySet<Permission> = new Set();

const ordered = (permissions: Iterable<Permission>) => PERMISSIONS.filter((p) => new Set(permissions).has(p));

function builtInView(name: (typeof BUILT_IN_ROLES)[number]): RoleView {
  return { id: name, name, description: BUILT_IN_DESCRIPTIONS[name], builtIn: true, permissions: ordered(ROLE_PERMISSIONS[name]), createdAt: null, updatedAt: null };
}

function customView(row: RoleRow): RoleView {
  return {
    id: row.id, name: row.name, description: row.description, builtIn: false,
    permissions: ordered(JSON.parse(row.permissions) as Permission[]), createdAt: row.created_at, updatedAt: row.updated_at,
  };
}

/** Built-in and custom roles: what each grants, who may give which, and a workspace's own roles. */
export function createRoles({ db, clock }: { db: Kysely<AccessTables>; clock: Clock }) {
  const store = createRoleStore(db);
  const iso = () => new Date(clock.now()).toISOString();
  const cache = new Map<string, { permissions: ReadonlySet<Permission>; at: number }>();

  /** The role's permissions, read now (in `tx` when in one); null when the workspace has no such role. */
  async function lookup(workspaceId: string, role: string, tx?: Kysely<AccessTables>): Promise<ReadonlySet<Permission> | null> {
    if (isBuiltInRole(role)) return ROLE_PERMISSIONS[role];
    const row = await (tx ? createRoleStore(tx) : store).role(workspaceId, role);
    return row ? new Set(customView(row).permissions) : null;
  }

  async function custom(workspaceId: string, id: string): Promise<RoleRow> {
    if (isBuiltInRole(id)) throw errors.conflict(`"${id}" is a built-in role: it cannot be changed or deleted; create a custom role instead.`);
    const row = await store.role(workspaceId, id);
    if (!row) throw errors.notFound('Role');
    return row;
  }

  /** Nobody hands out (or takes back) more than they hold. */
  function assertHolds(caller: Grantor, permissions: Iterable<Permission>, what: string) {
    const missing = [...permissions].filter((p) => !caller.can(p));
    if (missing.length) throw errors.forbidden(`${what} holds permissions your role lacks: ${ordered(missing).join(', ')}.`);
  }

  function checkName(name: string) {
    const trimmed = name.trim();
    if (!trimmed) throw errors.validation('A role needs a name.', { field: 'name' });
    if (isBuiltInRole(trimmed.toLowerCase())) throw errors.conflict(`"${trimmed}" is the name of a built-in role.`);
    return trimmed;
  }

  function checkPermissions(permissions: string[]): Permission[] {
    const unknown = permissions.filter((p) => !isPermission(p));
    if (unknown.length) throw errors.validation(`Unknown permission${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')} (GET /api/v1/roles/permissions lists them).`, { field: 'permissions' });
    return ordered(permissions as Permission[]);
  }

  return {
    /** What a role grants in a workspace, cached briefly; an unknown role grants nothing. */
    async permissionsOf(workspaceId: string, role: string): Promise<ReadonlySet<Permission>> {
      if (isBuiltInRole(role)) return ROLE_PERMISSIONS[role];
      const key = `${workspaceId}\u0000${role}`;
      const now = clock.now();
      const cached = cache.get(key);
      if (cached && now - cached.at <= CACHE_MS) return cached.permissions;
      const permissions = (await lookup(workspaceId, role)) ?? NONE;
      if (cache.size > 10_000) cache.clear();
      cache.set(key, { permissions, at: now });
      return permissions;
    },

    /**
     * Refuses to give `role` (to a member, an invitation or an API key) unless it exists in the caller's
     * workspace, the caller holds every permission it grants, and, for owner, the caller is an owner.
     */
    async assertAssignable(caller: Grantor, role: string, tx?: Kysely<AccessTables>) {
      const permissions = await lookup(caller.workspaceId, role, tx);
      if (!permissions) throw errors.validation(`Unknown role "${role}": give a built-in role (${BUILT_IN_ROLES.join(', ')}) or a custom role's id.`, { field: 'role' });
      if (role === 'owner' && caller.role !== 'owner') throw errors.forbidden('Only an owner can make an owner.');
      assertHolds(caller, permissions, `The role "${role}"`);
    },

    /** Refuses to change or remove a holder of `role` unless the caller could have given it. */
    async assertCanManageHolder(caller: Grantor, role: string, tx?: Kysely<AccessTables>) {
      if (role === 'owner' && caller.role !== 'owner') throw errors.forbidden('Only an owner can change or remove an owner.');
      assertHolds(caller, (await lookup(caller.workspaceId, role, tx)) ?? NONE, 'Their role');
    },

    /** Role id to name, built-in and custom: what lists show beside a role. */
    async names(workspaceId: string): Promise<Map<string, string>> {
      return new Map([...BUILT_IN_ROLES.map((r) => [r, r] as const), ...(await store.roles(workspaceId)).map((r) => [r.id, r.name] as const)]);
    },

    async list(workspaceId: string): Promise<RoleView[]> {
      return [...BUILT_IN_ROLES.map(builtInView), ...(await store.roles(workspaceId)).map(customView)];
    },

    async get(workspaceId: string, id: string): Promise<RoleView> {
      if (isBuiltInRole(id)) return builtInView(id);
      const row = await store.role(workspaceId, id);
      if (!row) throw errors.notFound('Role');
      return customView(row);
    },

    async create(caller: Grantor, input: Required<Pick<RoleInput, 'name' | 'permissions'>> & RoleInput): Promise<RoleView> {
      const name = checkName(input.name);
      const permissions = checkPermissions(input.permissions);
      assertHolds(caller, permissions, 'This role');
      if (await store.roleByName(caller.workspaceId, name)) throw errors.conflict(`A role named "${name}" exists already.`);
      const at = iso();
      const row: RoleRow = { id: randomUUID(), workspace_id: caller.workspaceId, name, description: input.description?.trim() ?? '', permissions: JSON.stringify(permissions), created_at: at, updated_at: at };
      await store.insertRole(row);
      return customView(row);
    },

    async update(caller: Grantor, id: string, input: RoleInput): Promise<RoleView> {
      const row = await custom(caller.workspaceId, id);
      assertHolds(caller, customView(row).permissions, 'This role');
      const changes: Partial<RoleRow> = { updated_at: iso() };
      if (input.name !== undefined) {
        changes.name = checkName(input.name);
        const clash = await store.roleByName(caller.workspaceId, changes.name);
        if (clash && clash.id !== id) throw errors.conflict(`A role named "${changes.name}" exists already.`);
      }
      if (input.description !== undefined) changes.description = input.description.trim();
      if (input.permissions !== undefined) {
        const permissions = checkPermissions(input.permissions);
        assertHolds(caller, permissions, 'This role');
        changes.permissions = JSON.stringify(permissions);
      }
      await store.updateRole(caller.workspaceId, id, changes);
      cache.delete(`${caller.workspaceId}\u0000${id}`);
      return customView({ ...row, ...changes });
    },

    /** Refused (409) while a member, a pending invitation or a live API key holds the role. */
    async remove(caller: Grantor, id: string) {
      const row = await custom(caller.workspaceId, id);
      assertHolds(caller, customView(row).permissions, 'This role');
      const usage = await store.usage(caller.workspaceId, id, iso());
      if (usage.members || usage.invitations || usage.apiKeys) {
        throw errors.conflict(`The role "${row.name}" is in use (${usage.members} members, ${usage.invitations} pending invitations, ${usage.apiKeys} API keys): give them another role first.`);
      }
      await store.deleteRole(caller.workspaceId, id);
      cache.delete(`${caller.workspaceId}\u0000${id}`);
    },
  };
}

export type Roles = ReturnType<typeof createRoles>;
