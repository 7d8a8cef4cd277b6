import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { AUDIENCES_SOURCE } from '../../src/modules/audiences/index.js';

/**
 * Watches a running Rapport's store from outside the server, every `everyMs`: the pipeline's committed
 * offset ([performance.now(), offset] at each change) and the `Audience Entered` events it appends to the
 * log (source `rapport:audiences`), recording when each (audience, userId) was first seen.
 */
export async function storeWatcher(store: { dataDir: string; databaseUrl?: string }, everyMs = 5) {
  const CONSUMER = `select "offset" from log_consumers where name = 'pipeline'`;
  const END = `select max("offset") as "offset" from events`;
  let consumer: () => Promise<number>;
  let logEnd: () => Promise<number>;
  let derived: (after: number) => Promise<{ offset: number; payload: unknown }[]>;
  let close: () => Promise<void>;
  if (store.databaseUrl) {
    const client = new pg.Client({ connectionString: store.databaseUrl });
    await client.connect();
    const one = async (text: string) => Number((await client.query(text)).rows[0]?.offset ?? 0);
    consumer = () => one(CONSUMER);
    logEnd = () => one(END);
    derived = async (after) => (await client.query(`select "offset", payload from events where source_id = $1 and "offset" > $2 order by "offset"`, [AUDIENCES_SOURCE, after])).rows;
    close = () => client.end();
  } else {
    const db = new BetterSqlite3(join(store.dataDir, 'rapport.db'), { readonly: true });
    const c = db.prepare(CONSUMER);
    const end = db.prepare(END);
    const d = db.prepare(`select "offset", payload from events where source_id = ? and "offset" > ? order by "offset"`);
    const one = (s: BetterSqlite3.Statement) => Number((s.get() as { offset?: number } | undefined)?.offset ?? 0);
    consumer = async () => one(c);
    logEnd = async () => one(end);
    derived = async (after) => d.all(AUDIENCES_SOURCE, after) as { offset: number; payload: unknown }[];
    close = async () => void db.close();
  }
  const seen: [number, number][] = [[performance.now(), await consumer()]];
  // Only what is appended from now on.
  const before = await derived(0);
  /** `${audienceKey}|${userId}` -> when its Audience Entered was first seen. */
  const entered = new Map<string, number>();
  let lastDerived = before.length ? Number(before[before.length - 1].offset) : 0;
  let derivedCount = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const offset = await consumer();
      const at = performance.now();
      if (offset !== seen[seen.length - 1][1]) seen.push([at, offset]);
      for (const row of await derived(lastDerived)) {
        lastDerived = Number(row.offset);
        derivedCount++;
        const p = (typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload) as { event?: string; userId?: string; properties?: { audience_key?: string } };
        if (p.event !== 'Audience Entered') continue;
        const key = `${p.properties?.audience_key}|${p.userId}`;
        if (!entered.has(key)) entered.set(key, at);
      }
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    seen,
    entered,
    derivedCount: () => derivedCount,
    current: () => seen[seen.length - 1][1],
    logEnd: () => logEnd(),
    /** The first time the committed offset reached `offset`. */
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
