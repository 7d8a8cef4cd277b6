import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** Paths the web app never answers, even for a GET no route knows: they stay the APIs' 404s. */
const NOT_THE_APP = /^\/(api|v1|analytics\.js|analytics-next|healthz|metrics)(\/|$)/;

// Scripts and styles come only from this origin; Mantine sets CSS variables in a style tag of its own.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:",
  "connect-src 'self'", "font-src 'self' data:", "frame-ancestors 'none'", "base-uri 'self'", "form-action 'self'",
].join('; ');

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Rapport</title></head>
<body style="font-family:system-ui;max-width:40rem;margin:4rem auto;line-height:1.5">
<h1>Rapport is running, but its web app is not built</h1>
<p>The APIs work (<a href="/api/docs">API reference</a>, <a href="/healthz">health</a>).
Build the web app with <code>npm run build</code> (or <code>npm run build:web</code>) and restart.</p>
</body></html>`;

function appPage(reply: FastifyReply) {
  // The page names the hashed assets of the current build, so it must be revalidated every time.
  reply.header('content-security-policy', CONTENT_SECURITY_POLICY).header('x-frame-options', 'DENY').header('referrer-policy', 'same-origin');
  return reply.sendFile('index.html', { maxAge: 0, immutable: false, cacheControl: false });
}

/**
 * The web app, built by Vite into `webDir`: hashed files under /assets cached for a year, and index.html for
 * every other GET the APIs do not own, so client routes (/profiles/…) load the app. Without a build, the
 * server still starts and `/` says how to build it.
 */
export async function webAppRoutes(app: FastifyInstance, { webDir }: { webDir: string }) {
  const built = existsSync(join(webDir, 'index.html'));
  if (!built) app.log.warn({ webDir }, 'the web app is not built (npm run build); the APIs are served, and / says so');
  // The build writes .br and .gz twins of the assets; the one the browser accepts is sent.
  await app.register(fastifyStatic, { root: webDir, serve: false, preCompressed: true });

  app.get('/assets/*', { config: { access: 'public' }, schema: { hide: true } }, (request, reply) => {
    const file = (request.params as { '*': string })['*'];
    return reply.sendFile(file, join(webDir, 'assets'), { maxAge: '365d', immutable: true });
  });

  const page = async (request: { url: string }, reply: FastifyReply) => {
    const path = request.url.split('?')[0];
    if (NOT_THE_APP.test(path)) return reply.callNotFound();
    if (!built) return reply.status(503).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(NOT_BUILT);
    // Files at the build's top level (the icon), short-cached; anything else is a client route.
    const top = path.slice(1);
    if (/^[\w.-]+\.(svg|ico|png|txt|webmanifest)$/.test(top) && existsSync(join(webDir, top))) return reply.sendFile(top, { maxAge: '1h', immutable: false });
    return appPage(reply);
  };
  app.get('/', { config: { access: 'public' }, schema: { hide: true } }, page);
  app.get('/*', { config: { access: 'public' }, schema: { hide: true } }, page);
}
