import type { FastifyInstance } from 'fastify';
import type { Clock } from '../../platform/clock.js';
import { tablesOf, type Database } from '../../platform/db/database.js';
import type { Migrations } from '../../platform/db/migrate.js';
import type { Log } from '../../platform/log.js';
import type { Metrics } from '../../platform/metrics.js';
import { activityRoutes, createActivity } from './activity.js';
import { browserRoutes } from './browser-routes.js';
import { createDebugger } from './debugger.js';
import { managementRoutes } from './management-routes.js';
import * as init from './migrations/202611240710-collect-init.js';
import { collectionRoutes } from './routes.js';
import { createCollectService, type CollectOptions } from './service.js';
import { createCollectStore, type CollectTables } from './store.js';

export type { CollectService, Source } from './service.js';
export { LIMITS, REJECT_REASONS, normalizeCall } from './normalize.js';
export { eventLog, type LoggedEvent, type EventLog } from './log-reader.js';
export type { LogEntry } from './event-log.js';
export { logErasure } from './erasure.js';

/** Tables other modules may read (never write) in SQL they compile themselves: audiences/compile.ts. */
export const collectRelations = { events: 'events' } as const;

export const collectMigrations: Migrations = { '202611240710-collect-init': init };

export function createCollect(deps: { database: Database; clock: Clock; log: Log; metrics: Metrics; options: CollectOptions }) {
  const db = tablesOf<CollectTables>(deps.database);
  const store = createCollectStore(db);
  const service = createCollectService({ ...deps, store });
  const debug = createDebugger(store);
  const activity = createActivity({ db, store, clock: deps.clock });
  return {
    service,
    /** Registers the collection API (`/v1`), the analytics.js files, and the management routes under `managementPrefix`. */
    async register(app: FastifyInstance, opts: { managementPrefix: string; workspace: (id: string) => Promise<{ id: string; name: string; created_at: string } | undefined> }) {
      await app.register(collectionRoutes, { prefix: '/v1', collect: service });
      await app.register(browserRoutes, { collect: service });
      await app.register(managementRoutes, { prefix: opts.managementPrefix, collect: service, debug, workspace: opts.workspace });
      await app.register(activityRoutes, { prefix: opts.managementPrefix, activity });
    },
  };
}
