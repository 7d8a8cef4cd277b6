import type { Migrations } from '../../platform/db/migrate.js';
import * as partitions from './202611300000-pipeline-partitions.js';

export const pipelineMigrations: Migrations = { '202611300000-pipeline-partitions': partitions };
