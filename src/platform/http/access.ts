import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import { errors } from '../errors.js';
import { clearSessionCookie, sessionCookie } from './session-cookie.js';

/**
 * Who may call a route. Every route declares one in `config.access`; registering a route without it
 * fails at start-up, so an unguarded route cannot ship.
 * - `public`: anyone (health, metrics, the analytics.js bundle, signing in).
 * - `write-key`: a source's write key, in `Authorization: Basic` or the body's `writeKey`; can only ingest.
 * - `signed-in`: any valid API key or session, whatever its role (who am I, sign out, change my password).
 * - `{ permission }`: an API key (`Authorization: Bearer`, or Basic username) or a user's session cookie,
 *   whose role in the workspace grants that permission.
 * - `{ anyPermission }`: as above, with any one of them; the handler narrows what it answers to the rest
 *   (search across objects answers only the objects the caller may read).
 */
export type RouteAccess = 'public' | 'write-key' | 'signed-in' | { permission: string } | { anyPermission: readonly string[] };

export interface CallerPrincipal {
  workspaceId: string;
  actor: { type: string; id: string };
  role?: string;
  can(permission: string): boolean;
}

/**
 * Of these profile ids, those the caller may not see: contacts and companies out of its record visibility.
 * app.ts gives it (from the CRM's rules) to the modules that show profiles beside the CRM: profiles, the
 * Profile API, audiences.
 */
export type HiddenProfiles = (principal: CallerPrincipal, profileIds: string[]) => Promise<ReadonlySet<string>>;

/** Of these logged events (source and properties), which the caller may not see: the CRM's events about hidden records. */
export type HiddenEvents = (principal: CallerPrincipal, events: { sourceId: string; properties: Record<string, unknown> }[]) => Promise<boolean[]>;

/** A session found from its cookie: who it is, and the check of the CSRF token its writes must carry. */
export interface SessionCaller {
  principal: CallerPrincipal;
  csrfMatches(token: string): boolean;
}

export interface WriteKeySource {
  id: string;
  workspaceId: string;
}

/** Where a call comes from, for the audit log's record of key use. */
export interface CallContext {
  method: string;
  path: string;
  requestId: string;
  ip: string;
  userAgent: string | null;
}

export interface Authenticators {
  bearer(token: string, context: CallContext): Promise<CallerPrincipal | null>;
  session(secret: string): Promise<SessionCaller | null>;
  writeKey(key: string): Promise<WriteKeySource | null>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
  interface FastifyRequest {
    principal?: CallerPrincipal;
    writeKeySource?: WriteKeySource;
  }
}

// Routes added by third-party plugins we register ourselves; each is public by nature.
const THIRD_PARTY_PUBLIC = [/^\/api\/docs(\/|$)/];

/** A registered route and who may call it. */
export interface DeclaredRoute {
  method: string;
  url: string;
  access: RouteAccess;
}

const declared = new WeakMap<FastifyInstance, DeclaredRoute[]>();

/** Every route of a server with its declaration (HEAD and OPTIONS twins aside), in registration order: what the route matrix test calls. */
export function declaredRoutes(app: FastifyInstance): readonly DeclaredRoute[] {
  return declared.get(app) ?? [];
}

export function declareAccessOnEveryRoute(app: FastifyInstance): void {
  const routes: DeclaredRoute[] = [];
  declared.set(app, routes);
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    // CORS preflights and HEAD twins answer no data of their own.
    if (methods.every((m) => m === 'OPTIONS' || m === 'HEAD')) return;
    const config = (route.config ?? {}) as { access?: RouteAccess };
    if (!config.access && THIRD_PARTY_PUBLIC.some((re) => re.test(route.url))) route.config = { ...config, access: 'public' };
    const access = (route.config as { access?: RouteAccess } | undefined)?.access;
    if (!access) throw new Error(`Route ${methods.join(',')} ${route.url} does not declare who may call it (config.access)`);
    for (const method of methods) if (method !== 'HEAD' && method !== 'OPTIONS') routes.push({ method, url: route.url, access });
  });
}

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const [scheme, token] = header.split(' ');
  return scheme?.toLowerCase() === 'bearer' && token ? token.trim() : undefined;
}

/** `Basic base64(writeKey:)`; Segment also tolerates the colon missing. */
export function basicUser(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header || header.slice(0, 6).toLowerCase() !== 'basic ') return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const user = decoded.split(':')[0];
  return user || undefined;
}

function refusal(principal: CallerPrincipal, permission: string) {
  const who = principal.actor.type === 'user' ? `Your role (${principal.role ?? 'none'})` : `This key's role (${principal.role ?? 'none'})`;
  return errors.forbidden(`${who} lacks the "${permission}" permission.`);
}

/**
 * The permission check, for the route's declaration and for a handler whose need depends on the input
 * (an import needs to write the object it imports): 403 unless the caller's role grants `permission`.
 */
export function demand(request: FastifyRequest, permission: string): void {
  const principal = request.principal;
  if (!principal) throw errors.authentication();
  if (!principal.can(permission)) throw refusal(principal, permission);
}

// Methods a browser lets another site trigger freely; everything else is a write and needs the CSRF token.
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The one permission check, run for every request according to the route's declaration. */
export function installGuard(app: FastifyInstance, authenticators: Authenticators): void {
  app.addHook('onRequest', async (request, reply) => {
    const access = request.routeOptions.config?.access;
    if (!access || access === 'public' || access === 'write-key') return;
    let principal: CallerPrincipal | null;
    // Bearer, or Basic with the key as username (Segment's Profile API convention). A key, when sent, decides:
    // a browser cannot attach one to a forged cross-site request, so key calls need no CSRF token.
    const token = bearerToken(request) ?? basicUser(request);
    if (token) {
      const context = { method: request.method, path: request.url.split('?')[0], requestId: request.id, ip: request.ip, userAgent: request.headers['user-agent'] ?? null };
      principal = await authenticators.bearer(token, context);
      if (!principal) throw errors.authentication('Send a valid API key as "Authorization: Bearer <key>" or as the Basic username.');
    } else {
      const secret = sessionCookie(request);
      const caller = secret ? await authenticators.session(secret) : null;
      if (!caller) {
        if (secret) clearSessionCookie(reply);
        throw errors.authentication(secret
          ? 'Your session has ended (signed out, timed out or revoked); sign in again.'
          : 'Sign in (POST /api/v1/auth/login) or send an API key as "Authorization: Bearer <key>".');
      }
      // Checked before the request learns its principal: a forged write is not the user's act, so it is
      // answered 403 csrf_error without an audit entry in their name.
      const sent = request.headers['x-csrf-token'];
      if (!SAFE_METHODS.has(request.method) && (typeof sent !== 'string' || !caller.csrfMatches(sent))) throw errors.csrf();
      principal = caller.principal;
    }
    // Known before it is refused, so the audit log can show who tried.
    request.principal = principal;
    if (access === 'signed-in') return;
    if ('permission' in access) demand(request, access.permission);
    else if (!access.anyPermission.some((p) => principal.can(p))) throw refusal(principal, access.anyPermission.join('" or "'));
  });
  // Write keys may sit in the body, so they are checked once it is parsed.
  app.addHook('preHandler', async (request) => {
    if (request.routeOptions.config?.access !== 'write-key') return;
    const body = request.body as { writeKey?: unknown } | undefined;
    const key = basicUser(request) ?? (typeof body?.writeKey === 'string' ? body.writeKey : undefined);
    const source = key ? await authenticators.writeKey(key) : null;
    if (!source) throw errors.authentication('Unknown or missing write key: send it as "Authorization: Basic base64(writeKey:)" or as "writeKey" in the body.');
    request.writeKeySource = source;
  });
}
