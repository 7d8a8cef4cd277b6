import type { Kysely, RawBuilder } from 'kysely';

export interface ActivityRow {
  id: string; workspace_id: string; kind: 'note' | 'call' | 'email' | 'meeting'; subject: string | null; body: string | null; occurred_at: number;
  duration_s: number | null; direction: 'inbound' | 'outbound' | null; outcome: string | null; owner_id: string | null; version: number; created_at: number; updated_at: number;
}
export interface TaskRow {
  id: string; workspace_id: string; title: string; body: string | null; due_at: number | null; assignee_id: string | null;
  status: 'open' | 'in_progress' | 'done' | 'cancelled'; priority: Priority; completed_at: number | null; version: number; created_at: number; updated_at: number;
}
export interface TicketRow {
  id: string; workspace_id: string; subject: string; description: string | null; status: TicketStatus; priority: Priority; channel: string;
  assignee_id: string | null; contact_id: string | null; company_id: string | null; custom: string; first_response_due_at: number; resolution_due_at: number;
  first_responded_at: number | null; resolved_at: number | null; version: number; created_at: number; updated_at: number;
}
export type Priority = 'low' | 'normal' | 'high' | 'urgent';
export type TicketStatus = 'new' | 'open' | 'pending' | 'resolved' | 'closed';
export interface AssociationRow { workspace_id: string; record_type: string; record_id: string; object: string; target_id: string; position: number }
export interface SlaRow { workspace_id: string; priority: string; first_response_minutes: number; resolution_minutes: number }

export interface WorkTables {
  crm_activities: ActivityRow;
  crm_tasks: TaskRow;
  crm_tickets: TicketRow;
  crm_associations: AssociationRow;
  crm_sla_policies: SlaRow;
}

type Table = 'crm_activities' | 'crm_tasks' | 'crm_tickets';
const t = (db: Kysely<any>) => db as Kysely<WorkTables>;
const NUMERIC = ['occurred_at', 'duration_s', 'due_at', 'completed_at', 'first_response_due_at', 'resolution_due_at', 'first_responded_at', 'resolved_at', 'version', 'created_at', 'updated_at'];
/** int8 columns come back as strings from some drivers' paths: numbers here. */
export function numeric<T>(row: T): T {
  const out = { ...row } as Record<string, unknown>;
  for (const k of NUMERIC) if (k in out && out[k] !== null) out[k] = Number(out[k]);
  return out as T;
}

export const workStore = {
  /** One record; `visible`, a condition on the table's columns (by their table name), leaves out one the caller may not see. */
  async get<R>(db: Kysely<any>, table: Table, workspaceId: string, id: string, lock = false, visible?: RawBuilder<boolean>): Promise<R | undefined> {
    let q = t(db).selectFrom(table).selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id);
    if (visible) q = q.where(visible);
    if (lock) q = q.forUpdate();
    const r = await q.executeTakeFirst();
    return r && (numeric(r) as R);
  },
  insert: (db: Kysely<any>, table: Table, row: ActivityRow | TaskRow | TicketRow) => t(db).insertInto(table).values(row as never).execute(),
  /** Applies a change only at `version`; false when someone changed the record first. */
  async update(db: Kysely<any>, table: Table, id: string, version: number, set: Record<string, unknown>): Promise<boolean> {
    const r = await t(db).updateTable(table).set({ ...set, version: version + 1 } as never).where('id', '=', id).where('version', '=', version).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },
  async remove(db: Kysely<any>, table: Table, recordType: string, id: string) {
    await t(db).deleteFrom('crm_associations').where('record_type', '=', recordType).where('record_id', '=', id).execute();
    await t(db).deleteFrom(table).where('id', '=', id).execute();
  },

  async associations(db: Kysely<any>, recordType: string, ids: string[]): Promise<Map<string, AssociationRow[]>> {
    const out = new Map<string, AssociationRow[]>(ids.map((id) => [id, []]));
    if (ids.length === 0) return out;
    const rows = await t(db).selectFrom('crm_associations').selectAll().where('record_type', '=', recordType).where('record_id', 'in', ids).orderBy('position').execute();
    for (const r of rows) out.get(r.record_id)!.push(r);
    return out;
  },
  async setAssociations(db: Kysely<any>, workspaceId: string, recordType: string, id: string, targets: { object: string; targetId: string }[]) {
    await t(db).deleteFrom('crm_associations').where('record_type', '=', recordType).where('record_id', '=', id).execute();
    if (targets.length) {
      await t(db).insertInto('crm_associations')
        .values(targets.map((x, position) => ({ workspace_id: workspaceId, record_type: recordType, record_id: id, object: x.object, target_id: x.targetId, position })))
        .execute();
    }
  },
  /** Records of a type associated with a target under any of its ids (a contact's notes, a deal's tasks). */
  associatedWith: (db: Kysely<any>, workspaceId: string, recordType: string, object: string, targetIds: string[]) =>
    t(db).selectFrom('crm_associations').select('record_id').where('workspace_id', '=', workspaceId).where('object', '=', object).where('target_id', 'in', targetIds).where('record_type', '=', recordType),

  slaPolicies: (db: Kysely<any>, workspaceId: string) => t(db).selectFrom('crm_sla_policies').selectAll().where('workspace_id', '=', workspaceId).execute(),
  async setSlaPolicy(db: Kysely<any>, row: SlaRow) {
    await t(db).insertInto('crm_sla_policies').values(row)
      .onConflict((oc) => oc.columns(['workspace_id', 'priority']).doUpdateSet({ first_response_minutes: row.first_response_minutes, resolution_minutes: row.resolution_minutes })).execute();
  },
};
