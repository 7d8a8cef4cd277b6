import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { BenchEngine } from '../support/stores.js';

/** A store for one Rapport: a fresh directory, and on PostgreSQL a fresh database (dropped by `drop`). */
export interface Store {
  dataDir: string;
  databaseUrl?: string;
  /** The database's name on PostgreSQL. */
  name?: string;
  drop(): Promise<void>;
}

export const storeEnv = (s: { dataDir: string; databaseUrl?: string }): Record<string, string> => ({ RAPPORT_DATA_DIR: s.dataDir, ...(s.databaseUrl ? { DATABASE_URL: s.databaseUrl } : {}) });

/**
 * Creates and copies stores. A copy of a closed SQLite store is its directory copied; on PostgreSQL it is
 * `create database … template …` (the template must have no connection open), which copies the planner's
 * statistics along with the rows.
 */
export function stores(engine: BenchEngine, adminUrl: string) {
  async function admin(text: string): Promise<void> {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(text);
    } finally {
      await client.end();
    }
  }

  async function make(template?: Store): Promise<Store> {
    const dataDir = mkdtempSync(join(tmpdir(), 'rapport-bench-dest-'));
    if (engine === 'sqlite') {
      if (template) cpSync(template.dataDir, dataDir, { recursive: true });
      return { dataDir, drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
    }
    const name = `rapport_bench_${randomBytes(6).toString('hex')}`;
    await admin(template ? `create database ${name} template ${template.name}` : `create database ${name}`);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return {
      dataDir, databaseUrl: url.toString(), name,
      async drop() {
        rmSync(dataDir, { recursive: true, force: true });
        await admin(`drop database if exists ${name} with (force)`);
      },
    };
  }

  return { create: () => make(), copy: (template: Store) => make(template), admin };
}
