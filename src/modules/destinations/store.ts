import { sql, type Generated, type Kysely } from 'kysely';

export interface DestinationRow {
  id: string;
  workspace_id: string;
  name: string;
  type: string;
  enabled: number;
  config: string;
  failing_since: number | null;
  failures: number;
  created_at: number;
  updated_at: number;
}

export interface OutboxRow {
  id: number;
  destination_id: string;
  workspace_id: string;
  event_offset: number | null;
  payload: string | null;
  key: string;
  profile_id: string | null;
  attempts: number;
  next_attempt_at: number;
  enqueued_at: number;
  last_error: string | null;
}

export type NewOutboxRow = Omit<OutboxRow, 'id' | 'attempts' | 'last_error'>;

export interface DeadLetterRow {
  id: number;
  destination_id: string;
  workspace_id: string;
  event_offset: number | null;
  payload: string | null;
  key: string;
  profile_id: string | null;
  attempts: number;
  enqueued_at: number;
  failed_at: number;
  reason: string;
  status_code: number | null;
  error: string | null;
  response: string | null;
}

export interface AttemptRow {
  id: number;
  destination_id: string;
  at: number;
  outcome: 'delivered' | 'retry' | 'failed';
  status_code: number | null;
  latency_ms: number;
  events: number;
  first_message_id: string | null;
  error: string | null;
  response: string | null;
}

export interface ReplayRow {
  id: string;
  destination_id: string;
  workspace_id: string;
  from_at: number;
  to_at: number;
  next_offset: number;
  end_offset: number;
  status: 'running' | 'done' | 'cancelled';
  scanned: number;
  enqueued: number;
  created_at: number;
  finished_at: number | null;
}

export interface DestinationsTables {
  destinations: DestinationRow;
  outbox: Omit<OutboxRow, 'id' | 'attempts'> & { id: Generated<number>; attempts: Generated<number> };
  dead_letters: Omit<DeadLetterRow, 'id'> & { id: Generated<number> };
  delivery_attempts: Omit<AttemptRow, 'id'> & { id: Generated<number> };
  destination_leases: { destination_id: string; holder: string; expires_at: number };
  destination_replays: ReplayRow;
}

type Db = Kysely<DestinationsTables>;
const t = (db: Kysely<any>) => db as Db;

/** Rows per multi-row insert: under SQLite's 32,766 bound parameters and PostgreSQL's 65,535. */
const INSERT_CHUNK = 500;
/** The delivery log keeps this many attempts per destination. */
export const ATTEMPTS_KEPT = 5_000;

const num = (v: unknown) => Number(v ?? 0);

export const destinationsStore = {
  /** Changes whenever any destination is created, changed or deleted (ids are random, so a swap within a millisecond shows too). */
  async signature(db: Kysely<any>): Promise<string> {
    const r = await t(db).selectFrom('destinations')
      .select((eb) => [eb.fn.countAll().as('n'), eb.fn.max('updated_at').as('u'), eb.fn.sum('updated_at').as('s'), eb.fn.min('id').as('a'), eb.fn.max('id').as('b')]).executeTakeFirst();
    return `${r?.n ?? 0}/${r?.u ?? 0}/${r?.s ?? 0}/${r?.a ?? ''}/${r?.b ?? ''}`;
  },
  all: (db: Kysely<any>) => t(db).selectFrom('destinations').selectAll().orderBy('created_at').execute(),
  list: (db: Kysely<any>, workspaceId: string) => t(db).selectFrom('destinations').selectAll().where('workspace_id', '=', workspaceId).orderBy('created_at').execute(),
  get: (db: Kysely<any>, workspaceId: string, id: string) => t(db).selectFrom('destinations').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst(),
  insert: (db: Kysely<any>, row: DestinationRow) => t(db).insertInto('destinations').values(row).execute(),
  update: (db: Kysely<any>, id: string, set: Partial<DestinationRow>) => t(db).updateTable('destinations').set(set).where('id', '=', id).execute(),
  /** Whether the destination still exists; on PostgreSQL its row stays locked until the transaction ends (a delete waits). */
  async lockDestination(db: Kysely<any>, id: string, lock: boolean): Promise<boolean> {
    let q = t(db).selectFrom('destinations').select('id').where('id', '=', id);
    if (lock) q = q.forUpdate();
    return (await q.executeTakeFirst()) !== undefined;
  },
  /** The destination first: a delivery recording its outcome holds that row, so it finishes before, or finds it gone. */
  async remove(db: Kysely<any>, id: string) {
    await t(db).deleteFrom('destinations').where('id', '=', id).execute();
    for (const table of ['outbox', 'dead_letters', 'delivery_attempts', 'destination_leases', 'destination_replays'] as const) {
      await t(db).deleteFrom(table).where('destination_id', '=', id).execute();
    }
  },

  /** A person's undelivered messages and dead letters, by profile, order key or log offset (privacy deletions). */
  async forget(db: Kysely<any>, workspaceId: string, person: { profileIds: string[]; keys: string[]; offsets: number[] }): Promise<number> {
    let n = 0;
    const lists = [['profile_id', person.profileIds], ['key', person.keys], ['event_offset', person.offsets]] as const;
    for (const table of ['outbox', 'dead_letters'] as const) {
      for (const [column, values] of lists) {
        for (let i = 0; i < values.length; i += INSERT_CHUNK) {
          const part = (values as readonly (string | number)[]).slice(i, i + INSERT_CHUNK);
          n += Number((await t(db).deleteFrom(table).where('workspace_id', '=', workspaceId).where(column, 'in', part as never[]).executeTakeFirst()).numDeletedRows);
        }
      }
    }
    return n;
  },

  /** A destination's queued messages of these profiles. */
  async dropQueued(db: Kysely<any>, destinationId: string, profileIds: string[]): Promise<number> {
    let n = 0;
    for (let i = 0; i < profileIds.length; i += INSERT_CHUNK) {
      n += Number((await t(db).deleteFrom('outbox').where('destination_id', '=', destinationId).where('profile_id', 'in', profileIds.slice(i, i + INSERT_CHUNK)).executeTakeFirst()).numDeletedRows);
    }
    return n;
  },

  async enqueue(db: Kysely<any>, rows: NewOutboxRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) await t(db).insertInto('outbox').values(rows.slice(i, i + INSERT_CHUNK)).execute();
  },

  /**
   * The next rows to send, in id order: due now, and not behind a row of the same key that waits to be
   * retried. A key's waiting rows are always its oldest (a key's rows are sent oldest first and only
   * ever fail, succeed or are given up as a prefix), so skipping keys that have one keeps each key in order.
   */
  async sendable(db: Kysely<any>, destinationId: string, now: number, limit: number, afterId?: number): Promise<OutboxRow[]> {
    let q = t(db).selectFrom('outbox').selectAll().where('destination_id', '=', destinationId).where('next_attempt_at', '<=', now);
    if (afterId !== undefined) q = q.where('id', '>', afterId);
    const due = await q.orderBy('id').limit(limit).execute();
    if (due.length === 0) return [];
    const keys = [...new Set(due.map((r) => r.key))];
    const waiting = new Set<string>();
    for (let i = 0; i < keys.length; i += INSERT_CHUNK) {
      // `attempts > 0` (true of every waiting row) lets the partial index outbox_waiting answer.
      const rows = await t(db).selectFrom('outbox').select('key').distinct().where('destination_id', '=', destinationId).where(sql<boolean>`attempts > 0`)
        .where('key', 'in', keys.slice(i, i + INSERT_CHUNK)).where('next_attempt_at', '>', now).execute();
      for (const r of rows) waiting.add(r.key);
    }
    return due.filter((r) => !waiting.has(r.key)).map((r) => ({ ...r, id: num(r.id), event_offset: r.event_offset === null ? null : num(r.event_offset) }));
  },

  /** When the destination's earliest waiting row is due (undefined when nothing waits). */
  async nextDue(db: Kysely<any>, destinationId: string): Promise<number | undefined> {
    const r = await t(db).selectFrom('outbox').select((eb) => eb.fn.min('next_attempt_at').as('at')).where('destination_id', '=', destinationId).executeTakeFirst();
    return r?.at === null || r?.at === undefined ? undefined : num(r.at);
  },

  async deleteRows(db: Kysely<any>, ids: number[]): Promise<void> {
    for (let i = 0; i < ids.length; i += INSERT_CHUNK) await t(db).deleteFrom('outbox').where('id', 'in', ids.slice(i, i + INSERT_CHUNK)).execute();
  },

  async reschedule(db: Kysely<any>, rows: { id: number; attempts: number; next_attempt_at: number; last_error: string | null }[]): Promise<void> {
    // Rows failed together share attempts and time; group them into few updates.
    const groups = new Map<string, number[]>();
    for (const r of rows) {
      const k = JSON.stringify([r.attempts, r.next_attempt_at, r.last_error]);
      (groups.get(k) ?? groups.set(k, []).get(k)!).push(r.id);
    }
    for (const [k, ids] of groups) {
      const [attempts, next, error] = JSON.parse(k) as [number, number, string | null];
      for (let i = 0; i < ids.length; i += INSERT_CHUNK) {
        await t(db).updateTable('outbox').set({ attempts, next_attempt_at: next, last_error: error }).where('id', 'in', ids.slice(i, i + INSERT_CHUNK)).execute();
      }
    }
  },

  async deadLetter(db: Kysely<any>, rows: OutboxRow[], failure: { reason: string; failedAt: number; statusCode: number | null; error: string | null; response: string | null }): Promise<void> {
    const letters = rows.map((r) => ({
      destination_id: r.destination_id, workspace_id: r.workspace_id, event_offset: r.event_offset, payload: r.payload, key: r.key, profile_id: r.profile_id,
      attempts: r.attempts, enqueued_at: r.enqueued_at, failed_at: failure.failedAt, reason: failure.reason, status_code: failure.statusCode, error: failure.error, response: failure.response,
    }));
    for (let i = 0; i < letters.length; i += INSERT_CHUNK) await t(db).insertInto('dead_letters').values(letters.slice(i, i + INSERT_CHUNK)).execute();
    await destinationsStore.deleteRows(db, rows.map((r) => r.id));
  },

  /** Rows enqueued before `before`, oldest first: the ones a destination failing for a whole retry window gives up. */
  expired: (db: Kysely<any>, destinationId: string, before: number, limit: number) =>
    t(db).selectFrom('outbox').selectAll().where('destination_id', '=', destinationId).where('enqueued_at', '<=', before).orderBy('id').limit(limit).execute()
      .then((rows) => rows.map((r) => ({ ...r, id: num(r.id), event_offset: r.event_offset === null ? null : num(r.event_offset) }))),

  async recordAttempts(db: Kysely<any>, rows: Omit<AttemptRow, 'id'>[]): Promise<void> {
    if (rows.length) await t(db).insertInto('delivery_attempts').values(rows).execute();
  },
  async pruneAttempts(db: Kysely<any>, destinationId: string): Promise<void> {
    const r = await t(db).selectFrom('delivery_attempts').select('id').where('destination_id', '=', destinationId).orderBy('id', 'desc').offset(ATTEMPTS_KEPT).limit(1).executeTakeFirst();
    if (r) await t(db).deleteFrom('delivery_attempts').where('destination_id', '=', destinationId).where('id', '<=', r.id).execute();
  },
  attempts(db: Kysely<any>, destinationId: string, limit: number, before?: number) {
    let q = t(db).selectFrom('delivery_attempts').selectAll().where('destination_id', '=', destinationId);
    if (before !== undefined) q = q.where('id', '<', before);
    return q.orderBy('id', 'desc').limit(limit).execute();
  },

  deadLetters(db: Kysely<any>, destinationId: string, limit: number, before?: number) {
    let q = t(db).selectFrom('dead_letters').selectAll().where('destination_id', '=', destinationId);
    if (before !== undefined) q = q.where('id', '<', before);
    return q.orderBy('id', 'desc').limit(limit).execute();
  },
  /** Dead letters back into the outbox, oldest first, as new messages with a fresh retry window. */
  async requeueDeadLetters(db: Kysely<any>, destinationId: string, ids: number[] | undefined, now: number): Promise<number> {
    let q = t(db).selectFrom('dead_letters').selectAll().where('destination_id', '=', destinationId);
    if (ids) q = q.where('id', 'in', ids.length ? ids : [-1]);
    const letters = await q.orderBy('id').execute();
    await destinationsStore.enqueue(db, letters.map((l) => ({
      destination_id: l.destination_id, workspace_id: l.workspace_id, event_offset: l.event_offset, payload: l.payload, key: l.key, profile_id: l.profile_id,
      next_attempt_at: now, enqueued_at: now,
    })));
    const gone = letters.map((l) => num(l.id));
    for (let i = 0; i < gone.length; i += INSERT_CHUNK) await t(db).deleteFrom('dead_letters').where('id', 'in', gone.slice(i, i + INSERT_CHUNK)).execute();
    return letters.length;
  },
  async discardDeadLetters(db: Kysely<any>, destinationId: string, ids: number[] | undefined): Promise<number> {
    let q = t(db).deleteFrom('dead_letters').where('destination_id', '=', destinationId);
    if (ids) q = q.where('id', 'in', ids.length ? ids : [-1]);
    const r = await q.executeTakeFirst();
    return num(r.numDeletedRows);
  },

  async stats(db: Kysely<any>, destinationId: string, now: number) {
    const q = await t(db).selectFrom('outbox').where('destination_id', '=', destinationId)
      .select((eb) => [eb.fn.countAll().as('queued'), eb.fn.min('enqueued_at').as('oldest'), eb.fn.sum(eb.case().when('next_attempt_at', '>', now).then(1).else(0).end()).as('waiting')])
      .executeTakeFirst();
    const d = await t(db).selectFrom('dead_letters').where('destination_id', '=', destinationId).select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
    const since = now - 3600_000;
    const hour = await t(db).selectFrom('delivery_attempts').where('destination_id', '=', destinationId).where('at', '>=', since)
      .select(['outcome', (eb) => eb.fn.sum('events').as('events'), (eb) => eb.fn.countAll().as('requests')]).groupBy('outcome').execute();
    return { queued: num(q?.queued), waiting: num(q?.waiting), oldestEnqueuedAt: q?.oldest === null || q?.oldest === undefined ? null : num(q.oldest), deadLetters: num(d?.n), lastHour: hour.map((h) => ({ outcome: h.outcome, events: num(h.events), requests: num(h.requests) })) };
  },

  /** Depth per destination, for /metrics. */
  async depths(db: Kysely<any>) {
    const q = await t(db).selectFrom('outbox').select(['destination_id', (eb) => eb.fn.countAll().as('n')]).groupBy('destination_id').execute();
    const d = await t(db).selectFrom('dead_letters').select(['destination_id', (eb) => eb.fn.countAll().as('n')]).groupBy('destination_id').execute();
    return { queued: q.map((r) => ({ id: r.destination_id, n: num(r.n) })), dead: d.map((r) => ({ id: r.destination_id, n: num(r.n) })) };
  },

  /** Takes or renews the lease on a destination; true when `holder` has it until `until`. */
  async lease(db: Kysely<any>, destinationId: string, holder: string, now: number, until: number): Promise<boolean> {
    await t(db).insertInto('destination_leases').values({ destination_id: destinationId, holder, expires_at: until })
      .onConflict((oc) => oc.column('destination_id').doUpdateSet({ holder, expires_at: until })
        .where((eb) => eb.or([eb('destination_leases.holder', '=', holder), eb('destination_leases.expires_at', '<', now)])))
      .execute();
    const r = await t(db).selectFrom('destination_leases').select('holder').where('destination_id', '=', destinationId).executeTakeFirst();
    return r?.holder === holder;
  },
  release: (db: Kysely<any>, holder: string) => t(db).deleteFrom('destination_leases').where('holder', '=', holder).execute(),

  insertReplay: (db: Kysely<any>, row: ReplayRow) => t(db).insertInto('destination_replays').values(row).execute(),
  runningReplays: (db: Kysely<any>, destinationId: string) => t(db).selectFrom('destination_replays').selectAll().where('destination_id', '=', destinationId).where('status', '=', 'running').orderBy('created_at').execute(),
  replays: (db: Kysely<any>, destinationId: string) => t(db).selectFrom('destination_replays').selectAll().where('destination_id', '=', destinationId).orderBy('created_at', 'desc').limit(50).execute(),
  updateReplay: (db: Kysely<any>, id: string, set: Partial<ReplayRow>) => t(db).updateTable('destination_replays').set(set).where('id', '=', id).execute(),
};

