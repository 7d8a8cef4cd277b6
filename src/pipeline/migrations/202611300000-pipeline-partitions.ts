import type { Kysely } from 'kysely';

const PARTITIONS = 16; // LOG_PARTITIONS when this migration was written: frozen here.

/**
 * The single `pipeline` consumer becomes one consumer per log partition, each starting where it had got to
 * (the old row stays, parked at the end of time); and worker nodes announce themselves, so they can split the
 * partitions between them.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const old = await db.selectFrom('log_consumers').select('offset').where('name', '=', 'pipeline').executeTakeFirst();
  const now = new Date().toISOString();
  await db.insertInto('log_consumers')
    .values(Array.from({ length: PARTITIONS }, (_, i) => ({ name: `pipeline/${i}`, offset: Number(old?.offset ?? 0), updated_at: now })))
    .execute();
  // A worker of an older release, still running beside new ones during an upgrade, reads this row (and would
  // create it at 0 and apply the whole log again were it gone): parked past any offset, it finds nothing to do.
  await db.updateTable('log_consumers').set({ offset: Number.MAX_SAFE_INTEGER, updated_at: now }).where('name', '=', 'pipeline').execute();
  await db.insertInto('log_consumers').values({ name: 'pipeline', offset: Number.MAX_SAFE_INTEGER, updated_at: now }).onConflict((oc) => oc.column('name').doNothing()).execute();

  await db.schema
    .createTable('worker_nodes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('pid', 'integer', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('heartbeat_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('worker_nodes').execute();
  const slowest = await db.selectFrom('log_consumers').select((eb) => eb.fn.min('offset').as('offset')).where('name', 'like', 'pipeline/%').executeTakeFirst();
  await db.updateTable('log_consumers').set({ offset: Number(slowest?.offset ?? 0), updated_at: new Date().toISOString() }).where('name', '=', 'pipeline').execute();
  await db.deleteFrom('log_consumers').where('name', 'like', 'pipeline/%').execute();
}
