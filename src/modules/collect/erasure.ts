import { sql, type Kysely } from 'kysely';
import type { CollectTables } from './store.js';

const pattern = (v: string) => `%${v.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** Deleting from the event log: a person's events (privacy deletions) and old events (retention). */
export const logErasure = {
  /** Deletes a workspace's events by offset; returns how many went. */
  async eraseEvents(rawDb: Kysely<any>, workspaceId: string, offsets: number[]): Promise<number> {
    const db = rawDb as Kysely<CollectTables>;
    let n = 0;
    for (let i = 0; i < offsets.length; i += 1000) {
      n += Number((await db.deleteFrom('events').where('offset', 'in', offsets.slice(i, i + 1000)).where('workspace_id', '=', workspaceId).executeTakeFirst()).numDeletedRows);
    }
    return n;
  },

  /** Rejected calls (the debugger's excerpts) of a workspace that mention any of the values. */
  async eraseRejected(rawDb: Kysely<any>, workspaceId: string, values: string[]): Promise<number> {
    const db = rawDb as Kysely<CollectTables>;
    const list = values.filter((v) => v.length > 0);
    let n = 0;
    for (let i = 0; i < list.length; i += 100) {
      n += Number((await db.deleteFrom('rejected_events').where('workspace_id', '=', workspaceId)
        .where((eb) => eb.or(list.slice(i, i + 100).map((v) => sql<boolean>`${sql.ref('payload')} like ${pattern(v)} escape '\\'`))).executeTakeFirst()).numDeletedRows);
    }
    return n;
  },

  /** The offset every log consumer has read up to (0 when one has not started): retention goes no further. */
  async readByAll(rawDb: Kysely<any>): Promise<number> {
    const row = await (rawDb as Kysely<CollectTables>).selectFrom('log_consumers').select((eb) => eb.fn.min('offset').as('offset')).executeTakeFirst();
    return Number(row?.offset ?? 0);
  },

  /**
   * Retention: deletes up to `limit` of the workspace's events received before `before`, no later than
   * offset `upTo` (what every consumer has read). Returns how many went; call again until it returns 0.
   */
  async eraseReceivedBefore(rawDb: Kysely<any>, workspaceId: string, before: number, upTo: number, limit: number): Promise<number> {
    const db = rawDb as Kysely<CollectTables>;
    const rows = await db.selectFrom('events').select('offset').where('offset', '<=', upTo).where('workspace_id', '=', workspaceId).where('received_at', '<', before)
      .orderBy('offset').limit(limit).execute();
    if (rows.length === 0) return 0;
    await db.deleteFrom('events').where('offset', 'in', rows.map((r) => Number(r.offset))).execute();
    await db.deleteFrom('rejected_events').where('workspace_id', '=', workspaceId).where('received_at', '<', before).execute();
    return rows.length;
  },
};
