/**
 * Whether an error says the store cannot write for now (disk full, read-only, I/O error, locked) rather than
 * that the request or the code is wrong. Such a request was not stored and may be retried once the disk is
 * back: the HTTP edge answers 503 with Retry-After, never 500, and never 200.
 */
export function isStorageFault(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  // better-sqlite3's SqliteError carries SQLite's extended code (SQLITE_IOERR_WRITE, SQLITE_READONLY_DBMOVED…).
  if (/^SQLITE_(FULL|IOERR|READONLY|CANTOPEN|BUSY|LOCKED)/.test(code)) return true;
  // The log's own fsync of the WAL (event-log.ts) fails with the file system's errno.
  return ['ENOSPC', 'EDQUOT', 'EIO', 'EROFS'].includes(code);
}

/** Seconds a client should wait before retrying a write the store refused. */
export const STORAGE_RETRY_AFTER_SECONDS = 5;
