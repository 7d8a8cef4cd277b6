import { timeOrderedUuid } from '../../platform/ids.js';
import type { Kysely } from 'kysely';
import { errors } from '../../platform/errors.js';
import { associationsSchema, idsOfRecord, scopedAssociations, subjectOf, type AssociationsInput } from './associations.js';
import { ALL_RECORDS, type RecordRules, type RecordScope } from './record-scope.js';
import { checkIfMatch } from './concurrency.js';
import type { DealsDeps } from './deals.js';
import { appendCrmEvent } from './events.js';
import { numeric, workStore as store, type ActivityRow, type AssociationRow } from './work-store.js';

export interface ActivityInput extends AssociationsInput {
  kind?: ActivityRow['kind'];
  subject?: string | null;
  body?: string | null;
  occurredAt?: string;
  durationSeconds?: number | null;
  direction?: 'inbound' | 'outbound' | null;
  outcome?: string | null;
  ownerId?: string | null;
}

const properties = {
  kind: { enum: ['note', 'call', 'email', 'meeting'] },
  subject: { type: ['string', 'null'], maxLength: 500 },
  body: { type: ['string', 'null'], maxLength: 100_000 },
  occurredAt: { type: 'string', format: 'date-time', description: 'Default: now.' },
  durationSeconds: { type: ['integer', 'null'], minimum: 0, maximum: 86_400 * 7, description: 'Calls and meetings.' },
  direction: { enum: ['inbound', 'outbound', null], description: 'Calls and emails.' },
  outcome: { enum: ['connected', 'no_answer', 'left_voicemail', 'busy', 'wrong_number', null], description: 'Calls.' },
  ownerId: { type: ['string', 'null'], maxLength: 200 },
  ...associationsSchema,
};
export const activityCreateSchema = { type: 'object', additionalProperties: false, required: ['kind'], properties };
const { kind: _kind, ...changeable } = properties;
export const activityUpdateSchema = { type: 'object', additionalProperties: false, minProperties: 1, properties: changeable };

const EVENT: Record<ActivityRow['kind'], string> = { note: 'Note Logged', call: 'Call Logged', email: 'Email Logged', meeting: 'Meeting Logged' };

export interface Activity extends ActivityRow {
  associations: AssociationRow[];
}

function check(kind: ActivityRow['kind'], a: { durationSeconds?: number | null; direction?: string | null; outcome?: string | null }) {
  if (a.durationSeconds != null && kind !== 'call' && kind !== 'meeting') throw errors.validation(`Invalid activity: a ${kind} has no duration.`);
  if (a.direction != null && kind !== 'call' && kind !== 'email') throw errors.validation(`Invalid activity: a ${kind} has no direction.`);
  if (a.outcome != null && kind !== 'call') throw errors.validation(`Invalid activity: only a call has an outcome.`);
}

/** Notes, calls, emails and meetings logged on contacts, companies, deals and tickets. */
export function createActivities(deps: DealsDeps, rules: RecordRules, onLogged?: (db: Kysely<any>, activity: Activity) => Promise<void>) {
  const visible = (scope: RecordScope) => rules.workVisible('activity', 'crm_activities.id', 'crm_activities.owner_id', scope);

  async function get(db: Kysely<any>, workspaceId: string, id: string, scope: RecordScope = ALL_RECORDS, lock = false): Promise<Activity> {
    const row = await store.get<ActivityRow>(db, 'crm_activities', workspaceId, id, lock && deps.postgres, scope.all ? undefined : visible(scope));
    if (!row) throw errors.notFound('Activity');
    return { ...row, associations: (await store.associations(db, 'activity', [id])).get(id)! };
  }

  return {
    get,
    async create(db: Kysely<any>, workspaceId: string, input: ActivityInput, scope: RecordScope = ALL_RECORDS): Promise<Activity> {
      const kind = input.kind!;
      check(kind, input);
      const targets = await scopedAssociations(db, deps, rules, scope, workspaceId, input, 'activity');
      if (targets.length === 0) throw errors.validation('Invalid activity: log it on at least one contact, company, deal or ticket.');
      const now = deps.now();
      const row: ActivityRow = {
        id: timeOrderedUuid(), workspace_id: workspaceId, kind, subject: input.subject ?? null, body: input.body ?? null, occurred_at: input.occurredAt ? Date.parse(input.occurredAt) : now,
        duration_s: input.durationSeconds ?? null, direction: input.direction ?? null, outcome: input.outcome ?? null, owner_id: input.ownerId ?? null, version: 1, created_at: now, updated_at: now,
      };
      await store.insert(db, 'crm_activities', row);
      await store.setAssociations(db, workspaceId, 'activity', row.id, targets);
      const { profileId, collection } = subjectOf(targets);
      await appendCrmEvent(db, deps, {
        workspaceId, event: EVENT[kind], profileId, collection,
        properties: { activity_id: row.id, kind, subject: row.subject, direction: row.direction, outcome: row.outcome, duration_seconds: row.duration_s, owner_id: row.owner_id, occurred_at: new Date(row.occurred_at).toISOString() },
      });
      const activity = await get(db, workspaceId, row.id);
      await onLogged?.(db, activity);
      return activity;
    },
    async update(db: Kysely<any>, workspaceId: string, id: string, input: ActivityInput, ifMatch?: string, scope: RecordScope = ALL_RECORDS): Promise<Activity> {
      const current = await get(db, workspaceId, id, scope, true);
      checkIfMatch(ifMatch, current, 'activity');
      const merged = { durationSeconds: input.durationSeconds === undefined ? current.duration_s : input.durationSeconds, direction: input.direction === undefined ? current.direction : input.direction, outcome: input.outcome === undefined ? current.outcome : input.outcome };
      check(current.kind, merged);
      const relinks = ['contactIds', 'companyIds', 'dealIds', 'ticketIds'].some((k) => k in input);
      const targets = relinks ? await scopedAssociations(db, deps, rules, scope, workspaceId, input, 'activity', current.associations) : undefined;
      if (targets && targets.length === 0) throw errors.validation('Invalid activity: log it on at least one contact, company, deal or ticket.');
      const set = {
        subject: input.subject === undefined ? current.subject : input.subject, body: input.body === undefined ? current.body : input.body,
        occurred_at: input.occurredAt ? Date.parse(input.occurredAt) : current.occurred_at, duration_s: merged.durationSeconds, direction: merged.direction, outcome: merged.outcome,
        owner_id: input.ownerId === undefined ? current.owner_id : input.ownerId, updated_at: deps.now(),
      };
      if (!(await store.update(db, 'crm_activities', id, current.version, set))) throw errors.preconditionFailed('The activity changed while this change was applied; read it again.');
      if (targets) await store.setAssociations(db, workspaceId, 'activity', id, targets);
      return get(db, workspaceId, id);
    },
    async remove(db: Kysely<any>, workspaceId: string, id: string, ifMatch?: string, scope: RecordScope = ALL_RECORDS): Promise<void> {
      const current = await get(db, workspaceId, id, scope, true);
      checkIfMatch(ifMatch, current, 'activity');
      await store.remove(db, 'crm_activities', 'activity', id);
    },
    /** Activities logged on one record, newest first, keyset-paged on (occurredAt, id); `before` a time to start from. */
    async on(db: Kysely<any>, workspaceId: string, object: string, targetId: string, limit: number, from?: { before?: number; cursor?: { at: number; id: string } }, scope: RecordScope = ALL_RECORDS): Promise<Activity[]> {
      const targets = await idsOfRecord(db, deps, workspaceId, object, targetId);
      let q = (db as Kysely<{ crm_activities: ActivityRow }>).selectFrom('crm_activities').selectAll()
        .where('id', 'in', store.associatedWith(db, workspaceId, 'activity', object, targets)).where(visible(scope));
      if (from?.before !== undefined) q = q.where('occurred_at', '<', from.before);
      const c = from?.cursor;
      if (c) q = q.where((eb) => eb.or([eb('occurred_at', '<', c.at), eb.and([eb('occurred_at', '=', c.at), eb('id', '<', c.id)])]));
      const rows = await q.orderBy('occurred_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
      const links = await store.associations(db, 'activity', rows.map((r) => r.id));
      return rows.map((r) => ({ ...numeric(r), associations: links.get(r.id)! }));
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
