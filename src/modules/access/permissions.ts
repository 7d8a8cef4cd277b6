/** Every permission a route can require. Issue-by-issue, modules add theirs here. */
export const PERMISSIONS = [
  'workspace:read',
  'sources:read',
  'sources:write',
  'debugger:read',
  'api_keys:read',
  'api_keys:write',
  'users:read',
  'users:write',
  'profiles:read',
  'profiles:write',
  'identity:read',
  'identity:write',
  'audiences:read',
  'audiences:write',
  'destinations:read',
  'destinations:write',
  'crm:read',
  'crm:write',
  'audit:read',
  'pii:read',
  'privacy:read',
  'privacy:write',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

export const ROLES = ['owner', 'admin'] as const;
export type RoleName = (typeof ROLES)[number];

const ALL = new Set<Permission>(PERMISSIONS);

export const ROLE_PERMISSIONS: Record<RoleName, ReadonlySet<Permission>> = {
  owner: ALL,
  admin: ALL,
};

export function isRole(value: string): value is RoleName {
  return (ROLES as readonly string[]).includes(value);
}
