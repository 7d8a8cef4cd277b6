import type { Migrations } from '../../platform/db/migrate.js';
import * as init from './migrations/202611250900-audiences-init.js';
import * as valueNumbers from './migrations/202611261600-audiences-value-numbers.js';

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

export const audiencesMigrations: Migrations = { '202611250900-audiences-init': init, '202611261600-audiences-value-numbers': valueNumbers };

/**
 * Tables other modules may read in SQL (the CRM lists profiles by computed values and membership):
 * computed_values(trait_id, profile_id, value JSON, value_number when a number), audience_members(audience_id, profile_id, entered_at).
 */
export const audiencesRelations = { computedTraits: 'computed_traits', computedValues: 'computed_values', audiences: 'audiences', audienceMembers: 'audience_members' } as const;
export { audiencesErasure } from './erasure.js';
