import type { Generated, Kysely } from 'kysely';
import type { DefinitionRow } from './catalog.js';

export interface AudiencesTables {
  computed_traits: DefinitionRow;
  audiences: DefinitionRow & { description: string | null; size: number };
  aggregate_states: { aggregate_id: string; profile_id: string; workspace_id: string; state: string; expires_at: number | null };
  /** value_number: the value when it is a JSON number (lists sort and filter by it), else null; set by writeValues. */
  computed_values: { trait_id: string; profile_id: string; workspace_id: string; value: string; value_number: number | null; updated_at: number };
  audience_members: { audience_id: string; profile_id: string; workspace_id: string; entered_at: number };
  audience_history: { id: Generated<number>; workspace_id: string; audience_id: string; profile_id: string; entered_at: number; exited_at: number | null; exit_reason: string | null };
}

type Db = Kysely<AudiencesTables>;

export type ComputedValueWrite = Omit<AudiencesTables['computed_values'], 'value_number'>;

const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
/** The number a JSON value is, or null when it is text, a list, true/false. */
export const numberOf = (json: string): number | null => (JSON_NUMBER.test(json) ? Number(json) : null);

export function chunks<T>(items: T[], size = 300): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export const audiencesStore = {
  traitRows: (db: Db, workspaceId: string) => db.selectFrom('computed_traits').selectAll().where('workspace_id', '=', workspaceId).orderBy('key').execute(),
  audienceRows: (db: Db, workspaceId: string) => db.selectFrom('audiences').selectAll().where('workspace_id', '=', workspaceId).orderBy('key').execute(),
  /** Changes whenever a definition of the workspace is created, changed, deleted, or made ready. */
  async signature(db: Db, workspaceId: string): Promise<string> {
    const one = async (table: 'computed_traits' | 'audiences') => {
      const r = await db.selectFrom(table).select((eb) => [eb.fn.countAll().as('n'), eb.fn.max('updated_at').as('u'), eb.fn.max('computed_at').as('c')]).where('workspace_id', '=', workspaceId).executeTakeFirst();
      return `${r?.n ?? 0}/${r?.u ?? 0}/${r?.c ?? 0}`;
    };
    return `${await one('computed_traits')}|${await one('audiences')}`;
  },
  /** Workspaces with a definition still waiting for its backfill. */
  async pendingWorkspaces(db: Db): Promise<string[]> {
    const a = await db.selectFrom('computed_traits').select('workspace_id').where('status', '=', 'pending').distinct().execute();
    const b = await db.selectFrom('audiences').select('workspace_id').where('status', '=', 'pending').distinct().execute();
    return [...new Set([...a, ...b].map((r) => r.workspace_id))];
  },
  /** Workspaces with any definition: the time re-check visits them. */
  async workspacesWithDefinitions(db: Db): Promise<string[]> {
    const a = await db.selectFrom('audiences').select('workspace_id').distinct().execute();
    const b = await db.selectFrom('computed_traits').select('workspace_id').distinct().execute();
    return [...new Set([...a, ...b].map((r) => r.workspace_id))];
  },

  async states(db: Db, aggregateIds: string[], profileIds: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (aggregateIds.length === 0 || profileIds.length === 0) return out;
    for (const part of chunks(profileIds)) {
      const rows = await db.selectFrom('aggregate_states').select(['aggregate_id', 'profile_id', 'state']).where('profile_id', 'in', part).where('aggregate_id', 'in', aggregateIds).execute();
      for (const r of rows) out.set(`${r.aggregate_id}|${r.profile_id}`, r.state);
    }
    return out;
  },
  /** States whose value has changed by time alone since they were written (see aggregate.expiresAt). */
  async expired(db: Db, aggregateIds: string[], now: number) {
    if (aggregateIds.length === 0) return [];
    return db.selectFrom('aggregate_states').selectAll().where('aggregate_id', 'in', aggregateIds).where('expires_at', '<=', now).execute();
  },
  statesOfProfile: (db: Db, profileId: string) => db.selectFrom('aggregate_states').selectAll().where('profile_id', '=', profileId).execute(),
  async writeStates(db: Db, rows: AudiencesTables['aggregate_states'][]) {
    for (const part of chunks(rows, 200)) {
      await db.insertInto('aggregate_states').values(part).onConflict((oc) => oc.columns(['aggregate_id', 'profile_id']).doUpdateSet((eb) => ({ state: eb.ref('excluded.state'), expires_at: eb.ref('excluded.expires_at') }))).execute();
    }
  },
  async deleteStates(db: Db, aggregateId: string, profileIds?: string[]) {
    if (!profileIds) return void (await db.deleteFrom('aggregate_states').where('aggregate_id', '=', aggregateId).execute());
    for (const part of chunks(profileIds)) await db.deleteFrom('aggregate_states').where('aggregate_id', '=', aggregateId).where('profile_id', 'in', part).execute();
  },
  async deleteProfileStates(db: Db, profileId: string) {
    await db.deleteFrom('aggregate_states').where('profile_id', '=', profileId).execute();
  },

  async values(db: Db, traitIds: string[], profileIds: string[]) {
    const out: AudiencesTables['computed_values'][] = [];
    if (traitIds.length === 0 || profileIds.length === 0) return out;
    for (const part of chunks(profileIds)) out.push(...(await db.selectFrom('computed_values').selectAll().where('profile_id', 'in', part).where('trait_id', 'in', traitIds).execute()));
    return out;
  },
  valuesOfProfile: (db: Db, profileId: string) => db.selectFrom('computed_values').selectAll().where('profile_id', '=', profileId).execute(),
  async writeValues(db: Db, rows: ComputedValueWrite[]) {
    for (const part of chunks(rows, 200)) {
      await db.insertInto('computed_values').values(part.map((r) => ({ ...r, value_number: numberOf(r.value) })))
        .onConflict((oc) => oc.columns(['trait_id', 'profile_id']).doUpdateSet((eb) => ({ value: eb.ref('excluded.value'), value_number: eb.ref('excluded.value_number'), updated_at: eb.ref('excluded.updated_at') }))).execute();
    }
  },
  async deleteValues(db: Db, traitId: string, profileIds?: string[]) {
    if (!profileIds) return void (await db.deleteFrom('computed_values').where('trait_id', '=', traitId).execute());
    for (const part of chunks(profileIds)) await db.deleteFrom('computed_values').where('trait_id', '=', traitId).where('profile_id', 'in', part).execute();
  },

  async memberships(db: Db, profileIds: string[]): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    for (const part of chunks(profileIds)) {
      const rows = await db.selectFrom('audience_members').select(['audience_id', 'profile_id']).where('profile_id', 'in', part).execute();
      for (const r of rows) (out.get(r.profile_id) ?? out.set(r.profile_id, new Set()).get(r.profile_id)!).add(r.audience_id);
    }
    return out;
  },
  membersOf: (db: Db, audienceId: string) => db.selectFrom('audience_members').select('profile_id').where('audience_id', '=', audienceId).execute(),

  async enter(db: Db, workspaceId: string, audienceId: string, profileIds: string[], at: number) {
    for (const part of chunks(profileIds, 200)) {
      await db.insertInto('audience_members').values(part.map((profile_id) => ({ audience_id: audienceId, profile_id, workspace_id: workspaceId, entered_at: at }))).execute();
      await db.insertInto('audience_history').values(part.map((profile_id) => ({ workspace_id: workspaceId, audience_id: audienceId, profile_id, entered_at: at, exited_at: null, exit_reason: null }))).execute();
    }
  },
  async exit(db: Db, audienceId: string, profileIds: string[], at: number, reason: string) {
    for (const part of chunks(profileIds)) {
      await db.deleteFrom('audience_members').where('audience_id', '=', audienceId).where('profile_id', 'in', part).execute();
      await db.updateTable('audience_history').set({ exited_at: at, exit_reason: reason }).where('audience_id', '=', audienceId).where('profile_id', 'in', part).where('exited_at', 'is', null).execute();
    }
  },
  async setSize(db: Db, audienceId: string, delta: number | { exactly: number }) {
    await db.updateTable('audiences').set((eb) => ({ size: typeof delta === 'number' ? eb('size', '+', delta) : delta.exactly })).where('id', '=', audienceId).execute();
  },
};
