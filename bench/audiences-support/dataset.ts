import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { openRapport } from '../../src/app.js';
import { loadConfig } from '../../src/platform/config.js';
import { setupWorkspace } from '../../src/workflows/setup-workspace.js';
import { prng } from '../process-support/calls.js';
import { ADMIN_URL } from '../support/stores.js';
import { LIFETIME_ORDERS } from './definitions.js';

/**
 * The store of the full-computation benchmark: `profiles` live user profiles (plus merged tombstones) and
 * `events` events over the last 90 days, written straight into the tables in the pipeline's shapes:
 *
 *   profiles         1 row per profile, ids random UUIDs; 5% more rows are tombstones merged into a live one
 *   identifiers      user_id, email, anonymous_id per profile
 *   profile_traits   name, email, plan (free 55%, starter 25%, pro 15%, team 5%), logins, createdAt, company
 *   profile_events   the timelines: events per profile log-normal (median ~5, mean 10, p99 ~80), times
 *                    uniform over 90 days, 10 event names with skew (see KINDS)
 *   events           the log, in time order (offsets follow time), small payloads
 *   computed_traits  `lifetime_orders` (count of Order Completed), status ready
 *   computed_values  its value for every profile with an order, consistent with the timelines
 *
 * Rows go in in the order the pipeline would write them, indexes in place, so the tables' physical layout
 * is a real store's: rowids follow time (profiles by creation, timelines by offset) while the keys are
 * random UUIDs. On SQLite only the log's indexes, on PostgreSQL every secondary index, are dropped and
 * rebuilt after the load (the migrations' own definitions, read back from the catalog). SQLite without journal and a 3 GB page cache while loading,
 * PostgreSQL with multi-row `unnest` inserts. Cached under CACHE_DIR (SQLite file) or as a named
 * database (PostgreSQL) with a meta file; `regenerate` rebuilds.
 */
export const CACHE_DIR = process.env.BENCH_AUDIENCES_CACHE ?? '/tmp/rapport-bench-audiences';
const VERSION = 2;
const DAY = 86_400_000;

/** (type, event, weight): what the timelines hold. */
export const KINDS: [string, string | null, number][] = [
  ['page', 'Home', 0.25],
  ['track', 'Product Viewed', 0.22],
  ['track', 'Search', 0.12],
  ['track', 'Product Added', 0.08],
  ['track', 'Signed In', 0.08],
  ['identify', null, 0.08],
  ['page', 'Pricing', 0.06],
  ['track', 'Email Opened', 0.045],
  ['track', 'Checkout Started', 0.04],
  ['track', 'Order Completed', 0.025],
];
const ORDER = KINDS.findIndex(([, e]) => e === 'Order Completed');
const PLANS: [string, number][] = [['free', 0.55], ['starter', 0.25], ['pro', 0.15], ['team', 0.05]];

export interface Dataset {
  version: number;
  engine: 'sqlite' | 'postgres';
  profiles: number;
  tombstones: number;
  events: number;
  seed: number;
  workspaceId: string;
  sourceId: string;
  /** The dataset's "now": its events end here; the benchmark computes at this time. */
  now: number;
  buildSeconds: number;
  rows: Record<string, number>;
  dataDir: string;
  databaseUrl?: string;
}

export interface DatasetOptions {
  engine: 'sqlite' | 'postgres';
  profiles: number;
  events: number;
  seed?: number;
  regenerate?: boolean;
  log?: (line: string) => void;
}

const tag = (o: DatasetOptions) => `p${o.profiles}-e${o.events}`;

export const storeEnv = (d: { dataDir: string; databaseUrl?: string }): Record<string, string> => ({ RAPPORT_DATA_DIR: d.dataDir, ...(d.databaseUrl ? { DATABASE_URL: d.databaseUrl } : {}) });

async function admin<T>(f: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await f(client);
  } finally {
    await client.end();
  }
}

/** The cached dataset if it is complete and of this version, else a fresh one. */
export async function ensureDataset(o: DatasetOptions): Promise<{ dataset: Dataset; reused: boolean }> {
  const log = o.log ?? ((line: string) => console.log(line));
  const seed = o.seed ?? 42;
  mkdirSync(CACHE_DIR, { recursive: true });
  const dataDir = join(CACHE_DIR, `${o.engine}-${tag(o)}`);
  const metaFile = join(dataDir, 'dataset.json');
  const dbName = `rapport_bench_audiences_${tag(o).replace(/-/g, '_')}`;
  const url = new URL(ADMIN_URL);
  url.pathname = `/${dbName}`;
  const databaseUrl = o.engine === 'postgres' ? url.toString() : undefined;

  if (!o.regenerate && existsSync(metaFile)) {
    const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as Dataset;
    const exists = o.engine === 'sqlite' ? existsSync(join(dataDir, 'rapport.db')) : await admin(async (c) => (await c.query('select 1 from pg_database where datname = $1', [dbName])).rowCount === 1);
    if (exists && meta.version === VERSION && meta.seed === seed) return { dataset: meta, reused: true };
  }
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  if (o.engine === 'postgres') {
    await admin(async (c) => {
      await c.query(`drop database if exists ${dbName} with (force)`);
      await c.query(`create database ${dbName}`);
    });
  }
  const started = performance.now();
  const core = await openRapport({ ...loadConfig(storeEnv({ dataDir, databaseUrl })), logLevel: 'warn' });
  let dataset: Dataset;
  try {
    const setup = await setupWorkspace({ access: core.access.service, collect: core.collect.service }, { workspace: 'Bench', email: 'owner@bench.test', password: 'correct horse battery staple' });
    const trait = await core.audiences.saveComputedTrait(core.database.db, setup.workspaceId, LIFETIME_ORDERS);
    const now = Math.floor(Date.now() / DAY) * DAY;
    await core.database.db.updateTable('computed_traits').set({ status: 'ready', computed_at: now }).where('id', '=', trait.id).execute();
    const target: Writer = o.engine === 'sqlite' ? sqliteWriter(core.database.sqlite!) : await pgWriter(core.database.pg!);
    const rows = await generate(target, { ...o, seed, now, workspaceId: setup.workspaceId, sourceId: setup.sourceId, traitId: trait.id, log });
    const buildSeconds = Math.round((performance.now() - started) / 100) / 10;
    dataset = { version: VERSION, engine: o.engine, profiles: o.profiles, tombstones: rows.tombstones, events: o.events, seed, workspaceId: setup.workspaceId, sourceId: setup.sourceId, now, buildSeconds, rows, dataDir, databaseUrl };
  } finally {
    await core.database.close();
  }
  writeFileSync(metaFile, JSON.stringify(dataset, null, 2));
  return { dataset, reused: false };
}

interface Writer {
  engine: 'sqlite' | 'postgres';
  /** Drops the tables' secondary indexes; returns what rebuilds them. */
  dropIndexes(tables: string[]): Promise<() => Promise<void>>;
  write(batches: [table: string, columns: string[], rows: unknown[][]][]): Promise<void>;
  finish(): Promise<void>;
}

function sqliteWriter(sqlite: BetterSqlite3.Database): Writer {
  sqlite.pragma('journal_mode = OFF');
  sqlite.pragma('synchronous = OFF');
  sqlite.pragma('cache_size = -3145728');
  const statements = new Map<string, BetterSqlite3.Statement>();
  const statement = (table: string, columns: string[]) => {
    const key = `${table}(${columns.join(',')})`;
    let s = statements.get(key);
    if (!s) statements.set(key, (s = sqlite.prepare(`insert into ${table} (${columns.map((c) => `"${c}"`).join(', ')}) values (${columns.map(() => '?').join(', ')})`)));
    return s;
  };
  const write = sqlite.transaction((batches: [string, string[], unknown[][]][]) => {
    for (const [table, columns, rows] of batches) {
      const s = statement(table, columns);
      for (const r of rows) s.run(r);
    }
  });
  return {
    engine: 'sqlite',
    async dropIndexes(tables) {
      const indexes = sqlite.prepare(`select name, sql from sqlite_master where type = 'index' and sql is not null and tbl_name in (${tables.map(() => '?').join(', ')})`).all(...tables) as { name: string; sql: string }[];
      for (const i of indexes) sqlite.exec(`drop index "${i.name}"`);
      return async () => {
        for (const i of indexes) sqlite.exec(i.sql);
      };
    },
    async write(batches) {
      write(batches);
    },
    async finish() {
      sqlite.pragma('journal_mode = WAL');
      sqlite.pragma('wal_checkpoint(TRUNCATE)');
    },
  };
}

const PG_TYPES: Record<string, Record<string, string>> = {
  profiles: { created_offset: 'bigint', created_at: 'bigint', updated_at: 'bigint', merges: 'integer' },
  identifiers: { first_seen: 'bigint', first_offset: 'bigint' },
  profile_traits: { updated_at: 'bigint', event_offset: 'bigint' },
  profile_events: { event_offset: 'bigint', timestamp: 'bigint' },
  computed_values: { updated_at: 'bigint', value_number: 'float8' },
  events: { offset: 'bigint', timestamp: 'bigint', received_at: 'bigint', payload: 'jsonb' },
};

async function pgWriter(pool: pg.Pool): Promise<Writer> {
  const client = await pool.connect();
  await client.query(`set synchronous_commit = off`);
  await client.query(`set maintenance_work_mem = '1GB'`);
  return {
    engine: 'postgres',
    async dropIndexes(tables) {
      const { rows } = await client.query<{ indexname: string; indexdef: string }>(
        `select indexname, indexdef from pg_indexes where schemaname = current_schema() and tablename = any($1) and indexname not in (select conname from pg_constraint)`, [tables]);
      for (const i of rows) await client.query(`drop index "${i.indexname}"`);
      return async () => {
        for (const i of rows) await client.query(i.indexdef);
      };
    },
    async write(batches) {
      await client.query('begin');
      try {
        for (const [table, columns, rows] of batches) {
          if (rows.length === 0) continue;
          const types = columns.map((c) => PG_TYPES[table]?.[c] ?? 'text');
          const arrays = columns.map((_, k) => rows.map((r) => r[k]));
          const select = columns.map((c, k) => (types[k] === 'jsonb' ? `c${k}::jsonb` : `c${k}`)).join(', ');
          const unnest = types.map((t, k) => `$${k + 1}::${t === 'jsonb' ? 'text' : t}[]`).join(', ');
          const override = table === 'events' ? 'overriding system value' : '';
          await client.query(`insert into ${table} (${columns.map((c) => `"${c}"`).join(', ')}) ${override} select ${select} from unnest(${unnest}) as u(${columns.map((_, k) => `c${k}`).join(', ')})`, arrays);
        }
        await client.query('commit');
      } catch (error) {
        await client.query('rollback');
        throw error;
      }
    },
    async finish() {
      await client.query(`select setval(pg_get_serial_sequence('events', 'offset'), (select max("offset") from events))`);
      for (const t of ['profiles', 'identifiers', 'profile_traits', 'profile_events', 'computed_values', 'events']) await client.query(`vacuum analyze ${t}`);
      client.release();
    },
  };
}

const COLUMNS = {
  profiles: ['id', 'workspace_id', 'collection', 'created_offset', 'created_at', 'updated_at', 'merges', 'merged_into'],
  identifiers: ['workspace_id', 'key', 'collection', 'type', 'value', 'profile_id', 'first_seen', 'first_offset', 'first_message_id', 'source_id'],
  profile_traits: ['workspace_id', 'profile_id', 'name', 'value', 'updated_at', 'event_offset', 'source_id', 'message_id'],
  profile_events: ['workspace_id', 'profile_id', 'event_offset', 'timestamp', 'type', 'event', 'identifiers'],
  computed_values: ['trait_id', 'profile_id', 'workspace_id', 'value', 'value_number', 'updated_at'],
  events: ['offset', 'workspace_id', 'source_id', 'message_id', 'type', 'event', 'user_id', 'anonymous_id', 'timestamp', 'received_at', 'payload'],
};

function uuid(rng: ReturnType<typeof prng>): string {
  const hex = (n: number) => Math.floor(rng.next() * 2 ** 32).toString(16).padStart(8, '0').slice(0, n);
  const a = hex(8);
  const b = hex(8);
  const c = hex(8);
  const d = hex(8);
  return `${a}-${b.slice(0, 4)}-4${b.slice(5, 8)}-${'89ab'[Math.floor(rng.next() * 4)]}${c.slice(1, 4)}-${c.slice(4, 8)}${d}`;
}

function pick<T>(rng: ReturnType<typeof prng>, items: [T, ...unknown[]][], weightAt: number): number {
  let r = rng.next();
  for (let i = 0; i < items.length; i++) {
    r -= items[i][weightAt] as number;
    if (r < 0) return i;
  }
  return items.length - 1;
}

async function generate(w: Writer, o: DatasetOptions & { seed: number; now: number; workspaceId: string; sourceId: string; traitId: string; log: (line: string) => void }) {
  const { workspaceId: ws, sourceId: src, traitId, now, log } = o;
  const rng = prng(o.seed);
  const P = o.profiles;
  const E = o.events;
  const tombstones = Math.round(P * 0.05);
  const t0 = performance.now();
  const elapsed = () => `${Math.round((performance.now() - t0) / 1000)} s`;

  // Live profiles k = 0 .. P-1 (ids random, as the pipeline's randomUUID), and tombstones.
  const live = Array.from({ length: P }, () => uuid(rng));
  const dead = Array.from({ length: tombstones }, () => uuid(rng));

  // Events per live profile: log-normal, then nudged to exactly E.
  const counts = new Uint32Array(P);
  let sum = 0;
  const sigma = 1.2;
  const mu = Math.log(E / P) - (sigma * sigma) / 2;
  for (let k = 0; k < P; k++) {
    const z = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
    counts[k] = Math.max(1, Math.min(5000, Math.round(Math.exp(mu + sigma * z))));
    sum += counts[k];
  }
  while (sum < E) {
    counts[rng.int(P)]++;
    sum++;
  }
  while (sum > E) {
    const k = rng.int(P);
    if (counts[k] > 1) {
      counts[k]--;
      sum--;
    }
  }

  // Every event: its profile, time and kind, grouped by profile (times ascending within a profile).
  const evProfile = new Int32Array(E);
  const evTime = new Float64Array(E);
  const evKind = new Uint8Array(E);
  const from = now - 90 * DAY;
  const firstOf = new Uint32Array(P + 1);
  let e = 0;
  const times: number[] = [];
  for (let k = 0; k < P; k++) {
    firstOf[k] = e;
    times.length = 0;
    for (let j = 0; j < counts[k]; j++) times.push(from + Math.floor(rng.next() * (90 * DAY - 60_000)));
    times.sort((a, b) => a - b);
    for (const t of times) {
      evProfile[e] = k;
      evTime[e] = t;
      evKind[e] = pick(rng, KINDS, 2);
      e++;
    }
  }
  firstOf[P] = e;

  // Log offsets follow time: rank by (second, index).
  const keys = new Float64Array(E);
  for (let i = 0; i < E; i++) keys[i] = Math.floor((evTime[i] - from) / 1000) * 2 ** 24 + i;
  keys.sort();
  const byRank = new Uint32Array(E);
  const offsetOf = new Uint32Array(E);
  const BASE = 1;
  for (let r = 0; r < E; r++) {
    const i = keys[r] % 2 ** 24;
    byRank[r] = i;
    offsetOf[i] = BASE + r;
  }
  // The order profiles were created in: by their first event.
  const created: number[] = [];
  const seen = new Uint8Array(P);
  for (let r = 0; r < E; r++) {
    const k = evProfile[byRank[r]];
    if (!seen[k]) {
      seen[k] = 1;
      created.push(k);
    }
  }
  log(`  generated ${P} profiles and ${E} events in memory (${elapsed()})`);

  // Rows go in in the order the pipeline writes them, so the tables' physical order is the real one (rows
  // follow time, the keys are random). SQLite: with the indexes in place (a rowid table's key is an index
  // too, filled at random as in a real store), except the log's own. PostgreSQL: heaps are in insertion
  // order whatever the indexes; the secondary ones are built after the load (primary keys stay).
  const rebuild = await w.dropIndexes(w.engine === 'sqlite' ? ['events'] : Object.keys(COLUMNS));
  const userId = (k: number) => `bench-user-${k}`;
  const anonId = (k: number) => `bench-anon-${k}`;
  const idsJson = (k: number) => JSON.stringify([{ type: 'user_id', value: userId(k) }, { type: 'anonymous_id', value: anonId(k) }]);
  const rows = { profiles: 0, tombstones, identifiers: 0, profile_traits: 0, profile_events: 0, computed_values: 0, events: 0 };

  // Pass 1, in creation order: profiles (a tombstone after every 20th), identifiers, traits.
  const CHUNK = 10_000;
  let dead_ = 0;
  for (let c0 = 0; c0 < P; c0 += CHUNK) {
    const out: Record<string, unknown[][]> = { profiles: [], identifiers: [], profile_traits: [] };
    for (let c = c0; c < Math.min(P, c0 + CHUNK); c++) {
      const k = created[c];
      const id = live[k];
      const a = firstOf[k];
      const firstOffset = offsetOf[a];
      const firstAt = evTime[a];
      const lastAt = evTime[firstOf[k + 1] - 1];
      const firstMessage = `m-${firstOffset}`;
      out.profiles.push([id, ws, 'users', firstOffset, firstAt, lastAt, 0, null]);
      if (c % 20 === 19 && dead_ < tombstones) out.profiles.push([dead[dead_++], ws, 'users', firstOffset, firstAt, firstAt, 0, live[rng.int(P)]]);
      for (const [type, value] of [['user_id', userId(k)], ['email', `person${k}@example.com`], ['anonymous_id', anonId(k)]]) {
        out.identifiers.push([ws, `users|${type}:${value}`, 'users', type, value, id, firstAt, firstOffset, firstMessage, src]);
      }
      const traits: [string, unknown][] = [
        ['company', { name: `Company ${k % 5000}`, size: k % 500 }],
        ['createdAt', new Date(firstAt).toISOString()],
        ['email', `person${k}@example.com`],
        ['logins', 1 + rng.int(60)],
        ['name', `Person ${k}`],
        ['plan', PLANS[pick(rng, PLANS, 1)][0]],
      ];
      for (const [name, value] of traits) out.profile_traits.push([ws, id, name, JSON.stringify(value), lastAt, firstOffset, src, firstMessage]);
    }
    while (c0 + CHUNK >= P && dead_ < tombstones) out.profiles.push([dead[dead_++], ws, 'users', 0, now, now, 0, live[rng.int(P)]]);
    await w.write(Object.entries(out).map(([t, r]) => [t, COLUMNS[t as keyof typeof COLUMNS], r]));
    for (const [t, r] of Object.entries(out)) rows[t as keyof typeof rows] += r.length;
    if (Math.floor((c0 + CHUNK) / 100_000) !== Math.floor(c0 / 100_000)) log(`  ${Math.min(P, c0 + CHUNK)} of ${P} profiles written (${elapsed()})`);
  }
  rows.profiles -= tombstones;

  // Pass 2, in offset order: the log and the timelines, as the pipeline appends them.
  const LOG_CHUNK = 20_000;
  const products = 500;
  const orders = new Uint32Array(P);
  for (let r0 = 0; r0 < E; r0 += LOG_CHUNK) {
    const log_: unknown[][] = [];
    const timeline: unknown[][] = [];
    for (let r = r0; r < Math.min(E, r0 + LOG_CHUNK); r++) {
      const i = byRank[r];
      const [type, event] = KINDS[evKind[i]];
      const k = evProfile[i];
      if (evKind[i] === ORDER) orders[k]++;
      const offset = BASE + r;
      const messageId = `m-${offset}`;
      const timestamp = new Date(evTime[i]).toISOString();
      const base = { type, messageId, userId: userId(k), anonymousId: anonId(k), timestamp };
      let message: Record<string, unknown>;
      if (type === 'identify') message = { ...base, traits: { plan: PLANS[r % 4][0] } };
      else if (type === 'page') message = { ...base, name: event, properties: { path: event === 'Home' ? '/' : '/pricing' } };
      else if (event === 'Order Completed') message = { ...base, event, properties: { value: 5 + (r % 300), currency: 'EUR' } };
      else if (event === 'Product Viewed' || event === 'Product Added') message = { ...base, event, properties: { product_id: `p-${r % products}` } };
      else if (event === 'Search') message = { ...base, event, properties: { query: `q${r % 1000}` } };
      else message = { ...base, event, properties: {} };
      log_.push([offset, ws, src, messageId, type, type === 'identify' ? null : event, userId(k), anonId(k), evTime[i], evTime[i] + 40, JSON.stringify(message)]);
      timeline.push([ws, live[k], offset, evTime[i], type, event, idsJson(k)]);
    }
    await w.write([['events', COLUMNS.events, log_], ['profile_events', COLUMNS.profile_events, timeline]]);
    rows.events += log_.length;
    rows.profile_events += timeline.length;
    if (Math.floor((r0 + LOG_CHUNK) / 1_000_000) !== Math.floor(r0 / 1_000_000)) log(`  ${rows.events} of ${E} events written to the log and the timelines (${elapsed()})`);
  }

  // Pass 3: the computed trait's values, as its backfill writes them (in profile id order).
  const values: unknown[][] = [];
  for (let k = 0; k < P; k++) if (orders[k] > 0) values.push([traitId, live[k], ws, String(orders[k]), orders[k], now]);
  values.sort((a, b) => ((a[1] as string) < (b[1] as string) ? -1 : 1));
  for (let v0 = 0; v0 < values.length; v0 += 50_000) await w.write([['computed_values', COLUMNS.computed_values, values.slice(v0, v0 + 50_000)]]);
  rows.computed_values = values.length;

  log(`  rows written (${elapsed()}); rebuilding the indexes dropped for the load`);
  await rebuild();
  await w.finish();
  log(`  done (${elapsed()})`);
  return rows;
}
