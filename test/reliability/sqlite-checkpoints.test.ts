import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/platform/db/database.js';

/**
 * The embedded store's WAL is copied into the database file by a thread of its own (checkpointer.ts). What
 * must hold: a writer that never pauses still sees the WAL start over (it does not grow without end), every
 * committed row is in the file once the store closes, and closing leaves no WAL behind.
 */
describe('SQLite checkpoints from a thread of their own', () => {
  const dirs: string[] = [];
  let database: Database | undefined;
  afterEach(async () => {
    await database?.close();
    database = undefined;
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  const open = (checkpointEveryMs: number) => {
    const dir = mkdtempSync(join(tmpdir(), 'rapport-checkpoints-'));
    dirs.push(dir);
    database = openDatabase({ dataDir: dir, checkpointEveryMs });
    return { dir, sqlite: database.sqlite!, wal: () => (existsSync(join(dir, 'rapport.db-wal')) ? statSync(join(dir, 'rapport.db-wal')).size : 0) };
  };

  it('keeps the WAL bounded under a writer that never pauses, and leaves every row in the file when closed', async () => {
    const { dir, sqlite, wal } = open(20);
    expect(sqlite.pragma('wal_autocheckpoint', { simple: true })).toBe(4_000);
    sqlite.exec('create table t (id integer primary key, v text not null)');
    const insert = sqlite.prepare('insert into t (v) values (?)');
    const batch = sqlite.transaction((n: number) => {
      for (let i = 0; i < n; i++) insert.run(`row ${i} ${'x'.repeat(300)}`);
    });
    let largest = 0;
    // ~120 MB written: without checkpoints the WAL would hold it all.
    for (let b = 0; b < 200; b++) {
      batch(2_000);
      largest = Math.max(largest, wal());
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(largest).toBeGreaterThan(0);
    expect(largest).toBeLessThan(40 * 1024 * 1024);
    await database!.close();
    database = undefined;
    expect(existsSync(join(dir, 'rapport.db-wal'))).toBe(false);
    const reopened = new BetterSqlite3(join(dir, 'rapport.db'), { readonly: true });
    try {
      expect(reopened.prepare('select count(*) as n from t').get()).toEqual({ n: 400_000 });
      expect(reopened.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      reopened.close();
    }
  });

  it('copies committed pages into the file while the writer is idle, before the connection would by itself', async () => {
    const { dir, sqlite } = open(20);
    sqlite.exec('create table t (id integer primary key, v text not null)');
    const file = () => statSync(join(dir, 'rapport.db')).size;
    const before = file();
    // ~2.5 MB: under the 1,000 pages after which SQLite's own checkpoint would copy them in a commit.
    sqlite.transaction(() => {
      const insert = sqlite.prepare('insert into t (v) values (?)');
      for (let i = 0; i < 8_000; i++) insert.run('y'.repeat(300));
    })();
    const deadline = Date.now() + 10_000;
    while (file() < before + 2_000_000 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(file()).toBeGreaterThan(before + 2_000_000);
  });

  it('with the thread turned off (RAPPORT_SQLITE_CHECKPOINT_MS=0), SQLite checkpoints in the commits as it does by default', async () => {
    const { sqlite } = open(0);
    expect(sqlite.pragma('wal_autocheckpoint', { simple: true })).toBe(1_000);
  });
});
