import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';

/**
 * SQLite copies the WAL back into the database file (a checkpoint) inside the commit that fills it past 1,000
 * pages: the pipeline's batch that happens to cross the line pays for the pages of the batches before it, and
 * at a million profiles half of the pipeline's commit time was checkpoints. Here a thread with its own
 * connection checkpoints every `intervalMs` instead (PASSIVE: it never waits for, nor blocks, the writer or
 * the readers), and the store's connection no longer checkpoints by itself.
 *
 * Durability is unchanged: a commit is durable once in the WAL; a checkpoint only moves pages. If the thread
 * stops (it cannot open the file, it fails), the connection checkpoints by itself again.
 */
export interface Checkpointer {
  stop(): Promise<void>;
}

// CommonJS, evaluated in the thread: no build step and no loader needed there (tests run the sources).
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 0');
let timer;
const tick = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    parentPort.postMessage({ type: 'error', message: String((error && error.message) || error) });
  }
  timer = setTimeout(tick, workerData.intervalMs);
};
timer = setTimeout(tick, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearTimeout(timer);
  db.close();
  parentPort.close();
});
`;

const BACKSTOP_FRAMES = 4_000;

const driverPath = () => createRequire(import.meta.url).resolve('better-sqlite3');

export function startCheckpointer(sqlite: BetterSqlite3.Database, file: string, options: { intervalMs?: number; onError?: (message: string) => void } = {}): Checkpointer {
  const worker = new Worker(THREAD, { eval: true, workerData: { driver: driverPath(), file, intervalMs: options.intervalMs ?? 200 } });
  // The thread never keeps the process alive; stop() ends it properly when the store closes.
  worker.unref();
  // The connection still checkpoints past BACKSTOP_FRAMES: a writer that never pauses leaves the thread no
  // moment at which the whole WAL is copied, and only then can the WAL start over. By then the thread has
  // copied nearly all of it, so the commit that finishes the job copies little.
  sqlite.pragma(`wal_autocheckpoint = ${BACKSTOP_FRAMES}`);
  // A WAL that grew under a burst is cut back when it starts over.
  sqlite.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
  let running = true;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const fallBack = () => {
    if (!running) return;
    running = false;
    if (sqlite.open) sqlite.pragma('wal_autocheckpoint = 1000');
  };
  // A failure that repeats (a full disk) is reported once, until it changes.
  let lastError = '';
  worker.on('message', (message: { type: string; message?: string }) => {
    if (message.type !== 'error' || message.message === lastError) return;
    lastError = message.message ?? 'checkpoint failed';
    options.onError?.(lastError);
  });
  worker.on('error', (error) => {
    options.onError?.(error.message);
    fallBack();
  });
  worker.once('exit', fallBack);
  return {
    async stop() {
      if (!running) return exited;
      running = false;
      worker.postMessage('stop');
      // A checkpoint in progress finishes first; a thread that does not end in time is ended.
      const timeout = setTimeout(() => void worker.terminate(), 5_000);
      await exited;
      clearTimeout(timeout);
    },
  };
}
