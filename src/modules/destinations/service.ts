import { randomUUID } from 'node:crypto';
import { Ajv, type ErrorObject } from 'ajv';
import type { Kysely } from 'kysely';
import { errors } from '../../platform/errors.js';
import {
  destinationPatchSchema, filterSchema, mappingSchema, settingsSchema, type AudienceSyncSettings, type DestinationDefinition, type DestinationType,
} from './definition.js';
import { passes } from './filter.js';
import { destinationsStore as store, type DestinationRow, type NewOutboxRow, type ReplayRow } from './store.js';
import { buildRequests, send, type ResyncEntry } from './transport.js';

/** An event as the pipeline hands it over: where it sits in the log and whom it was attributed to. */
export interface DeliverableEvent {
  offset: number;
  workspaceId: string;
  type: string;
  event: string | null;
  userId: string | null;
  anonymousId: string | null;
  message: Record<string, unknown>;
  /** The person's profile, or the account's for a group call; null when the event has none. */
  profileId: string | null;
}

/** What the destinations module needs from the rest of Rapport, passed in explicitly. */
export interface DestinationsDeps {
  now(): number;
  /** Events by log offset, for sending and for replays. */
  readEvents(db: Kysely<any>, workspaceId: string, offsets: number[]): Promise<{ offset: number; message: Record<string, unknown> }[]>;
  /** Up to `limit` log events after `offset`, every workspace, in offset order. */
  readLog(db: Kysely<any>, afterOffset: number, limit: number): Promise<(Omit<DeliverableEvent, 'profileId'> & { receivedAt: number })[]>;
  /** The last offset before the first event received at or after `receivedAt` (received times are nearly in offset order). */
  logOffsetBefore(db: Kysely<any>, receivedAt: number): Promise<number>;
  logEnd(db: Kysely<any>): Promise<number>;
  /** The live profile of a user id or anonymous id, for events replayed from the log. */
  profileOf(db: Kysely<any>, workspaceId: string, ids: { userId: string | null; anonymousId: string | null }): Promise<string | null>;
  /** Which of `profileIds` are members, per audience key. */
  memberships(db: Kysely<any>, workspaceId: string, audienceKeys: string[], profileIds: string[]): Promise<Map<string, Set<string>>>;
  audience(db: Kysely<any>, workspaceId: string, key: string): Promise<{ id: string; key: string; name: string } | undefined>;
  audienceMembers(db: Kysely<any>, audienceId: string, limit: number, after?: string): Promise<{ profile_id: string }[]>;
  /** Profiles' current consent per category (the privacy module's), for destinations that require categories. */
  consentOf?(db: Kysely<any>, profileIds: string[]): Promise<Map<string, Record<string, boolean>>>;
  /** user_id, anonymous_id, group_id and email of profiles, for resyncs. */
  addresses(db: Kysely<any>, profileIds: string[]): Promise<Map<string, { userId?: string; anonymousId?: string; groupId?: string; email?: string }>>;
}

export interface Destination {
  row: DestinationRow;
  definition: DestinationDefinition;
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, allowUnionTypes: true });
ajv.addSchema(filterSchema);
ajv.addSchema(mappingSchema);
const { settings: _settings, ...commonProperties } = destinationPatchSchema.properties;
const validBase = ajv.compile({
  type: 'object', additionalProperties: false, required: ['name', 'type', 'settings'],
  properties: { ...commonProperties, type: { enum: ['webhook', 'segment', 'audience_sync'] }, settings: { type: 'object' } },
});
const validSettings = Object.fromEntries((['webhook', 'segment', 'audience_sync'] as const).map((t) => [t, ajv.compile(settingsSchema(t))])) as Record<DestinationType, ReturnType<typeof ajv.compile>>;

const discriminator = (e: ErrorObject) => (e.keyword === 'const' || e.keyword === 'enum') && e.instancePath.endsWith('/op');
const branchOf = (e: ErrorObject) => e.schemaPath.match(/^.*\/oneOf\/\d+/)?.[0] ?? '';

/**
 * One sentence for what is wrong. Mapping steps and property tests are `oneOf` branches told apart by `op`:
 * a branch whose op differs from the input's is another shape and its complaints are noise; when every
 * branch refused the op, the op is what is wrong, and the allowed ones are listed.
 */
function explain(list: ErrorObject[], what: string): string {
  const refused = new Set(list.filter(discriminator).map(branchOf));
  const specific = list.filter((e) => e.keyword !== 'oneOf' && !discriminator(e) && !refused.has(branchOf(e)));
  const deepest = (l: ErrorObject[]) => [...l].sort((a, b) => b.instancePath.length - a.instancePath.length)[0];
  const say = (e: ErrorObject) => {
    const at = `${what}${e.instancePath}`;
    return e.keyword === 'additionalProperties' ? `${at} has an unexpected property "${(e.params as { additionalProperty: string }).additionalProperty}"` : `${at} ${e.message}`;
  };
  if (specific.length) return say(deepest(specific));
  const ops = list.filter(discriminator);
  if (ops.length) {
    const at = deepest(ops).instancePath;
    const allowed = [...new Set(ops.filter((e) => e.instancePath === at).flatMap((e) => ((e.params as { allowedValues?: unknown[]; allowedValue?: unknown }).allowedValues ?? [(e.params as { allowedValue: unknown }).allowedValue])))];
    return `${what}${at} must be one of ${allowed.join(', ')}`;
  }
  return list[0] ? say(list[0]) : 'not valid';
}

const validPatch = ajv.compile(destinationPatchSchema);

export function validateDestination(input: unknown): DestinationDefinition {
  const d = structuredClone(input) as DestinationDefinition;
  if (!validBase(d)) throw errors.validation(`Invalid destination: ${explain(validBase.errors ?? [], 'the destination')}.`, validBase.errors);
  const check = validSettings[d.type];
  if (!check(d.settings)) throw errors.validation(`Invalid destination: ${explain(check.errors ?? [], 'settings')}.`, check.errors);
  const r = d.retry;
  if (r?.minDelayMs !== undefined && r.maxDelayMs !== undefined && r.maxDelayMs < r.minDelayMs) throw errors.validation('Invalid destination: retry.maxDelayMs must not be below retry.minDelayMs.');
  return d;
}

/**
 * A change's settings over the current ones: a key set to null is removed (a secret, the headers), and the
 * placeholders responses show for secrets mean "unchanged", so a client may send back what it was shown.
 */
function mergeSettings(current: Record<string, unknown>, change: Record<string, unknown> | undefined): Record<string, unknown> {
  const out = { ...current };
  for (const [k, v] of Object.entries(change ?? {})) {
    if (v === null) delete out[k];
    else if ((k === 'secret' && v === SECRET_SHOWN) || (k === 'writeKey' && typeof current.writeKey === 'string' && v === shownWriteKey(current.writeKey))) continue;
    else out[k] = v;
  }
  return out;
}

const SECRET_SHOWN = '(set)';
const shownWriteKey = (key: string) => `…${key.slice(-4)}`;

/** Secrets are write-only: a response says a secret is set, never what it is. */
export function redacted(d: DestinationDefinition): Omit<DestinationDefinition, 'settings'> & { settings: Record<string, unknown> } {
  const settings = { ...(d.settings as unknown as Record<string, unknown>) };
  if ('secret' in settings) settings.secret = SECRET_SHOWN;
  if ('writeKey' in settings) settings.writeKey = shownWriteKey(String(settings.writeKey));
  return { ...d, settings };
}

const AUDIENCE_EVENTS = new Set(['Audience Entered', 'Audience Exited']);
const REPLAY_CHUNK = 2_000;
// Received times follow offsets closely but not exactly (concurrent group commits): replays read this much around the range.
const RECEIVED_SLACK_MS = 5 * 60_000;

export function createDestinationsService(deps: DestinationsDeps) {
  let cache: { signature: string; byWorkspace: Map<string, Destination[]>; all: Destination[] } | undefined;

  const parse = (row: DestinationRow): Destination => ({ row, definition: JSON.parse(row.config) as DestinationDefinition });

  /** Every destination, reloaded only when one changed (one cheap query per call). */
  async function current(db: Kysely<any>) {
    const signature = await store.signature(db);
    if (cache?.signature !== signature) {
      const all = (await store.all(db)).map(parse);
      const byWorkspace = new Map<string, Destination[]>();
      for (const d of all) if (d.row.enabled) (byWorkspace.get(d.row.workspace_id) ?? byWorkspace.set(d.row.workspace_id, []).get(d.row.workspace_id)!).push(d);
      cache = { signature, byWorkspace, all };
    }
    return cache;
  }

  async function get(db: Kysely<any>, workspaceId: string, id: string): Promise<Destination> {
    const row = await store.get(db, workspaceId, id);
    if (!row) throw errors.notFound('Destination');
    return parse(row);
  }

  /** Whether the destination takes the event, membership of its audience filter aside (and the profile's consent, when given). */
  function wants(d: Destination, e: Omit<DeliverableEvent, 'profileId'>, profileConsent?: Record<string, boolean> | null): boolean {
    if (d.definition.type === 'audience_sync') {
      const keys = (d.definition.settings as AudienceSyncSettings).audiences;
      const key = (e.message.properties as { audience_key?: unknown } | undefined)?.audience_key;
      return e.type === 'track' && AUDIENCE_EVENTS.has(e.event ?? '') && typeof key === 'string' && keys.includes(key);
    }
    return passes(d.definition, e, profileConsent);
  }

  /** Outbox rows for the events each destination takes; audience filters are checked against current membership. */
  async function rowsFor(db: Kysely<any>, destinations: Destination[], events: DeliverableEvent[], now: number): Promise<NewOutboxRow[]> {
    const rows: NewOutboxRow[] = [];
    // Consent is judged against each profile's consent as it stands after the batch (like audience filters).
    const consent = destinations.some((d) => d.definition.consent?.length) && deps.consentOf
      ? await deps.consentOf(db, [...new Set(events.map((e) => e.profileId).filter((p): p is string => p !== null))])
      : new Map<string, Record<string, boolean>>();
    for (const d of destinations) {
      let taken = events.filter((e) => wants(d, e, e.profileId ? consent.get(e.profileId) : undefined));
      const audiences = d.definition.filter?.audiences;
      if (audiences?.length && taken.length) {
        const profiles = [...new Set(taken.map((e) => e.profileId).filter((p): p is string => p !== null))];
        const sets = await deps.memberships(db, d.row.workspace_id, audiences, profiles);
        taken = taken.filter((e) => e.profileId !== null && [...sets.values()].some((s) => s.has(e.profileId!)));
      }
      for (const e of taken) {
        rows.push({
          destination_id: d.row.id, workspace_id: e.workspaceId, event_offset: e.offset, payload: null, profile_id: e.profileId,
          key: e.profileId ?? e.userId ?? e.anonymousId ?? String(e.message.messageId ?? e.offset), next_attempt_at: now, enqueued_at: now,
        });
      }
    }
    return rows;
  }

  return {
    /** The pipeline's stage: one outbox row per (destination, event) it takes, in the pipeline's transaction. */
    async enqueue(db: Kysely<any>, events: DeliverableEvent[], now = deps.now()): Promise<number> {
      if (events.length === 0) return 0;
      const { byWorkspace } = await current(db);
      if (byWorkspace.size === 0) return 0;
      const perWorkspace = new Map<string, DeliverableEvent[]>();
      for (const e of events) if (byWorkspace.has(e.workspaceId)) (perWorkspace.get(e.workspaceId) ?? perWorkspace.set(e.workspaceId, []).get(e.workspaceId)!).push(e);
      let n = 0;
      for (const [workspaceId, list] of perWorkspace) {
        const rows = await rowsFor(db, byWorkspace.get(workspaceId)!, list, now);
        await store.enqueue(db, rows);
        n += rows.length;
      }
      return n;
    },

    /**
     * Privacy: drops a person's undelivered messages and dead letters (by profile, by order key: a user id or
     * anonymous id, or by the log events being erased), then queues a `User Deleted` call for every enabled
     * destination that takes one (webhook, segment), whatever its filter and consent: the receiver must hear of it.
     */
    async forget(db: Kysely<any>, workspaceId: string, person: { profileIds: string[]; keys: string[]; offsets: number[] }, userDeleted: Record<string, unknown>): Promise<{ dropped: number; notified: number }> {
      const dropped = await store.forget(db, workspaceId, person);
      const { byWorkspace } = await current(db);
      const now = deps.now();
      const rows: NewOutboxRow[] = (byWorkspace.get(workspaceId) ?? []).filter((d) => d.definition.type === 'webhook' || d.definition.type === 'segment').map((d) => ({
        destination_id: d.row.id, workspace_id: workspaceId, event_offset: null, payload: JSON.stringify(userDeleted), profile_id: null,
        key: String(userDeleted.messageId), next_attempt_at: now, enqueued_at: now,
      }));
      await store.enqueue(db, rows);
      return { dropped, notified: rows.length };
    },

    /**
     * Consent just withdrawn: the profiles' messages still queued for destinations that need the category go
     * (they were queued while it was granted). Returns how many.
     */
    async withdraw(db: Kysely<any>, withdrawals: { workspaceId: string; profileId: string; category: string }[]): Promise<number> {
      if (withdrawals.length === 0) return 0;
      const { byWorkspace } = await current(db);
      let n = 0;
      for (const d of [...new Set(withdrawals.map((w) => w.workspaceId))].flatMap((ws) => byWorkspace.get(ws) ?? [])) {
        const needs = new Set(d.definition.consent ?? []);
        const profiles = [...new Set(withdrawals.filter((w) => w.workspaceId === d.row.workspace_id && needs.has(w.category)).map((w) => w.profileId))];
        if (profiles.length) n += await store.dropQueued(db, d.row.id, profiles);
      }
      return n;
    },

    /** Every destination of every workspace (the delivery worker's list). */
    all: async (db: Kysely<any>) => (await current(db)).all,
    list: async (db: Kysely<any>, workspaceId: string) => (await store.list(db, workspaceId)).map(parse),
    get,

    async create(db: Kysely<any>, workspaceId: string, input: unknown): Promise<Destination> {
      const definition = validateDestination(input);
      await checkAudiences(db, workspaceId, definition);
      const now = deps.now();
      const row: DestinationRow = {
        id: randomUUID(), workspace_id: workspaceId, name: definition.name, type: definition.type, enabled: definition.enabled === false ? 0 : 1,
        config: JSON.stringify(definition), failing_since: null, failures: 0, created_at: now, updated_at: now,
      };
      await store.insert(db, row);
      cache = undefined;
      return parse(row);
    },

    /** Top-level fields replace; `settings` is merged into the current settings. */
    async update(db: Kysely<any>, workspaceId: string, id: string, patch: Record<string, unknown>): Promise<Destination> {
      const existing = await get(db, workspaceId, id);
      if ('type' in patch && patch.type !== existing.definition.type) throw errors.validation('The type of a destination cannot change; create another.');
      const { type: _type, ...change } = patch;
      if (!validPatch(structuredClone(change))) throw errors.validation(`Invalid change: ${explain(validPatch.errors ?? [], 'the change')}.`, validPatch.errors);
      const settings = mergeSettings(existing.definition.settings as unknown as Record<string, unknown>, change.settings as Record<string, unknown> | undefined);
      const definition = validateDestination({ ...existing.definition, ...change, settings });
      await checkAudiences(db, workspaceId, definition);
      const now = Math.max(deps.now(), existing.row.updated_at + 1);
      await store.update(db, id, { name: definition.name, enabled: definition.enabled === false ? 0 : 1, config: JSON.stringify(definition), updated_at: now });
      cache = undefined;
      return get(db, workspaceId, id);
    },

    /** Deletes the destination with its queue, dead letters and log. */
    async remove(db: Kysely<any>, workspaceId: string, id: string): Promise<void> {
      await get(db, workspaceId, id);
      await db.transaction().execute((tx) => store.remove(tx, id));
      cache = undefined;
    },

    async stats(db: Kysely<any>, workspaceId: string, id: string) {
      const d = await get(db, workspaceId, id);
      return { ...(await store.stats(db, id, deps.now())), failingSince: d.row.failing_since, consecutiveFailures: d.row.failures };
    },
    attempts: async (db: Kysely<any>, workspaceId: string, id: string, limit: number, before?: number) => (await get(db, workspaceId, id), store.attempts(db, id, limit, before)),
    deadLetters: async (db: Kysely<any>, workspaceId: string, id: string, limit: number, before?: number) => (await get(db, workspaceId, id), store.deadLetters(db, id, limit, before)),
    async replayDeadLetters(db: Kysely<any>, workspaceId: string, id: string, ids?: number[]): Promise<number> {
      await get(db, workspaceId, id);
      return store.requeueDeadLetters(db, id, ids, deps.now());
    },
    async discardDeadLetters(db: Kysely<any>, workspaceId: string, id: string, ids?: number[]): Promise<number> {
      await get(db, workspaceId, id);
      return store.discardDeadLetters(db, id, ids);
    },

    /** Starts a replay of what the log received in [from, to); the delivery worker enqueues it in chunks. */
    async startReplay(db: Kysely<any>, workspaceId: string, id: string, range: { from: number; to: number }): Promise<ReplayRow> {
      await get(db, workspaceId, id);
      if (!(range.from < range.to)) throw errors.validation('A replay needs "from" before "to".');
      const now = deps.now();
      const row: ReplayRow = {
        id: randomUUID(), destination_id: id, workspace_id: workspaceId, from_at: range.from, to_at: range.to,
        next_offset: await deps.logOffsetBefore(db, range.from - RECEIVED_SLACK_MS), end_offset: await deps.logEnd(db),
        status: 'running', scanned: 0, enqueued: 0, created_at: now, finished_at: null,
      };
      await store.insertReplay(db, row);
      return row;
    },
    replays: async (db: Kysely<any>, workspaceId: string, id: string) => (await get(db, workspaceId, id), store.replays(db, id)),

    /** Enqueues the next chunk of a replay; false once it is done. */
    async advanceReplay(db: Kysely<any>, d: Destination, replay: ReplayRow): Promise<boolean> {
      const events = await deps.readLog(db, Number(replay.next_offset), REPLAY_CHUNK);
      const inRange = events.filter((e) => e.offset <= Number(replay.end_offset) && e.workspaceId === replay.workspace_id && e.receivedAt >= Number(replay.from_at) && e.receivedAt < Number(replay.to_at));
      const attributed: DeliverableEvent[] = [];
      // The consent check is repeated by rowsFor, once the profile is known.
      for (const e of inRange.filter((x) => wants(d, x, null))) attributed.push({ ...e, profileId: await deps.profileOf(db, e.workspaceId, e) });
      const rows = await rowsFor(db, [d], attributed, deps.now());
      await store.enqueue(db, rows);
      const last = events.length ? events[events.length - 1] : undefined;
      const finished = !last || last.offset >= Number(replay.end_offset) || last.receivedAt > Number(replay.to_at) + RECEIVED_SLACK_MS;
      await store.updateReplay(db, replay.id, {
        next_offset: last?.offset ?? replay.next_offset, scanned: Number(replay.scanned) + events.length, enqueued: Number(replay.enqueued) + rows.length,
        ...(finished ? { status: 'done', finished_at: deps.now() } : {}),
      });
      return !finished;
    },

    /** An audience sync's full resync: every current member of its audiences, as `added`, ending with `complete: true`. */
    async resync(db: Kysely<any>, workspaceId: string, id: string): Promise<{ resyncs: { audience: string; resyncId: string; members: number }[] }> {
      const d = await get(db, workspaceId, id);
      if (d.definition.type !== 'audience_sync') throw errors.validation('Only an audience sync destination can be resynced.');
      const out = [];
      const now = deps.now();
      for (const key of (d.definition.settings as AudienceSyncSettings).audiences) {
        const audience = await deps.audience(db, workspaceId, key);
        if (!audience) continue;
        const resyncId = randomUUID();
        const members: string[] = [];
        for (let after: string | undefined, page; (page = await deps.audienceMembers(db, audience.id, 5000, after)).length; after = page[page.length - 1].profile_id) {
          members.push(...page.map((m) => m.profile_id));
        }
        const addresses = await deps.addresses(db, members);
        const entries = members.map((profileId, i): ResyncEntry => ({
          kind: 'resync', resyncId, audience: { id: audience.id, key: audience.key, name: audience.name },
          member: { profileId, userId: null, anonymousId: null, ...addresses.get(profileId) }, last: i === members.length - 1,
        }));
        // An empty audience still says so: one entry without a member.
        if (entries.length === 0) entries.push({ kind: 'resync', resyncId, audience: { id: audience.id, key: audience.key, name: audience.name }, member: null, last: true });
        // One transaction: a resync is queued whole (its `complete` included) or not at all.
        await db.transaction().execute((tx) => store.enqueue(tx, entries.map((e) => ({
          destination_id: id, workspace_id: workspaceId, event_offset: null, payload: JSON.stringify(e), profile_id: (e.member?.profileId as string | undefined) ?? null,
          key: (e.member?.profileId as string | undefined) ?? resyncId, next_attempt_at: now, enqueued_at: now,
        }))));
        out.push({ audience: key, resyncId, members: members.length });
      }
      return { resyncs: out };
    },

    /** Sends one sample event through the destination's mapping and transport now, outside the outbox. */
    async test(db: Kysely<any>, workspaceId: string, id: string) {
      const d = await get(db, workspaceId, id);
      const now = deps.now();
      const at = new Date(now).toISOString();
      const message = d.definition.type === 'audience_sync'
        ? { type: 'track', event: 'Audience Entered', messageId: `test-${randomUUID()}`, userId: 'test-user', timestamp: at, properties: { audience_key: 'test', audience_name: 'Test', audience_id: 'test' }, context: { rapport: { profileId: 'test-profile' } } }
        : { type: 'track', event: 'Rapport Test Event', messageId: `test-${randomUUID()}`, userId: 'test-user', timestamp: at, sentAt: at, receivedAt: at, properties: { test: true }, context: {} };
      const row = { id: 0, destination_id: id, workspace_id: workspaceId, event_offset: null, payload: null, key: 'test', profile_id: 'test-profile', attempts: 0, next_attempt_at: now, enqueued_at: now, last_error: null };
      const [request] = buildRequests(d.definition, [{ row, message }], now);
      const response = await send(request, (d.definition.settings as { timeoutMs?: number }).timeoutMs ?? 10_000);
      return { ok: response.status !== undefined && response.status >= 200 && response.status < 300, statusCode: response.status ?? null, latencyMs: response.latencyMs, error: response.error ?? null, response: response.excerpt };
    },

    deps,
  };

  async function checkAudiences(db: Kysely<any>, workspaceId: string, d: DestinationDefinition) {
    const keys = [...(d.filter?.audiences ?? []), ...(d.type === 'audience_sync' ? (d.settings as AudienceSyncSettings).audiences : [])];
    for (const key of new Set(keys)) if (!(await deps.audience(db, workspaceId, key))) throw errors.validation(`Invalid destination: no audience has the key "${key}".`);
  }
}

export type DestinationsService = ReturnType<typeof createDestinationsService>;
