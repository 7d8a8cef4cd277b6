import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { errors } from '../../platform/errors.js';

/** Secrets we hand out are 256 random bits; at rest we keep only their SHA-256 (a slow hash adds nothing at that entropy). */
export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export function newSecret(prefix = ''): string {
  return prefix + randomBytes(32).toString('base64url');
}

/** Compares a presented secret with a stored SHA-256 in constant time. */
export function matchesHash(presented: string, storedHash: string): boolean {
  const a = Buffer.from(sha256(presented), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * A session's CSRF token, derived from its secret: GET /auth/session can hand it out again from the cookie
 * alone, while the token reveals nothing of the cookie (HMAC is one-way) and only its hash is stored.
 */
export function csrfTokenFor(sessionSecret: string): string {
  return createHmac('sha256', sessionSecret).update('rapport csrf token').digest('base64url');
}

/** Emails are compared trimmed and lower-cased; a malformed one is refused with a validation error. */
export function normalizeEmail(email: string): string {
  const normalized = email.trim().toLowerCase();
  if (normalized.length > 320 || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(normalized)) throw errors.validation(`"${email}" is not an email address.`);
  return normalized;
}
