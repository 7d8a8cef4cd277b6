import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/app.js';
import { openDatabase, type Database } from '../../src/platform/db/database.js';
import { migrateToLatest } from '../../src/platform/db/migrate.js';
import { pipelineMigrations } from '../../src/pipeline/migrations/index.js';
import { ALL_PARTITIONS, appliedEverywhere, appliedUpTo, consumerOf, LOG_PARTITIONS, partitionOf } from '../../src/pipeline/partitions.js';
import { ENGINES, type EngineStore } from '../support/engines.js';

describe('log partitions', () => {
  it('puts a workspace in the same partition every time, and spreads workspaces over all of them', () => {
    expect(partitionOf('ws_1')).toBe(partitionOf('ws_1'));
    const seen = new Set(Array.from({ length: 400 }, (_, i) => partitionOf(`workspace-${i}`)));
    expect([...seen].sort((a, b) => a - b)).toEqual([...ALL_PARTITIONS]);
    // Frozen: a change would move workspaces between offsets (the FNV-1a of the id, mod 16).
    expect(LOG_PARTITIONS).toBe(16);
    expect(partitionOf('a')).toBe(0xe40c292c % 16);
  });
});

describe.each(ENGINES)('upgrading to the partitioned pipeline, on $name', (engine) => {
  let store: EngineStore | undefined;
  let database: Database | undefined;
  afterEach(async () => {
    await database?.close();
    await store?.drop();
  });

  it('starts every partition where the single consumer had got to, and parks the old offset past the log', async () => {
    store = await engine.create();
    database = openDatabase({ dataDir: store.dataDir, databaseUrl: store.databaseUrl });
    await migrateToLatest(database.db, MIGRATIONS.filter((m) => m !== pipelineMigrations));
    await database.db.insertInto('log_consumers').values({ name: 'pipeline', offset: 1234, updated_at: new Date().toISOString() }).execute();
    await migrateToLatest(database.db, MIGRATIONS);
    const rows = await database.db.selectFrom('log_consumers').select(['name', 'offset']).orderBy('name').execute();
    expect(rows.filter((r) => r.name.startsWith('pipeline/')).map((r) => Number(r.offset))).toEqual(ALL_PARTITIONS.map(() => 1234));
    expect(rows.map((r) => r.name)).toContain(consumerOf(15));
    // A worker of the previous release reads `pipeline`: past any offset, it has nothing to apply.
    expect(Number(rows.find((r) => r.name === 'pipeline')!.offset)).toBe(Number.MAX_SAFE_INTEGER);
    expect(await appliedEverywhere(database.db)).toBe(1234);
    expect(await appliedUpTo(database.db, 'any-workspace')).toBe(1234);
  });
});
