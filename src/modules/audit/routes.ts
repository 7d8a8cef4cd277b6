import { Readable } from 'node:stream';
import { stringify } from 'csv-stringify/sync';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { personalDataMask, unmasked } from '../../platform/http/pii.js';
import type { AuditService } from './service.js';
import type { AuditFilter, AuditRow } from './store.js';

const FILTERS = {
  actorType: { type: 'string', description: '`api_key`, `user`, `system`, or `anonymous` (a failed sign-in, by client address)' },
  actorId: { type: 'string' },
  action: { type: 'string', description: 'An action or a prefix of whole segments: `crm.deal` finds `crm.deal.create`, `crm.deal.update`…' },
  targetType: { type: 'string', description: 'e.g. `crm.deal`, `api_key`, `source`' },
  targetId: { type: 'string' },
  from: { type: 'string', format: 'date-time', description: 'At or after this time' },
  to: { type: 'string', format: 'date-time', description: 'Before this time' },
} as const;

const entrySchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' }, seq: { type: 'integer', description: "Position in the workspace's chain, from 1" }, at: { type: 'string' },
    actor: { type: 'object', properties: { type: { type: 'string' }, id: { type: 'string' } } },
    action: { type: 'string' },
    target: { type: ['object', 'null'], properties: { type: { type: 'string' }, id: { type: ['string', 'null'] } } },
    change: { description: 'The request body of a write (secrets redacted), or what an explicit entry recorded; null once erased' },
    changeDigest: { type: ['string', 'null'] }, changeErasedAt: { type: ['string', 'null'] },
    requestId: { type: ['string', 'null'] }, ip: { type: ['string', 'null'] }, userAgent: { type: ['string', 'null'] }, status: { type: ['integer', 'null'] },
    prevHash: { type: 'string' }, hash: { type: 'string' },
  },
} as const;

const COLUMNS = ['id', 'seq', 'at', 'actorType', 'actorId', 'action', 'targetType', 'targetId', 'status', 'requestId', 'ip', 'userAgent', 'change', 'changeDigest', 'changeErasedAt', 'prevHash', 'hash'];

const toIso = (value: string | undefined) => (value === undefined ? undefined : new Date(value).toISOString());

function filterOf(query: Record<string, string | undefined>): AuditFilter {
  return { actorType: query.actorType, actorId: query.actorId, action: query.action, targetType: query.targetType, targetId: query.targetId, from: toIso(query.from), to: toIso(query.to) };
}

function view(r: AuditRow) {
  return {
    id: Number(r.id), seq: Number(r.seq), at: r.at, actor: { type: r.actor_type, id: r.actor_id }, action: r.action,
    target: r.target_type === null && r.target_id === null ? null : { type: r.target_type, id: r.target_id },
    change: r.change === null ? null : (JSON.parse(r.change) as unknown), changeDigest: r.change_digest, changeErasedAt: r.change_erased_at,
    requestId: r.request_id, ip: r.ip, userAgent: r.user_agent, status: r.status === null ? null : Number(r.status), prevHash: r.prev_hash, hash: r.hash,
  };
}

const csvRow = (r: AuditRow) => [
  Number(r.id), Number(r.seq), r.at, r.actor_type, r.actor_id, r.action, r.target_type, r.target_id, r.status, r.request_id, r.ip, r.user_agent,
  r.change, r.change_digest, r.change_erased_at, r.prev_hash, r.hash,
];

/** The audit log's API: read, export, verify. Its entries are written by the platform's hook and by `record`. */
export async function auditRoutes(app: FastifyInstance, { db, audit }: { db: Kysely<any>; audit: AuditService }) {
  const read = { access: { permission: 'audit:read' } } as const;
  const tags = ['audit'];
  const ws = (request: { principal?: { workspaceId: string } }) => request.principal!.workspaceId;

  app.get('/audit', {
    config: read,
    schema: {
      tags, summary: 'Audit log entries, newest first, filtered',
      description: 'Every management and CRM write (failed ones too, with their status), API key use (first per key per hour and node), and what other modules record (logins, privacy requests).',
      querystring: { type: 'object', additionalProperties: false, properties: { ...FILTERS, limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, cursor: { type: 'string' } } },
      response: { 200: { type: 'object', properties: { data: { type: 'array', items: entrySchema }, nextCursor: { type: ['string', 'null'] } } } },
    },
  }, async (request) => {
    const q = request.query as Record<string, string | undefined> & { limit: number };
    const page = await audit.list(db, ws(request), filterOf(q), q.limit, q.cursor);
    return { data: page.entries.map(view), nextCursor: page.nextCursor };
  });

  // Reading the whole log out is itself worth recording.
  app.get('/audit/export', {
    config: { ...read, audit: { action: 'audit.export' } },
    schema: {
      tags, summary: 'Export the filtered entries in chain order, as JSON lines or CSV, with their hashes (an export of the whole log can be verified offline)',
      querystring: { type: 'object', additionalProperties: false, properties: { ...FILTERS, format: { type: 'string', enum: ['jsonl', 'csv'], default: 'jsonl' } } },
    },
  }, async (request, reply) => {
    const q = request.query as Record<string, string | undefined> & { format: 'jsonl' | 'csv' };
    const pages = await audit.entries(db, ws(request), filterOf(q));
    const csv = q.format === 'csv';
    // Without pii:read, the changes' personal values are masked as in GET /audit: the chain (digests and hashes)
    // still verifies; only a masked change cannot be checked against its digest offline.
    const mask = personalDataMask(request);
    const shown = mask === unmasked ? (r: AuditRow) => r : (r: AuditRow): AuditRow => {
      const m = mask({ change: r.change === null ? null : (JSON.parse(r.change) as unknown), ip: r.ip });
      return { ...r, change: m.change === null ? null : JSON.stringify(m.change), ip: m.ip };
    };
    async function* lines() {
      if (csv) yield stringify([COLUMNS]);
      for await (const rows of pages) yield csv ? stringify(rows.map((r) => csvRow(shown(r)))) : rows.map((r) => `${JSON.stringify(view(shown(r)))}\n`).join('');
    }
    return reply
      .header('content-type', csv ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
      .header('content-disposition', `attachment; filename="audit.${q.format}"`)
      .send(Readable.from(lines()));
  });

  app.get('/audit/verify', {
    config: read,
    schema: {
      tags, summary: "Recompute the workspace's hash chain: ok, or the first entry that does not hold and why",
      response: {
        200: {
          type: 'object',
          properties: {
            ok: { type: 'boolean' }, entries: { type: 'integer', description: 'Entries checked (and found sound)' }, erased: { type: 'integer' },
            head: { type: 'object', properties: { seq: { type: 'integer' }, hash: { type: 'string' } } },
            broken: { type: 'object', properties: { id: { type: ['integer', 'null'] }, seq: { type: 'integer' }, reason: { type: 'string' }, message: { type: 'string' } } },
          },
        },
      },
    },
  }, async (request) => audit.verify(db, ws(request)));
}
