import type { FastifyInstance, FastifyRequest } from 'fastify';
import { acceptAnyJson } from './body.js';
import type { CallType } from './normalize.js';
import type { CollectService, Source } from './service.js';

/** Segment's documented paths, analytics.js's one-letter ones, and the mobile SDKs' `/import`. */
const PATHS: [string, CallType | 'batch'][] = [
  ['identify', 'identify'], ['i', 'identify'],
  ['track', 'track'], ['t', 'track'],
  ['page', 'page'], ['p', 'page'],
  ['screen', 'screen'], ['s', 'screen'],
  ['group', 'group'], ['g', 'group'],
  ['alias', 'alias'], ['a', 'alias'],
  ['batch', 'batch'], ['b', 'batch'], ['import', 'batch'],
];

const response = {
  200: {
    type: 'object',
    properties: {
      success: { type: 'boolean' },
      accepted: { type: 'integer', description: 'Events stored in the log (duplicates of an earlier messageId included).' },
      rejected: {
        type: 'array',
        description: 'Calls refused with their reason; the rest of the request is stored.',
        items: { type: 'object', properties: { index: { type: 'integer' }, messageId: { type: ['string', 'null'] }, reason: { type: 'string' } } },
      },
    },
  },
};

/** The collection API under `/v1`: Segment's HTTP Tracking API, so existing SDKs work unchanged. */
export async function collectionRoutes(app: FastifyInstance, { collect }: { collect: CollectService }) {
  acceptAnyJson(app);
  // Browsers post from any site; analytics.js avoids preflights with text/plain, other clients do not.
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    // Retry-After is not a CORS-safelisted header: without this, analytics.js cannot see how long to back off.
    reply.header('access-control-allow-origin', origin ?? '*').header('access-control-expose-headers', 'Retry-After, X-RateLimit-Reset');
    if (origin) reply.header('access-control-allow-credentials', 'true').header('vary', 'Origin');
  });
  app.options('/*', { config: { access: 'public' }, schema: { hide: true } }, async (request, reply) => {
    reply
      .header('access-control-allow-methods', 'POST, GET, OPTIONS')
      .header('access-control-allow-headers', request.headers['access-control-request-headers'] ?? 'authorization, content-type, content-encoding')
      .header('access-control-max-age', '900')
      .status(204)
      .send();
  });

  for (const [path, call] of PATHS) {
    app.post(
      `/${path}`,
      {
        config: { access: 'write-key' },
        schema: {
          tags: ['collect'],
          summary: call === 'batch' ? 'Send many calls at once' : `Send a ${call} call`,
          description: 'Authenticate with the write key as HTTP Basic user (empty password) or as `writeKey` in the body. Any content type is read as JSON; gzip bodies are accepted.',
          hide: path.length === 1,
          response,
        },
      },
      async (request: FastifyRequest) => {
        const source = request.writeKeySource as Source;
        const result = await collect.ingest(source, call, request.body, { receivedAt: Date.now(), ip: request.ip, bodyBytes: request.bodyBytes ?? 0 });
        return { success: true, accepted: result.accepted, rejected: result.rejected };
      },
    );
  }
}
