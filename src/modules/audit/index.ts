import type { FastifyInstance } from 'fastify';
import { Counter } from 'prom-client';
import type { Clock } from '../../platform/clock.js';
import type { Database } from '../../platform/db/database.js';
import type { Migrations } from '../../platform/db/migrate.js';
import type { Log } from '../../platform/log.js';
import type { Metrics } from '../../platform/metrics.js';
import * as init from './migrations/202611271000-audit-init.js';
import { auditRoutes } from './routes.js';
import { createAuditService, type AuditEntry } from './service.js';
import { createAuditWriter } from './writer.js';

export type { AuditEntry, AuditService, ActorType, VerifyResult } from './service.js';
export { canonical, entryHash, GENESIS } from './chain.js';

export const auditMigrations: Migrations = { '202611271000-audit-init': init };

/**
 * The audit log. `record(db, …entries)` appends in the caller's transaction (or its own); `recordRequest`
 * is what the HTTP layer calls once a write's response is decided: written with the entries of other
 * requests answered at the same time (group commit), it never throws, and a failure is logged at error
 * level with the whole entry and counted (`rapport_audit_write_failures_total`).
 */
export function createAudit(deps: { database: Database; clock: Clock; log: Log; metrics: Metrics }) {
  const service = createAuditService({ postgres: deps.database.engine === 'postgres', now: () => deps.clock.now() });
  const failures = new Counter({ name: 'rapport_audit_write_failures_total', help: 'Audit entries that could not be written (each is logged at error level)', registers: [deps.metrics] });
  const writer = createAuditWriter(deps.database.db, service);
  return {
    service,
    record: service.record,
    async recordRequest(entry: AuditEntry): Promise<void> {
      try {
        await writer.write(entry);
      } catch (error) {
        failures.inc();
        deps.log.error({ err: error, audit: entry }, 'AUDIT ENTRY NOT WRITTEN: the change it describes happened, but the audit log does not show it');
      }
    },
    register: (app: FastifyInstance, opts: { managementPrefix: string }) => app.register(auditRoutes, { prefix: opts.managementPrefix, db: deps.database.db, audit: service }),
  };
}

export type Audit = ReturnType<typeof createAudit>;
