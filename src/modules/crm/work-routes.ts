import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { activityCreateSchema, activityUpdateSchema, type Activities, type Activity, type ActivityInput } from './activities.js';
import { associationsView } from './associations.js';
import { etagOf } from './concurrency.js';
import { parseKeyset } from './cursor.js';
import { demand } from '../../platform/http/access.js';
import type { Permission } from '../access/index.js';
import { reports } from './reports.js';
import type { RecordRules, RecordScope, ScopedObject } from './record-scope.js';
import { SEARCH_OBJECTS, type Search, type SearchObject } from './search.js';
import { viewSchema, viewUpdateSchema, viewView, type Views } from './views.js';
import { slaSchema, ticketCreateSchema, ticketUpdateSchema, type Ticket, type TicketInput, type TicketQuery, type Tickets } from './tickets.js';
import { taskCreateSchema, taskUpdateSchema, type Task, type TaskInput, type TaskQuery, type Tasks } from './tasks.js';

const SEARCH_PERMISSION: Record<SearchObject, Permission> = { contact: 'contacts:read', company: 'companies:read', deal: 'deals:read', ticket: 'tickets:read' };

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());
const ID = { type: 'object', properties: { id: { type: 'string' } } };
const PAGE = { limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 }, cursor: { type: 'string' } };

type Hidden = ReadonlySet<string>;
const NONE: Hidden = new Set();
type Link = { object: string; id: string };
/** The records a view names, to leave out those the caller may not see (record visibility). */
const associationLinks = (r: { associations: { object: string; target_id: string }[] }): Link[] => r.associations.map((a) => ({ object: a.object, id: a.target_id }));
const ticketLinks = (t: Ticket): Link[] => [...(t.contact_id ? [{ object: 'contact', id: t.contact_id }] : []), ...(t.company_id ? [{ object: 'company', id: t.company_id }] : [])];

const activityView = (a: Activity, hidden: Hidden = NONE) => ({
  id: a.id, kind: a.kind, subject: a.subject, body: a.body, occurredAt: iso(a.occurred_at), durationSeconds: a.duration_s, direction: a.direction, outcome: a.outcome,
  ownerId: a.owner_id, ...associationsView(a.associations, hidden), createdAt: iso(a.created_at), updatedAt: iso(a.updated_at), version: a.version,
});
const taskView = (t: Task, hidden: Hidden = NONE) => ({
  id: t.id, title: t.title, body: t.body, dueAt: iso(t.due_at), assigneeId: t.assignee_id, status: t.status, priority: t.priority, overdue: t.overdue,
  completedAt: iso(t.completed_at), ...associationsView(t.associations, hidden), createdAt: iso(t.created_at), updatedAt: iso(t.updated_at), version: t.version,
});
const ticketView = (t: Ticket, hidden: Hidden = NONE) => ({
  id: t.id, subject: t.subject, description: t.description, status: t.status, priority: t.priority, channel: t.channel, assigneeId: t.assignee_id,
  contactId: t.contact_id && !hidden.has(`contact:${t.contact_id}`) ? t.contact_id : null,
  companyId: t.company_id && !hidden.has(`company:${t.company_id}`) ? t.company_id : null, custom: JSON.parse(t.custom) as Record<string, unknown>,
  sla: {
    firstResponseDueAt: iso(t.first_response_due_at), firstRespondedAt: iso(t.first_responded_at), firstResponseBreached: t.first_response_breached,
    resolutionDueAt: iso(t.resolution_due_at), resolvedAt: iso(t.resolved_at), resolutionBreached: t.resolution_breached,
  },
  createdAt: iso(t.created_at), updatedAt: iso(t.updated_at), version: t.version,
});

/** Activities (notes, calls, emails, meetings), tasks, tickets and the CRM's reports. Every change takes If-Match. */
export async function crmWorkRoutes(app: FastifyInstance, { db, activities, tasks, tickets, views, search, scopeOf, rules, now }: {
  db: Kysely<any>; activities: Activities; tasks: Tasks; tickets: Tickets; views: Views; search: Search; rules: RecordRules; now: () => number;
  /** Which owned contacts and deals the caller sees (record visibility). */
  scopeOf(principal: NonNullable<FastifyRequest['principal']>): Promise<RecordScope>;
}) {
  const can = (permission: Permission) => ({ access: { permission } }) as const;
  const ws = (request: FastifyRequest) => request.principal!.workspaceId;
  const scope = (request: FastifyRequest) => scopeOf(request.principal!);
  const id = (request: FastifyRequest) => (request.params as { id: string }).id;
  const ifMatch = (request: FastifyRequest) => request.headers['if-match'];
  const tags = ['crm'];
  /** Views of records, without the contacts, companies, deals and tickets they name that the caller may not see. */
  const shown = async <T, V>(request: FastifyRequest, records: T[], links: (r: T) => Link[], view: (r: T, hidden: Hidden) => V): Promise<V[]> => {
    const hidden = await rules.hiddenOf(db, await scope(request), records.flatMap(links));
    return records.map((r) => view(r, hidden));
  };
  const one = async <T, V>(request: FastifyRequest, record: T, links: (r: T) => Link[], view: (r: T, hidden: Hidden) => V) => (await shown(request, [record], links, view))[0];
  /** A list about a record the caller may not see answers 404, as for an unknown one. */
  const about = async (request: FastifyRequest, visible: RecordScope, records: [ScopedObject, string | undefined][]) => {
    for (const [object, recordId] of records) if (recordId) await rules.assertVisible(db, visible, object, recordId);
  };
  const tx = <T>(fn: (t: Kysely<any>) => Promise<T>) => db.transaction().execute(fn);

  app.post('/crm/activities', { config: can('activities:write'), schema: { tags, summary: 'Log a note, call, email or meeting on contacts, companies, deals or tickets', body: activityCreateSchema } }, async (request, reply) => {
    const visible = await scope(request);
    const a = await tx((t) => activities.create(t, ws(request), request.body as ActivityInput, visible));
    return reply.status(201).header('etag', etagOf(a)).send(await one(request, a, associationLinks, activityView));
  });
  app.get('/crm/activities', {
    config: can('activities:read'),
    schema: {
      tags, summary: 'Activities logged on one record, newest first, keyset-paginated',
      querystring: {
        type: 'object', additionalProperties: false, required: ['object', 'id'],
        properties: {
          object: { enum: ['contact', 'company', 'deal', 'ticket'] }, id: { type: 'string' }, limit: PAGE.limit, cursor: PAGE.cursor,
          before: { type: 'string', format: 'date-time', description: 'Only activities that occurred before this time.' },
        },
      },
    },
  }, async (request) => {
    const q = request.query as { object: string; id: string; limit: number; cursor?: string; before?: string };
    const cursor = q.cursor ? parseKeyset(q.cursor) : undefined;
    const visible = await scope(request);
    await about(request, visible, [[q.object as ScopedObject, q.id]]);
    const rows = await activities.on(db, ws(request), q.object, q.id, q.limit + 1, { before: q.before ? Date.parse(q.before) : undefined, cursor }, visible);
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return { data: await shown(request, page, associationLinks, activityView), nextCursor: rows.length > q.limit ? `${last.occurred_at}_${last.id}` : null };
  });
  app.get('/crm/activities/:id', { config: can('activities:read'), schema: { tags, summary: 'One activity', params: ID } }, async (request, reply) => {
    const a = await activities.get(db, ws(request), id(request), await scope(request));
    return reply.header('etag', etagOf(a)).send(await one(request, a, associationLinks, activityView));
  });
  app.patch('/crm/activities/:id', { config: can('activities:write'), schema: { tags, summary: 'Change an activity (If-Match: 412 when stale)', params: ID, body: activityUpdateSchema } }, async (request, reply) => {
    const visible = await scope(request);
    const a = await tx((t) => activities.update(t, ws(request), id(request), request.body as ActivityInput, ifMatch(request), visible));
    return reply.header('etag', etagOf(a)).send(await one(request, a, associationLinks, activityView));
  });
  app.delete('/crm/activities/:id', { config: can('activities:write'), schema: { tags, summary: 'Delete an activity', params: ID } }, async (request, reply) => {
    const visible = await scope(request);
    await tx((t) => activities.remove(t, ws(request), id(request), ifMatch(request), visible));
    return reply.status(204).send();
  });

  app.post('/crm/tasks', { config: can('tasks:write'), schema: { tags, summary: 'Create a task', body: taskCreateSchema } }, async (request, reply) => {
    const visible = await scope(request);
    const t = await tx((x) => tasks.create(x, ws(request), request.body as TaskInput, visible));
    return reply.status(201).header('etag', etagOf(t)).send(await one(request, t, associationLinks, taskView));
  });
  app.get('/crm/tasks', {
    config: can('tasks:read'),
    schema: {
      tags, summary: 'Tasks, soonest due first ("my tasks": assigneeId and status=active; a record\'s tasks: contactId, companyId, dealId or ticketId)',
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          ...PAGE, assigneeId: { type: 'string' }, status: { enum: ['open', 'in_progress', 'done', 'cancelled', 'active'] }, dueBefore: { type: 'string', format: 'date-time' },
          contactId: { type: 'string', description: 'Tasks about this contact, under any id of its profile (merged ones included).' },
          companyId: { type: 'string' }, dealId: { type: 'string' }, ticketId: { type: 'string' },
        },
      },
    },
  }, async (request) => {
    const q = request.query as TaskQuery;
    const visible = await scope(request);
    await about(request, visible, [['contact', q.contactId], ['company', q.companyId], ['deal', q.dealId], ['ticket', q.ticketId]]);
    const page = await tasks.list(db, ws(request), q, visible);
    return { data: await shown(request, page.tasks, associationLinks, taskView), nextCursor: page.nextCursor };
  });
  app.get('/crm/tasks/:id', { config: can('tasks:read'), schema: { tags, summary: 'One task', params: ID } }, async (request, reply) => {
    const t = await tasks.get(db, ws(request), id(request), await scope(request));
    return reply.header('etag', etagOf(t)).send(await one(request, t, associationLinks, taskView));
  });
  app.patch('/crm/tasks/:id', { config: can('tasks:write'), schema: { tags, summary: 'Change a task (If-Match: 412 when stale)', params: ID, body: taskUpdateSchema } }, async (request, reply) => {
    const visible = await scope(request);
    const t = await tx((x) => tasks.update(x, ws(request), id(request), request.body as TaskInput, ifMatch(request), visible));
    return reply.header('etag', etagOf(t)).send(await one(request, t, associationLinks, taskView));
  });
  app.delete('/crm/tasks/:id', { config: can('tasks:write'), schema: { tags, summary: 'Delete a task', params: ID } }, async (request, reply) => {
    const visible = await scope(request);
    await tx((x) => tasks.remove(x, ws(request), id(request), ifMatch(request), visible));
    return reply.status(204).send();
  });

  app.post('/crm/tickets', { config: can('tickets:write'), schema: { tags, summary: 'Open a ticket (its SLA targets follow its priority)', body: ticketCreateSchema } }, async (request, reply) => {
    const visible = await scope(request);
    const t = await tx((x) => tickets.create(x, ws(request), request.body as TicketInput, visible));
    return reply.status(201).header('etag', etagOf(t)).send(await one(request, t, ticketLinks, ticketView));
  });
  app.get('/crm/search', {
    config: { access: { anyPermission: SEARCH_OBJECTS.map((o) => SEARCH_PERMISSION[o]) } },
    schema: {
      tags, summary: 'Full-text search across contacts, companies, deals and tickets, best match first',
      description: 'Every word of `q` must be found, as a word prefix, in the record\'s name, email, phone, domain, subject or description (case and accents ignored). A match in the name ranks first.',
      querystring: {
        type: 'object', additionalProperties: false, required: ['q'],
        properties: {
          q: { type: 'string', minLength: 1, maxLength: 200 },
          objects: { type: 'string', pattern: `^(${SEARCH_OBJECTS.join('|')})(,(${SEARCH_OBJECTS.join('|')}))*$`, description: `Only these kinds of record, comma-separated: ${SEARCH_OBJECTS.join(', ')}.` },
          limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
        },
      },
    },
  }, async (request) => {
    const query = request.query as { q: string; objects?: string; limit: number };
    // Only the kinds of record the caller may read; asking for others only is a 403.
    const readable = SEARCH_OBJECTS.filter((o) => request.principal!.can(SEARCH_PERMISSION[o]));
    const asked = (query.objects?.split(',') as SearchObject[] | undefined) ?? SEARCH_OBJECTS;
    const objects = asked.filter((o) => readable.includes(o));
    if (!objects.length) demand(request, SEARCH_PERMISSION[asked[0]]);
    return { data: await search.find(db, ws(request), query.q, { objects, limit: query.limit, visible: rules.searchVisible(await scope(request)) }) };
  });

  app.get('/crm/tickets', {
    config: can('tickets:read'),
    schema: {
      tags, summary: 'The ticket queue: most urgent first, then oldest',
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          ...PAGE, status: { enum: ['new', 'open', 'pending', 'resolved', 'closed', 'active'] }, priority: { enum: ['low', 'normal', 'high', 'urgent'] },
          assigneeId: { type: 'string' }, contactId: { type: 'string' }, breached: { type: 'boolean', description: 'Only tickets past an SLA target (or only those within).' },
          q: { type: 'string', minLength: 1, maxLength: 200, description: 'Words of the subject or description, each as a word prefix (full-text search).' },
        },
      },
    },
  }, async (request) => {
    const q = request.query as TicketQuery;
    const visible = await scope(request);
    await about(request, visible, [['contact', q.contactId]]);
    const page = await tickets.list(db, ws(request), q, visible);
    return { data: await shown(request, page.tickets, ticketLinks, ticketView), nextCursor: page.nextCursor };
  });
  app.get('/crm/tickets/:id', { config: can('tickets:read'), schema: { tags, summary: 'One ticket, with its SLA state', params: ID } }, async (request, reply) => {
    const t = await tickets.get(db, ws(request), id(request), await scope(request));
    return reply.header('etag', etagOf(t)).send(await one(request, t, ticketLinks, ticketView));
  });
  app.patch('/crm/tickets/:id', { config: can('tickets:write'), schema: { tags, summary: 'Change a ticket (If-Match: 412 when stale)', params: ID, body: ticketUpdateSchema } }, async (request, reply) => {
    const visible = await scope(request);
    const t = await tx((x) => tickets.update(x, ws(request), id(request), request.body as TicketInput, ifMatch(request), visible));
    return reply.header('etag', etagOf(t)).send(await one(request, t, ticketLinks, ticketView));
  });
  app.delete('/crm/tickets/:id', { config: can('tickets:write'), schema: { tags, summary: 'Delete a ticket', params: ID } }, async (request, reply) => {
    const visible = await scope(request);
    await tx((x) => tickets.remove(x, ws(request), id(request), ifMatch(request), visible));
    return reply.status(204).send();
  });
  const RANGE = {
    type: 'object', additionalProperties: false, required: ['from', 'to'],
    properties: { from: { type: 'string', format: 'date-time' }, to: { type: 'string', format: 'date-time' } },
  };
  const range = (request: FastifyRequest) => {
    const q = request.query as { from: string; to: string };
    return [Date.parse(q.from), Date.parse(q.to)] as const;
  };
  app.get('/crm/reports/pipeline', {
    config: can('reports:read'), schema: { tags, summary: 'Open pipeline value by stage, raw and weighted by probability (per currency)', querystring: { type: 'object', additionalProperties: false, properties: { pipelineId: { type: 'string' } } } },
  }, async (request) => reports.pipeline(db, ws(request), (request.query as { pipelineId?: string }).pipelineId, await scope(request)));
  app.get('/crm/reports/forecast', {
    config: can('reports:read'),
    schema: {
      tags, summary: 'Weighted forecast by close month: open deals weighted by stage probability, and what was won (per currency)',
      querystring: { type: 'object', additionalProperties: false, required: ['from', 'to'], properties: { from: { type: 'string', format: 'date' }, to: { type: 'string', format: 'date' } } },
    },
  }, async (request) => {
    const q = request.query as { from: string; to: string };
    return { data: await reports.forecast(db, ws(request), q.from, q.to, await scope(request)) };
  });
  app.get('/crm/reports/win-rate', { config: can('reports:read'), schema: { tags, summary: 'Win rate of the deals closed in a time range, overall and per owner', querystring: RANGE } }, async (request) =>
    reports.winRate(db, ws(request), ...range(request), await scope(request)));
  app.get('/crm/reports/activities', { config: can('reports:read'), schema: { tags, summary: 'Activities per owner and kind in a time range', querystring: RANGE } }, async (request) => ({
    data: await reports.activities(db, ws(request), ...range(request)),
  }));
  app.get('/crm/reports/sla', { config: can('reports:read'), schema: { tags, summary: 'SLA compliance of the tickets opened in a time range, per priority', querystring: RANGE } }, async (request) => ({
    data: await reports.sla(db, ws(request), ...range(request), now()),
  }));

  app.get('/crm/views', {
    config: can('crm_settings:read'), schema: { tags, summary: 'Saved views (named filters and sorts), by object', querystring: { type: 'object', additionalProperties: false, properties: { object: { enum: ['deal', 'contact', 'company', 'task', 'ticket'] } } } },
  }, async (request) => ({ data: (await views.list(db, ws(request), (request.query as { object?: string }).object)).map(viewView) }));
  app.post('/crm/views', { config: can('crm_settings:write'), schema: { tags, summary: "Save a view: an object's list query under a name, shared in the workspace", body: viewSchema } }, async (request, reply) => {
    const actor = `${request.principal!.actor.type}:${request.principal!.actor.id}`;
    return reply.status(201).send(viewView(await views.create(db, ws(request), request.body as { object: 'deal'; name: string; query: Record<string, unknown> }, actor)));
  });
  app.patch('/crm/views/:id', { config: can('crm_settings:write'), schema: { tags, summary: 'Rename a view or change its query', params: ID, body: viewUpdateSchema } }, async (request) =>
    viewView(await views.update(db, ws(request), id(request), request.body as { name?: string; query?: Record<string, unknown> })));
  app.delete('/crm/views/:id', { config: can('crm_settings:write'), schema: { tags, summary: 'Delete a view', params: ID } }, async (request, reply) => {
    await views.remove(db, ws(request), id(request));
    return reply.status(204).send();
  });

  app.get('/crm/sla-policies', { config: can('crm_settings:read'), schema: { tags, summary: 'SLA targets per priority, in minutes' } }, async (request) => ({ data: await tickets.slaPolicies(db, ws(request)) }));
  app.put('/crm/sla-policies/:priority', {
    config: can('crm_settings:write'),
    schema: { tags, summary: 'Set the SLA targets of a priority (for tickets opened or re-prioritised from now)', params: { type: 'object', properties: { priority: { enum: ['low', 'normal', 'high', 'urgent'] } } }, body: slaSchema },
  }, async (request) => {
    await tickets.setSlaPolicy(db, ws(request), (request.params as { priority: 'low' }).priority, request.body as { firstResponseMinutes: number; resolutionMinutes: number });
    return { data: await tickets.slaPolicies(db, ws(request)) };
  });
}
