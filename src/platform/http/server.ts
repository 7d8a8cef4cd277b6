import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Log } from '../log.js';
import { isStorageFault, STORAGE_RETRY_AFTER_SECONDS } from '../db/storage-fault.js';
import { errors, RapportError } from '../errors.js';
import { declareAccessOnEveryRoute, installGuard, type Authenticators } from './access.js';
import { auditRequests, type RequestRecorder } from './audit.js';
import { hasLoneSurrogate, jsonDepthOver } from './json-limits.js';
import { maskPersonalDataInAnswers } from './pii.js';

export interface HttpServerOptions {
  log: Log;
  authenticators: Authenticators;
  /** Records the writes under `prefix` in the audit log (see audit.ts). */
  audit?: { prefix: string; record: RequestRecorder };
}

// A caller's own request id (for correlating with its logs) when it is a sane token; else a fresh UUID.
const REQUEST_ID = /^[\w.:-]{1,128}$/;
// No management body nests this deeply (an audience's conditions reach a dozen levels); services walk bodies
// recursively (validation, structuredClone), and 10,000 levels would exhaust the stack: a 500 for a client's error.
const MAX_JSON_DEPTH = 64;
// PostgreSQL's text holds no NUL character ("invalid byte sequence"): one in a name or a query would be a 500.
// JSON text carries it only as an unescaped-backslash \u0000; a URL as %00. (The collection API strips them instead.)
const JSON_NUL = /(?<!\\)(?:\\\\)*\\u0000/;
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;
const NUL_REFUSED = 'Text may not contain the NUL character (\\u0000 or %00).';

export function createHttpServer({ log, authenticators, audit }: HttpServerOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: true,
    bodyLimit: 1024 * 1024,
    // Generous: a slow mobile client may hold a connection open; Fastify's defaults otherwise.
    keepAliveTimeout: 72_000,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allowUnionTypes: true } },
  });
  declareAccessOnEveryRoute(app);
  // Every answer names its request (the one the client sent, or a new one), as the logs and the audit log do.
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (request.url.includes('%00')) throw errors.invalidRequest(NUL_REFUSED);
  });
  // Clients that label every request JSON send bodiless POSTs (rotate-write-key) and DELETEs that way too.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') return done(null, undefined);
    if (jsonDepthOver(body as string, MAX_JSON_DEPTH)) {
      return done(errors.invalidRequest(`The body nests more than ${MAX_JSON_DEPTH} levels deep.`), undefined);
    }
    if ((body as string).includes('\\u0000') && JSON_NUL.test(body as string)) return done(errors.invalidRequest(NUL_REFUSED), undefined);
    // Likewise for half a surrogate pair (only a \uD800-style escape can carry one): jsonb refuses it.
    if (!SURROGATE_ESCAPE.test(body as string)) return json(request, body as string, done);
    json(request, body as string, (error: Error | null, value?: unknown) =>
      !error && hasLoneSurrogate(value) ? done(errors.invalidRequest('Text may not contain half a surrogate pair (a lone \\uD800-\\uDFFF escape).'), undefined) : done(error, value),
    );
  });
  installGuard(app, authenticators);
  if (audit) auditRequests(app, audit);
  maskPersonalDataInAnswers(app);

  let storageFaultLoggedAt = 0;
  app.setErrorHandler((error: FastifyError | RapportError, request, reply) => {
    if (isStorageFault(error)) {
      // A full or read-only disk fails every write at once: log it every few seconds, not once per request.
      if (Date.now() - storageFaultLoggedAt > 5_000) {
        storageFaultLoggedAt = Date.now();
        request.log.error({ err: error, url: request.url }, 'the store cannot write (disk full, read-only, failing or unreachable); answering 503');
      }
      error = errors.unavailable('The store cannot write right now (disk full, or the database unavailable); nothing of this request was stored. Retry shortly.', STORAGE_RETRY_AFTER_SECONDS);
    }
    if (error instanceof RapportError) {
      if (error.headers) reply.headers(error.headers);
      return reply.status(error.status).send({ error: { code: error.code, message: error.message, details: error.details } });
    }
    if ((error as FastifyError).validation) {
      return reply.status(400).send({ error: { code: 'validation_error', message: error.message, details: (error as FastifyError).validation } });
    }
    const status = (error as FastifyError).statusCode ?? 500;
    if (status < 500) {
      return reply.status(status).send({ error: { code: 'invalid_request_error', message: error.message } });
    }
    request.log.error({ err: error, url: request.url }, 'request failed');
    return reply.status(500).send({ error: { code: 'internal_error', message: 'Something went wrong on our side; it has been logged.' } });
  });

  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: { code: 'not_found', message: `No route for ${request.method} ${request.url.split('?')[0]}.` } }),
  );
  return app;
}
