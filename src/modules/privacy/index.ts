import type { FastifyInstance } from 'fastify';
import type { Clock } from '../../platform/clock.js';
import type { Database } from '../../platform/db/database.js';
import type { Migrations } from '../../platform/db/migrate.js';
import { consentRoutes } from './consent-routes.js';
import { createConsent } from './consent.js';
import * as consentInit from './migrations/202611282000-privacy-consent.js';

export { preferencesOf, type Consent, type ConsentEvent, type ConsentMap } from './consent.js';

export const privacyMigrations: Migrations = { '202611282000-privacy-consent': consentInit };

/** The privacy module: consent (categories, per-profile consent and its history). */
export function createPrivacy(deps: { database: Database; clock: Clock }) {
  const consent = createConsent({ now: () => deps.clock.now() });
  return {
    consent,
    async register(app: FastifyInstance, opts: { managementPrefix: string; profile(workspaceId: string, id: string): Promise<{ id: string } | undefined> }) {
      await app.register(consentRoutes, { prefix: opts.managementPrefix, db: deps.database.db, consent, profile: opts.profile });
    },
  };
}

export type Privacy = ReturnType<typeof createPrivacy>;
