import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics.js';

export async function opsRoutes(app: FastifyInstance, { metrics, ready }: { metrics: Metrics; ready: () => Promise<boolean> }) {
  app.get('/healthz', { config: { access: 'public' }, schema: { tags: ['ops'], summary: '200 when the store answers and the server is ready' } }, async (_request, reply) => {
    const ok = await ready().catch(() => false);
    return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable' });
  });
  app.get('/metrics', { config: { access: 'public' }, schema: { tags: ['ops'], summary: 'Prometheus metrics' } }, async (_request, reply) => {
    reply.header('content-type', metrics.contentType);
    return metrics.metrics();
  });
}
