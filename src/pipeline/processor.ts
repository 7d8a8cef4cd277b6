import type { Kysely } from 'kysely';
import { Counter, Histogram } from 'prom-client';
import { AUDIENCES_SOURCE, type AudiencesService, type BatchEvent } from '../modules/audiences/index.js';
import { eventLog, logErasure, type LoggedEvent } from '../modules/collect/index.js';
import { CRM_SOURCE, type CrmProfileStep } from '../modules/crm/index.js';
import type { DeliverableEvent, DestinationsService } from '../modules/destinations/index.js';
import { createDirectory, type BatchResolution, type IdentityService } from '../modules/identity/index.js';
import type { Consent } from '../modules/privacy/index.js';
import { traitsOf, type ProfilesService } from '../modules/profiles/index.js';
import { relaxedTransaction, type Database } from '../platform/db/database.js';
import type { Log } from '../platform/log.js';
import type { Metrics } from '../platform/metrics.js';
import { ALL_PARTITIONS, commitPartitions, lockPartitions, lockWorkspace, partitionOf } from './partitions.js';

/** Sources of the events Rapport appends itself (audience transitions, CRM changes): they name their profile. */
const DERIVED_SOURCES = new Set([AUDIENCES_SOURCE, CRM_SOURCE]);
const PAGE_CACHE_KIB = 64 * 1024;
const MAINTAIN_EVERY_MS = 200;
const MAINTENANCE_RETRY_MS = 5_000;

export interface PipelineOptions {
  batchSize: number;
  idleMs: number;
}

/**
 * The log consumer: reads micro-batches in offset order and applies identity resolution, then traits
 * and timelines, audiences, the CRM's search documents and merged records, the outbox, committing its offsets
 * in the same transaction as those effects. A crash replays the batch (nothing was committed) and never skips
 * or applies it twice. It applies the log partitions `owned()` gives (partitions.ts: a workspace's events are
 * in one); on PostgreSQL their offset rows are locked for the transaction and rows another worker holds are
 * skipped, so two workers never apply the same event, whatever they believe they own.
 */
export function createPipeline(deps: {
  database: Database; identity: IdentityService; profiles: ProfilesService; audiences: AudiencesService; destinations: DestinationsService;
  /** The CRM's step: search documents of profiles whose names or identifiers changed, CRM records of merged profiles. */
  crm: { profileStep: CrmProfileStep };
  /** Consent stated by events, kept on their profiles before destinations judge what they may receive. */
  privacy: { consent: Pick<Consent, 'applyBatch' | 'fold'>; suppression: { screen<E extends LoggedEvent>(db: Kysely<any>, events: E[]): Promise<{ kept: E[]; dropped: E[] }> } };
  log: Log; metrics: Metrics; options?: Partial<PipelineOptions>;
  /** The log partitions this node applies (nodes.ts); every one when absent (the embedded store). */
  owned?: () => readonly number[];
  /** Called after a batch that wrote to the outbox has committed (wakes the delivery workers). */
  enqueued?: () => void;
}) {
  const { database, identity, profiles, audiences, destinations, crm, privacy, log } = deps;
  const options: PipelineOptions = { batchSize: 1000, idleMs: 25, ...deps.options };
  const owned = deps.owned ?? (() => ALL_PARTITIONS);
  const postgres = database.engine === 'postgres';
  const processed = new Counter({ name: 'rapport_pipeline_events_processed_total', help: 'Log events applied by the pipeline.', registers: [deps.metrics] });
  const suppressed = new Counter({ name: 'rapport_privacy_events_dropped_total', help: 'Events of suppressed or deleted people dropped by the pipeline (and erased from the log).', registers: [deps.metrics] });
  const failures = new Counter({ name: 'rapport_pipeline_batch_failures_total', help: 'Micro-batches that failed and will be retried.', registers: [deps.metrics] });
  const duration = new Histogram({
    name: 'rapport_pipeline_batch_seconds', help: 'Time to apply one micro-batch.', registers: [deps.metrics],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  });

  let running = false;
  let enqueued = 0;
  let lastMaintained = 0;
  const maintenanceFailedUntil = new Map<string, number>();
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;

  // The pipeline's effects are derived from the log, and its offset commits with them: a batch lost in a
  // power cut is replayed, never skipped. So its commits need not wait for the disk (relaxedTransaction).
  const sqlite = database.sqlite;
  // Every batch reads and rewrites the graph's, traits' and timelines' indexes; SQLite's default 2 MB page
  // cache would fetch them from the OS again each time.
  if (sqlite && Number(sqlite.pragma('cache_size', { simple: true })) > -PAGE_CACHE_KIB) sqlite.pragma(`cache_size = -${PAGE_CACHE_KIB}`);

  /**
   * One micro-batch of the partitions this node holds: reads the log from the slowest of them and applies the
   * events of each that are past its offset; every held partition has then seen everything up to the last
   * event read. Returns how many events were read (a short read means the log is drained) and applied.
   */
  async function applyNext(tx: Kysely<any>, wait: boolean): Promise<{ read: number; applied: number }> {
    const positions = await lockPartitions(tx, owned(), { postgres, skipLocked: !wait });
    if (positions.size === 0) return { read: 0, applied: 0 };
    const from = Math.min(...positions.values());
    const read = await eventLog.read(tx, from, options.batchSize);
    if (read.length === 0) return { read: 0, applied: 0 };
    const mine = read.filter((e) => e.offset > (positions.get(partitionOf(e.workspaceId)) ?? Infinity));
    await applyEvents(tx, mine);
    await commitPartitions(tx, [...positions.keys()], read[read.length - 1].offset);
    return { read: read.length, applied: mine.length };
  }

  async function applyEvents(tx: Kysely<any>, read: LoggedEvent[]): Promise<void> {
    if (read.length === 0) return;
    // Events of suppressed identifiers and deleted people are dropped, and erased from the log.
    const { kept: events, dropped } = await privacy.suppression.screen(tx, read);
    if (dropped.length) {
      for (const workspaceId of new Set(dropped.map((e) => e.workspaceId))) await logErasure.eraseEvents(tx, workspaceId, dropped.filter((e) => e.workspaceId === workspaceId).map((e) => e.offset));
      suppressed.inc(dropped.length);
    }
    const external = events.filter((e) => !DERIVED_SOURCES.has(e.sourceId));
    const resolution = await identity.resolveBatch(tx, external, sqlite);
    if (external.length < events.length) await attributeDerived(tx, events, resolution);
    await profiles.applyBatch(tx, events, resolution.events, resolution.merges, sqlite);
    const attributed = batchEvents(events, resolution);
    await audiences.applyBatch(tx, attributed, resolution.merges.map((m) => ({ winner: m.winner, loser: m.loser, workspaceId: m.workspaceId })), new Set(resolution.created));
    await crm.profileStep.applyBatch(tx, attributed, resolution.merges, Date.now());
    const withdrawn = await privacy.consent.applyBatch(tx, attributed.map((e) => ({ offset: e.offset, workspaceId: e.workspaceId, messageId: messageIdOf(e.message), timestamp: e.timestamp, profileId: e.profileId, message: e.message })));
    // After the statements: an event can name a profile that a later event of the batch merged away.
    await privacy.consent.fold(tx, resolution.merges);
    // What was queued while consent stood goes once it is withdrawn; this batch's events are judged below.
    await destinations.withdraw(tx, withdrawn);
    enqueued += await destinations.enqueue(tx, deliverable(events, resolution));
  }

  const messageIdOf = (message: Record<string, unknown>) => String(message.messageId ?? '');

  /** Events Rapport appended itself (audience transitions, CRM changes) name their profile; follow it through merges. */
  async function attributeDerived(tx: Kysely<any>, events: LoggedEvent[], resolution: BatchResolution) {
    const derived = events.filter((e) => DERIVED_SOURCES.has(e.sourceId));
    const named = (e: LoggedEvent) => ((e.message.context as { rapport?: { profileId?: string; collection?: string } } | undefined)?.rapport ?? {});
    const live = await createDirectory(tx).liveIds(derived.map((e) => named(e).profileId).filter((id): id is string => typeof id === 'string'));
    for (const e of derived) {
      const { profileId, collection } = named(e);
      const id = profileId ? live.get(profileId) : undefined;
      if (!id) continue;
      const account = collection === 'accounts';
      resolution.events.set(e.offset, { profileId: account ? null : id, accountProfileId: account ? id : null, identifiers: [], warnings: [] });
    }
  }

  /** Every event goes to the outbox stage, with the profile it was attributed to (the account's for a group call). */
  function deliverable(events: LoggedEvent[], resolution: BatchResolution): DeliverableEvent[] {
    return events.map((e) => {
      const a = resolution.events.get(e.offset);
      return { offset: e.offset, workspaceId: e.workspaceId, type: e.type, event: e.event, userId: e.userId, anonymousId: e.anonymousId, message: e.message, profileId: a?.profileId ?? a?.accountProfileId ?? null };
    });
  }

  function batchEvents(events: LoggedEvent[], resolution: BatchResolution): BatchEvent[] {
    const out: BatchEvent[] = [];
    for (const e of events) {
      const a = resolution.events.get(e.offset);
      if (!a || (!a.profileId && !a.accountProfileId)) continue;
      const { user, account } = traitsOf(e.message);
      out.push({
        offset: e.offset, workspaceId: e.workspaceId, type: e.type, event: e.event, timestamp: e.timestamp, message: e.message,
        profileId: a.profileId, accountProfileId: a.accountProfileId, userTraits: Object.keys(user), accountTraits: Object.keys(account),
      });
    }
    return out;
  }

  /**
   * Pending audience and computed trait backfills and time re-checks, one workspace per transaction, each
   * serialised with the batches by the consumer's lock. A workspace whose work fails waits a few seconds
   * and is retried; it never holds up the others or the batches.
   */
  async function maintain(): Promise<boolean> {
    let did = false;
    const mine = new Set(owned());
    for (const workspaceId of await audiences.dueWorkspaces(database.db)) {
      if (!mine.has(partitionOf(workspaceId))) continue;
      if (Date.now() < (maintenanceFailedUntil.get(workspaceId) ?? 0)) continue;
      try {
        await database.db.transaction().execute(async (tx) => {
          await lockWorkspace(tx, workspaceId, postgres);
          await audiences.maintainWorkspace(tx, workspaceId);
        });
        did = true;
      } catch (error) {
        failures.inc();
        maintenanceFailedUntil.set(workspaceId, Date.now() + MAINTENANCE_RETRY_MS);
        log.error({ err: error, workspaceId }, 'audience maintenance failed; retrying shortly');
      }
    }
    return did;
  }

  /** One micro-batch; `wait`: for partitions another transaction holds, rather than skip them. */
  async function processBatch(wait = false): Promise<number> {
    const stop = duration.startTimer();
    enqueued = 0;
    const { read, applied } = await relaxedTransaction(database, (tx) => applyNext(tx, wait));
    if (enqueued > 0) deps.enqueued?.();
    if (applied > 0) {
      stop();
      processed.inc(applied);
    }
    return read;
  }

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  async function run(): Promise<void> {
    let backoff = 100;
    while (running) {
      try {
        // Backfills and re-checks between batches, a few times a second at most.
        if (Date.now() - lastMaintained >= MAINTAIN_EVERY_MS) {
          lastMaintained = Date.now();
          await maintain();
        }
        const n = await processBatch();
        backoff = 100;
        if (n < options.batchSize && running) await sleep(options.idleMs);
        else await new Promise<void>((resolve) => setImmediate(resolve));
      } catch (error) {
        failures.inc();
        log.error({ err: error }, 'pipeline batch failed; retrying');
        if (running) await sleep(backoff);
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  return {
    processBatch,
    maintain,
    /** Applies everything in the log now, pending backfills included; for tests and the CLI. */
    async drain(): Promise<number> {
      let total = 0;
      for (;;) {
        for (let n = await processBatch(true); n > 0; n = await processBatch(true)) total += n;
        if (!(await maintain())) break;
      }
      for (let n = await processBatch(true); n > 0; n = await processBatch(true)) total += n;
      return total;
    },
    start() {
      if (running) return;
      running = true;
      loop = run();
    },
    /** Lets the batch in flight commit, then stops. */
    async stop() {
      running = false;
      wake?.();
      await loop;
    },
    /** A hint that the log grew: skip the idle wait. */
    poke: () => wake?.(),
  };
}

export type Pipeline = ReturnType<typeof createPipeline>;
