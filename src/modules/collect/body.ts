import { createGunzip, createInflate } from 'node:zlib';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import secureJson from 'secure-json-parse';
import { errors } from '../../platform/errors.js';
import { LIMITS } from './normalize.js';

export const TOO_DEEP = 'An event is nested too deeply to store; flatten its properties.';

declare module 'fastify' {
  interface FastifyRequest {
    /** Size of the decoded body, for the per-event limit. */
    bodyBytes?: number;
  }
}

/**
 * The collection API parses every body as JSON whatever its content type (analytics.js sends text/plain),
 * inflates gzip and deflate bodies, and applies the 500 KB limit to the decoded size so that a small
 * compressed body cannot expand without bound.
 */
export function acceptAnyJson(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { bodyLimit: LIMITS.requestBytes * 4 }, (request: FastifyRequest, payload: Readable, done) => {
    readBody(request, payload).then(
      (text) => {
        request.bodyBytes = Buffer.byteLength(text);
        if (text.trim() === '') return done(errors.invalidRequest('The body is empty; send a JSON object.'), undefined);
        let body: unknown;
        try {
          body = secureJson.parse(text, undefined, { protoAction: 'remove', constructorAction: 'remove' });
        } catch (error) {
          return done(errors.invalidRequest(`The body is not valid JSON: ${(error as Error).message}`), undefined);
        }
        try {
          done(null, text.includes('\\u') && UNSTORABLE_ESCAPE.test(text) ? storable(body) : body);
        } catch (error) {
          done(error instanceof RangeError ? errors.invalidRequest(TOO_DEEP) : (error as Error), undefined);
        }
      },
      (error) => done(error as Error, undefined),
    );
  });
}

// PostgreSQL stores neither NUL characters nor lone surrogates, and one such call would fail every request
// committed with it. Valid JSON text can only carry them as \u escapes, so only a body with one is walked.
const UNSTORABLE_ESCAPE = /\\u(?:0000|[dD][89a-fA-F])/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** The value with NUL characters dropped and lone surrogates replaced by U+FFFD, in keys and strings alike. */
function storable(value: unknown): unknown {
  if (typeof value === 'string') return value.replaceAll('\0', '').replace(LONE_SURROGATE, '\uFFFD');
  if (Array.isArray(value)) return value.map(storable);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [storable(k), storable(v)]));
  return value;
}

function readBody(request: FastifyRequest, payload: Readable): Promise<string> {
  const encoding = String(request.headers['content-encoding'] ?? 'identity').toLowerCase();
  let stream: Readable = payload;
  if (encoding === 'gzip' || encoding === 'x-gzip') stream = payload.pipe(createGunzip());
  else if (encoding === 'deflate') stream = payload.pipe(createInflate());
  else if (encoding !== 'identity') return Promise.reject(errors.invalidRequest(`Content-Encoding "${encoding}" is not supported; use gzip or none.`));

  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    const fail = (error: Error) => {
      if (failed) return;
      failed = true;
      payload.unpipe?.();
      payload.resume();
      reject(error);
    };
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > LIMITS.requestBytes) {
        fail(errors.invalidRequest(`The request body is over 500 KB (the limit per request); split it into smaller batches.`));
        return;
      }
      if (!failed) chunks.push(chunk);
    });
    stream.on('error', (error: Error & { code?: string; statusCode?: number }) =>
      fail(
        error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || error.statusCode === 413
          ? errors.invalidRequest('The request body is over 500 KB (the limit per request); split it into smaller batches.')
          : error.code?.startsWith('Z_')
            ? errors.invalidRequest('The body is not valid gzip.')
            : error,
      ),
    );
    stream.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks, size).toString('utf8'));
    });
  });
}
