import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/app.js';
import { openDatabase, type Database } from '../../src/platform/db/database.js';
import { migrateToLatest } from '../../src/platform/db/migrate.js';
import { ENGINES, type EngineStore } from '../support/engines.js';

const MIGRATION = '202611261600-audiences-value-numbers';

describe.each(ENGINES)('the migration that keeps computed values as numbers, on $name', (engine) => {
  let store: EngineStore;
  let database: Database;

  beforeAll(async () => {
    store = await engine.create();
    database = openDatabase({ dataDir: store.dataDir, databaseUrl: store.databaseUrl });
    // The store as it was before: every migration named before this one (later ones, of any module, come after it).
    const before = MIGRATIONS.map((set) => Object.fromEntries(Object.entries(set).filter(([name]) => name < MIGRATION)));
    await migrateToLatest(database.db, before);
  });
  afterAll(async () => {
    await database?.close();
    await store?.drop();
  });

  it('fills value_number for the values already stored that are JSON numbers, and only those', async () => {
    const values: [string, number | null][] = [
      ['12', 12], ['9', 9], ['-3.25', -3.25], ['1e+21', 1e21], ['0', 0],
      ['"12"', null], ['true', null], ['["a","b"]', null], ['{"n":1}', null], ['null', null],
    ];
    await database.db.insertInto('computed_values')
      .values(values.map(([value], i) => ({ trait_id: 't1', profile_id: `p${i}`, workspace_id: 'w', value, updated_at: 1 }))).execute();
    expect((await migrateToLatest(database.db, MIGRATIONS))[0]).toBe(MIGRATION);
    const rows = await database.db.selectFrom('computed_values').select(['profile_id', 'value', 'value_number']).orderBy('profile_id').execute();
    const got = new Map(rows.map((r: { value: string; value_number: number | null }) => [r.value, r.value_number === null ? null : Number(r.value_number)]));
    expect(Object.fromEntries(got)).toEqual(Object.fromEntries(values));
    // In numeric order by the new index, not as text ("9" after "12").
    const ordered = await database.db.selectFrom('computed_values').select('value').where('trait_id', '=', 't1').where('value_number', 'is not', null).orderBy('value_number').execute();
    expect(ordered.map((r: { value: string }) => r.value)).toEqual(['-3.25', '0', '9', '12', '1e+21']);
  });
});
