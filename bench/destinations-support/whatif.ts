import { sql, type Kysely } from 'kysely';
import type { RapportCore } from '../../src/app.js';
import { destinationsStore, type OutboxRow } from '../../src/modules/destinations/store.js';

/**
 * Changes to try without touching src/: each patches this process's Rapport (or its copied store) the way
 * a change to src/ would, so the gain can be measured before the change is made. Each returns its undo.
 */

/**
 * The events of a delivery round read by primary key only (the workspace checked on the rows): SQLite,
 * without statistics, answers `workspace_id = ? and offset in (…)` from the (workspace_id, message_id)
 * index, a scan of the workspace's whole log per query.
 */
export function readEventsByOffset(core: RapportCore): () => void {
  const deps = core.destinations.deps;
  const original = deps.readEvents;
  deps.readEvents = async (db: Kysely<any>, workspaceId: string, offsets: number[]) => {
    const out: { offset: number; message: Record<string, unknown> }[] = [];
    for (let i = 0; i < offsets.length; i += 1000) {
      const rows = await db.selectFrom('events').selectAll().where('offset', 'in', offsets.slice(i, i + 1000)).execute();
      for (const r of rows) {
        if (r.workspace_id !== workspaceId) continue;
        out.push({ offset: Number(r.offset), message: (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload) as Record<string, unknown> });
      }
    }
    return out.sort((a, b) => a.offset - b.offset);
  };
  return () => (deps.readEvents = original);
}

/**
 * The check for keys waiting to be retried through a partial index of the rows that have failed
 * (`attempts > 0`) instead of an index of every row's (destination_id, key): a healthy destination's
 * rows are never in it, so delivering them no longer rewrites a randomly ordered index, and the check
 * reads an empty index. Replaces the copied store's outbox_key index, and store.sendable with the same
 * query plus `attempts > 0`.
 */
export async function partialKeyIndex(core: RapportCore): Promise<() => void> {
  const db = core.database.db;
  if (!(await hasIndex(core, 'outbox_key'))) return () => undefined;
  await sql`drop index outbox_key`.execute(db);
  await sql`create index outbox_waiting on outbox (destination_id, key) where attempts > 0`.execute(db);
  const store = destinationsStore as { sendable: typeof destinationsStore.sendable };
  const original = store.sendable;
  store.sendable = async (db: Kysely<any>, destinationId: string, now: number, limit: number): Promise<OutboxRow[]> => {
    const due = await db.selectFrom('outbox').selectAll().where('destination_id', '=', destinationId).where('next_attempt_at', '<=', now).orderBy('id').limit(limit).execute();
    if (due.length === 0) return [];
    const keys = [...new Set(due.map((r) => r.key as string))];
    const waiting = new Set<string>();
    for (let i = 0; i < keys.length; i += 500) {
      const rows = await db.selectFrom('outbox').select('key').distinct().where('destination_id', '=', destinationId).where(sql<boolean>`attempts > 0`)
        .where('key', 'in', keys.slice(i, i + 500)).where('next_attempt_at', '>', now).execute();
      for (const r of rows) waiting.add(r.key as string);
    }
    return due.filter((r) => !waiting.has(r.key as string)).map((r) => ({ ...r, id: Number(r.id), event_offset: r.event_offset === null ? null : Number(r.event_offset) }) as OutboxRow);
  };
  return () => (store.sendable = original);
}

export async function hasIndex(core: RapportCore, name: string): Promise<boolean> {
  const q = core.database.engine === 'postgres'
    ? sql<{ n: number }>`select count(*)::int as n from pg_indexes where indexname = ${name}`
    : sql<{ n: number }>`select count(*) as n from sqlite_master where type = 'index' and name = ${name}`;
  return Number((await q.execute(core.database.db)).rows[0].n) > 0;
}

/** Whether this src reads a round's events with the workspace in the query (the slow plan on SQLite). */
export const readsEventsWithWorkspaceFilter = (at: (...a: any[]) => unknown) => /['"]workspace_id['"],\s*['"]=['"]/.test(at.toString());
