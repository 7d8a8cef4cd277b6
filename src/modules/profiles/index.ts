import type { Migrations } from '../../platform/db/migrate.js';
import * as init from './migrations/202611240810-profiles-init.js';

export { createProfilesService, type ProfilesService } from './service.js';
export { profileApiRoutes } from './profile-api.js';
export { profileManagementRoutes } from './management-routes.js';

export const profilesMigrations: Migrations = { '202611240810-profiles-init': init };
