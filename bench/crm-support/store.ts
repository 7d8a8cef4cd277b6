import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Dataset } from '../audiences-support/dataset.js';
import { ADMIN_URL } from '../support/stores.js';

export interface CrmStore {
  dataDir: string;
  databaseUrl?: string;
  drop(): Promise<void>;
}

async function admin(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/**
 * A fresh store holding a copy of the cached profiles dataset, so the benchmark's writes (deals, CRM
 * fields, the import) never touch the cache: the SQLite directory copied, or on PostgreSQL a new database
 * made from the cached one as its template. Dropped afterwards.
 */
export async function cloneStore(dataset: Dataset): Promise<CrmStore> {
  const dataDir = mkdtempSync(join(tmpdir(), 'rapport-bench-crm-'));
  if (dataset.engine === 'sqlite') {
    cpSync(dataset.dataDir, dataDir, { recursive: true, filter: (src) => !src.endsWith('dataset.json') });
    return { dataDir, drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
  }
  const template = new URL(dataset.databaseUrl!).pathname.slice(1);
  const name = `rapport_bench_crm_${randomBytes(6).toString('hex')}`;
  await admin(`create database ${name} template ${template}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    dataDir,
    databaseUrl: url.toString(),
    async drop() {
      rmSync(dataDir, { recursive: true, force: true });
      await admin(`drop database if exists ${name} with (force)`);
    },
  };
}
