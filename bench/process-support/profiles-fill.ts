import { randomUUID } from 'node:crypto';
import type { Database } from '../../src/platform/db/database.js';

/**
 * Writes `count` user profiles straight into the identity and profiles tables, in the shapes the pipeline
 * writes them (a user_id, an email and an anonymous_id each; six traits), one transaction per `chunk`
 * profiles. Minutes faster than sending and processing the events that would make them.
 */
export const TRAITS_PER_PROFILE = 6;
export const IDS_PER_PROFILE = 3;
export const userIdOf = (i: number) => `bench-user-${i}`;

interface Rows {
  profiles: unknown[][];
  identifiers: unknown[][];
  traits: unknown[][];
}

function rowsFor(from: number, to: number, workspaceId: string, sourceId: string): Rows {
  const out: Rows = { profiles: [], identifiers: [], traits: [] };
  const at = Date.UTC(2026, 0, 1);
  const plans = ['free', 'starter', 'pro', 'team'];
  for (let i = from; i < to; i++) {
    const id = randomUUID();
    const t = at + i * 1000;
    const offset = i * 4 + 1;
    const messageId = `bench-m-${i}`;
    out.profiles.push([id, workspaceId, 'users', offset, t, t, 0, null]);
    for (const [type, value] of [['user_id', userIdOf(i)], ['email', `person${i}@example.com`], ['anonymous_id', `bench-anon-${i}`]]) {
      out.identifiers.push([workspaceId, `users|${type}:${value}`, 'users', type, value, id, t, offset, messageId, sourceId]);
    }
    const traits: Record<string, unknown> = {
      name: `Person ${i}`, email: `person${i}@example.com`, plan: plans[i % 4], logins: i % 97, createdAt: new Date(t).toISOString(), company: { name: `Company ${i % 5000}`, size: i % 500 },
    };
    for (const [name, value] of Object.entries(traits)) out.traits.push([workspaceId, id, name, JSON.stringify(value), t, offset, sourceId, messageId]);
  }
  return out;
}

const COLUMNS = {
  profiles: ['id', 'workspace_id', 'collection', 'created_offset', 'created_at', 'updated_at', 'merges', 'merged_into'],
  identifiers: ['workspace_id', 'key', 'collection', 'type', 'value', 'profile_id', 'first_seen', 'first_offset', 'first_message_id', 'source_id'],
  profile_traits: ['workspace_id', 'profile_id', 'name', 'value', 'updated_at', 'event_offset', 'source_id', 'message_id'],
};
const PG_TYPES = {
  profiles: ['text', 'text', 'text', 'bigint', 'bigint', 'bigint', 'integer', 'text'],
  identifiers: ['text', 'text', 'text', 'text', 'text', 'text', 'bigint', 'bigint', 'text', 'text'],
  profile_traits: ['text', 'text', 'text', 'text', 'bigint', 'bigint', 'text', 'text'],
};

export async function fillProfiles(database: Database, target: { workspaceId: string; sourceId: string }, count: number, chunk = 50_000, progress?: (done: number) => void) {
  if (database.sqlite) {
    const sqlite = database.sqlite;
    const insert = Object.fromEntries(
      Object.entries(COLUMNS).map(([table, cols]) => [table, sqlite.prepare(`insert into ${table} (${cols.map((c) => `"${c}"`).join(', ')}) values (${cols.map(() => '?').join(', ')})`)]),
    );
    const write = sqlite.transaction((rows: Rows) => {
      for (const r of rows.profiles) insert.profiles.run(r);
      for (const r of rows.identifiers) insert.identifiers.run(r);
      for (const r of rows.traits) insert.profile_traits.run(r);
    });
    for (let i = 0; i < count; i += chunk) {
      write(rowsFor(i, Math.min(count, i + chunk), target.workspaceId, target.sourceId));
      progress?.(Math.min(count, i + chunk));
    }
    sqlite.pragma('wal_checkpoint(TRUNCATE)');
    sqlite.exec('analyze');
    return;
  }
  const pool = database.pg!;
  for (let i = 0; i < count; i += chunk) {
    const rows = rowsFor(i, Math.min(count, i + chunk), target.workspaceId, target.sourceId);
    const client = await pool.connect();
    try {
      await client.query('begin');
      for (const [table, list] of [['profiles', rows.profiles], ['identifiers', rows.identifiers], ['profile_traits', rows.traits]] as const) {
        const cols = COLUMNS[table];
        const types = PG_TYPES[table];
        const arrays = cols.map((_, c) => list.map((r) => r[c]));
        await client.query(`insert into ${table} (${cols.map((c) => `"${c}"`).join(', ')}) select * from unnest(${types.map((t, k) => `$${k + 1}::${t}[]`).join(', ')})`, arrays);
      }
      await client.query('commit');
    } catch (error) {
      await client.query('rollback');
      throw error;
    } finally {
      client.release();
    }
    progress?.(Math.min(count, i + chunk));
  }
  await pool.query('vacuum analyze profiles');
  await pool.query('vacuum analyze identifiers');
  await pool.query('vacuum analyze profile_traits');
}
