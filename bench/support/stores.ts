import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export type BenchEngine = 'sqlite' | 'postgres';

/** Where one server under test keeps its data: a fresh directory, and a fresh database on PostgreSQL. */
export interface BenchStore {
  dataDir: string;
  databaseUrl?: string;
  drop(): Promise<void>;
}

export const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export async function createStore(engine: BenchEngine): Promise<BenchStore> {
  const dataDir = mkdtempSync(join(tmpdir(), 'rapport-bench-'));
  if (engine === 'sqlite') return { dataDir, drop: async () => rmSync(dataDir, { recursive: true, force: true }) };
  const name = `rapport_bench_${randomBytes(6).toString('hex')}`;
  await adminQuery(`create database ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    dataDir,
    databaseUrl: url.toString(),
    async drop() {
      rmSync(dataDir, { recursive: true, force: true });
      await adminQuery(`drop database if exists ${name} with (force)`);
    },
  };
}

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** The file system the temp directory lives on: on tmpfs an fsync costs nothing and the figures would flatter. */
export function tmpFileSystem(): string {
  const dir = tmpdir();
  let best = { at: '', type: 'unknown' };
  try {
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [, at, type] = line.split(' ');
      if (at && type && (dir === at || dir.startsWith(at.endsWith('/') ? at : at + '/')) && at.length >= best.at.length) best = { at, type };
    }
  } catch {
    // Not Linux: leave it unknown.
  }
  return `${dir} on ${best.type}`;
}
