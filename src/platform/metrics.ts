import { Registry, collectDefaultMetrics } from 'prom-client';

export type Metrics = Registry;

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'rapport_process_' });
  return registry;
}
