import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { Kysely, PostgresDialect, SqliteDialect, SqliteDriver, sql, type DatabaseConnection } from 'kysely';

export type Engine = 'sqlite' | 'postgres';

/**
 * One open store. `db` is the typed query layer every module uses; `sqlite` and `pg` are the raw
 * handles, for the few hot paths (the event log append) where Kysely's per-query overhead shows.
 */
export interface Database {
  engine: Engine;
  db: Kysely<any>;
  sqlite?: BetterSqlite3.Database;
  pg?: pg.Pool;
  close(): Promise<void>;
}

export interface OpenOptions {
  dataDir: string;
  databaseUrl?: string;
  poolSize?: number;
}

// int8 (bigint) as a JS number: offsets and epoch milliseconds stay far below 2^53.
pg.types.setTypeParser(20, (value: string) => Number(value));

export function openDatabase(options: OpenOptions): Database {
  if (options.databaseUrl) return openPostgres(options.databaseUrl, options.poolSize ?? 10);
  return openSqlite(options.dataDir);
}

function openSqlite(dataDir: string): Database {
  const file = join(dataDir, 'rapport.db');
  writableOrThrow(dataDir, file);
  const sqlite = new BetterSqlite3(file);
  sqlite.pragma('journal_mode = WAL');
  // FULL: a commit is fsynced before we acknowledge; group commit amortises the fsync.
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  // SQLite's own lower() folds only A-Z; searches compare names case-insensitively in every script.
  sqlite.function('lower', { deterministic: true }, (value: unknown) => (typeof value === 'string' ? value.toLowerCase() : value) as string);
  const db = new Kysely<any>({ dialect: new RollbackSafeSqliteDialect(sqlite) });
  return {
    engine: 'sqlite',
    db,
    sqlite,
    async close() {
      await db.destroy();
      // Kysely closes the handle only if it ever used it; the last connection to close removes the WAL.
      if (sqlite.open) sqlite.close();
    },
  };
}

/**
 * SQLite rolls a transaction back by itself when a write fails for want of disk (SQLITE_FULL, some I/O errors).
 * Kysely then sends ROLLBACK anyway, which fails with "cannot rollback - no transaction is active" and replaces
 * the error that mattered: the disk-full error is lost, and the request is answered 500 instead of 503.
 */
class RollbackSafeSqliteDialect extends SqliteDialect {
  constructor(private readonly sqlite: BetterSqlite3.Database) {
    super({ database: sqlite });
  }

  override createDriver(): SqliteDriver {
    const sqlite = this.sqlite;
    return new (class extends SqliteDriver {
      override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
        if (sqlite.inTransaction) await super.rollbackTransaction(connection);
      }
    })({ database: sqlite });
  }
}

/**
 * The store writes its file, its WAL and its lock file in the data directory. SQLite would open a read-only
 * file read-only without a word and fail later with "unable to open database file"; say what is wrong instead.
 */
function writableOrThrow(dataDir: string, file: string): void {
  const problem = (path: string, error: NodeJS.ErrnoException) =>
    new Error(`The data directory ${dataDir} is not writable (${path}: ${error.code === 'EROFS' ? 'read-only file system' : error.code === 'EACCES' || error.code === 'EPERM' ? 'permission denied, read-only for this user' : error.code}). Rapport keeps its embedded store there: make it writable, or point RAPPORT_DATA_DIR elsewhere.`);
  try {
    mkdirSync(dataDir, { recursive: true });
  } catch (error) {
    // A recursive mkdir on a read-only file system reports ENOENT; the nearest existing parent says why.
    let parent = dirname(dataDir);
    while (!existsSync(parent) && dirname(parent) !== parent) parent = dirname(parent);
    try {
      accessSync(parent, constants.W_OK);
    } catch (cause) {
      throw problem(parent, cause as NodeJS.ErrnoException);
    }
    throw problem(dataDir, error as NodeJS.ErrnoException);
  }
  for (const path of [dataDir, file, `${file}-wal`, `${file}-shm`]) {
    try {
      accessSync(path, constants.W_OK);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw problem(path, error as NodeJS.ErrnoException);
    }
  }
}

function openPostgres(url: string, poolSize: number): Database {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // A client that loses its server (PostgreSQL restarted) must not crash the process: an idle one reports on
  // the pool; one checked out (a transaction in flight) on itself, and its query fails, so the caller retries.
  // A client that lost its connection is not queryable and the pool drops it on release.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
  return {
    engine: 'postgres',
    db,
    pg: pool,
    async close() {
      await db.destroy();
    },
  };
}

/** A module sees the shared connection through the tables it owns, and only those. */
export function tablesOf<Tables>(database: Database): Kysely<Tables> {
  return database.db as Kysely<Tables>;
}

/**
 * A transaction whose effects can be recomputed from what is durable (the log, the outbox), so its commit
 * need not wait for the disk: a commit lost in a power cut is redone, never skipped. On SQLite durability is
 * per connection, not per transaction, so it is lowered for this transaction only; on PostgreSQL
 * `synchronous_commit` is turned off for it. Acknowledged appends keep full durability.
 */
export async function relaxedTransaction<T>(database: Database, fn: (tx: Kysely<any>) => Promise<T>): Promise<T> {
  if (database.engine === 'postgres') {
    return database.db.transaction().execute(async (tx) => {
      await sql`set local synchronous_commit = off`.execute(tx);
      return fn(tx);
    });
  }
  const synchronous = Number(database.sqlite!.pragma('synchronous', { simple: true }));
  if (synchronous < 2) return database.db.transaction().execute(fn);
  return database.db.connection().execute(async (conn) => {
    await sql`pragma synchronous = NORMAL`.execute(conn);
    try {
      return await conn.transaction().execute(fn);
    } finally {
      await sql.raw(`pragma synchronous = ${synchronous}`).execute(conn);
    }
  });
}
