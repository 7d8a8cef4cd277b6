import type { Migrations } from '../../platform/db/migrate.js';
import * as init from './migrations/202611240800-identity-init.js';
import * as mergedIntoIndex from './migrations/202611241000-identity-merged-into-index.js';

export { createIdentityService, type IdentityService, type BatchResolution, type ProfileMerge } from './service.js';
export { DEFAULT_RULES, JUNK_VALUES, RuleBook, type IdentifierRule } from './rules.js';
export { extractIdentifiers, type Identifier, type Collection } from './identifiers.js';

export const identityMigrations: Migrations = { '202611240800-identity-init': init, '202611241000-identity-merged-into-index': mergedIntoIndex };
export { createDirectory, parseExternalId, normalizeLookup, type Directory } from './directory.js';
export type { ProfileRow, IdentifierRow, MergeLogRow } from './store.js';
export { identityRoutes } from './routes.js';
export { explain, type Explanation } from './explain.js';

/** Tables other modules may read (never write) in SQL they compile themselves: audiences/compile.ts. */
export const identityRelations = { profiles: 'profiles', links: 'profile_links', identifiers: 'identifiers' } as const;
export { identityErasure } from './erasure.js';
