import type { FastifyInstance } from 'fastify';
import type { Clock } from '../../platform/clock.js';
import { tablesOf, type Database } from '../../platform/db/database.js';
import type { Migrations } from '../../platform/db/migrate.js';
import * as init from './migrations/202611240700-access-init.js';
import { accessRoutes } from './routes.js';
import { createAccessService, type KeyUse } from './service.js';
import { createAccessStore, type AccessTables } from './store.js';

export type { AccessService, Principal, ApiKeyView, KeyUse } from './service.js';
export { PERMISSIONS, ROLES, type Permission, type RoleName } from './permissions.js';

export const accessMigrations: Migrations = { '202611240700-access-init': init };

/** `keyUsed` hears of each API key's first use per hour (per node): the audit log's record of key use. */
export function createAccess(deps: { database: Database; clock: Clock; keyUsed?: (use: KeyUse) => Promise<void> }) {
  const service = createAccessService({ store: createAccessStore(tablesOf<AccessTables>(deps.database)), clock: deps.clock, keyUsed: deps.keyUsed });
  return {
    service,
    register: (app: FastifyInstance, opts: { managementPrefix: string }) => app.register(accessRoutes, { prefix: opts.managementPrefix, access: service }),
  };
}
