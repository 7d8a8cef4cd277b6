import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Clock } from '../../platform/clock.js';
import { errors } from '../../platform/errors.js';
import type { AccessTables } from './store.js';

export const RECORD_VISIBILITY = ['all', 'team'] as const;
export type RecordVisibility = (typeof RECORD_VISIBILITY)[number];

export interface TeamView {
  id: string;
  name: string;
  memberIds: string[];
  createdAt: string;
  updatedAt: string;
}

/**
 * Which owned records a caller sees: all of them, or those owned by one of `ownerIds` (the caller and the
 * members of the caller's teams). Records with no owner are always visible, as in HubSpot's "team only".
 */
export type RecordScope = { all: true } | { all: false; ownerIds: string[] };

/** Whoever asks for their scope. */
export interface ScopedCaller {
  workspaceId: string;
  actor: { type: string; id: string };
  can(permission: string): boolean;
}

// The workspace's setting and a user's teammates are read at most this often per node (edits here clear it).
const CACHE_MS = 5_000;
const ALL: RecordScope = { all: true };

/** Teams (a name and members) and the workspace setting that limits contacts and deals to their owner's teams. */
export function createTeams({ db, clock }: { db: Kysely<AccessTables>; clock: Clock }) {
  const iso = () => new Date(clock.now()).toISOString();
  const settings = new Map<string, { value: RecordVisibility; at: number }>();
  const teammates = new Map<string, { ids: string[]; at: number }>();

  async function visibility(workspaceId: string): Promise<RecordVisibility> {
    const cached = settings.get(workspaceId);
    if (cached && clock.now() - cached.at <= CACHE_MS) return cached.value;
    const row = await db.selectFrom('workspaces').select('record_visibility').where('id', '=', workspaceId).executeTakeFirst();
    const value = (row?.record_visibility ?? 'all') as RecordVisibility;
    if (settings.size > 10_000) settings.clear();
    settings.set(workspaceId, { value, at: clock.now() });
    return value;
  }

  /** The user and everyone who shares a team with them. */
  async function circle(workspaceId: string, userId: string): Promise<string[]> {
    const key = `${workspaceId}\u0000${userId}`;
    const cached = teammates.get(key);
    if (cached && clock.now() - cached.at <= CACHE_MS) return cached.ids;
    const rows = await db.selectFrom('team_members as mine').innerJoin('team_members as theirs', 'theirs.team_id', 'mine.team_id')
      .select('theirs.user_id').distinct().where('mine.workspace_id', '=', workspaceId).where('mine.user_id', '=', userId).execute();
    const ids = [...new Set([userId, ...rows.map((r) => r.user_id)])];
    if (teammates.size > 10_000) teammates.clear();
    teammates.set(key, { ids, at: clock.now() });
    return ids;
  }

  async function views(workspaceId: string, ids?: string[]): Promise<TeamView[]> {
    let query = db.selectFrom('teams').selectAll().where('workspace_id', '=', workspaceId);
    if (ids) query = query.where('id', 'in', ids.length ? ids : ['']);
    const teams = await query.orderBy('name').orderBy('id').execute();
    const members = teams.length
      ? await db.selectFrom('team_members').select(['team_id', 'user_id']).where('team_id', 'in', teams.map((t) => t.id)).orderBy('user_id').execute()
      : [];
    return teams.map((t) => ({ id: t.id, name: t.name, memberIds: members.filter((m) => m.team_id === t.id).map((m) => m.user_id), createdAt: t.created_at, updatedAt: t.updated_at }));
  }

  async function one(workspaceId: string, id: string): Promise<TeamView> {
    const [team] = await views(workspaceId, [id]);
    if (!team) throw errors.notFound('Team');
    return team;
  }

  /** Members must belong to the workspace; the list is deduplicated. */
  async function checkMembers(tx: Kysely<AccessTables>, workspaceId: string, memberIds: string[]): Promise<string[]> {
    const unique = [...new Set(memberIds)];
    if (!unique.length) return unique;
    const found = new Set((await tx.selectFrom('memberships').select('user_id').where('workspace_id', '=', workspaceId).where('user_id', 'in', unique).execute()).map((m) => m.user_id));
    const strangers = unique.filter((id) => !found.has(id));
    if (strangers.length) throw errors.validation(`Not members of this workspace: ${strangers.join(', ')}.`, { field: 'memberIds' });
    return unique;
  }

  async function setMembers(tx: Kysely<AccessTables>, workspaceId: string, teamId: string, memberIds: string[]) {
    await tx.deleteFrom('team_members').where('team_id', '=', teamId).execute();
    if (memberIds.length) await tx.insertInto('team_members').values(memberIds.map((userId) => ({ team_id: teamId, workspace_id: workspaceId, user_id: userId }))).execute();
  }

  async function nameFree(tx: Kysely<AccessTables>, workspaceId: string, name: string, except?: string) {
    const clash = await tx.selectFrom('teams').select('id').where('workspace_id', '=', workspaceId).where('name', '=', name).executeTakeFirst();
    if (clash && clash.id !== except) throw errors.conflict(`A team named "${name}" exists already.`);
  }

  const trimmed = (name: string) => {
    const t = name.trim();
    if (!t) throw errors.validation('A team needs a name.', { field: 'name' });
    return t;
  };

  return {
    /**
     * What a caller sees of contacts and deals. Under 'team', a role without `records:all` sees the records
     * owned by its user or their teammates (and unowned ones); an API key is no user, so it sees only unowned
     * records unless its role holds `records:all`.
     */
    async scopeOf(caller: ScopedCaller): Promise<RecordScope> {
      if (caller.can('records:all') || (await visibility(caller.workspaceId)) === 'all') return ALL;
      return { all: false, ownerIds: caller.actor.type === 'user' ? await circle(caller.workspaceId, caller.actor.id) : [] };
    },

    visibility,

    async setVisibility(workspaceId: string, value: RecordVisibility) {
      await db.updateTable('workspaces').set({ record_visibility: value }).where('id', '=', workspaceId).execute();
      settings.delete(workspaceId);
      return value;
    },

    list: (workspaceId: string) => views(workspaceId),
    get: one,

    async create(workspaceId: string, input: { name: string; memberIds?: string[] }): Promise<TeamView> {
      const id = randomUUID();
      await db.transaction().execute(async (tx) => {
        const name = trimmed(input.name);
        await nameFree(tx, workspaceId, name);
        const memberIds = await checkMembers(tx, workspaceId, input.memberIds ?? []);
        await tx.insertInto('teams').values({ id, workspace_id: workspaceId, name, created_at: iso(), updated_at: iso() }).execute();
        await setMembers(tx, workspaceId, id, memberIds);
      });
      teammates.clear();
      return one(workspaceId, id);
    },

    async update(workspaceId: string, id: string, input: { name?: string; memberIds?: string[] }): Promise<TeamView> {
      await db.transaction().execute(async (tx) => {
        const team = await tx.selectFrom('teams').select('id').where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
        if (!team) throw errors.notFound('Team');
        const changes: { name?: string; updated_at: string } = { updated_at: iso() };
        if (input.name !== undefined) {
          changes.name = trimmed(input.name);
          await nameFree(tx, workspaceId, changes.name, id);
        }
        if (input.memberIds !== undefined) await setMembers(tx, workspaceId, id, await checkMembers(tx, workspaceId, input.memberIds));
        await tx.updateTable('teams').set(changes).where('id', '=', id).execute();
      });
      teammates.clear();
      return one(workspaceId, id);
    },

    async remove(workspaceId: string, id: string) {
      await db.transaction().execute(async (tx) => {
        const team = await tx.selectFrom('teams').select('id').where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
        if (!team) throw errors.notFound('Team');
        await tx.deleteFrom('team_members').where('team_id', '=', id).execute();
        await tx.deleteFrom('teams').where('id', '=', id).execute();
      });
      teammates.clear();
    },

    /** A member leaving the workspace leaves its teams, in the transaction that removes the membership. */
    async leaveAll(tx: Kysely<AccessTables>, workspaceId: string, userId: string) {
      await tx.deleteFrom('team_members').where('workspace_id', '=', workspaceId).where('user_id', '=', userId).execute();
      teammates.clear();
    },
  };
}

export type Teams = ReturnType<typeof createTeams>;
