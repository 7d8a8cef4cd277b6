import type { AddressInfo } from 'node:net';
import { createRapport } from '../../src/app.js';
import { loadConfig } from '../../src/platform/config.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { createPipeline } from '../../src/pipeline/processor.js';

/**
 * Child process: Rapport as `rapport start` builds it, on the store named by RAPPORT_DATA_DIR / DATABASE_URL,
 * on a free port; prints `ready <port>`. BENCH_ROLE: all (default), api (no pipeline) or worker (the
 * pipeline, for a split deployment beside an api process). BENCH_PIPELINE_BATCH runs the pipeline with that
 * micro-batch size instead of the default.
 */
const batch = process.env.BENCH_PIPELINE_BATCH ? Number(process.env.BENCH_PIPELINE_BATCH) : undefined;
const mode = process.env.BENCH_ROLE ?? 'all';
const runsPipeline = mode !== 'api';
const rapport = await createRapport({ ...loadConfig(), logLevel: 'warn', port: 0, host: '127.0.0.1', role: runsPipeline && !batch ? (mode === 'worker' ? 'worker' : 'all') : 'api' });
const pipeline = runsPipeline && batch
  ? createPipeline({ database: rapport.database, identity: rapport.core.identity, profiles: rapport.core.profiles, audiences: rapport.core.audiences, destinations: rapport.core.destinations, crm: rapport.core.crm, privacy: rapport.core.privacy, log: rapport.core.log, metrics: createMetrics(), options: { batchSize: batch } })
  : undefined;
pipeline?.start();
await rapport.app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`ready ${(rapport.app.server.address() as AddressInfo).port}\n`);
process.once('SIGTERM', () => {
  void (async () => {
    await pipeline?.stop();
    await rapport.close();
    process.exit(0);
  })();
});
