import type { FastifyInstance, FastifyRequest } from 'fastify';

/**
 * How a route appears in the audit log. Writes (POST, PUT, PATCH, DELETE) under the management prefix
 * are recorded without declaring anything: the action and target are derived from the route's path.
 * A write guarded by a read permission (a preview sent as POST) is a read and is not recorded. A route
 * declares `config.audit` to name them itself, `false` to opt out, or, on a read, to be recorded too (an export).
 */
export interface RouteAudit {
  /** Fixed, or from the request (a privacy request's type). */
  action?: string | ((request: FastifyRequest) => string);
  targetType?: string;
  /** The target's id when the path has none: from the response, e.g. `(body) => body.apiKey?.id`. */
  targetId?: (response: any, request: FastifyRequest) => unknown;
  /** What to record as the change instead of the body (a body that holds a value the log must not keep). */
  change?: (request: FastifyRequest) => unknown;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    audit?: RouteAudit | false;
  }
}

/** A request as the audit log records it. */
export interface AuditedRequest {
  workspaceId: string;
  actor: { type: string; id: string };
  action: string;
  target: { type: string; id: string | null } | null;
  change: unknown;
  requestId: string;
  ip: string;
  userAgent: string | null;
  status: number;
}

/** Must not throw: a failure is the recorder's to log and count. */
export type RequestRecorder = (entry: AuditedRequest) => Promise<void>;

const WRITE_VERBS: Record<string, string> = { POST: 'create', PUT: 'update', PATCH: 'update', DELETE: 'delete' };

interface Derived {
  action: string;
  targetType: string | null;
  /** The params naming the target, in path order. */
  params: string[];
}

const snake = (segment: string) => segment.replace(/-/g, '_');
const singular = (name: string) => (name.endsWith('ies') ? `${name.slice(0, -3)}y` : name.endsWith('s') && !name.endsWith('ss') ? name.slice(0, -1) : name);

/**
 * `PATCH /crm/deals/:id` → `crm.deal.update` on `crm.deal` :id; `POST /api-keys` → `api_key.create`;
 * `POST /crm/contacts/:id/merge` → `crm.contact.merge` on `crm.contact` :id;
 * `POST /destinations/:id/dead-letters/replay` → `destination.dead_letter.replay` on `destination` :id.
 * A last segment that is not plural and not followed by an id is a verb; otherwise the method is.
 */
export function deriveAudit(method: string, path: string): Derived {
  const nouns: { name: string; params: string[] }[] = [];
  for (const segment of path.split('/').filter(Boolean)) {
    if (segment.startsWith(':')) nouns[nouns.length - 1]?.params.push(segment.slice(1));
    else nouns.push({ name: snake(segment), params: [] });
  }
  if (nouns.length === 0) return { action: WRITE_VERBS[method] ?? method.toLowerCase(), targetType: null, params: [] };
  const last = nouns[nouns.length - 1];
  const isVerb = nouns.length > 1 && last.params.length === 0 && !last.name.endsWith('s');
  const objects = (isVerb ? nouns.slice(0, -1) : nouns).map((n) => singular(n.name));
  const verb = isVerb ? last.name : WRITE_VERBS[method] ?? method.toLowerCase();
  // The target is the deepest record the path names by id; else the collection something is created in.
  let identified = -1;
  nouns.forEach((n, i) => { if (n.params.length > 0) identified = i; });
  const targetNouns = identified >= 0 ? nouns.slice(0, identified + 1) : isVerb ? nouns.slice(0, -1) : nouns;
  return {
    action: [...objects, verb].join('.'),
    targetType: targetNouns.map((n) => singular(n.name)).join('.') || null,
    params: identified >= 0 ? nouns[identified].params : [],
  };
}

function idOf(value: unknown): string | null {
  if (typeof value === 'string' && value) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

/**
 * Records every write under `prefix` (and every route that declares `config.audit`) once its response is
 * decided, before it is sent: a client that has its answer knows the entry is written, or that its failure
 * was logged. The collection API (`/v1`) is outside the prefix: ingestion is not management.
 */
export function auditRequests(app: FastifyInstance, { prefix, record }: { prefix: string; record: RequestRecorder }): void {
  const derived = new Map<string, Derived>();
  const responses = new WeakMap<FastifyRequest, unknown>();
  const audited = (request: FastifyRequest) => {
    const url = request.routeOptions.url;
    const declared = request.routeOptions.config?.audit;
    if (!url || declared === false || !url.startsWith(`${prefix}/`)) return undefined;
    if (declared) return declared;
    // A POST guarded by a read permission (a preview, a search) is a read.
    const access = request.routeOptions.config?.access;
    if (!WRITE_VERBS[request.method] || (typeof access === 'object' && ('permission' in access ? [access.permission] : access.anyPermission).every((p) => p.endsWith(':read')))) return undefined;
    return {};
  };

  // The response object, before it is serialised: where a created record's id is.
  app.addHook('preSerialization', async (request, _reply, payload) => {
    if (audited(request)) responses.set(request, payload);
    return payload;
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const declared = audited(request);
    const principal = request.principal;
    // An unauthenticated call belongs to no workspace, so to no workspace's log.
    if (!declared || !principal) return payload;
    const key = `${request.method} ${request.routeOptions.url}`;
    let route = derived.get(key);
    if (!route) derived.set(key, (route = deriveAudit(request.method, request.routeOptions.url!.slice(prefix.length))));
    const params = (request.params ?? {}) as Record<string, string>;
    const response = responses.get(request);
    const fromPath = route.params.map((p) => params[p]).filter(Boolean).join('/');
    const targetId = fromPath || (reply.statusCode < 300 ? idOf(declared.targetId ? declared.targetId(response, request) : (response as { id?: unknown } | undefined)?.id) : null);
    const targetType = declared.targetType ?? route.targetType;
    try {
      await record({
        workspaceId: principal.workspaceId,
        actor: principal.actor,
        action: (typeof declared.action === 'function' ? declared.action(request) : declared.action) ?? route.action,
        target: targetType || targetId ? { type: targetType ?? '', id: targetId || null } : null,
        // A write's body; for a read that is recorded (an export), what it asked for.
        change: declared.change ? declared.change(request) : WRITE_VERBS[request.method] ? request.body : request.query,
        requestId: request.id,
        ip: request.ip,
        userAgent: request.headers['user-agent'] ?? null,
        status: reply.statusCode,
      });
    } catch (error) {
      request.log.error({ err: error }, 'AUDIT ENTRY NOT WRITTEN');
    }
    return payload;
  });
}
