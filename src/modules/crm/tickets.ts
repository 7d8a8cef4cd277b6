import { timeOrderedUuid } from '../../platform/ids.js';
import { sql, type Kysely } from 'kysely';
import { errors } from '../../platform/errors.js';
import { checkIfMatch } from './concurrency.js';
import { validateValues, type FieldDefinition } from './custom-fields.js';
import { idsOfRecord } from './associations.js';
import type { DealsDeps } from './deals.js';
import { appendCrmEvent } from './events.js';
import { ticketDocument } from './search.js';
import { ALL_RECORDS, type RecordRules, type RecordScope } from './record-scope.js';
import { numeric, workStore as store, type Priority, type TicketRow, type TicketStatus } from './work-store.js';

export interface TicketInput {
  subject?: string;
  description?: string | null;
  status?: TicketStatus;
  priority?: Priority;
  channel?: string;
  assigneeId?: string | null;
  contactId?: string | null;
  companyId?: string | null;
  custom?: Record<string, unknown>;
}

const properties = {
  subject: { type: 'string', minLength: 1, maxLength: 500 },
  description: { type: ['string', 'null'], maxLength: 100_000 },
  status: { enum: ['new', 'open', 'pending', 'resolved', 'closed'], description: 'Default new. pending: waiting on the customer; resolved and closed stop the resolution clock.' },
  priority: { enum: ['low', 'normal', 'high', 'urgent'], description: 'Default normal; sets the SLA targets.' },
  channel: { enum: ['email', 'chat', 'phone', 'web', 'other'], description: 'Default other.' },
  assigneeId: { type: ['string', 'null'], maxLength: 200 },
  contactId: { type: ['string', 'null'], description: 'A person profile.' },
  companyId: { type: ['string', 'null'], description: 'An account profile.' },
  custom: { type: 'object' },
};
export const ticketCreateSchema = { type: 'object', additionalProperties: false, required: ['subject'], properties };
export const ticketUpdateSchema = { type: 'object', additionalProperties: false, minProperties: 1, properties };

/** SLA targets in minutes of calendar time, per priority, unless the workspace sets its own. */
export const DEFAULT_SLA: Record<Priority, { firstResponse: number; resolution: number }> = {
  urgent: { firstResponse: 60, resolution: 4 * 60 },
  high: { firstResponse: 4 * 60, resolution: 24 * 60 },
  normal: { firstResponse: 8 * 60, resolution: 48 * 60 },
  low: { firstResponse: 24 * 60, resolution: 5 * 24 * 60 },
};
export const slaSchema = {
  type: 'object', additionalProperties: false, required: ['firstResponseMinutes', 'resolutionMinutes'],
  properties: { firstResponseMinutes: { type: 'integer', minimum: 1, maximum: 525_600 }, resolutionMinutes: { type: 'integer', minimum: 1, maximum: 525_600 } },
};

export interface Ticket extends TicketRow {
  /** Past a target without meeting it (met late, or still unmet with the time gone). */
  first_response_breached: boolean;
  resolution_breached: boolean;
}

const MINUTE = 60_000;
const DONE: TicketStatus[] = ['resolved', 'closed'];

export interface TicketQuery {
  limit: number;
  cursor?: string;
  status?: TicketStatus | 'active';
  priority?: Priority;
  assigneeId?: string;
  contactId?: string;
  breached?: boolean;
  /** Words of the subject or description (full-text, word prefixes). */
  q?: string;
}

/** Support tickets with SLA targets (first response, resolution) whose breaches are flagged. */
export function createTickets(deps: DealsDeps, rules: RecordRules, fields: (db: Kysely<any>, workspaceId: string) => Promise<FieldDefinition[]>) {
  const visible = (scope: RecordScope) => rules.ticketVisible('crm_tickets', scope);
  const state = (r: TicketRow, now = deps.now()): Ticket => ({
    ...r,
    first_response_breached: (r.first_responded_at ?? now) > r.first_response_due_at,
    resolution_breached: (r.resolved_at ?? now) > r.resolution_due_at,
  });

  async function targets(db: Kysely<any>, workspaceId: string, priority: Priority) {
    const own = (await store.slaPolicies(db, workspaceId)).find((p) => p.priority === priority);
    return own ? { firstResponse: Number(own.first_response_minutes), resolution: Number(own.resolution_minutes) } : DEFAULT_SLA[priority];
  }

  /** A contact or company of a ticket: one the caller may not see is refused as an unknown one. */
  async function profileOrNull(db: Kysely<any>, workspaceId: string, id: string | null | undefined, collection: 'users' | 'accounts', what: 'contact' | 'company', scope: RecordScope) {
    if (!id) return id ?? null;
    const p = await deps.profile(db, workspaceId, id);
    if (!p || p.collection !== collection || (await rules.hiddenOf(db, scope, [{ object: what, id: p.id }])).size) {
      throw errors.validation(`Invalid ticket: ${what} "${id}" is not ${collection === 'users' ? 'a person' : 'an account'} profile of this workspace.`);
    }
    return p.id;
  }

  async function get(db: Kysely<any>, workspaceId: string, id: string, scope: RecordScope = ALL_RECORDS, lock = false): Promise<Ticket> {
    const row = await store.get<TicketRow>(db, 'crm_tickets', workspaceId, id, lock && deps.postgres, scope.all ? undefined : visible(scope));
    if (!row) throw errors.notFound('Ticket');
    return state(row);
  }

  async function announce(db: Kysely<any>, t: TicketRow, event: string, extra: Record<string, unknown> = {}) {
    await appendCrmEvent(db, deps, {
      workspaceId: t.workspace_id, event, profileId: t.contact_id ?? t.company_id, collection: t.contact_id ? 'users' : 'accounts',
      properties: { ticket_id: t.id, subject: t.subject, status: t.status, priority: t.priority, channel: t.channel, assignee_id: t.assignee_id, ...extra },
    });
  }

  return {
    get,
    async create(db: Kysely<any>, workspaceId: string, input: TicketInput, scope: RecordScope = ALL_RECORDS): Promise<Ticket> {
      const now = deps.now();
      const priority = input.priority ?? 'normal';
      const sla = await targets(db, workspaceId, priority);
      const status = input.status ?? 'new';
      const row: TicketRow = {
        id: timeOrderedUuid(), workspace_id: workspaceId, subject: input.subject!.trim(), description: input.description ?? null, status, priority, channel: input.channel ?? 'other',
        assignee_id: input.assigneeId ?? null, contact_id: await profileOrNull(db, workspaceId, input.contactId, 'users', 'contact', scope),
        company_id: await profileOrNull(db, workspaceId, input.companyId, 'accounts', 'company', scope),
        custom: JSON.stringify(validateValues(await fields(db, workspaceId), input.custom ?? {}, 'create')),
        first_response_due_at: now + sla.firstResponse * MINUTE, resolution_due_at: now + sla.resolution * MINUTE,
        first_responded_at: null, resolved_at: DONE.includes(status) ? now : null, version: 1, created_at: now, updated_at: now,
      };
      await store.insert(db, 'crm_tickets', row);
      await deps.search.put(db, [ticketDocument(row)], now);
      await announce(db, row, 'Ticket Opened');
      return state(row, now);
    },

    /**
     * Changes a ticket. Moving it to pending (waiting on the customer) counts as the first response if none was
     * recorded; resolving or closing stops the resolution clock and reopening restarts it; a new priority
     * re-targets the SLA from the ticket's creation.
     */
    async update(db: Kysely<any>, workspaceId: string, id: string, input: TicketInput, ifMatch?: string, scope: RecordScope = ALL_RECORDS): Promise<Ticket> {
      const current = await get(db, workspaceId, id, scope, true);
      checkIfMatch(ifMatch, current, 'ticket');
      const now = deps.now();
      const status = input.status ?? current.status;
      const priority = input.priority ?? current.priority;
      const sla = priority === current.priority ? undefined : await targets(db, workspaceId, priority);
      // A contact or company the caller was shown as none (null) stays when cleared: it is not the caller's to change.
      const hiddenNow = await rules.hiddenOf(db, scope, [...(current.contact_id ? [{ object: 'contact', id: current.contact_id }] : []), ...(current.company_id ? [{ object: 'company', id: current.company_id }] : [])]);
      const clears = (value: string | null | undefined, object: 'contact' | 'company', id: string | null) => value === null && id !== null && hiddenNow.has(`${object}:${id}`);
      const custom = input.custom ? { ...JSON.parse(current.custom), ...validateValues(await fields(db, workspaceId), input.custom, 'update') } : JSON.parse(current.custom);
      for (const [k, v] of Object.entries(custom)) if (v === null) delete custom[k];
      const set: Partial<TicketRow> = {
        subject: input.subject?.trim() ?? current.subject, description: input.description === undefined ? current.description : input.description, status, priority,
        channel: input.channel ?? current.channel, assignee_id: input.assigneeId === undefined ? current.assignee_id : input.assigneeId,
        contact_id: input.contactId === undefined || clears(input.contactId, 'contact', current.contact_id) ? current.contact_id : await profileOrNull(db, workspaceId, input.contactId, 'users', 'contact', scope),
        company_id: input.companyId === undefined || clears(input.companyId, 'company', current.company_id) ? current.company_id : await profileOrNull(db, workspaceId, input.companyId, 'accounts', 'company', scope),
        custom: JSON.stringify(custom),
        first_responded_at: current.first_responded_at ?? (status === 'pending' || DONE.includes(status) ? now : null),
        resolved_at: DONE.includes(status) ? (current.resolved_at ?? now) : null,
        ...(sla ? { first_response_due_at: current.created_at + sla.firstResponse * MINUTE, resolution_due_at: current.created_at + sla.resolution * MINUTE } : {}),
        updated_at: now,
      };
      if (!(await store.update(db, 'crm_tickets', id, current.version, set))) throw errors.preconditionFailed('The ticket changed while this change was applied; read it again.');
      const after = { ...current, ...set, version: current.version + 1 } as TicketRow;
      await deps.search.put(db, [ticketDocument(after)], now);
      if (status !== current.status) {
        await announce(db, after, DONE.includes(status) && !DONE.includes(current.status) ? 'Ticket Resolved' : 'Ticket Status Changed', { previous_status: current.status });
      }
      return state(after, now);
    },

    /** An outbound email or call logged on the ticket is its first response, if it had none. */
    async responded(db: Kysely<any>, workspaceId: string, id: string, at: number): Promise<void> {
      const current = await store.get<TicketRow>(db, 'crm_tickets', workspaceId, id);
      if (!current || current.first_responded_at !== null) return;
      const set = { first_responded_at: at, status: current.status === 'new' ? 'open' as const : current.status, updated_at: deps.now() };
      await store.update(db, 'crm_tickets', id, Number(current.version), set);
      await deps.search.put(db, [ticketDocument({ ...current, ...set })], set.updated_at);
    },

    async remove(db: Kysely<any>, workspaceId: string, id: string, ifMatch?: string, scope: RecordScope = ALL_RECORDS): Promise<void> {
      const current = await get(db, workspaceId, id, scope, true);
      checkIfMatch(ifMatch, current, 'ticket');
      await store.remove(db, 'crm_tickets', 'ticket', id);
      await deps.search.drop(db, 'ticket', [id]);
    },

    /** The queue: most urgent first, then oldest, keyset-paginated. */
    async list(db: Kysely<any>, workspaceId: string, q: TicketQuery, scope: RecordScope = ALL_RECORDS): Promise<{ tickets: Ticket[]; nextCursor: string | null }> {
      const now = deps.now();
      const rank = (eb: any) => eb.case().when('priority', '=', 'urgent').then(0).when('priority', '=', 'high').then(1).when('priority', '=', 'normal').then(2).else(3).end();
      let query = (db as Kysely<{ crm_tickets: TicketRow }>).selectFrom('crm_tickets').selectAll().where('workspace_id', '=', workspaceId).where(visible(scope));
      if (q.status === 'active') query = query.where('status', 'not in', DONE);
      else if (q.status) query = query.where('status', '=', q.status);
      if (q.priority) query = query.where('priority', '=', q.priority);
      if (q.assigneeId) query = query.where('assignee_id', '=', q.assigneeId);
      if (q.contactId) query = query.where('contact_id', 'in', await idsOfRecord(db, deps, workspaceId, 'contact', q.contactId));
      if (q.q) query = query.where(sql<boolean>`id in (${deps.search.matching(db, workspaceId, 'ticket', q.q)})`);
      if (q.breached !== undefined) {
        const breached = (eb: any) => eb.or([
          eb(eb.fn.coalesce('first_responded_at', eb.lit(now)), '>', eb.ref('first_response_due_at')),
          eb(eb.fn.coalesce('resolved_at', eb.lit(now)), '>', eb.ref('resolution_due_at')),
        ]);
        query = query.where((eb) => (q.breached ? breached(eb) : eb.not(breached(eb))));
      }
      if (q.cursor) {
        const [r, created, id] = q.cursor.split('_');
        if (!/^\d$/.test(r) || !/^\d+$/.test(created) || !id) throw errors.invalidRequest('The cursor is not one this API gave out.');
        query = query.where((eb) => eb.or([
          eb(rank(eb), '>', Number(r)),
          eb.and([eb(rank(eb), '=', Number(r)), eb.or([eb('created_at', '>', Number(created)), eb.and([eb('created_at', '=', Number(created)), eb('id', '>', id)])])]),
        ]));
      }
      const rows = (await query.orderBy((eb) => rank(eb)).orderBy('created_at').orderBy('id').limit(q.limit + 1).execute()).map((r) => numeric(r));
      const page = rows.slice(0, q.limit);
      const last = page[page.length - 1];
      const ranks = { urgent: 0, high: 1, normal: 2, low: 3 } as const;
      return { tickets: page.map((r) => state(r, now)), nextCursor: rows.length > q.limit ? `${ranks[last.priority]}_${last.created_at}_${last.id}` : null };
    },

    slaPolicies: async (db: Kysely<any>, workspaceId: string) => {
      const own = new Map((await store.slaPolicies(db, workspaceId)).map((p) => [p.priority, { firstResponse: Number(p.first_response_minutes), resolution: Number(p.resolution_minutes) }]));
      return (Object.keys(DEFAULT_SLA) as Priority[]).map((p) => ({ priority: p, ...(own.get(p) ?? DEFAULT_SLA[p]) }));
    },
    setSlaPolicy: (db: Kysely<any>, workspaceId: string, priority: Priority, p: { firstResponseMinutes: number; resolutionMinutes: number }) =>
      store.setSlaPolicy(db, { workspace_id: workspaceId, priority, first_response_minutes: p.firstResponseMinutes, resolution_minutes: p.resolutionMinutes }),
  };
}

export type Tickets = ReturnType<typeof createTickets>;
