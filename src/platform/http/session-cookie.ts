import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * The session cookie. `__Host-` makes browsers refuse it unless it is Secure, has Path=/ and no Domain, so
 * no sibling subdomain or plain-HTTP page can plant or overwrite it. Browsers accept Secure cookies only
 * from HTTPS origins and from http://localhost (and 127.0.0.1), which they count as secure contexts.
 */
export const SESSION_COOKIE = '__Host-rapport_session';
const ATTRIBUTES = 'Path=/; HttpOnly; Secure; SameSite=Lax';

/** The session secret the request carries, if any (the value is base64url: never quoted or encoded). */
export function sessionCookie(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const pair of header.split(';')) {
    const at = pair.indexOf('=');
    if (at > 0 && pair.slice(0, at).trim() === SESSION_COOKIE) return pair.slice(at + 1).trim() || undefined;
  }
  return undefined;
}

export function setSessionCookie(reply: FastifyReply, secret: string, maxAgeSeconds: number): void {
  reply.header('set-cookie', `${SESSION_COOKIE}=${secret}; Max-Age=${maxAgeSeconds}; ${ATTRIBUTES}`);
  // A response that sets a session must never be stored by a shared cache.
  reply.header('cache-control', 'no-store');
}

export function clearSessionCookie(reply: FastifyReply): void {
  reply.header('set-cookie', `${SESSION_COOKIE}=; Max-Age=0; ${ATTRIBUTES}`);
}
