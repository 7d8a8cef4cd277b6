/**
 * The one error type. Services throw these (transport-neutral); the HTTP edge maps `status`
 * and serialises `{ error: { code, message, details? } }`.
 */
export class RapportError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'RapportError';
  }
}

export const errors = {
  invalidRequest: (message: string, details?: unknown) => new RapportError('invalid_request_error', 400, message, details),
  validation: (message: string, details?: unknown) => new RapportError('validation_error', 400, message, details),
  authentication: (message = 'Missing or invalid credentials.') => new RapportError('authentication_error', 401, message),
  forbidden: (message = 'You do not have permission to do this.') => new RapportError('permission_error', 403, message),
  csrf: () =>
    new RapportError('csrf_error', 403, 'A change made with a session cookie needs the "X-CSRF-Token" header: the csrfToken that sign-in and GET /api/v1/auth/session return.'),
  notFound: (what: string) => new RapportError('not_found', 404, `${what} was not found.`),
  conflict: (message: string) => new RapportError('conflict', 409, message),
  gone: (message: string) => new RapportError('gone', 410, message),
  preconditionFailed: (message: string) => new RapportError('precondition_failed', 412, message),
  // Retry-After in seconds (analytics.js reads it); X-RateLimit-Reset as the epoch milliseconds of the
  // reset, which is how Segment's Node client reads it.
  rateLimited: (retryAfterSeconds: number, message = 'Too many requests.', now = Date.now()) =>
    new RapportError('rate_limit_error', 429, message, undefined, {
      'retry-after': String(retryAfterSeconds),
      'x-ratelimit-reset': String(now + retryAfterSeconds * 1000),
    }),
  overloaded: (retryAfterSeconds: number) =>
    new RapportError('overloaded', 503, 'The event log is busy; retry shortly.', undefined, {
      'retry-after': String(retryAfterSeconds),
    }),
  unavailable: (message: string, retryAfterSeconds?: number) =>
    new RapportError('unavailable', 503, message, undefined, retryAfterSeconds === undefined ? undefined : { 'retry-after': String(retryAfterSeconds) }),
};
