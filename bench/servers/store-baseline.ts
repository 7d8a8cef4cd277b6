import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { serveBench } from '../support/server-process.js';

/**
 * The floor for /v1/batch: a bare node:http server that parses the body and inserts the batch in one
 * transaction before it answers. The table has the event log's columns and its unique index on
 * (workspace_id, message_id); SQLite runs with Rapport's pragmas (WAL, synchronous=FULL), PostgreSQL with
 * its defaults (synchronous_commit=on).
 */
interface Row {
  messageId: string;
  type: string;
  event: string | null;
  userId: string | null;
  anonymousId: string | null;
  timestamp: number;
  receivedAt: number;
  payload: string;
}

interface Insert {
  insert(rows: Row[]): Promise<void>;
  count(): Promise<number>;
  close(): Promise<void>;
}

const WORKSPACE = 'w-bench';
const SOURCE = 's-bench';
const COLUMNS = 'workspace_id, source_id, message_id, type, event, user_id, anonymous_id, timestamp, received_at, payload';

function sqliteStore(dataDir: string): Insert {
  const db = new BetterSqlite3(join(dataDir, 'baseline.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`create table events ("offset" integer primary key autoincrement, workspace_id text not null, source_id text not null,
    message_id text not null, type text not null, event text, user_id text, anonymous_id text, timestamp bigint not null,
    received_at bigint not null, payload text not null);
    create unique index events_message on events (workspace_id, message_id);`);
  const statement = db.prepare(`insert into events (${COLUMNS}) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict (workspace_id, message_id) do nothing`);
  const insertAll = db.transaction((rows: Row[]) => {
    for (const r of rows) statement.run(WORKSPACE, SOURCE, r.messageId, r.type, r.event, r.userId, r.anonymousId, r.timestamp, r.receivedAt, r.payload);
  });
  return {
    insert: async (rows) => insertAll(rows),
    count: async () => (db.prepare('select count(*) as n from events').get() as { n: number }).n,
    close: async () => void db.close(),
  };
}

async function postgresStore(url: string): Promise<Insert> {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  await pool.query(`create table events ("offset" bigint generated always as identity primary key, workspace_id text not null,
    source_id text not null, message_id text not null, type text not null, event text, user_id text, anonymous_id text,
    timestamp bigint not null, received_at bigint not null, payload jsonb not null);
    create unique index events_message on events (workspace_id, message_id);`);
  return {
    // One statement is one transaction: the fewest round trips a request can cost.
    async insert(rows) {
      await pool.query({
        name: 'baseline-insert',
        text: `insert into events (${COLUMNS})
          select $1, $2, m, t, e, u, a, ts, r, p::jsonb
          from unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::text[]) as x(m, t, e, u, a, ts, r, p)
          on conflict (workspace_id, message_id) do nothing`,
        values: [WORKSPACE, SOURCE, rows.map((r) => r.messageId), rows.map((r) => r.type), rows.map((r) => r.event), rows.map((r) => r.userId),
          rows.map((r) => r.anonymousId), rows.map((r) => r.timestamp), rows.map((r) => r.receivedAt), rows.map((r) => r.payload)],
      });
    },
    count: async () => Number((await pool.query('select count(*) as n from events')).rows[0].n),
    close: () => pool.end(),
  };
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function toRow(item: Record<string, unknown>, receivedAt: number): Row {
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  const timestamp = typeof item.timestamp === 'string' ? Date.parse(item.timestamp) : receivedAt;
  return {
    messageId: String(item.messageId), type: String(item.type ?? 'track'), event: str(item.event), userId: str(item.userId),
    anonymousId: str(item.anonymousId), timestamp, receivedAt, payload: JSON.stringify(item),
  };
}

const store = process.env.DATABASE_URL ? await postgresStore(process.env.DATABASE_URL) : sqliteStore(process.env.RAPPORT_DATA_DIR!);
const server = createServer(async (request, response) => {
  try {
    const body = JSON.parse(await readBody(request)) as { batch?: Record<string, unknown>[] };
    const receivedAt = Date.now();
    const items = Array.isArray(body.batch) ? body.batch : [body];
    await store.insert(items.map((item) => toRow(item, receivedAt)));
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"success":true}');
  } catch (error) {
    response.writeHead(500).end(String(error));
  }
});
server.keepAliveTimeout = 72_000;
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;

serveBench({ port }, () => store.count(), async () => {
  await new Promise((resolve) => server.close(resolve));
  await store.close();
});
