import { sql, type Kysely, type RawBuilder } from 'kysely';
import { errors } from '../../platform/errors.js';

/**
 * Which owned records a caller sees (the access module decides, from the workspace's record visibility, the
 * caller's role and teams): all, or those owned by one of `ownerIds`. Unowned records are always visible. A
 * record out of scope answers 404, as one of another workspace does.
 *
 * Contacts, companies and deals follow their owner. Activities, tasks and tickets follow their own person
 * (an activity's owner, a task's or a ticket's assignee) and their parents, as EspoCRM's do: one is visible
 * when that person is the caller or a teammate, or else when none of the records it is about is hidden.
 */
export type RecordScope = { all: true } | { all: false; ownerIds: readonly string[] };

export const ALL_RECORDS: RecordScope = { all: true };

const TRUE = sql<boolean>`1 = 1`;
const FALSE = sql<boolean>`1 = 0`;

/** A SQL condition: the owner in `column` is visible in `scope` (unowned included). */
export function ownerVisible(column: string, scope: RecordScope): RawBuilder<boolean> {
  if (scope.all) return TRUE;
  const ref = sql.ref(column);
  return scope.ownerIds.length ? sql<boolean>`(${ref} is null or ${ref} in (${sql.join([...scope.ownerIds])}))` : sql<boolean>`${ref} is null`;
}

/** A SQL condition: the person in `column` is the caller or a teammate (an unassigned record is nobody's own). */
function own(column: RawBuilder<unknown>, scope: RecordScope): RawBuilder<boolean> {
  if (scope.all) return TRUE;
  // Never null (an unassigned record's `in` would be), so the condition can be negated.
  return scope.ownerIds.length ? sql<boolean>`(${column} is not null and ${column} in (${sql.join([...scope.ownerIds])}))` : FALSE;
}

export function isVisible(ownerId: string | null | undefined, scope: RecordScope): boolean {
  return scope.all || ownerId === null || ownerId === undefined || scope.ownerIds.includes(ownerId);
}

export function assertVisible(ownerId: string | null | undefined, scope: RecordScope, what: string): void {
  if (!isVisible(ownerId, scope)) throw errors.notFound(what);
}

export type ScopedObject = 'contact' | 'company' | 'deal' | 'ticket';
const NAMES: Record<ScopedObject, string> = { contact: 'Contact', company: 'Company', deal: 'Deal', ticket: 'Ticket' };

/**
 * The conditions that hide a record reached through another one (a deal's contacts, a contact's notes). Ids
 * of contacts and companies may be of profiles merged since (associations keep the id they were made with):
 * the CRM record lives on the survivor, which `profiles.merged_into` names (merges keep it one hop).
 */
export function recordRules(profiles: string) {
  const table = sql.table(profiles);
  const survivor = (id: RawBuilder<unknown>) => sql`(select lp.merged_into from ${table} lp where lp.id = ${id})`;
  const profileHidden = (crm: 'crm_contacts' | 'crm_companies', id: RawBuilder<unknown>, scope: RecordScope) => scope.all ? FALSE
    : sql<boolean>`exists (select 1 from ${sql.table(crm)} hc where hc.profile_id in (${id}, ${survivor(id)}) and not ${ownerVisible('hc.owner_id', scope)})`;

  const hidden = {
    contact: (id: RawBuilder<unknown>, scope: RecordScope) => profileHidden('crm_contacts', id, scope),
    company: (id: RawBuilder<unknown>, scope: RecordScope) => profileHidden('crm_companies', id, scope),
    deal: (id: RawBuilder<unknown>, scope: RecordScope) => scope.all ? FALSE
      : sql<boolean>`exists (select 1 from crm_deals hd where hd.id = ${id} and not ${ownerVisible('hd.owner_id', scope)})`,
    ticket: (id: RawBuilder<unknown>, scope: RecordScope): RawBuilder<boolean> => scope.all ? FALSE
      : sql<boolean>`exists (select 1 from crm_tickets ht where ht.id = ${id} and not ${ticketVisible('ht', scope)})`,
    activity: (id: RawBuilder<unknown>, scope: RecordScope): RawBuilder<boolean> => scope.all ? FALSE
      : sql<boolean>`exists (select 1 from crm_activities hw where hw.id = ${id} and not ${workVisible('activity', 'hw.id', 'hw.owner_id', scope)})`,
    task: (id: RawBuilder<unknown>, scope: RecordScope): RawBuilder<boolean> => scope.all ? FALSE
      : sql<boolean>`exists (select 1 from crm_tasks hw where hw.id = ${id} and not ${workVisible('task', 'hw.id', 'hw.assignee_id', scope)})`,
  };

  /** A ticket (table alias `alias`) is visible to its assignee's team, else when its contact and company are. */
  function ticketVisible(alias: string, scope: RecordScope): RawBuilder<boolean> {
    if (scope.all) return TRUE;
    const col = (c: string) => sql.ref(`${alias}.${c}`);
    return sql<boolean>`(${own(col('assignee_id'), scope)} or (not ${hidden.contact(col('contact_id'), scope)} and not ${hidden.company(col('company_id'), scope)}))`;
  }

  /**
   * An activity or task (`recordType`, its id and its own person's column) is visible to that person's team,
   * else when none of the contacts, companies, deals and tickets it is about is hidden.
   */
  function workVisible(recordType: 'activity' | 'task', idColumn: string, personColumn: string, scope: RecordScope): RawBuilder<boolean> {
    if (scope.all) return TRUE;
    const target = sql.ref('ha.target_id');
    return sql<boolean>`(${own(sql.ref(personColumn), scope)} or not exists (select 1 from crm_associations ha where ha.record_type = ${recordType} and ha.record_id = ${sql.ref(idColumn)}
      and ((ha.object = 'contact' and ${hidden.contact(target, scope)}) or (ha.object = 'company' and ${hidden.company(target, scope)})
        or (ha.object = 'deal' and ${hidden.deal(target, scope)}) or (ha.object = 'ticket' and ${hidden.ticket(target, scope)}))))`;
  }

  /** Of these records, the ones hidden from the caller, as `object:id` (to leave them out of what is shown). */
  async function hiddenOf(db: Kysely<any>, scope: RecordScope, records: { object: string; id: string }[]): Promise<Set<string>> {
    const out = new Set<string>();
    if (scope.all) return out;
    for (const object of ['contact', 'company', 'deal', 'ticket', 'activity', 'task'] as const) {
      const ids = [...new Set(records.filter((r) => r.object === object).map((r) => r.id))];
      if (!ids.length) continue;
      // VALUES' column is column1 on both engines.
      const values = sql.join(ids.map((id) => sql`(${id})`));
      const rows = await sql<{ id: string }>`select v.column1 as id from (values ${values}) v where ${hidden[object](sql.ref('v.column1'), scope)}`.execute(db);
      for (const r of rows.rows) out.add(`${object}:${r.id}`);
    }
    return out;
  }

  /** Search documents (alias `s`) of records the caller sees. */
  function searchVisible(scope: RecordScope): RawBuilder<boolean> {
    if (scope.all) return TRUE;
    const id = sql.ref('s.record_id');
    return sql<boolean>`not ((s.object = 'contact' and ${hidden.contact(id, scope)}) or (s.object = 'company' and ${hidden.company(id, scope)})
      or (s.object = 'deal' and ${hidden.deal(id, scope)}) or (s.object = 'ticket' and ${hidden.ticket(id, scope)}))`;
  }

  return {
    hidden,
    ticketVisible,
    searchVisible,
    workVisible,
    hiddenOf,
    /** A record named by id (a list "about" it) that the caller may not see answers 404, as an unknown one. */
    async assertVisible(db: Kysely<any>, scope: RecordScope, object: ScopedObject, id: string): Promise<void> {
      if ((await hiddenOf(db, scope, [{ object, id }])).size) throw errors.notFound(NAMES[object]);
    },
  };
}

export type RecordRules = ReturnType<typeof recordRules>;
