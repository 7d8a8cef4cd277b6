import type { Migrations } from '../../platform/db/migrate.js';
import * as init from './migrations/202611250900-audiences-init.js';

export { createAudiencesService, type AudiencesService, type AudiencesOptions } from './service.js';
export { audienceRoutes } from './routes.js';
export { AUDIENCES_SOURCE } from './transitions.js';
export { evaluate, type ProfileContext } from './evaluate.js';
export { compileAudience, type Relations } from './compile.js';
export type { BatchEvent } from './incremental.js';
export type { AudiencesDeps, LogEntryInput } from './context.js';
export type { AudienceDefinition, ComputedTraitDefinition, Condition, EventFilter, ValueTest } from './definition.js';
export { valueTests as valueTestSchemas } from './definition.js';
export { testValue, readPath } from './match.js';

export const audiencesMigrations: Migrations = { '202611250900-audiences-init': init };
