import type { Migrations } from '../../platform/db/migrate.js';
import * as init from './migrations/202611260900-destinations-init.js';

export { createDestinationsService, type DestinationsService, type DestinationsDeps, type DeliverableEvent } from './service.js';
export { createDelivery, type Delivery, type DeliveryOptions } from './delivery.js';
export { destinationRoutes } from './routes.js';
export type { DestinationDefinition } from './definition.js';

export const destinationsMigrations: Migrations = { '202611260900-destinations-init': init };
