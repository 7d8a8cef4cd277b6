import { randomBytes, randomUUID } from 'node:crypto';
import { Counter, Gauge } from 'prom-client';
import type { Clock } from '../../platform/clock.js';
import type { Database } from '../../platform/db/database.js';
import { errors } from '../../platform/errors.js';
import type { Log } from '../../platform/log.js';
import type { Metrics } from '../../platform/metrics.js';
import { createEventLogAppender, type LogEntry, type RejectionEntry } from './event-log.js';
import { TOO_DEEP } from './body.js';
import { LogWriter } from './log-writer.js';
import { LIMITS, normalizeCall, type CallType, type Envelope, type RejectReason } from './normalize.js';
import { EventRateLimiter } from './rate-limit.js';
import type { CollectStore, SourceRow } from './store.js';

export const SOURCE_TYPES = ['website', 'server', 'mobile', 'http', 'cloud', 'offline'] as const;
export type SourceType = (typeof SOURCE_TYPES)[number];

export interface Source {
  id: string;
  workspaceId: string;
  name: string;
  type: string;
  writeKey: string;
  enabled: boolean;
  rateLimit: number | null;
  createdAt: string;
  updatedAt: string;
}

export interface IngestFacts {
  receivedAt: number;
  ip?: string;
  bodyBytes: number;
}

export interface IngestResult {
  accepted: number;
  rejected: { index: number; messageId: string | null; reason: RejectReason }[];
}

export interface CollectOptions {
  maxPendingEvents: number;
  rateLimitPerWriteKey: number;
}

const WRITE_KEY_CACHE_MS = 5_000;

function toSource(row: SourceRow): Source {
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    name: row.name,
    type: row.type,
    writeKey: row.write_key,
    enabled: Boolean(row.enabled),
    rateLimit: row.rate_limit,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function newWriteKey(): string {
  // 32 characters like Segment's, URL- and header-safe.
  return randomBytes(24).toString('base64url');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A call as JSON; one nested past what JSON.stringify can walk is the client's error, not a 500. */
function serialize(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch (error) {
    throw error instanceof RangeError ? errors.invalidRequest(TOO_DEEP) : error;
  }
}

export function createCollectService(deps: { database: Database; store: CollectStore; clock: Clock; log: Log; metrics: Metrics; options: CollectOptions }) {
  const { store, clock, metrics, options } = deps;
  const received = new Counter({ name: 'rapport_events_received_total', help: 'Events accepted into the event log (duplicates included).', registers: [metrics] });
  const rejected = new Counter({ name: 'rapport_events_rejected_total', help: 'Events refused, by reason.', labelNames: ['reason'], registers: [metrics] });
  const duplicates = new Counter({ name: 'rapport_events_deduplicated_total', help: 'Accepted events whose messageId was already in the log.', registers: [metrics] });
  const refused = new Counter({ name: 'rapport_collect_requests_refused_total', help: 'Collection requests turned away, by cause.', labelNames: ['cause'], registers: [metrics] });
  new Gauge({
    name: 'rapport_pipeline_lag_events',
    help: 'Events accepted into the log but not yet processed by the slowest consumer.',
    registers: [metrics],
    async collect() {
      const [end, consumers] = await Promise.all([store.logEnd(), store.consumerOffsets()]);
      const slowest = consumers.length > 0 ? Math.min(...consumers.map((c) => c.offset)) : 0;
      this.set(Math.max(0, end - slowest));
    },
  });
  new Gauge({ name: 'rapport_collect_pending_events', help: 'Events waiting for the group commit.', registers: [metrics], collect() { this.set(writer.pending); } });

  const writer = new LogWriter(createEventLogAppender(deps.database), {
    maxPendingEvents: options.maxPendingEvents,
    onCommit: (result) => {
      if (result.duplicates > 0) duplicates.inc(result.duplicates);
    },
  });
  const limiter = new EventRateLimiter(() => clock.now());
  const writeKeys = new Map<string, { source: Source | null; at: number }>();
  const iso = () => new Date(clock.now()).toISOString();

  async function resolveWriteKey(writeKey: string): Promise<Source | null> {
    const now = clock.now();
    const cached = writeKeys.get(writeKey);
    if (cached && now - cached.at < WRITE_KEY_CACHE_MS) return cached.source;
    const row = await store.sourceByWriteKey(writeKey);
    const source = row ? toSource(row) : null;
    if (writeKeys.size > 50_000) writeKeys.clear();
    writeKeys.set(writeKey, { source, at: now });
    return source;
  }

  async function ingest(source: Source, call: CallType | 'batch', body: unknown, facts: IngestFacts): Promise<IngestResult> {
    if (!source.enabled) throw errors.forbidden('This source is disabled; enable it to collect events again.');
    if (!isObject(body)) throw errors.invalidRequest('The body must be a JSON object.');
    let items: unknown[];
    let envelope: Envelope = {};
    if (call === 'batch') {
      if (!Array.isArray(body.batch)) throw errors.invalidRequest('A batch needs a "batch" array of calls.');
      items = body.batch;
      envelope = { context: isObject(body.context) ? body.context : undefined, integrations: isObject(body.integrations) ? body.integrations : undefined, sentAt: body.sentAt };
      // A call re-serialised is never longer than its source text, so a body under 32 KB needs no per-call check.
      if (facts.bodyBytes > LIMITS.eventBytes) {
        items.forEach((item, index) => {
          const bytes = Buffer.byteLength(serialize(item));
          if (bytes > LIMITS.eventBytes) throw errors.invalidRequest(`Event ${index} of the batch is ${bytes} bytes; the limit is 32 KB per event. Nothing in this request was stored.`);
        });
      }
    } else {
      if (facts.bodyBytes > LIMITS.eventBytes) throw errors.invalidRequest(`The event is ${facts.bodyBytes} bytes; the limit is 32 KB per event.`);
      items = [body];
    }

    const wait = limiter.take(source.id, source.rateLimit ?? options.rateLimitPerWriteKey, items.length);
    if (wait > 0) {
      refused.inc({ cause: 'rate_limit' });
      throw errors.rateLimited(wait, `This write key is limited to ${source.rateLimit ?? options.rateLimitPerWriteKey} events per second.`);
    }

    const entries: LogEntry[] = [];
    const rejections: RejectionEntry[] = [];
    const result: IngestResult = { accepted: 0, rejected: [] };
    const facts2 = { receivedAt: facts.receivedAt, ip: facts.ip };
    items.forEach((item, index) => {
      const normalized = index >= LIMITS.batchEvents
        ? ({ ok: false, reason: 'batch_too_many_events', messageId: null } as const)
        : normalizeCall(item, call === 'batch' ? undefined : call, envelope, facts2);
      if (normalized.ok) {
        const c = normalized.call;
        entries.push({
          workspaceId: source.workspaceId, sourceId: source.id, messageId: c.messageId, type: c.type, event: c.event,
          userId: c.userId, anonymousId: c.anonymousId, timestamp: c.timestamp, receivedAt: facts.receivedAt, payload: serialize(c.message),
        });
      } else {
        result.rejected.push({ index, messageId: normalized.messageId, reason: normalized.reason });
        rejections.push({
          workspaceId: source.workspaceId, sourceId: source.id, receivedAt: facts.receivedAt, reason: normalized.reason,
          // A call posted to /v1/track names its type in the URL only; keep it so the debugger can show it.
          messageId: normalized.messageId, payload: serialize(call !== 'batch' && isObject(item) ? { ...item, type: call } : item),
        });
      }
    });
    try {
      await writer.append(entries, rejections);
    } catch (error) {
      refused.inc({ cause: (error as { code?: string }).code === 'overloaded' ? 'overloaded' : 'log_error' });
      throw error;
    }
    result.accepted = entries.length;
    received.inc(entries.length);
    for (const r of result.rejected) rejected.inc({ reason: r.reason });
    return result;
  }

  return {
    ingest,
    resolveWriteKey,

    async createSource(workspaceId: string, input: { name: string; type: string; rateLimit?: number | null }): Promise<Source> {
      const name = input.name.trim();
      if (!name) throw errors.validation('A source needs a name.');
      if (await store.sourceByName(workspaceId, name)) throw errors.conflict(`A source named "${name}" already exists.`);
      const now = iso();
      const row: SourceRow = {
        id: randomUUID(), workspace_id: workspaceId, name, type: input.type, write_key: newWriteKey(), enabled: 1,
        rate_limit: input.rateLimit ?? null, created_at: now, updated_at: now,
      };
      await store.insertSource(row);
      return toSource(row);
    },

    async sourceByName(workspaceId: string, name: string): Promise<Source | null> {
      const row = await store.sourceByName(workspaceId, name);
      return row ? toSource(row) : null;
    },

    async listSources(workspaceId: string): Promise<Source[]> {
      return (await store.sources(workspaceId)).map(toSource);
    },

    async getSource(workspaceId: string, id: string): Promise<Source> {
      const row = await store.source(workspaceId, id);
      if (!row) throw errors.notFound('Source');
      return toSource(row);
    },

    async updateSource(workspaceId: string, id: string, patch: { name?: string; type?: string; enabled?: boolean; rateLimit?: number | null }): Promise<Source> {
      const current = await store.source(workspaceId, id);
      if (!current) throw errors.notFound('Source');
      const name = patch.name?.trim();
      if (name !== undefined && !name) throw errors.validation('A source needs a name.');
      if (name && name !== current.name && (await store.sourceByName(workspaceId, name))) throw errors.conflict(`A source named "${name}" already exists.`);
      await store.updateSource(workspaceId, id, {
        ...(name ? { name } : {}),
        ...(patch.type ? { type: patch.type } : {}),
        ...(patch.enabled !== undefined ? { enabled: patch.enabled ? 1 : 0 } : {}),
        ...(patch.rateLimit !== undefined ? { rate_limit: patch.rateLimit } : {}),
        updated_at: iso(),
      });
      writeKeys.delete(current.write_key);
      return toSource((await store.source(workspaceId, id))!);
    },

    /** A new write key; the old one stops working at once on this node and within seconds on others. */
    async rotateWriteKey(workspaceId: string, id: string): Promise<Source> {
      const current = await store.source(workspaceId, id);
      if (!current) throw errors.notFound('Source');
      await store.updateSource(workspaceId, id, { write_key: newWriteKey(), updated_at: iso() });
      writeKeys.delete(current.write_key);
      return toSource((await store.source(workspaceId, id))!);
    },

    /** Drains the group commit: everything acknowledged is in the log when this resolves. */
    close: () => writer.close(),
  };
}

export type CollectService = ReturnType<typeof createCollectService>;
