/**
 * Whether an error says the store cannot write for now (disk full, read-only, I/O error, locked, PostgreSQL
 * restarting or unreachable) rather than
 * that the request or the code is wrong. Such a request was not stored and may be retried once the disk is
 * back: the HTTP edge answers 503 with Retry-After, never 500, and never 200.
 */
export function isStorageFault(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  // pg's client when its server went away mid-query (PostgreSQL restarted, the connection cut) has no code.
  if (code === undefined && /^Connection terminated/.test((error as { message?: unknown } | null)?.message as string ?? '')) return true;
  if (typeof code !== 'string') return false;
  // PostgreSQL: connection exceptions (class 08), shutting down or starting up (57P01-57P03), too many connections.
  if (/^08...$/.test(code) || ['57P01', '57P02', '57P03', '53300'].includes(code)) return true;
  // The server unreachable.
  if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH'].includes(code)) return true;
  // better-sqlite3's SqliteError carries SQLite's extended code (SQLITE_IOERR_WRITE, SQLITE_READONLY_DBMOVED…).
  if (/^SQLITE_(FULL|IOERR|READONLY|CANTOPEN|BUSY|LOCKED)/.test(code)) return true;
  // The log's own fsync of the WAL (event-log.ts) fails with the file system's errno.
  return ['ENOSPC', 'EDQUOT', 'EIO', 'EROFS'].includes(code);
}

/** Seconds a client should wait before retrying a write the store refused. */
export const STORAGE_RETRY_AFTER_SECONDS = 5;
