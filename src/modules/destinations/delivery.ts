import { randomUUID } from 'node:crypto';
import { Counter, Gauge, Histogram } from 'prom-client';
import { relaxedTransaction, type Database } from '../../platform/db/database.js';
import type { Log } from '../../platform/log.js';
import type { Metrics } from '../../platform/metrics.js';
import { retryPolicy, type WebhookSettings } from './definition.js';
import { classify, exhausted, retryDelay, type Outcome } from './retry.js';
import type { Destination, DestinationsService } from './service.js';
import { destinationsStore as store, type OutboxRow } from './store.js';
import { batchSizeOf, buildRequests, send, type Item, type Request, type Response } from './transport.js';

export interface DeliveryOptions {
  /** How long an idle destination waits for new messages before looking again (new ones also wake it). */
  pollMs: number;
  /** How long a node's claim on a destination lasts unless renewed: the hand-over time when a node dies. */
  leaseMs: number;
  /** Requests a round sends at most (each up to the destination's batch size). */
  requestsPerRound: number;
  /** Events a single-event webhook has in flight at once (one per profile, so each profile stays in order). */
  concurrency: number;
}

const DEFAULTS: DeliveryOptions = { pollMs: 500, leaseMs: 10_000, requestsPerRound: 4, concurrency: 16 };
const SWEEP_CHUNK = 5_000;
/** Rounds a destination reads ahead from where the last one ended before it reads from the start again. */
const READ_AHEAD_ROUNDS = 20;

interface Claim {
  rows: OutboxRow[];
  items: Item[];
  missing: OutboxRow[];
}

interface Sent {
  request: Request;
  response: Response;
  outcome: Outcome;
}

/**
 * The delivery workers: one loop per enabled destination, each on its own, so a slow or failing
 * destination never holds up another. A loop takes the destination's lease, sends what is due in id
 * order (never past a profile's message that waits to be retried), then records the outcome in one
 * transaction: delivered rows are deleted, failed ones rescheduled or dead-lettered. A crash between
 * send and record sends those messages again (at least once; receivers dedupe by messageId).
 */
export function createDelivery(deps: { database: Database; service: DestinationsService; log: Log; metrics: Metrics; now?: () => number; options?: Partial<DeliveryOptions> }) {
  const { database, service, log } = deps;
  const db = database.db;
  const now = deps.now ?? Date.now;
  const options = { ...DEFAULTS, ...deps.options };
  const holder = randomUUID();
  let stopping = new AbortController();

  const messages = new Counter({ name: 'rapport_destination_messages_total', help: 'Messages by what became of them: delivered, retried, dead_lettered, dropped (event no longer in the log).', labelNames: ['destination', 'outcome'], registers: [deps.metrics] });
  const requests = new Counter({ name: 'rapport_destination_requests_total', help: 'Requests sent to destinations, by outcome.', labelNames: ['destination', 'outcome'], registers: [deps.metrics] });
  const latency = new Histogram({ name: 'rapport_destination_request_seconds', help: 'Time for a destination to answer.', labelNames: ['destination'], registers: [deps.metrics], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
  new Gauge({
    name: 'rapport_destination_outbox_messages', help: 'Messages waiting in the outbox per destination (dead letters apart).', labelNames: ['destination'], registers: [deps.metrics],
    async collect() {
      this.reset();
      for (const r of (await store.depths(db)).queued) this.set({ destination: r.id }, r.n);
    },
  });
  new Gauge({
    name: 'rapport_destination_dead_letters', help: 'Dead-lettered messages per destination.', labelNames: ['destination'], registers: [deps.metrics],
    async collect() {
      this.reset();
      for (const r of (await store.depths(db)).dead) this.set({ destination: r.id }, r.n);
    },
  });

  interface Loop {
    done: Promise<void>;
    stop: boolean;
    wake?: () => void;
    pausedUntil: number;
    leaseUntil: number;
    tokens: number;
    tokensAt: number;
    /** Rows read ahead during the last round, and how many rounds in a row have read ahead. */
    next?: Claim;
    chained: number;
  }
  const loops = new Map<string, Loop>();
  let running = false;
  let supervisor: Promise<void> | undefined;
  let wakeSupervisor: (() => void) | undefined;

  const sleep = (ms: number, onWake: (wake: () => void) => void) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      onWake(() => {
        clearTimeout(timer);
        resolve();
      });
    });

  /** Starts a loop for every enabled destination and stops the loops of those disabled or deleted. */
  async function supervise() {
    while (running) {
      try {
        const enabled = new Map((await service.all(db)).filter((d) => d.row.enabled).map((d) => [d.row.id, d]));
        for (const [id, loop] of loops) if (!enabled.has(id)) stopLoop(id, loop);
        for (const id of enabled.keys()) if (!loops.has(id)) startLoop(id);
      } catch (error) {
        log.error({ err: error }, 'delivery supervisor failed; retrying');
      }
      if (running) await sleep(1_000, (w) => (wakeSupervisor = w));
    }
  }

  function startLoop(id: string) {
    const loop: Loop = { done: Promise.resolve(), stop: false, pausedUntil: 0, leaseUntil: 0, tokens: 0, tokensAt: 0, chained: 0 };
    loops.set(id, loop);
    loop.done = (async () => {
      while (running && !loop.stop) {
        let worked = false;
        try {
          const d = (await service.all(db)).find((x) => x.row.id === id);
          if (!d || !d.row.enabled) break;
          worked = await round(d, loop);
        } catch (error) {
          log.error({ err: error, destination: id }, 'delivery round failed; retrying');
          loop.pausedUntil = now() + 1_000;
        }
        if (!worked && running && !loop.stop) {
          const wait = loop.pausedUntil > now() ? loop.pausedUntil - now() : options.pollMs;
          await sleep(wait, (w) => (loop.wake = w));
        }
      }
      loops.delete(id);
    })();
  }

  function stopLoop(id: string, loop: Loop) {
    loop.stop = true;
    loop.wake?.();
  }

  /** One round for one destination; true when it sent or enqueued something (so it goes again at once). */
  async function round(d: Destination, loop: Loop): Promise<boolean> {
    const t = now();
    if (t < loop.pausedUntil) return false;
    if (loop.leaseUntil - t < options.leaseMs / 2 && !(await renewLease(d, loop))) {
      loop.pausedUntil = t + options.leaseMs / 2;
      return false;
    }
    let worked = false;
    for (const replay of await store.runningReplays(db, d.row.id)) {
      await relaxedTransaction(database, (tx) => service.advanceReplay(tx, d, replay));
      worked = true;
    }
    const settings = d.definition.settings as WebhookSettings;
    const single = d.definition.type === 'webhook' && settings.mode === 'single';
    // A failing destination gets one request's worth per try, without read-ahead: a probe, not a full round.
    const failing = d.row.failing_since !== null;
    const limit = single ? (failing ? 1 : options.concurrency * 8) : batchSizeOf(d.definition) * (failing ? 1 : options.requestsPerRound);
    const claim = loop.next ?? (await claimRows(d, t, limit));
    loop.next = undefined;
    if (!claim) {
      loop.chained = 0;
      if (d.row.failing_since !== null) await sweep(d);
      return worked;
    }
    // While these requests are out, the next rows are read: the database and the receiver work at once. The
    // read-ahead stands only if this round ends clean (every row sent, no retry), so no profile is passed over;
    // and every few rounds a read starts from the beginning again, for rows that became due behind it.
    const chain = !failing && loop.chained < READ_AHEAD_ROUNDS;
    const ahead = chain ? claimRows(d, t, limit, claim.rows[claim.rows.length - 1].id).catch(() => undefined) : undefined;
    const sent = single ? await sendPerProfile(d, claim.items, loop) : await sendInOrder(d, claim.items, loop);
    const next = await ahead;
    const retried = await record(d, sent, claim.missing);
    const allSent = sent.reduce((n, s) => n + s.request.items.length, 0) === claim.items.length;
    if (next && chain && !retried && allSent && !loop.stop) {
      loop.next = next;
      loop.chained += 1;
    } else loop.chained = 0;
    return true;
  }

  /** The next due rows (after `afterId`, for a read-ahead) with their messages. */
  async function claimRows(d: Destination, t: number, limit: number, afterId?: number): Promise<Claim | undefined> {
    const rows = await store.sendable(db, d.row.id, t, limit, afterId);
    if (rows.length === 0) return undefined;
    return { rows, ...(await load(d, rows)) };
  }

  async function renewLease(d: Destination, loop: Loop): Promise<boolean> {
    const t = now();
    const held = await store.lease(db, d.row.id, holder, t, t + options.leaseMs);
    loop.leaseUntil = held ? t + options.leaseMs : 0;
    return held;
  }

  /** The messages of the rows: from the log by offset, or the row's own payload. */
  async function load(d: Destination, rows: OutboxRow[]): Promise<{ items: Item[]; missing: OutboxRow[] }> {
    const offsets = rows.filter((r) => r.event_offset !== null).map((r) => r.event_offset!);
    const events = offsets.length ? await service.deps.readEvents(db, d.row.workspace_id, offsets) : [];
    const byOffset = new Map(events.map((e) => [e.offset, e.message]));
    const items: Item[] = [];
    const missing: OutboxRow[] = [];
    for (const row of rows) {
      const message = row.payload !== null ? (JSON.parse(row.payload) as Record<string, unknown>) : byOffset.get(row.event_offset!);
      if (message) items.push({ row, message });
      else missing.push(row);
    }
    return { items, missing };
  }

  async function takeTokens(d: Destination, loop: Loop, n: number) {
    const rate = d.definition.rateLimit;
    if (!rate) return;
    for (;;) {
      const t = now();
      loop.tokens = Math.min(rate, loop.tokens + ((t - loop.tokensAt) / 1000) * rate);
      loop.tokensAt = t;
      // A request larger than a second's allowance goes once the bucket is full.
      if (loop.tokens >= Math.min(n, rate)) {
        loop.tokens -= n;
        return;
      }
      await new Promise((r) => setTimeout(r, Math.ceil(((Math.min(n, rate) - loop.tokens) / rate) * 1000)));
    }
  }

  async function sendOne(d: Destination, request: Request, loop: Loop): Promise<Sent> {
    await takeTokens(d, loop, request.items.length);
    // A long round keeps its lease: renewed before a request once half of it has gone.
    // Lost (this node stalled past it): stop here; the new holder sends these rows again.
    if (loop.leaseUntil - now() < options.leaseMs / 2 && !(await renewLease(d, loop))) throw new Error('the lease on this destination passed to another node');
    const response = await send(request, (d.definition.settings as { timeoutMs?: number }).timeoutMs ?? 10_000, stopping.signal);
    latency.observe({ destination: d.row.id }, response.latencyMs / 1000);
    return { request, response, outcome: classify(response.status, response.retryAfter, now()) };
  }

  /** Batches one after another; a failure to retry ends the round (the destination is backed off). */
  async function sendInOrder(d: Destination, items: Item[], loop: Loop): Promise<Sent[]> {
    const out: Sent[] = [];
    for (const request of buildRequests(d.definition, items, now())) {
      const s = await sendOne(d, request, loop);
      out.push(s);
      if (s.outcome.kind === 'retry' || loop.stop) break;
    }
    return out;
  }

  /** One event per request, profiles in parallel, each profile's events in order. */
  async function sendPerProfile(d: Destination, items: Item[], loop: Loop): Promise<Sent[]> {
    const byKey = new Map<string, Request[]>();
    for (const request of buildRequests(d.definition, items, now())) {
      const key = request.items[0].row.key;
      (byKey.get(key) ?? byKey.set(key, []).get(key)!).push(request);
    }
    const out: Sent[] = [];
    let failed = false;
    const queues = [...byKey.values()];
    const worker = async () => {
      for (let q = queues.shift(); q && !failed && !loop.stop; q = queues.shift()) {
        for (const request of q) {
          const s = await sendOne(d, request, loop);
          out.push(s);
          if (s.outcome.kind === 'retry') failed = true;
          if (s.outcome.kind !== 'delivered') break;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.concurrency, queues.length) }, worker));
    return out;
  }

  /** The outcome of a round, in one transaction. Requests cut short by a shutdown count for nothing: their rows are sent again. */
  async function record(d: Destination, all: Sent[], missing: OutboxRow[]): Promise<boolean> {
    const sent = all.filter((s) => !(s.response as { stopped?: boolean }).stopped);
    const t = now();
    const policy = retryPolicy(d.definition);
    const delivered: number[] = missing.map((r) => r.id);
    const retry: { id: number; attempts: number; next_attempt_at: number; last_error: string | null }[] = [];
    const dead: { rows: OutboxRow[]; sent: Sent; reason: string }[] = [];
    let anyRetry = false;
    // The failure streak, in the order the requests went: a delivery ends it, a retryable failure extends it.
    let failingSince = d.row.failing_since;
    let failures = d.row.failures;
    let pauseUntil = Infinity;
    for (const s of sent) {
      const rows = s.request.items.map((i) => i.row);
      const outcome = s.outcome.kind === 'delivered' ? 'delivered' : s.outcome.kind === 'rejected' ? 'failed' : 'retry';
      requests.inc({ destination: d.row.id, outcome });
      if (s.outcome.kind === 'delivered') {
        failingSince = null;
        failures = 0;
        delivered.push(...rows.map((r) => r.id));
        messages.inc({ destination: d.row.id, outcome: 'delivered' }, rows.length);
      } else if (s.outcome.kind === 'rejected') {
        dead.push({ rows: rows.map((r) => ({ ...r, attempts: r.attempts + 1 })), sent: s, reason: 'rejected' });
      } else {
        anyRetry = true;
        failingSince ??= t;
        failures += 1;
        const attempts = Math.max(...rows.map((r) => r.attempts)) + 1;
        const next = t + retryDelay(policy, attempts, s.outcome.retryAfterMs);
        pauseUntil = Math.min(pauseUntil, next);
        const error = describe(s.response);
        const givenUp = rows.filter((r) => exhausted(policy, { attempts: r.attempts + 1, enqueued_at: r.enqueued_at }, t)).map((r) => ({ ...r, attempts: r.attempts + 1 }));
        if (givenUp.length) dead.push({ rows: givenUp, sent: s, reason: 'retries_exhausted' });
        const gone = new Set(givenUp.map((r) => r.id));
        for (const r of rows) if (!gone.has(r.id)) retry.push({ id: r.id, attempts: r.attempts + 1, next_attempt_at: next, last_error: error });
        messages.inc({ destination: d.row.id, outcome: 'retried' }, rows.length - givenUp.length);
      }
    }
    if (missing.length) messages.inc({ destination: d.row.id, outcome: 'dropped' }, missing.length);
    const recorded = await relaxedTransaction(database, async (tx) => {
      // Deleted while its requests were out: nothing to record, nothing to leave behind.
      if (!(await store.lockDestination(tx, d.row.id, database.engine === 'postgres'))) return false;
      await store.deleteRows(tx, delivered);
      await store.reschedule(tx, retry);
      for (const x of dead) {
        await store.deadLetter(tx, x.rows, { reason: x.reason, failedAt: t, statusCode: x.sent.response.status ?? null, error: describe(x.sent.response), response: x.sent.response.excerpt || null });
        messages.inc({ destination: d.row.id, outcome: 'dead_lettered' }, x.rows.length);
      }
      await store.recordAttempts(tx, sent.map((s) => ({
        destination_id: d.row.id, at: t, outcome: s.outcome.kind === 'delivered' ? 'delivered' : s.outcome.kind === 'rejected' ? 'failed' : 'retry',
        status_code: s.response.status ?? null, latency_ms: s.response.latencyMs, events: s.request.items.length,
        first_message_id: typeof s.request.items[0].message.messageId === 'string' ? (s.request.items[0].message.messageId as string) : null,
        error: s.response.error ?? null, response: s.response.excerpt || null,
      })));
      if (failingSince !== d.row.failing_since || failures !== d.row.failures) await store.update(tx, d.row.id, { failing_since: failingSince, failures });
      if (Math.random() < 0.02) await store.pruneAttempts(tx, d.row.id);
      return true;
    });
    if (!recorded) return true;
    d.row.failing_since = failingSince;
    d.row.failures = failures;
    if (anyRetry) {
      // The destination is failing: back off as a whole until the earliest retry, rather than send it more.
      loopOf(d).pausedUntil = pauseUntil;
      await sweep(d);
    }
    return anyRetry;
  }

  /**
   * A destination down for a message's whole retry window: its messages behind the ones being retried
   * never had a request of their own, yet waited as long. Once the destination has failed for the whole
   * window and at least minAttempts times, every message older than the window is given up with it.
   */
  async function sweep(d: Destination) {
    const t = now();
    const policy = retryPolicy(d.definition);
    if (d.row.failing_since === null || t - d.row.failing_since < policy.maxAgeMs || d.row.failures < policy.minAttempts) return;
    for (;;) {
      const rows = await store.expired(db, d.row.id, t - policy.maxAgeMs, SWEEP_CHUNK);
      if (rows.length === 0) return;
      await relaxedTransaction(database, (tx) =>
        store.deadLetter(tx, rows, { reason: 'retries_exhausted', failedAt: t, statusCode: null, error: `the destination failed for the whole retry window (${d.row.failures} failed requests since ${new Date(d.row.failing_since!).toISOString()})`, response: null }));
      messages.inc({ destination: d.row.id, outcome: 'dead_lettered' }, rows.length);
      if (rows.length < SWEEP_CHUNK) return;
    }
  }

  function loopOf(d: Destination): Loop {
    return loops.get(d.row.id) ?? { done: Promise.resolve(), stop: false, pausedUntil: 0, leaseUntil: 0, tokens: 0, tokensAt: 0, chained: 0 };
  }

  function describe(r: Response): string | null {
    if (r.error) return r.error;
    return r.status === undefined ? null : `HTTP ${r.status}`;
  }

  return {
    start() {
      if (running) return;
      running = true;
      stopping = new AbortController();
      supervisor = supervise();
    },
    async stop() {
      running = false;
      stopping.abort();
      wakeSupervisor?.();
      for (const [id, loop] of loops) stopLoop(id, loop);
      await supervisor;
      await Promise.all([...loops.values()].map((l) => l.done));
      await store.release(db, holder).catch(() => undefined);
    },
    /** New messages are in the outbox: wake idle destinations (and notice new destinations). */
    poke() {
      for (const loop of loops.values()) if (loop.pausedUntil <= now()) loop.wake?.();
    },
    /** A destination was created, changed or deleted: look again now. */
    refresh: () => wakeSupervisor?.(),
    holder,
  };
}

export type Delivery = ReturnType<typeof createDelivery>;
