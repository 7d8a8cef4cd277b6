import type { FastifyInstance } from 'fastify';
import { Gauge } from 'prom-client';
import type { Kysely } from 'kysely';
import type { AuditEntry } from '../audit/index.js';
import type { Identifier } from '../identity/index.js';
import type { Clock } from '../../platform/clock.js';
import type { Database } from '../../platform/db/database.js';
import type { Migrations } from '../../platform/db/migrate.js';
import type { Log } from '../../platform/log.js';
import type { Metrics } from '../../platform/metrics.js';
import { requestsStore } from './requests-store.js';
import { consentRoutes } from './consent-routes.js';
import { createConsent, type Withdrawal } from './consent.js';
import * as consentInit from './migrations/202611282000-privacy-consent.js';
import * as requestsInit from './migrations/202611282010-privacy-requests.js';
import * as retentionInit from './migrations/202611282020-privacy-retention.js';
import { createRetention } from './retention.js';
import { settingsRoutes } from './settings-routes.js';
import { requestRoutes } from './request-routes.js';
import { createRequests, type RequestContext, type RequestOutcome } from './requests.js';
import { suppression } from './suppression.js';
import { createPrivacyWorker } from './worker.js';

export { preferencesOf, type Consent, type ConsentEvent, type ConsentMap, type Withdrawal } from './consent.js';
export { suppressionKey } from './suppression.js';
export type { RequestContext, RequestOutcome } from './requests.js';

export const privacyMigrations: Migrations = { '202611282000-privacy-consent': consentInit, '202611282010-privacy-requests': requestsInit, '202611282020-privacy-retention': retentionInit };

export interface PrivacyDeps {
  database: Database;
  clock: Clock;
  log: Log;
  metrics: Metrics;
  record(db: Kysely<any>, ...entries: AuditEntry[]): Promise<void>;
  resolve(db: Kysely<any>, workspaceId: string, identifier: Identifier): Promise<{ profileId: string; identifiers: Identifier[] } | null>;
  /** The cross-module work of a deletion and an export (workflows), set once the other modules exist. */
  erase(tx: Kysely<any>, request: RequestContext): Promise<RequestOutcome>;
  export(tx: Kysely<any>, request: RequestContext): Promise<RequestOutcome>;
  /** The log, for retention: how far every consumer has read, and deleting a workspace's old events. */
  readByAll(db: Kysely<any>): Promise<number>;
  offsetBefore(db: Kysely<any>, receivedAt: number): Promise<number>;
  eraseReceivedBefore(db: Kysely<any>, workspaceId: string, before: number, upTo: number, limit: number): Promise<number>;
  /** pollMs: how often the worker looks for waiting requests; retentionEveryMs: how often retention runs. */
  options?: { pollMs?: number; retentionEveryMs?: number };
}

/** The privacy module: consent, requests by identifier (suppress, unsuppress, delete, export), suppression, retention. */
export function createPrivacy(deps: PrivacyDeps) {
  const now = () => deps.clock.now();
  const consent = createConsent({ now });
  const requests = createRequests({ now, record: deps.record, resolve: deps.resolve, erase: deps.erase, export: deps.export });
  new Gauge({
    name: 'rapport_privacy_requests', help: 'Privacy requests per status (alert on failed, and on pending that do not move).', labelNames: ['status'], registers: [deps.metrics],
    async collect() {
      this.reset();
      for (const r of await requestsStore.byStatus(deps.database.db)) this.set({ status: r.status }, r.n);
    },
  });
  const retention = createRetention({ now, record: deps.record, readByAll: deps.readByAll, offsetBefore: deps.offsetBefore, eraseReceivedBefore: deps.eraseReceivedBefore });
  const worker = createPrivacyWorker({
    db: deps.database.db, log: deps.log, pollMs: deps.options?.pollMs ?? 1000, periodMs: deps.options?.retentionEveryMs ?? 3_600_000,
    runNext: (db) => requests.runNext(db),
    periodic: async (db) => {
      await requests.expireExports(db);
      await retention.sweep(db);
    },
  });
  return {
    consent,
    requests,
    retention,
    suppression,
    worker,
    /** Runs every waiting request now (tests, the CLI). */
    async drain(): Promise<number> {
      let n = 0;
      while (await requests.runNext(deps.database.db)) n++;
      return n;
    },
    async register(app: FastifyInstance, opts: { managementPrefix: string; profile(workspaceId: string, id: string): Promise<{ id: string } | undefined>; withdraw(db: Kysely<any>, withdrawals: Withdrawal[]): Promise<unknown> }) {
      await app.register(consentRoutes, { prefix: opts.managementPrefix, db: deps.database.db, consent, profile: opts.profile, withdraw: opts.withdraw });
      await app.register(settingsRoutes, { prefix: opts.managementPrefix, db: deps.database.db, retention });
      await app.register(requestRoutes, { prefix: opts.managementPrefix, db: deps.database.db, requests, started: () => worker.poke() });
    },
  };
}

export type Privacy = ReturnType<typeof createPrivacy>;
