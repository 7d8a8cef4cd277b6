import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { errors } from '../../platform/errors.js';
import type { PrivacyRequestRow, RequestStatus, RequestType } from './requests-store.js';
import { REQUEST_TYPES, type Requests } from './requests.js';

const tags = ['privacy'];
const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());
const ID = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 100 } } };
const STATUSES: RequestStatus[] = ['pending', 'running', 'completed', 'failed'];

const requestResponse = {
  type: 'object',
  properties: {
    id: { type: 'string' }, type: { type: 'string', enum: REQUEST_TYPES }, status: { type: 'string', enum: STATUSES },
    identifier: { type: 'object', properties: { type: { type: 'string' }, value: { type: ['string', 'null'], description: 'Kept until the request is done, then forgotten.' } } },
    profileId: { type: ['string', 'null'] },
    actor: { type: 'object', properties: { type: { type: 'string' }, id: { type: 'string' } } },
    createdAt: { type: 'string' }, startedAt: { type: ['string', 'null'] }, finishedAt: { type: ['string', 'null'] },
    attempts: { type: 'integer' }, error: { type: ['string', 'null'] },
    result: { type: ['object', 'null'], additionalProperties: true, description: 'Counts of what was done (a deletion\'s tombstone).' },
    download: { type: ['string', 'null'], description: 'An export\'s document, once completed.' },
  },
};

function view(r: PrivacyRequestRow, prefix: string) {
  return {
    id: r.id, type: r.type, status: r.status, identifier: { type: r.identifier_type, value: r.identifier_value }, profileId: r.profile_id,
    actor: { type: r.actor_type, id: r.actor_id }, createdAt: iso(r.created_at), startedAt: iso(r.started_at), finishedAt: iso(r.finished_at),
    attempts: r.attempts, error: r.error, result: r.result ? (JSON.parse(r.result) as unknown) : null,
    download: r.type === 'export' && r.status === 'completed' ? `${prefix}/privacy/requests/${r.id}/export` : null,
  };
}

function decodeCursor(cursor: string): { at: number; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as [number, string];
    if (typeof at !== 'number' || typeof id !== 'string') throw new Error();
    return { at, id };
  } catch {
    throw errors.invalidRequest('The cursor is not one this API returned.');
  }
}

/** Privacy requests: suppress, unsuppress, delete and export a person by one of their identifiers. */
export async function requestRoutes(app: FastifyInstance, { db, requests, prefix, started }: { db: Kysely<any>; requests: Requests; prefix: string; started: () => void }) {
  const read = { access: { permission: 'privacy:read' } } as const;
  app.post('/privacy/requests', {
    // Recorded as privacy.<type> (refusals too), with the identifier's type but never its value.
    config: {
      access: { permission: 'privacy:write' },
      audit: {
        action: (request) => {
          const type = (request.body as { type?: unknown } | undefined)?.type;
          return typeof type === 'string' && (REQUEST_TYPES as string[]).includes(type) ? `privacy.${type}` : 'privacy.request.create';
        },
        targetType: 'privacy_request',
        change: (request) => {
          const body = (request.body ?? {}) as { type?: unknown; identifier?: { type?: unknown } };
          return { type: body.type ?? null, identifierType: body.identifier?.type ?? null };
        },
      },
    },
    schema: {
      tags, summary: 'Ask for a person to be suppressed, unsuppressed, deleted or exported',
      description: 'suppress: events of the identifier, and of every identifier of its profile, are dropped from then on. unsuppress: lifts that. '
        + 'delete: the profile, its identifiers, traits, events, timeline, computed values, memberships, consent and CRM personal data are erased, '
        + 'a `User Deleted` call is sent to webhook and Segment destinations, and the identifiers stay suppressed. export: everything about the person as one JSON document. '
        + 'Answered 202 at once; follow the request with GET until completed or failed.',
      body: {
        type: 'object', required: ['type', 'identifier'], additionalProperties: false,
        properties: {
          type: { type: 'string', enum: REQUEST_TYPES },
          identifier: {
            type: 'object', required: ['type', 'value'], additionalProperties: false,
            properties: {
              type: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,63}$', description: 'user_id, anonymous_id, email, phone, device_id, advertising_id or an external id type.' },
              value: { type: 'string', minLength: 1, maxLength: 1000, pattern: '\\S' },
            },
          },
        },
      },
      response: { 202: requestResponse },
    },
  }, async (request, reply) => {
    const body = request.body as { type: RequestType; identifier: { type: string; value: string } };
    const p = request.principal!;
    const row = await requests.create(db, p.workspaceId, body, p.actor);
    started();
    return reply.status(202).send(view(row, prefix));
  });

  app.get('/privacy/requests', {
    config: read,
    schema: {
      tags, summary: 'Privacy requests, newest first',
      querystring: {
        type: 'object', additionalProperties: false,
        properties: { type: { type: 'string', enum: REQUEST_TYPES }, status: { type: 'string', enum: STATUSES }, limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 }, cursor: { type: 'string', maxLength: 500 } },
      },
      response: { 200: { type: 'object', properties: { data: { type: 'array', items: requestResponse }, nextCursor: { type: ['string', 'null'] } } } },
    },
  }, async (request) => {
    const q = request.query as { type?: RequestType; status?: RequestStatus; limit: number; cursor?: string };
    const rows = await requests.list(db, request.principal!.workspaceId, { limit: q.limit + 1, type: q.type, status: q.status, before: q.cursor ? decodeCursor(q.cursor) : undefined });
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return { data: page.map((r) => view(r, prefix)), nextCursor: rows.length > q.limit ? Buffer.from(JSON.stringify([last.created_at, last.id])).toString('base64url') : null };
  });

  app.get('/privacy/requests/:id', { config: read, schema: { tags, summary: 'One privacy request and how far it has got', params: ID, response: { 200: requestResponse } } },
    async (request) => view(await requests.get(db, request.principal!.workspaceId, (request.params as { id: string }).id), prefix));

  app.post('/privacy/requests/:id/retry', {
    config: { access: { permission: 'privacy:write' } },
    schema: { tags, summary: 'Run a failed request again', params: ID, response: { 200: requestResponse } },
  }, async (request) => {
    const row = await requests.retry(db, request.principal!.workspaceId, (request.params as { id: string }).id);
    started();
    return view(row, prefix);
  });

  app.get('/privacy/requests/:id/export', {
    // Reading a person's whole data is itself recorded.
    config: { ...read, audit: { action: 'privacy.export.download', targetType: 'privacy_request' } },
    schema: { tags, summary: 'Download a completed export: everything about the person as one JSON document', params: ID, response: { 200: { type: 'object', additionalProperties: true } } },
  }, async (request, reply) => {
    const workspaceId = request.principal!.workspaceId;
    const id = (request.params as { id: string }).id;
    const row = await requests.get(db, workspaceId, id);
    if (row.type !== 'export') throw errors.notFound('Export');
    if (row.status !== 'completed') throw errors.conflict(`The export is ${row.status}; download it once it is completed.`);
    const doc = await requests.export(db, workspaceId, id);
    if (!doc) throw errors.gone('The export has expired or the person has since been deleted.');
    reply.header('content-disposition', `attachment; filename="rapport-export-${id}.json"`);
    reply.header('cache-control', 'no-store');
    // As an object, so the answer goes through the masking of personal data like every other (a caller
    // without pii:read gets emails, phones and addresses masked).
    return JSON.parse(doc.document) as Record<string, unknown>;
  });
}
