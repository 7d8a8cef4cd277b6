import type { Kysely } from 'kysely';
import type { Migrations } from '../../platform/db/migrate.js';
import { createDeals, type DealsDeps } from './deals.js';
import { createFields } from './fields.js';
import * as deals from './migrations/202611261000-crm-deals.js';

export { crmRoutes } from './routes.js';
export { CRM_SOURCE } from './events.js';

export const crmMigrations: Migrations = { '202611261000-crm-deals': deals };

/** The CRM's services: custom fields and deals (pipelines are plain functions over the store). */
export function createCrm(deps: DealsDeps) {
  const fields = createFields(deps.now);
  const dealService = createDeals(deps, (db: Kysely<any>, workspaceId: string) => fields.of(db, workspaceId, 'deal'));
  return { fields, deals: dealService };
}

export type Crm = ReturnType<typeof createCrm>;
