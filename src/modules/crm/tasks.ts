import { timeOrderedUuid } from '../../platform/ids.js';
import type { Kysely } from 'kysely';
import { errors } from '../../platform/errors.js';
import { associationsSchema, idsOfRecord, scopedAssociations, subjectOf, type AssociationsInput } from './associations.js';
import { ALL_RECORDS, type RecordRules, type RecordScope } from './record-scope.js';
import { checkIfMatch } from './concurrency.js';
import { parseKeyset } from './cursor.js';
import type { DealsDeps } from './deals.js';
import { appendCrmEvent } from './events.js';
import { numeric, workStore as store, type AssociationRow, type Priority, type TaskRow } from './work-store.js';

export interface TaskInput extends AssociationsInput {
  title?: string;
  body?: string | null;
  dueAt?: string | null;
  assigneeId?: string | null;
  status?: TaskRow['status'];
  priority?: Priority;
}

const properties = {
  title: { type: 'string', minLength: 1, maxLength: 500 },
  body: { type: ['string', 'null'], maxLength: 100_000 },
  dueAt: { type: ['string', 'null'], format: 'date-time' },
  assigneeId: { type: ['string', 'null'], maxLength: 200 },
  status: { enum: ['open', 'in_progress', 'done', 'cancelled'], description: 'Default open.' },
  priority: { enum: ['low', 'normal', 'high', 'urgent'], description: 'Default normal.' },
  ...associationsSchema,
};
export const taskCreateSchema = { type: 'object', additionalProperties: false, required: ['title'], properties };
export const taskUpdateSchema = { type: 'object', additionalProperties: false, minProperties: 1, properties };

export interface Task extends TaskRow {
  associations: AssociationRow[];
  overdue: boolean;
}

export interface TaskQuery {
  limit: number;
  cursor?: string;
  assigneeId?: string;
  status?: TaskRow['status'] | 'active';
  dueBefore?: string;
  /** Only tasks about this record (a contact or company under any of its merged ids). */
  contactId?: string;
  companyId?: string;
  dealId?: string;
  ticketId?: string;
}

const ABOUT = [['contactId', 'contact'], ['companyId', 'company'], ['dealId', 'deal'], ['ticketId', 'ticket']] as const;

/** Tasks with a due date, an assignee, a status and a priority, about contacts, companies, deals or tickets. */
export function createTasks(deps: DealsDeps, rules: RecordRules) {
  const visible = (scope: RecordScope) => rules.workVisible('task', 'crm_tasks.id', 'crm_tasks.assignee_id', scope);
  const withState = (row: TaskRow, associations: AssociationRow[]): Task => ({
    ...row, associations, overdue: row.due_at !== null && (row.status === 'open' || row.status === 'in_progress') && row.due_at < deps.now(),
  });

  async function get(db: Kysely<any>, workspaceId: string, id: string, scope: RecordScope = ALL_RECORDS, lock = false): Promise<Task> {
    const row = await store.get<TaskRow>(db, 'crm_tasks', workspaceId, id, lock && deps.postgres, scope.all ? undefined : visible(scope));
    if (!row) throw errors.notFound('Task');
    return withState(row, (await store.associations(db, 'task', [id])).get(id)!);
  }

  async function announce(db: Kysely<any>, task: Task, event: string) {
    const { profileId, collection } = subjectOf(task.associations.map((a) => ({ object: a.object, targetId: a.target_id })));
    await appendCrmEvent(db, deps, {
      workspaceId: task.workspace_id, event, profileId, collection,
      properties: { task_id: task.id, title: task.title, status: task.status, priority: task.priority, assignee_id: task.assignee_id, due_at: task.due_at === null ? null : new Date(task.due_at).toISOString() },
    });
  }

  return {
    get,
    async create(db: Kysely<any>, workspaceId: string, input: TaskInput, scope: RecordScope = ALL_RECORDS): Promise<Task> {
      const targets = await scopedAssociations(db, deps, rules, scope, workspaceId, input, 'task');
      const now = deps.now();
      const status = input.status ?? 'open';
      const row: TaskRow = {
        id: timeOrderedUuid(), workspace_id: workspaceId, title: input.title!.trim(), body: input.body ?? null, due_at: input.dueAt ? Date.parse(input.dueAt) : null,
        assignee_id: input.assigneeId ?? null, status, priority: input.priority ?? 'normal', completed_at: status === 'done' ? now : null, version: 1, created_at: now, updated_at: now,
      };
      await store.insert(db, 'crm_tasks', row);
      await store.setAssociations(db, workspaceId, 'task', row.id, targets);
      const task = await get(db, workspaceId, row.id);
      await announce(db, task, 'Task Created');
      return task;
    },
    async update(db: Kysely<any>, workspaceId: string, id: string, input: TaskInput, ifMatch?: string, scope: RecordScope = ALL_RECORDS): Promise<Task> {
      const current = await get(db, workspaceId, id, scope, true);
      checkIfMatch(ifMatch, current, 'task');
      const relinks = ['contactIds', 'companyIds', 'dealIds', 'ticketIds'].some((k) => k in input);
      const targets = relinks ? await scopedAssociations(db, deps, rules, scope, workspaceId, input, 'task', current.associations) : undefined;
      const now = deps.now();
      const status = input.status ?? current.status;
      const set = {
        title: input.title?.trim() ?? current.title, body: input.body === undefined ? current.body : input.body,
        due_at: input.dueAt === undefined ? current.due_at : input.dueAt === null ? null : Date.parse(input.dueAt),
        assignee_id: input.assigneeId === undefined ? current.assignee_id : input.assigneeId, status, priority: input.priority ?? current.priority,
        completed_at: status === 'done' ? (current.completed_at ?? now) : null, updated_at: now,
      };
      if (!(await store.update(db, 'crm_tasks', id, current.version, set))) throw errors.preconditionFailed('The task changed while this change was applied; read it again.');
      if (targets) await store.setAssociations(db, workspaceId, 'task', id, targets);
      const task = await get(db, workspaceId, id);
      if (status === 'done' && current.status !== 'done') await announce(db, task, 'Task Completed');
      return task;
    },
    async remove(db: Kysely<any>, workspaceId: string, id: string, ifMatch?: string, scope: RecordScope = ALL_RECORDS): Promise<void> {
      const current = await get(db, workspaceId, id, scope, true);
      checkIfMatch(ifMatch, current, 'task');
      await store.remove(db, 'crm_tasks', 'task', id);
    },
    /** A page of tasks, soonest due first (undated last), keyset-paginated. */
    async list(db: Kysely<any>, workspaceId: string, q: TaskQuery, scope: RecordScope = ALL_RECORDS): Promise<{ tasks: Task[]; nextCursor: string | null }> {
      const FAR = 8_640_000_000_000_000;
      let query = (db as Kysely<{ crm_tasks: TaskRow }>).selectFrom('crm_tasks').selectAll().where('workspace_id', '=', workspaceId).where(visible(scope));
      if (q.assigneeId) query = query.where('assignee_id', '=', q.assigneeId);
      if (q.status === 'active') query = query.where('status', 'in', ['open', 'in_progress']);
      else if (q.status) query = query.where('status', '=', q.status);
      if (q.dueBefore) query = query.where('due_at', '<', Date.parse(q.dueBefore));
      for (const [key, object] of ABOUT) {
        const about = q[key];
        if (about) query = query.where('id', 'in', store.associatedWith(db, workspaceId, 'task', object, await idsOfRecord(db, deps, workspaceId, object, about)));
      }
      const due = (eb: any) => eb.fn.coalesce('due_at', eb.lit(FAR));
      if (q.cursor) {
        const { at, id } = parseKeyset(q.cursor);
        query = query.where((eb) => eb.or([eb(due(eb), '>', at), eb.and([eb(due(eb), '=', at), eb('id', '>', id)])]));
      }
      const rows = (await query.orderBy((eb) => due(eb)).orderBy('id').limit(q.limit + 1).execute()).map((r) => numeric(r));
      const page = rows.slice(0, q.limit);
      const links = await store.associations(db, 'task', page.map((r) => r.id));
      const last = page[page.length - 1];
      return { tasks: page.map((r) => withState(r, links.get(r.id)!)), nextCursor: rows.length > q.limit ? `${last.due_at ?? FAR}_${last.id}` : null };
    },
  };
}

export type Tasks = ReturnType<typeof createTasks>;
