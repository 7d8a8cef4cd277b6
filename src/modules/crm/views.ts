import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { errors } from '../../platform/errors.js';
import { DEAL_SORTS } from './deals.js';
import { LIFECYCLE_STAGES } from './contacts.js';
import { profileListProperties } from './profile-list.js';

/** What a saved view of each object may hold: the query parameters of that object's list. */
const QUERIES = {
  deal: {
    sort: { enum: DEAL_SORTS }, order: { enum: ['asc', 'desc'] }, pipelineId: { type: 'string' }, stageId: { type: 'string' }, status: { enum: ['open', 'won', 'lost'] },
    ownerId: { type: 'string' }, companyId: { type: 'string' }, contactId: { type: 'string' }, q: { type: 'string', maxLength: 200 }, closeFrom: { type: 'string', format: 'date' }, closeTo: { type: 'string', format: 'date' },
  },
  contact: { ownerId: { type: 'string' }, lifecycleStage: { enum: [...LIFECYCLE_STAGES] }, q: { type: 'string', maxLength: 200 }, ...profileListProperties('contacts') },
  company: { ownerId: { type: 'string' }, q: { type: 'string', maxLength: 200 }, ...profileListProperties('companies') },
  task: { assigneeId: { type: 'string' }, status: { enum: ['open', 'in_progress', 'done', 'cancelled', 'active'] }, dueBefore: { type: 'string', format: 'date-time' } },
  ticket: { status: { enum: ['new', 'open', 'pending', 'resolved', 'closed', 'active'] }, priority: { enum: ['low', 'normal', 'high', 'urgent'] }, assigneeId: { type: 'string' }, contactId: { type: 'string' }, breached: { type: 'boolean' }, q: { type: 'string', maxLength: 200 } },
} as const;
export type ViewObject = keyof typeof QUERIES;

export const viewSchema = {
  oneOf: (Object.keys(QUERIES) as ViewObject[]).map((object) => ({
    type: 'object', additionalProperties: false, required: ['object', 'name', 'query'],
    properties: {
      object: { const: object }, name: { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' },
      query: { type: 'object', additionalProperties: false, properties: QUERIES[object], description: `The parameters of GET /crm/${object}s to apply.` },
    },
  })),
};
export const viewUpdateSchema = {
  type: 'object', additionalProperties: false, minProperties: 1,
  properties: { name: { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' }, query: { type: 'object', description: 'Checked against the view\'s object.' } },
};

interface ViewRow { id: string; workspace_id: string; object: string; name: string; query: string; created_by: string; created_at: number; updated_at: number }

export const viewView = (r: ViewRow) => ({
  id: r.id, object: r.object, name: r.name, query: JSON.parse(r.query) as Record<string, unknown>, createdBy: r.created_by,
  createdAt: new Date(Number(r.created_at)).toISOString(), updatedAt: new Date(Number(r.updated_at)).toISOString(),
});

/** Saved views: named filters and sorts over an object's list, shared in the workspace. */
export function createViews(now: () => number, checkQuery: (object: ViewObject, query: unknown) => void) {
  const t = (db: Kysely<any>) => db as Kysely<{ crm_views: ViewRow }>;
  async function get(db: Kysely<any>, workspaceId: string, id: string): Promise<ViewRow> {
    const row = await t(db).selectFrom('crm_views').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
    if (!row) throw errors.notFound('View');
    return row;
  }
  async function unique(db: Kysely<any>, workspaceId: string, object: string, name: string, except?: string) {
    const clash = await t(db).selectFrom('crm_views').select('id').where('workspace_id', '=', workspaceId).where('object', '=', object).where('name', '=', name).executeTakeFirst();
    if (clash && clash.id !== except) throw errors.conflict(`A ${object} view named "${name}" exists already.`);
  }
  return {
    get,
    list: (db: Kysely<any>, workspaceId: string, object?: string) => {
      let q = t(db).selectFrom('crm_views').selectAll().where('workspace_id', '=', workspaceId);
      if (object) q = q.where('object', '=', object);
      return q.orderBy('object').orderBy('name').execute();
    },
    async create(db: Kysely<any>, workspaceId: string, input: { object: ViewObject; name: string; query: Record<string, unknown> }, actor: string): Promise<ViewRow> {
      await unique(db, workspaceId, input.object, input.name.trim());
      const at = now();
      const row: ViewRow = { id: randomUUID(), workspace_id: workspaceId, object: input.object, name: input.name.trim(), query: JSON.stringify(input.query), created_by: actor, created_at: at, updated_at: at };
      await t(db).insertInto('crm_views').values(row).execute();
      return row;
    },
    async update(db: Kysely<any>, workspaceId: string, id: string, input: { name?: string; query?: Record<string, unknown> }): Promise<ViewRow> {
      const current = await get(db, workspaceId, id);
      if (input.query) checkQuery(current.object as ViewObject, input.query);
      if (input.name) await unique(db, workspaceId, current.object, input.name.trim(), id);
      await t(db).updateTable('crm_views').set({ name: input.name?.trim() ?? current.name, query: input.query ? JSON.stringify(input.query) : current.query, updated_at: now() }).where('id', '=', id).execute();
      return get(db, workspaceId, id);
    },
    async remove(db: Kysely<any>, workspaceId: string, id: string) {
      await get(db, workspaceId, id);
      await t(db).deleteFrom('crm_views').where('id', '=', id).execute();
    },
  };
}

export { QUERIES as VIEW_QUERIES };

export type Views = ReturnType<typeof createViews>;
