import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errors } from '../../platform/errors.js';
import type { CollectService } from './service.js';

// analytics.js (@segment/analytics-next) ships a standalone UMD bundle plus lazily loaded chunks.
const require = createRequire(import.meta.url);
const BUNDLE_DIR = join(dirname(require.resolve('@segment/analytics-next/package.json')), 'dist', 'umd');
const BUNDLE_FILES = new Set(readdirSync(BUNDLE_DIR).filter((f) => /^[\w.-]+\.js$/.test(f)));
const bundleCache = new Map<string, Buffer>();

function bundle(file: string): Buffer {
  let body = bundleCache.get(file);
  if (!body) {
    body = readFileSync(join(BUNDLE_DIR, file));
    bundleCache.set(file, body);
  }
  return body;
}

/** The host analytics.js should post to: this server, as the browser reached it. */
function publicOrigin(request: FastifyRequest) {
  return { host: request.host, protocol: request.protocol };
}

/**
 * What the standard Segment snippet fetches, served by Rapport: with the snippet's CDN pointed at this
 * server (`analytics._cdn = "https://rapport.example.com"`), the page loads analytics.js from here, reads
 * its settings from here, and sends its calls here.
 */
export async function browserRoutes(app: FastifyInstance, { collect }: { collect: CollectService }) {
  app.get('/v1/projects/:writeKey/settings', {
    config: { access: 'public' },
    schema: { tags: ['collect'], summary: 'analytics.js settings for a write key (its CDN settings call)' },
  }, async (request, reply) => {
    const { writeKey } = request.params as { writeKey: string };
    const source = await collect.resolveWriteKey(writeKey);
    if (!source || !source.enabled) throw errors.notFound('Write key');
    const { host, protocol } = publicOrigin(request);
    reply.header('access-control-allow-origin', '*').header('cache-control', 'public, max-age=60');
    return {
      integrations: {
        'Segment.io': {
          apiKey: writeKey,
          apiHost: `${host}/v1`,
          protocol,
          unbundledIntegrations: [],
          addBundledMetadata: true,
          maybeBundledConfigIds: {},
          versionSettings: { version: '4.4.7', componentTypes: ['browser'] },
        },
      },
      plan: { track: { __default: { enabled: true, integrations: {} } }, identify: { __default: { traits: {} } }, group: { __default: { traits: {} } } },
      edgeFunction: {},
      analyticsNextEnabled: true,
      middlewareSettings: {},
      enabledMiddleware: {},
      // No client metrics: analytics.js would otherwise post them to Segment's own host.
      metrics: { sampleRate: 0 },
      legacyVideoPluginsEnabled: false,
      remotePlugins: [],
    };
  });

  app.get('/analytics.js/v1/:writeKey/:file', {
    config: { access: 'public' },
    schema: { tags: ['collect'], summary: 'The analytics.js bundle the Segment snippet loads (analytics.min.js)' },
  }, async (request, reply) => {
    const { file } = request.params as { file: string };
    if (file !== 'analytics.min.js' && file !== 'analytics.js') throw errors.notFound('File');
    reply.header('content-type', 'application/javascript; charset=utf-8').header('cache-control', 'public, max-age=300').header('access-control-allow-origin', '*');
    return reply.send(bundle('standalone.js'));
  });

  app.get('/analytics-next/bundles/:file', {
    config: { access: 'public' },
    schema: { hide: true },
  }, async (request, reply) => {
    const { file } = request.params as { file: string };
    if (!BUNDLE_FILES.has(file)) throw errors.notFound('File');
    reply.header('content-type', 'application/javascript; charset=utf-8').header('cache-control', 'public, max-age=31536000, immutable').header('access-control-allow-origin', '*');
    return reply.send(bundle(file));
  });
}
