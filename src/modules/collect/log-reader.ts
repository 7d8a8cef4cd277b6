import { sql, type Kysely } from 'kysely';
import { LOG_APPEND_LOCK, type LogEntry } from './event-log.js';
import type { CollectTables } from './store.js';

/** An event as consumers read it from the log: the appended columns, its offset, and the parsed Segment message. */
export interface LoggedEvent extends Omit<LogEntry, 'payload'> {
  offset: number;
  message: Record<string, unknown>;
}

type Row = Omit<CollectTables['events'], 'payload'> & { payload: unknown };

function toEvent(row: Row): LoggedEvent {
  return {
    offset: Number(row.offset),
    workspaceId: row.workspace_id,
    sourceId: row.source_id,
    messageId: row.message_id,
    type: row.type,
    event: row.event,
    userId: row.user_id,
    anonymousId: row.anonymous_id,
    timestamp: Number(row.timestamp),
    receivedAt: Number(row.received_at),
    message: (typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload) as Record<string, unknown>,
  };
}

/**
 * The read side of the log, for consumers. Every function takes the executor to run on, so a consumer
 * reads, applies its effects and commits its offset in one transaction.
 */
export const eventLog = {
  /** Where `consumer` has got to; on PostgreSQL the row stays locked until the transaction ends (one consumer at a time). */
  async position(db: Kysely<any>, consumer: string, lock: boolean): Promise<number> {
    const t = db as Kysely<CollectTables>;
    await t.insertInto('log_consumers').values({ name: consumer, offset: 0, updated_at: new Date().toISOString() }).onConflict((oc) => oc.column('name').doNothing()).execute();
    let query = t.selectFrom('log_consumers').select('offset').where('name', '=', consumer);
    if (lock) query = query.forUpdate();
    const row = await query.executeTakeFirstOrThrow();
    return Number(row.offset);
  },

  async commit(db: Kysely<any>, consumer: string, offset: number): Promise<void> {
    await (db as Kysely<CollectTables>).updateTable('log_consumers').set({ offset, updated_at: new Date().toISOString() }).where('name', '=', consumer).execute();
  },

  async read(db: Kysely<any>, afterOffset: number, limit: number): Promise<LoggedEvent[]> {
    const rows = await (db as Kysely<CollectTables>).selectFrom('events').selectAll().where('offset', '>', afterOffset).orderBy('offset').limit(limit).execute();
    return rows.map(toEvent);
  },

  /**
   * Events of a workspace by offset. By primary key only, the workspace checked on the rows: with
   * `workspace_id = ?` in the query, SQLite (without statistics) answers from the (workspace_id, message_id)
   * index, a scan of the workspace's whole log.
   */
  async at(db: Kysely<any>, workspaceId: string, offsets: number[]): Promise<LoggedEvent[]> {
    const out: LoggedEvent[] = [];
    for (let i = 0; i < offsets.length; i += 1000) {
      const part = offsets.slice(i, i + 1000);
      const rows = await (db as Kysely<CollectTables>).selectFrom('events').selectAll().where('offset', 'in', part).execute();
      for (const row of rows) if (row.workspace_id === workspaceId) out.push(toEvent(row));
    }
    return out.sort((a, b) => a.offset - b.offset);
  },

  /**
   * Appends events Rapport derives itself (a consumer's output, e.g. audience transitions) inside the
   * consumer's transaction, so they are logged exactly when its effects commit. On PostgreSQL it takes the
   * append lock like every append, keeping offsets in commit order.
   */
  async appendInTransaction(db: Kysely<any>, entries: LogEntry[], postgres: boolean): Promise<void> {
    if (entries.length === 0) return;
    if (postgres) await sql`select pg_advisory_xact_lock(${LOG_APPEND_LOCK})`.execute(db);
    for (let i = 0; i < entries.length; i += 200) {
      const rows = entries.slice(i, i + 200).map((e) => ({
        workspace_id: e.workspaceId, source_id: e.sourceId, message_id: e.messageId, type: e.type, event: e.event, user_id: e.userId,
        anonymous_id: e.anonymousId, timestamp: e.timestamp, received_at: e.receivedAt, payload: e.payload,
      }));
      await (db as Kysely<CollectTables>).insertInto('events').values(rows as never).onConflict((oc) => oc.columns(['workspace_id', 'message_id']).doNothing()).execute();
    }
  },

  /**
   * The offset just before the first event received at or after `receivedAt`, by binary search over
   * offsets: received times follow offsets (appends are in arrival order, give or take concurrent group
   * commits), so a reader of a time range starts here with a little slack.
   */
  async offsetBefore(db: Kysely<any>, receivedAt: number): Promise<number> {
    const t = db as Kysely<CollectTables>;
    const bounds = await t.selectFrom('events').select((eb) => [eb.fn.min('offset').as('lo'), eb.fn.max('offset').as('hi')]).executeTakeFirst();
    if (bounds?.lo === null || bounds?.lo === undefined) return 0;
    let lo = Number(bounds.lo);
    let hi = Number(bounds.hi) + 1;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const row = await t.selectFrom('events').select(['offset', 'received_at']).where('offset', '>=', mid).orderBy('offset').limit(1).executeTakeFirst();
      if (!row || Number(row.received_at) >= receivedAt) hi = mid;
      else lo = Number(row.offset) + 1;
    }
    return lo - 1;
  },

  /** The offset of a workspace's event by messageId (undefined when the log has no such event). */
  async offsetOf(db: Kysely<any>, workspaceId: string, messageId: string): Promise<number | undefined> {
    const row = await (db as Kysely<CollectTables>).selectFrom('events').select('offset').where('workspace_id', '=', workspaceId).where('message_id', '=', messageId).executeTakeFirst();
    return row ? Number(row.offset) : undefined;
  },

  async end(db: Kysely<any>): Promise<number> {
    const row = await (db as Kysely<CollectTables>).selectFrom('events').select((eb) => eb.fn.max('offset').as('end')).executeTakeFirst();
    return Number(row?.end ?? 0);
  },
};

export type EventLog = typeof eventLog;
