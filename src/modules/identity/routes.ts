import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { JUNK_VALUES, RuleBook } from './rules.js';
import type { IdentityTables } from './store.js';

const DAY = 86_400_000;

const ruleSchema = {
  type: 'object',
  properties: {
    type: { type: 'string' },
    priority: { type: 'integer', description: '1 is highest; the lowest-priority identifier of an event is dropped first on a conflict.' },
    limit: { type: 'integer', description: 'Most values of this type on one profile (within windowDays when set).' },
    windowDays: { type: ['number', 'null'] },
    blocked: { type: 'array', items: { type: 'string' } },
    custom: { type: 'boolean', description: 'False while the type uses the default rule.' },
  },
};

/** Identity rules per workspace: priority, limit (optionally per rolling window) and blocked values per identifier type. */
export async function identityRoutes(app: FastifyInstance, { db: rawDb, forget }: { db: Kysely<any>; forget: (workspaceId: string) => void }) {
  const db = rawDb as Kysely<IdentityTables>;

  app.get('/identity/rules', {
    config: { access: { permission: 'identity:read' } },
    schema: {
      tags: ['identity'], summary: 'The identity rules in force, defaults included',
      response: { 200: { type: 'object', properties: { data: { type: 'array', items: ruleSchema }, alwaysBlocked: { type: 'array', items: { type: 'string' } } } } },
    },
  }, async (request) => {
    const rows = await db.selectFrom('identity_rules').selectAll().where('workspace_id', '=', request.principal!.workspaceId).execute();
    const book = new RuleBook(rows.map((r) => ({ type: r.type, priority: r.priority, limit: r.limit_count, windowMs: r.window_ms === null ? null : Number(r.window_ms), blocked: JSON.parse(r.blocked) })));
    const custom = new Set(rows.map((r) => r.type));
    return {
      data: book.all().map((r) => ({ type: r.type, priority: r.priority, limit: r.limit, windowDays: r.windowMs === null ? null : r.windowMs / DAY, blocked: r.blocked, custom: custom.has(r.type) })),
      alwaysBlocked: [...JUNK_VALUES.filter(Boolean), 'values made only of 0 and -'],
    };
  });

  app.put('/identity/rules/:type', {
    config: { access: { permission: 'identity:write' } },
    schema: {
      tags: ['identity'], summary: 'Set the rule of one identifier type',
      description: 'Takes effect for events processed from now on (within seconds on every node). Tightening a rule does not undo earlier merges.',
      params: { type: 'object', properties: { type: { type: 'string', pattern: '^[a-z0-9_]{1,64}$' } } },
      body: {
        type: 'object', required: ['priority', 'limit'], additionalProperties: false,
        properties: {
          priority: { type: 'integer', minimum: 1, maximum: 100 },
          limit: { type: 'integer', minimum: 1, maximum: 1000 },
          windowDays: { type: ['number', 'null'], exclusiveMinimum: 0, maximum: 3650 },
          blocked: { type: 'array', items: { type: 'string', maxLength: 500 }, maxItems: 1000, default: [] },
        },
      },
      response: { 200: ruleSchema },
    },
  }, async (request) => {
    const workspaceId = request.principal!.workspaceId;
    const { type } = request.params as { type: string };
    const body = request.body as { priority: number; limit: number; windowDays?: number | null; blocked: string[] };
    const row = {
      workspace_id: workspaceId, type, priority: body.priority, limit_count: body.limit,
      window_ms: body.windowDays ? Math.round(body.windowDays * DAY) : null, blocked: JSON.stringify(body.blocked),
    };
    await db.insertInto('identity_rules').values(row).onConflict((oc) => oc.columns(['workspace_id', 'type']).doUpdateSet({ priority: row.priority, limit_count: row.limit_count, window_ms: row.window_ms, blocked: row.blocked })).execute();
    forget(workspaceId);
    return { type, priority: body.priority, limit: body.limit, windowDays: body.windowDays ?? null, blocked: body.blocked, custom: true };
  });

  app.delete('/identity/rules/:type', {
    config: { access: { permission: 'identity:write' } },
    schema: { tags: ['identity'], summary: 'Return a type to its default rule', params: { type: 'object', properties: { type: { type: 'string' } } } },
  }, async (request, reply) => {
    const workspaceId = request.principal!.workspaceId;
    await db.deleteFrom('identity_rules').where('workspace_id', '=', workspaceId).where('type', '=', (request.params as { type: string }).type).execute();
    forget(workspaceId);
    return reply.status(204).send();
  });

}
