/**
 * Every permission a route can require: one per object and action, so roles can differ where teams do.
 * Issue-by-issue, modules add theirs here. docs/architecture.md holds the table of the built-in roles.
 */
export const PERMISSIONS = [
  'workspace:read',
  'workspace:write',
  'sources:read',
  'sources:write',
  'debugger:read',
  'api_keys:read',
  'api_keys:write',
  'users:read',
  'users:write',
  'roles:read',
  'roles:write',
  'profiles:read',
  'profiles:write',
  'identity:read',
  'identity:write',
  'audiences:read',
  'audiences:write',
  'computed_traits:read',
  'computed_traits:write',
  'destinations:read',
  'destinations:write',
  'records:all',
  'contacts:read',
  'contacts:write',
  'contacts:export',
  'companies:read',
  'companies:write',
  'deals:read',
  'deals:write',
  'activities:read',
  'activities:write',
  'tasks:read',
  'tasks:write',
  'tickets:read',
  'tickets:write',
  'reports:read',
  'imports:write',
  'crm_settings:read',
  'crm_settings:write',
  'audit:read',
  'pii:read',
  'privacy:read',
  'privacy:write',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

export const BUILT_IN_ROLES = ['owner', 'admin', 'marketer', 'sales', 'support', 'analyst'] as const;
export type BuiltInRole = (typeof BUILT_IN_ROLES)[number];

const ALL: readonly Permission[] = PERMISSIONS;
const READS = PERMISSIONS.filter((p) => p.endsWith(':read'));
// What every member needs to work beside others: the workspace, who is in it (to assign owners), the CRM's settings.
const BASE: Permission[] = ['workspace:read', 'users:read', 'crm_settings:read'];
const CRM_READ: Permission[] = ['contacts:read', 'companies:read', 'deals:read', 'activities:read', 'tasks:read', 'tickets:read', 'reports:read'];

/**
 * The built-in roles. Owner and admin hold everything; what only an owner may do (make or remove owners)
 * is checked where it happens. The others follow HubSpot's seats and EspoCRM's default roles.
 */
export const ROLE_PERMISSIONS: Record<BuiltInRole, ReadonlySet<Permission>> = {
  owner: new Set(ALL),
  admin: new Set(ALL),
  marketer: new Set<Permission>([
    ...BASE, ...CRM_READ,
    'sources:read', 'debugger:read', 'profiles:read', 'profiles:write', 'identity:read',
    'audiences:read', 'audiences:write', 'computed_traits:read', 'computed_traits:write', 'destinations:read', 'destinations:write',
    'records:all',
  ]),
  sales: new Set<Permission>([
    ...BASE, ...CRM_READ,
    'contacts:write', 'companies:write', 'deals:write', 'activities:write', 'tasks:write',
    'profiles:read', 'audiences:read', 'computed_traits:read', 'pii:read',
  ]),
  support: new Set<Permission>([
    ...BASE,
    'contacts:read', 'contacts:write', 'companies:read', 'activities:read', 'activities:write', 'tasks:read', 'tasks:write',
    'tickets:read', 'tickets:write', 'reports:read', 'profiles:read', 'pii:read',
  ]),
  // Read-only, without personal data: no pii:read, no raw payloads (the debugger), no bulk export,
  // and nothing about who holds access (users, roles, API keys, the audit log, privacy requests).
  analyst: new Set<Permission>([
    ...READS.filter((p) => !['pii:read', 'debugger:read', 'users:read', 'roles:read', 'api_keys:read', 'audit:read', 'privacy:read'].includes(p)),
    'records:all',
  ]),
};

export function isBuiltInRole(value: string): value is BuiltInRole {
  return (BUILT_IN_ROLES as readonly string[]).includes(value);
}

export function isPermission(value: string): value is Permission {
  return (PERMISSIONS as readonly string[]).includes(value);
}
