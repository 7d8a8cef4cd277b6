import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/**
 * The storage engines every store test runs on. SQLite always; PostgreSQL when TEST_DATABASE_URL names a
 * server (`.ci/run` sets it). Each test gets a store of its own: a temp directory or a fresh database.
 */
export interface EngineStore {
  dataDir: string;
  databaseUrl?: string;
  drop(): Promise<void>;
}

export interface Engine {
  name: 'sqlite' | 'postgres';
  create(): Promise<EngineStore>;
}

const sqlite: Engine = {
  name: 'sqlite',
  async create() {
    const dataDir = mkdtempSync(join(tmpdir(), 'rapport-test-'));
    return { dataDir, drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
  },
};

function postgres(adminUrl: string): Engine {
  return {
    name: 'postgres',
    async create() {
      const name = `rapport_test_${randomBytes(6).toString('hex')}`;
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`create database ${name}`);
      await admin.end();
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      const dataDir = mkdtempSync(join(tmpdir(), 'rapport-test-'));
      return {
        dataDir,
        databaseUrl: url.toString(),
        async drop() {
          rmSync(dataDir, { recursive: true, force: true });
          const c = new pg.Client({ connectionString: adminUrl });
          await c.connect();
          await c.query(`drop database if exists ${name} with (force)`);
          await c.end();
        },
      };
    },
  };
}

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;

export const ENGINES: Engine[] = [sqlite, ...(TEST_DATABASE_URL ? [postgres(TEST_DATABASE_URL)] : [])];

if (!TEST_DATABASE_URL && !process.env.RAPPORT_QUIET_ENGINES) {
  process.stderr.write('note: TEST_DATABASE_URL is not set, so store tests run on SQLite only (.ci/run sets it)\n');
}
