import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';

/**
 * Polls a running Rapport's pipeline offset from outside the server (its own read connection) every
 * `everyMs`, recording when each offset was first seen committed, in wall-clock ms.
 */
export async function consumerWatcher(store: { dataDir: string; databaseUrl?: string }, everyMs = 5) {
  // Applied everywhere: the slowest of the pipeline's partitions (src/pipeline/partitions.ts, appliedEverywhere).
  const CONSUMER = `select min("offset") as "offset" from log_consumers where name like 'pipeline/%'`;
  let read: () => Promise<number>;
  let close: () => Promise<void>;
  if (store.databaseUrl) {
    const client = new pg.Client({ connectionString: store.databaseUrl });
    await client.connect();
    read = async () => Number((await client.query(CONSUMER)).rows[0]?.offset ?? 0);
    close = () => client.end();
  } else {
    const db = new BetterSqlite3(join(store.dataDir, 'rapport.db'), { readonly: true });
    const s = db.prepare(CONSUMER);
    read = async () => Number((s.get() as { offset?: number } | undefined)?.offset ?? 0);
    close = async () => void db.close();
  }
  const wall = () => performance.timeOrigin + performance.now();
  const seen: [number, number][] = [[wall(), await read()]];
  let running = true;
  const loop = (async () => {
    while (running) {
      const offset = await read();
      if (offset !== seen[seen.length - 1][1]) seen.push([wall(), offset]);
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    /** When the committed offset first reached `offset` (wall-clock ms), if it did. */
    reached(offset: number): number | undefined {
      let lo = 0;
      let hi = seen.length - 1;
      if (seen[hi][1] < offset) return undefined;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (seen[mid][1] >= offset) hi = mid;
        else lo = mid + 1;
      }
      return seen[lo][0];
    },
    async stop() {
      running = false;
      await loop;
      await close();
    },
  };
}

/**
 * messageId -> log offset, read with the driver alone: opening Rapport would run its migrations, and a
 * server started from a newer src/ (the tree is shared) may have applied ones this process does not know.
 */
export async function messageOffsets(store: { dataDir: string; databaseUrl?: string }): Promise<Map<string, number>> {
  const QUERY = `select message_id, "offset" from events`;
  let rows: { message_id: string; offset: unknown }[];
  if (store.databaseUrl) {
    const client = new pg.Client({ connectionString: store.databaseUrl });
    await client.connect();
    try {
      rows = (await client.query(QUERY)).rows;
    } finally {
      await client.end();
    }
  } else {
    const db = new BetterSqlite3(join(store.dataDir, 'rapport.db'), { readonly: true });
    try {
      rows = db.prepare(QUERY).all() as typeof rows;
    } finally {
      db.close();
    }
  }
  return new Map(rows.map((r) => [r.message_id, Number(r.offset)]));
}
