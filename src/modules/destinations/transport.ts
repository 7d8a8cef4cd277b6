import { createHmac } from 'node:crypto';
import type { AudienceSyncSettings, DestinationDefinition, SegmentSettings, WebhookSettings } from './definition.js';
import { applyMapping } from './mapping.js';
import type { OutboxRow } from './store.js';

type Json = Record<string, unknown>;

/** A message ready to go: its outbox row and the Segment message (or a resync entry) it carries. */
export interface Item {
  row: OutboxRow;
  message: Json;
}

/** One HTTP request and the rows it delivers. */
export interface Request {
  items: Item[];
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface Response {
  status?: number;
  retryAfter?: string | null;
  /** The first KiB of the body, for the delivery log. */
  excerpt: string;
  error?: string;
  latencyMs: number;
}

const EXCERPT = 1024;
const USER_AGENT = 'Rapport-Destinations/1';

/** A resync entry (an outbox payload): one current member of an audience, sent as `added`. */
export interface ResyncEntry {
  kind: 'resync';
  resyncId: string;
  audience: { id: string; key: string; name: string };
  /** Null for an empty audience: its one entry only says the resync is complete. */
  member: Json | null;
  /** The resync's last member: its request says `complete: true`. */
  last: boolean;
}

/** Events per request: the type's batch size, never more than a second's rate limit, so the limit holds at every moment. */
export function batchSizeOf(d: DestinationDefinition): number {
  return Math.max(1, Math.min((d.settings as { batchSize?: number }).batchSize ?? 100, d.rateLimit ?? Infinity));
}

export function buildRequests(d: DestinationDefinition, items: Item[], now: number): Request[] {
  const sentAt = new Date(now).toISOString();
  const size = batchSizeOf(d);
  switch (d.type) {
    case 'webhook': {
      const s = d.settings as WebhookSettings;
      const messages = items.map((i) => applyMapping(withProfile(i), d.mapping));
      if (s.mode === 'single') return items.map((item, n) => signed(s, [item], s.url, JSON.stringify(messages[n]), item.message.messageId));
      return chunk(items, size).map((part, p) => {
        const offset = p * size;
        return signed(s, part, s.url, JSON.stringify({ batch: messages.slice(offset, offset + part.length), sentAt }));
      });
    }
    case 'segment': {
      const s = d.settings as SegmentSettings;
      const url = `${s.endpoint.replace(/\/+$/, '')}/v1/batch`;
      const auth = `Basic ${Buffer.from(`${s.writeKey}:`).toString('base64')}`;
      // The messages' own sentAt goes: their timestamps are already corrected for the device's clock, and the
      // receiver corrects again from the batch's sentAt (this clock against its own).
      return chunk(items, size).map((part) => ({
        items: part, url, headers: { ...lowerCased(s.headers), 'content-type': 'application/json', 'user-agent': USER_AGENT, authorization: auth },
        body: JSON.stringify({ batch: part.map((i) => applyMapping(forwarded(i.message), d.mapping)), sentAt }),
      }));
    }
    case 'audience_sync':
      return membershipRequests(d.settings as AudienceSyncSettings, size, items, sentAt);
  }
}

function forwarded(message: Json): Json {
  const { sentAt: _sentAt, receivedAt: _receivedAt, ...rest } = message;
  return rest;
}

/** Webhook messages name the unified profile they belong to, in `context.rapport.profileId`. */
function withProfile({ row, message }: Item): Json {
  if (!row.profile_id) return message;
  const context = (message.context && typeof message.context === 'object' ? message.context : {}) as Json;
  const rapport = (context.rapport && typeof context.rapport === 'object' ? context.rapport : {}) as Json;
  return { ...message, context: { ...context, rapport: { ...rapport, profileId: rapport.profileId ?? row.profile_id } } };
}

/** Header names are case-insensitive: one spelling, so a custom header never doubles one of ours. */
const lowerCased = (headers: Record<string, string> | undefined) => Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));

function signed(s: { headers?: Record<string, string>; secret?: string }, items: Item[], url: string, body: string, messageId?: unknown): Request {
  const headers: Record<string, string> = { ...lowerCased(s.headers), 'content-type': 'application/json', 'user-agent': USER_AGENT };
  if (typeof messageId === 'string') headers['x-rapport-message-id'] = messageId;
  if (s.secret) {
    const t = Date.now();
    headers['x-rapport-signature'] = `t=${t},v1=${createHmac('sha256', s.secret).update(`${t}.${body}`).digest('hex')}`;
  }
  return { items, url, headers, body };
}

/**
 * Audience Entered / Exited events become `added` / `removed` members, one request per audience; a
 * member seen twice starts a new request, so a receiver applying requests in order ends in the right state.
 */
function membershipRequests(s: AudienceSyncSettings, size: number, items: Item[], sentAt: string): Request[] {
  type Open = { audience: Json; resyncId?: string; added: Json[]; removed: Json[]; items: Item[]; members: Set<string>; complete: boolean };
  const done: Open[] = [];
  const open = new Map<string, Open>();
  for (const item of items) {
    const m = item.message;
    const resync = m.kind === 'resync' ? (m as unknown as ResyncEntry) : undefined;
    const audience = resync?.audience ?? audienceOf(m);
    const member = resync ? (resync.member ?? {}) : memberOf(item);
    const group = resync ? `resync:${resync.resyncId}` : String(audience.id);
    let o = open.get(group);
    const profile = String(member.profileId ?? item.row.key);
    if (o && (o.items.length >= size || o.members.has(profile))) {
      done.push(o);
      o = undefined;
    }
    if (!o) {
      o = { audience, resyncId: resync?.resyncId, added: [], removed: [], items: [], members: new Set(), complete: false };
      open.set(group, o);
    }
    o.items.push(item);
    o.members.add(profile);
    // An empty audience's resync is one entry without a member: a complete request that adds nobody.
    if (resync) {
      if (resync.member) o.added.push(member);
    } else if (m.event === 'Audience Entered') o.added.push(member);
    else o.removed.push(member);
    if (resync?.last) o.complete = true;
  }
  done.push(...open.values());
  done.sort((a, b) => a.items[0].row.id - b.items[0].row.id);
  return done.map((o) => {
    const body = { type: 'audience_membership', audience: o.audience, ...(o.resyncId ? { mode: 'resync', resyncId: o.resyncId, complete: o.complete } : { mode: 'changes' }), added: o.added, removed: o.removed, sentAt };
    return signed(s, o.items, s.url, JSON.stringify(body));
  });
}

function audienceOf(m: Json): Json {
  const p = (m.properties ?? {}) as Json;
  return { id: p.audience_id, key: p.audience_key, name: p.audience_name };
}

/** Whom an Audience Entered / Exited event is about, addressed as destinations address people. */
export function memberOf({ row, message }: Item): Json {
  const context = (message.context ?? {}) as { rapport?: { profileId?: string; email?: string }; groupId?: string };
  return {
    profileId: context.rapport?.profileId ?? row.profile_id, userId: message.userId ?? null, anonymousId: message.anonymousId ?? null,
    ...(context.groupId ? { groupId: context.groupId } : {}), ...(context.rapport?.email ? { email: context.rapport.email } : {}),
    at: message.timestamp, messageId: message.messageId,
  };
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Sends one request; never throws: a network error or timeout is a response without a status. `stop`
 * aborts it (the worker is shutting down): the response then says `stopped`, and nothing is recorded.
 */
export async function send(request: Request, timeoutMs: number, stop?: AbortSignal): Promise<Response & { stopped?: boolean }> {
  const started = performance.now();
  // One controller with its own timer, not AbortSignal.any(): on Node 20 a combined signal holds its inputs
  // weakly, and a garbage collection during the request can take the timeout with it.
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new DOMException(`timed out after ${timeoutMs} ms`, 'TimeoutError')), timeoutMs);
  const onStop = () => abort.abort(new DOMException('stopped', 'AbortError'));
  stop?.addEventListener('abort', onStop);
  try {
    const res = await fetch(request.url, { method: 'POST', headers: request.headers, body: request.body, signal: abort.signal, redirect: 'manual' });
    const text = await res.text();
    const location = res.status >= 300 && res.status < 400 ? res.headers.get('location') : null;
    return {
      status: res.status, retryAfter: res.headers.get('retry-after'), latencyMs: Math.round(performance.now() - started),
      excerpt: location ? `redirected to ${location}; point the destination at the final URL` : text.slice(0, EXCERPT),
    };
  } catch (error) {
    if (stop?.aborted) return { error: 'stopped', stopped: true, excerpt: '', latencyMs: Math.round(performance.now() - started) };
    const e = error as Error & { cause?: { code?: string; message?: string } };
    const reason = abort.signal.aborted ? `timed out after ${timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    return { error: reason, excerpt: '', latencyMs: Math.round(performance.now() - started) };
  } finally {
    clearTimeout(timer);
    stop?.removeEventListener('abort', onStop);
  }
}
