import type { Kysely } from 'kysely';

/**
 * The log is consumed in partitions: each workspace belongs to one of LOG_PARTITIONS, and each partition has
 * its own consumer offset (`pipeline/<n>` in log_consumers). Identity resolution needs a workspace's events in
 * order, never two workspaces' together, so a workspace is the unit and the partitions are split between the
 * worker nodes (nodes.ts). A partition's offset row is locked for the transaction that applies its events:
 * whoever holds the row is the only one applying that partition, whatever the nodes believe about ownership.
 * Fixed forever: changing it would move workspaces between offsets.
 */
export const LOG_PARTITIONS = 16;
export const ALL_PARTITIONS: readonly number[] = Array.from({ length: LOG_PARTITIONS }, (_, i) => i);

const CONSUMER_PREFIX = 'pipeline/';
const byWorkspace = new Map<string, number>();

/** FNV-1a of the workspace id: stable across nodes, releases and engines. */
export function partitionOf(workspaceId: string): number {
  let p = byWorkspace.get(workspaceId);
  if (p !== undefined) return p;
  let h = 0x811c9dc5;
  for (let i = 0; i < workspaceId.length; i++) {
    h ^= workspaceId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  p = h % LOG_PARTITIONS;
  if (byWorkspace.size > 100_000) byWorkspace.clear();
  byWorkspace.set(workspaceId, p);
  return p;
}

export const consumerOf = (partition: number) => `${CONSUMER_PREFIX}${partition}`;
const partitionOfConsumer = (name: string) => Number(name.slice(CONSUMER_PREFIX.length));

type Consumers = { log_consumers: { name: string; offset: number; updated_at: string } };

/**
 * Locks the offset rows of `partitions` and returns where each has got to. On PostgreSQL with `skipLocked`
 * a row another transaction holds is skipped (its partition is being applied elsewhere); without, it waits.
 * Rows are taken in name order, so two lockers of overlapping sets never deadlock.
 */
export async function lockPartitions(db: Kysely<any>, partitions: readonly number[], opts: { postgres: boolean; skipLocked: boolean }): Promise<Map<number, number>> {
  if (partitions.length === 0) return new Map();
  let query = (db as Kysely<Consumers>).selectFrom('log_consumers').select(['name', 'offset']).where('name', 'in', partitions.map(consumerOf)).orderBy('name');
  if (opts.postgres) query = opts.skipLocked ? query.forUpdate().skipLocked() : query.forUpdate();
  const rows = await query.execute();
  return new Map(rows.map((r) => [partitionOfConsumer(r.name), Number(r.offset)]));
}

/**
 * Serialises a change to a workspace's profiles (a merge, a split, a deletion, audience maintenance) with the
 * micro-batches of its partition; returns the partition's offset.
 */
export async function lockWorkspace(db: Kysely<any>, workspaceId: string, postgres: boolean): Promise<number> {
  const p = partitionOf(workspaceId);
  const positions = await lockPartitions(db, [p], { postgres, skipLocked: false });
  return positions.get(p) ?? 0;
}

/** The offset up to which the pipeline has applied a workspace's events (no lock). */
export async function appliedUpTo(db: Kysely<any>, workspaceId: string): Promise<number> {
  const row = await (db as Kysely<Consumers>).selectFrom('log_consumers').select('offset').where('name', '=', consumerOf(partitionOf(workspaceId))).executeTakeFirst();
  return Number(row?.offset ?? 0);
}

/** Moves the given partitions' offsets forward to `offset` (never back). */
export async function commitPartitions(db: Kysely<any>, partitions: readonly number[], offset: number): Promise<void> {
  if (partitions.length === 0) return;
  await (db as Kysely<Consumers>).updateTable('log_consumers').set({ offset, updated_at: new Date().toISOString() })
    .where('name', 'in', partitions.map(consumerOf)).where('offset', '<', offset).execute();
}

/** The slowest partition's offset: everything at or before it is applied in every workspace. */
export async function appliedEverywhere(db: Kysely<any>): Promise<number> {
  const row = await (db as Kysely<Consumers>).selectFrom('log_consumers').select((eb) => eb.fn.min('offset').as('offset'))
    .where('name', 'like', `${CONSUMER_PREFIX}%`).executeTakeFirst();
  return Number(row?.offset ?? 0);
}
