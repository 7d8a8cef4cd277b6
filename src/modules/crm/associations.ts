import type { Kysely } from 'kysely';
import { errors } from '../../platform/errors.js';
import type { DealsDeps } from './deals.js';
import { type RecordRules, type RecordScope } from './record-scope.js';
import { workStore, type AssociationRow } from './work-store.js';

/** What activities and tasks can be about. */
export interface AssociationsInput {
  contactIds?: string[];
  companyIds?: string[];
  dealIds?: string[];
  ticketIds?: string[];
}

export const associationsSchema = {
  contactIds: { type: 'array', maxItems: 50, uniqueItems: true, items: { type: 'string' }, description: 'Person profiles; the first is the one the event is about.' },
  companyIds: { type: 'array', maxItems: 50, uniqueItems: true, items: { type: 'string' }, description: 'Account profiles.' },
  dealIds: { type: 'array', maxItems: 50, uniqueItems: true, items: { type: 'string' } },
  ticketIds: { type: 'array', maxItems: 50, uniqueItems: true, items: { type: 'string' } },
};

/** Checks every target exists in the workspace (profiles followed through merges) and returns them in order. */
export async function resolveAssociations(db: Kysely<any>, deps: DealsDeps, workspaceId: string, input: AssociationsInput, what: string) {
  const targets: { object: string; targetId: string }[] = [];
  for (const [object, ids, collection] of [['contact', input.contactIds, 'users'], ['company', input.companyIds, 'accounts']] as const) {
    for (const id of ids ?? []) {
      const p = await deps.profile(db, workspaceId, id);
      if (!p || p.collection !== collection) throw errors.validation(`Invalid ${what}: ${object} "${id}" is not ${collection === 'users' ? 'a person' : 'an account'} profile of this workspace.`);
      if (!targets.some((x) => x.object === object && x.targetId === p.id)) targets.push({ object, targetId: p.id });
    }
  }
  for (const [object, ids, table] of [['deal', input.dealIds, 'crm_deals'], ['ticket', input.ticketIds, 'crm_tickets']] as const) {
    for (const id of ids ?? []) {
      const hit = await db.selectFrom(table).select('id').where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
      if (!hit) throw errors.validation(`Invalid ${what}: no ${object} "${id}" in this workspace.`);
      targets.push({ object, targetId: id });
    }
  }
  return targets;
}

const UNKNOWN: Record<string, (id: string) => string> = {
  contact: (id) => `contact "${id}" is not a person profile of this workspace`,
  company: (id) => `company "${id}" is not an account profile of this workspace`,
  deal: (id) => `no deal "${id}" in this workspace`,
  ticket: (id) => `no ticket "${id}" in this workspace`,
};

/**
 * A record's targets in the caller's scope: a target the caller may not see is refused as an unknown one
 * (nothing tells it exists), unless the record had it already. A change keeps the hidden targets the record
 * had in each list it replaces: the caller was not shown them, so leaving them out removes nothing.
 */
export async function scopedAssociations(db: Kysely<any>, deps: DealsDeps, rules: RecordRules, scope: RecordScope, workspaceId: string,
  input: AssociationsInput, what: string, current: AssociationRow[] = []) {
  if (scope.all) return resolveAssociations(db, deps, workspaceId, { ...associationsView(current), ...input }, what);
  const had = current.map((a) => ({ object: a.object, id: a.target_id }));
  const hiddenHad = await rules.hiddenOf(db, scope, had);
  const keys = { contact: 'contactIds', company: 'companyIds', deal: 'dealIds', ticket: 'ticketIds' } as const;
  const lists = { ...associationsView(current), ...input };
  for (const [object, key] of Object.entries(keys)) {
    const kept = had.filter((a) => a.object === object && hiddenHad.has(`${object}:${a.id}`)).map((a) => a.id);
    lists[key] = [...new Set([...(lists[key] ?? []), ...kept])];
  }
  const targets = await resolveAssociations(db, deps, workspaceId, lists, what);
  // Targets resolve to live profiles: the hidden ones the record had, as they are now (merged ones followed).
  const live = await deps.liveIds(db, had.filter((a) => a.object === 'contact' || a.object === 'company').map((a) => a.id));
  const hiddenBefore = new Set(had.filter((a) => hiddenHad.has(`${a.object}:${a.id}`)).map((a) => `${a.object}:${live.get(a.id) ?? a.id}`));
  const fresh = targets.filter((t) => !hiddenBefore.has(`${t.object}:${t.targetId}`)).map((t) => ({ object: t.object, id: t.targetId }));
  const hidden = await rules.hiddenOf(db, scope, fresh);
  const refused = fresh.find((t) => hidden.has(`${t.object}:${t.id}`));
  if (refused) throw errors.validation(`Invalid ${what}: ${UNKNOWN[refused.object](refused.id)}.`);
  return targets;
}

/**
 * Every id a record is known by: for a contact or company, its live profile and every profile merged into it
 * (activities, tasks and tickets keep the id they were logged with); a deal or ticket has one.
 */
export async function idsOfRecord(db: Kysely<any>, deps: Pick<DealsDeps, 'profile' | 'aliases'>, workspaceId: string, object: string, id: string): Promise<string[]> {
  if (object !== 'contact' && object !== 'company') return [id];
  const profile = await deps.profile(db, workspaceId, id);
  return profile ? deps.aliases(db, profile.id) : [id];
}

/** A record's associations by object; those in `hidden` (`object:id`, the caller may not see them) left out. */
export function associationsView(rows: AssociationRow[], hidden: ReadonlySet<string> = new Set()) {
  const of = (object: string) => rows.filter((r) => r.object === object && !hidden.has(`${object}:${r.target_id}`)).map((r) => r.target_id);
  return { contactIds: of('contact'), companyIds: of('company'), dealIds: of('deal'), ticketIds: of('ticket') };
}

/** The profile an activity's or task's event is about: its first contact, else its first company. */
export function subjectOf(targets: { object: string; targetId: string }[]): { profileId: string | null; collection: 'users' | 'accounts' } {
  const contact = targets.find((x) => x.object === 'contact');
  if (contact) return { profileId: contact.targetId, collection: 'users' };
  const company = targets.find((x) => x.object === 'company');
  return { profileId: company?.targetId ?? null, collection: 'accounts' };
}

export { workStore };
