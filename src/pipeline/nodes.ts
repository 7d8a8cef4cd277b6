import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import { Gauge } from 'prom-client';
import type { Log } from '../platform/log.js';
import type { Metrics } from '../platform/metrics.js';
import { ALL_PARTITIONS } from './partitions.js';

export interface NodesOptions {
  /** How often a worker node says it is alive. */
  heartbeatMs: number;
  /** A node silent this long is dead; its partitions go to the others. The hand-over time when a node dies. */
  ttlMs: number;
}

const DEFAULTS: NodesOptions = { heartbeatMs: 1_000, ttlMs: 5_000 };

type NodeTables = { worker_nodes: { id: string; host: string; pid: number; started_at: number; heartbeat_at: number } };

/**
 * The worker nodes sharing one PostgreSQL, and which log partitions this one applies. Each node writes a
 * heartbeat row; every node reads the live ones (heartbeat within the TTL), sorts them by id and takes the
 * partitions p with p mod n = its place. Nodes agree within a heartbeat; while they do not, two may both try a
 * partition and the row lock on its offset lets only one apply it (partitions.ts), so ownership is about
 * sharing the work, never about correctness. A node that stops deletes its row and its share moves at once;
 * one killed stops heartbeating and its share moves after the TTL.
 *
 * The embedded store has one node by construction: it owns every partition and writes no heartbeat. Before
 * it joins, a node owns every partition too (explicit drains by tests and benchmarks).
 */
export function createNodes(deps: { db: Kysely<any>; postgres: boolean; log: Log; metrics: Metrics; now?: () => number; options?: Partial<NodesOptions> }) {
  const options = { ...DEFAULTS, ...deps.options };
  const now = deps.now ?? Date.now;
  const db = deps.db as Kysely<NodeTables>;
  const id = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const startedAt = now();
  // Until it joins (and once it has left), a node's explicit drains (tests, benchmarks) may take any partition.
  let owned: readonly number[] = ALL_PARTITIONS;
  let live: string[] = [id];
  let timer: NodeJS.Timeout | undefined;
  let beating: Promise<void> | undefined;
  let stopped = false;

  new Gauge({ name: 'rapport_worker_partitions_owned', help: 'Log partitions this node applies.', registers: [deps.metrics], collect() { this.set(owned.length); } });
  new Gauge({ name: 'rapport_worker_nodes_live', help: 'Worker nodes this node sees alive (heartbeat within the TTL).', registers: [deps.metrics], collect() { this.set(live.length); } });

  async function heartbeat(): Promise<void> {
    const t = now();
    await db.insertInto('worker_nodes').values({ id, host: hostname(), pid: process.pid, started_at: startedAt, heartbeat_at: t })
      .onConflict((oc) => oc.column('id').doUpdateSet({ heartbeat_at: t })).execute();
    const rows = await db.selectFrom('worker_nodes').select('id').where('heartbeat_at', '>', t - options.ttlMs).orderBy('id').execute();
    const ids = rows.map((r) => r.id);
    if (!ids.includes(id)) ids.push(id);
    ids.sort();
    const place = ids.indexOf(id);
    const next = ALL_PARTITIONS.filter((p) => p % ids.length === place);
    if (next.length !== owned.length || next.some((p, i) => owned[i] !== p)) deps.log.info({ node: id, nodes: ids.length, partitions: next }, 'worker partitions assigned');
    owned = next;
    live = ids;
    // Rows of nodes long dead are only clutter.
    await db.deleteFrom('worker_nodes').where('heartbeat_at', '<', t - 60 * options.ttlMs).execute();
  }

  function schedule() {
    if (stopped) return;
    timer = setTimeout(() => {
      beating = heartbeat().catch((error) => deps.log.warn({ err: error }, 'worker heartbeat failed; keeping the last assignment')).finally(schedule);
    }, options.heartbeatMs);
    timer.unref();
  }

  return {
    id,
    /** The partitions this node applies now. */
    owned: () => owned,
    /** The live worker nodes as this node last saw them. */
    live: () => live,
    /** Joins: the first heartbeat, so the node knows its share before the pipeline starts. */
    async start(): Promise<void> {
      if (!deps.postgres) return;
      stopped = false;
      await heartbeat();
      schedule();
    },
    /** Leaves: the row goes, and the others take the share at their next heartbeat. */
    async stop(): Promise<void> {
      if (!deps.postgres || stopped) return;
      stopped = true;
      clearTimeout(timer);
      await beating;
      owned = ALL_PARTITIONS;
      await db.deleteFrom('worker_nodes').where('id', '=', id).execute().catch(() => undefined);
    },
    /** Reads the membership now rather than at the next heartbeat (tests). */
    refresh: () => (deps.postgres ? heartbeat() : Promise.resolve()),
  };
}

export type Nodes = ReturnType<typeof createNodes>;
