import { open, type FileHandle } from 'node:fs/promises';
import type { Database } from '../../platform/db/database.js';

/** One row of the event log, as appended. */
export interface LogEntry {
  workspaceId: string;
  sourceId: string;
  messageId: string;
  type: string;
  event: string | null;
  userId: string | null;
  anonymousId: string | null;
  timestamp: number;
  receivedAt: number;
  payload: string;
}

export interface RejectionEntry {
  workspaceId: string;
  sourceId: string;
  receivedAt: number;
  reason: string;
  messageId: string | null;
  payload: string;
}

export interface AppendResult {
  appended: number;
  duplicates: number;
}

/** The append half of the log: one call is one transaction, durable when it resolves. */
export interface EventLogAppender {
  append(entries: LogEntry[], rejections: RejectionEntry[]): Promise<AppendResult>;
  /** Releases what the appender holds open; called once the last append has resolved. */
  close?(): Promise<void>;
}

// Rejections keep a readable excerpt for the debugger, not the whole oversize payload.
const REJECTION_EXCERPT = 8 * 1024;
const excerpt = (payload: string) => (payload.length > REJECTION_EXCERPT ? payload.slice(0, REJECTION_EXCERPT) + '…' : payload);

export function createEventLogAppender(database: Database): EventLogAppender {
  return database.engine === 'sqlite' ? sqliteAppender(database) : postgresAppender(database);
}

function sqliteAppender(database: Database): EventLogAppender {
  const sqlite = database.sqlite!;
  const insertEvent = sqlite.prepare(
    `insert into events (workspace_id, source_id, message_id, type, event, user_id, anonymous_id, timestamp, received_at, payload)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict (workspace_id, message_id) do nothing`,
  );
  const insertRejection = sqlite.prepare(
    `insert into rejected_events (workspace_id, source_id, received_at, reason, message_id, payload) values (?, ?, ?, ?, ?, ?)`,
  );
  const appendAll = sqlite.transaction((entries: LogEntry[], rejections: RejectionEntry[]) => {
    let appended = 0;
    for (const e of entries) {
      appended += insertEvent.run(e.workspaceId, e.sourceId, e.messageId, e.type, e.event, e.userId, e.anonymousId, e.timestamp, e.receivedAt, e.payload).changes;
    }
    for (const r of rejections) insertRejection.run(r.workspaceId, r.sourceId, r.receivedAt, r.reason, r.messageId, excerpt(r.payload));
    return appended;
  });

  // In WAL mode, synchronous=FULL is NORMAL plus one fsync of the WAL after each commit
  // (sqlite.org/pragma.html#pragma_synchronous). The append commits at NORMAL and issues that fsync itself,
  // on libuv's thread pool, so the event loop keeps parsing requests (which join the next group) instead of
  // blocking a millisecond or more per commit. An append still resolves only once a WAL fsync begun after
  // its commit has returned. Other writers on the connection keep its own level.
  const synchronous = Number(sqlite.pragma('synchronous', { simple: true }));
  const wal = sqlite.pragma('journal_mode', { simple: true }) === 'wal' && synchronous >= 2 ? `${sqlite.name}-wal` : undefined;
  const commitWithoutSync = sqlite.prepare('pragma synchronous = NORMAL');
  const restoreSync = sqlite.prepare(`pragma synchronous = ${synchronous}`);
  let walFile: Promise<FileHandle> | undefined;
  let committed = 0;
  let synced = 0;
  let syncing: Promise<void> | undefined;

  async function syncWal(): Promise<void> {
    // The WAL keeps its inode while the store is open: SQLite removes it only when the last connection closes.
    const file = (walFile ??= open(wal!, 'r+'));
    try {
      await (await file).datasync();
    } catch (error) {
      walFile = undefined;
      await (await file.catch(() => undefined))?.close().catch(() => {});
      throw error;
    }
  }

  /** Resolves once commit number `commit` is on disk. One fsync at a time; commits made meanwhile share the next. */
  async function durable(commit: number): Promise<void> {
    while (synced < commit) {
      if (!syncing) {
        const upTo = committed;
        syncing = syncWal()
          .then(() => void (synced = Math.max(synced, upTo)))
          .finally(() => (syncing = undefined));
      }
      await syncing;
    }
  }

  return {
    async append(entries, rejections) {
      // Take Kysely's connection lock so the append never lands inside another open transaction.
      const { appended, commit } = await database.db.connection().execute(async () => {
        if (!wal) return { appended: appendAll(entries, rejections), commit: 0 };
        commitWithoutSync.run();
        try {
          return { appended: appendAll(entries, rejections), commit: ++committed };
        } finally {
          restoreSync.run();
        }
      });
      await durable(commit);
      return { appended, duplicates: entries.length - appended };
    },
    async close() {
      const file = walFile;
      walFile = undefined;
      await (await file?.catch(() => undefined))?.close();
    },
  };
}

// Every append holds this transaction-scoped lock while it draws offsets, so offsets become visible in
// commit order and a consumer that reads "offset > n" never skips a slower, earlier transaction.
export const LOG_APPEND_LOCK = 0x7261_7070; // "rapp"

/** Inserts the rejections bound as six arrays, from parameter `$first` on. */
const insertRejections = (first: number) => `insert into rejected_events (workspace_id, source_id, received_at, reason, message_id, payload)
  select * from unnest($${first}::text[], $${first + 1}::text[], $${first + 2}::bigint[], $${first + 3}::text[], $${first + 4}::text[], $${first + 5}::text[])`;

// One statement, so one round trip and one implicit transaction. The lock is a one-time filter in front of
// the rows, so it is held before the first offset is drawn and until the commit; the rejections' CTE runs
// in the same statement.
const APPEND = `with log_lock as materialized (select pg_advisory_xact_lock($17)), rejected as (${insertRejections(11)})
  insert into events (workspace_id, source_id, message_id, type, event, user_id, anonymous_id, timestamp, received_at, payload)
  select w, s, m, t, e, u, a, ts, r, p::jsonb
  from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::text[])
    as x(w, s, m, t, e, u, a, ts, r, p)
  where exists (select from log_lock)
  on conflict (workspace_id, message_id) do nothing`;

function postgresAppender(database: Database): EventLogAppender {
  const pool = database.pg!;
  return {
    async append(entries, rejections) {
      const rejected: unknown[][] = [[], [], [], [], [], []];
      for (const r of rejections) {
        rejected[0].push(r.workspaceId); rejected[1].push(r.sourceId); rejected[2].push(r.receivedAt);
        rejected[3].push(r.reason); rejected[4].push(r.messageId); rejected[5].push(excerpt(r.payload));
      }
      if (entries.length === 0) {
        if (rejections.length > 0) await pool.query({ name: 'rapport-append-rejections', text: insertRejections(1), values: rejected });
        return { appended: 0, duplicates: 0 };
      }
      const events: unknown[][] = [[], [], [], [], [], [], [], [], [], []];
      for (const e of entries) {
        events[0].push(e.workspaceId); events[1].push(e.sourceId); events[2].push(e.messageId); events[3].push(e.type);
        events[4].push(e.event); events[5].push(e.userId); events[6].push(e.anonymousId); events[7].push(e.timestamp);
        events[8].push(e.receivedAt); events[9].push(e.payload);
      }
      const result = await pool.query({ name: 'rapport-append', text: APPEND, values: [...events, ...rejected, LOG_APPEND_LOCK] });
      const appended = result.rowCount ?? 0;
      return { appended, duplicates: entries.length - appended };
    },
  };
}
