import { Migrator, PostgresAdapter, type Kysely, type Migration, type MigrationProvider } from 'kysely';

/** Each module exports its migrations keyed `<yyyymmddhhmm>-<module>-<name>`; the key orders them. */
export type Migrations = Record<string, Migration>;

export async function migrateToLatest(db: Kysely<any>, sets: Migrations[]): Promise<string[]> {
  const all: Migrations = {};
  for (const set of sets) {
    for (const [name, migration] of Object.entries(set)) {
      if (all[name]) throw new Error(`Two migrations are named ${name}`);
      all[name] = migration;
    }
  }
  const provider: MigrationProvider = { getMigrations: async () => all };
  const migrator = new Migrator({ db, provider, migrationTableName: 'rapport_migrations', migrationLockTableName: 'rapport_migrations_lock' });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Migrations are frozen in time and take Kysely<any>; this is the one dialect switch they may use. */
export function isPostgres(db: Kysely<any>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}
