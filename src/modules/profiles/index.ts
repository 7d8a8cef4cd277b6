import type { Migrations } from '../../platform/db/migrate.js';
import * as init from './migrations/202611240810-profiles-init.js';
import * as eventsByName from './migrations/202611250850-profiles-events-by-name.js';
import * as valuePrefix from './migrations/202611261700-profiles-trait-value-prefix.js';

export { createProfilesService, type ProfilesService } from './service.js';
export { profileApiRoutes } from './profile-api.js';
export { profileManagementRoutes } from './management-routes.js';
export { traitsOf } from './traits.js';
export { traitValueIn } from './trait-value.js';
export type { Attribution, Merge } from './service.js';

export const profilesMigrations: Migrations = {
  '202611240810-profiles-init': init, '202611250850-profiles-events-by-name': eventsByName, '202611261700-profiles-trait-value-prefix': valuePrefix,
};

/** Tables other modules may read (never write) in SQL they compile themselves: audiences/compile.ts. */
export const profilesRelations = { traits: 'profile_traits', timeline: 'profile_events' } as const;
export { profilesErasure } from './erasure.js';
