import type { FastifyInstance } from 'fastify';
import type { Clock } from '../../platform/clock.js';
import type { Config } from '../../platform/config.js';
import { tablesOf, type Database } from '../../platform/db/database.js';
import type { Migrations } from '../../platform/db/migrate.js';
import * as init from './migrations/202611240700-access-init.js';
import * as sessionsMigration from './migrations/202611270900-access-sessions.js';
import * as rolesMigration from './migrations/202611281000-access-roles.js';
import * as teamsMigration from './migrations/202611281010-access-teams.js';
import { authRoutes } from './auth-routes.js';
import { createLoginThrottle } from './login-throttle.js';
import { createMembers } from './members.js';
import { commonPasswords } from './password-policy.js';
import { memberRoutes } from './member-routes.js';
import { setupRoutes, type SetUpFirstOwner } from './setup-routes.js';
import { accessRoutes } from './routes.js';
import { createRoles } from './roles.js';
import { roleRoutes } from './role-routes.js';
import { createTeams } from './teams.js';
import { teamRoutes } from './team-routes.js';
import { createAccessService, type KeyUse } from './service.js';
import { createSessionStore } from './session-store.js';
import { createSessions, type SignInEvent } from './sessions.js';
import { createAccessStore, type AccessTables } from './store.js';

export type { AccessService, Principal, ApiKeyView, KeyUse } from './service.js';
export type { Sessions, SessionCaller, SessionView, SignInEvent } from './sessions.js';
export type { Members } from './members.js';
export type { Roles, RoleView } from './roles.js';
export type { Teams, TeamView, RecordScope } from './teams.js';
export type { SetUpFirstOwner, FirstOwnerInput } from './setup-routes.js';
export { PERMISSIONS, BUILT_IN_ROLES, type Permission, type BuiltInRole } from './permissions.js';
export { passwordProblem } from './password-policy.js';

export const accessMigrations: Migrations = { '202611240700-access-init': init, '202611270900-access-sessions': sessionsMigration, '202611281000-access-roles': rolesMigration, '202611281010-access-teams': teamsMigration };

const MINUTE = 60_000;

/**
 * `keyUsed` hears of each API key's first use per hour (per node), `signIns` of every sign-in that succeeds, fails
 * on a known account or is throttled: the audit log's record of key use and logins.
 */
export function createAccess(deps: {
  database: Database; clock: Clock; options: Config['access'];
  keyUsed?: (use: KeyUse) => Promise<void>; signIns?: (event: SignInEvent) => Promise<void>;
}) {
  const { clock, options } = deps;
  commonPasswords();
  const db = tablesOf<AccessTables>(deps.database);
  const store = createAccessStore(db);
  const sessionStore = createSessionStore(db);
  const roles = createRoles({ db, clock });
  const teams = createTeams({ db, clock });
  const service = createAccessService({ store, roles, clock, keyUsed: deps.keyUsed });
  const throttle = createLoginThrottle({
    store: sessionStore,
    clock,
    limits: { perEmail: options.loginFailuresPerEmail, perIp: options.loginFailuresPerIp, windowMs: options.loginWindowMinutes * MINUTE },
  });
  const sessions = createSessions({ store, sessionStore, roles, clock, throttle, options: { idleMs: options.sessionIdleMinutes * MINUTE, maxMs: options.sessionMaxHours * 60 * MINUTE }, signIns: deps.signIns });
  const members = createMembers({ db, clock, sessions, throttle, roles, teams });
  return {
    service,
    sessions,
    members,
    roles,
    teams,
    /** `setUp` makes the first workspace and owner for first-run setup from the web app. */
    async register(app: FastifyInstance, opts: { managementPrefix: string; setUp: SetUpFirstOwner }) {
      await app.register(accessRoutes, { prefix: opts.managementPrefix, access: service });
      await app.register(authRoutes, { prefix: opts.managementPrefix, sessions, members });
      await app.register(memberRoutes, { prefix: opts.managementPrefix, members });
      await app.register(roleRoutes, { prefix: opts.managementPrefix, roles });
      await app.register(teamRoutes, { prefix: opts.managementPrefix, teams });
      await app.register(setupRoutes, { prefix: opts.managementPrefix, access: service, sessions, setUp: opts.setUp });
    },
  };
}
