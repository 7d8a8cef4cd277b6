import { timeOrderedUuid } from '../../platform/ids.js';
import { parseUserAgent } from './user-agent.js';

/** The six Segment calls. */
export const CALL_TYPES = ['identify', 'track', 'page', 'screen', 'group', 'alias'] as const;
export type CallType = (typeof CALL_TYPES)[number];

export const REJECT_REASONS = [
  'not_an_object',
  'invalid_type',
  'no_user_anon_id',
  'missing_event_name',
  'missing_group_id',
  'missing_previous_id',
  'message_id_too_long',
  'group_id_too_long',
  'invalid_timestamp',
  'batch_too_many_events',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export const LIMITS = {
  eventBytes: 32 * 1024,
  requestBytes: 500 * 1024,
  batchEvents: 2500,
  messageIdChars: 100,
  groupIdChars: 500,
};

/** What a batch envelope lends each of its items. */
export interface Envelope {
  context?: Record<string, unknown>;
  integrations?: Record<string, unknown>;
  sentAt?: unknown;
}

export interface RequestFacts {
  receivedAt: number;
  ip?: string;
}

/** A normalised call, ready for the log: the Segment-shaped message plus the columns the log indexes. */
export interface AcceptedCall {
  messageId: string;
  type: CallType;
  event: string | null;
  userId: string | null;
  anonymousId: string | null;
  timestamp: number;
  message: Record<string, unknown>;
}

export type Normalized = { ok: true; call: AcceptedCall } | { ok: false; reason: RejectReason; messageId: string | null };

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Ids arrive as strings or numbers; empty means absent. */
function idString(value: unknown): string | null {
  if (typeof value === 'string') return value.length > 0 ? value : null;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

// The largest epoch milliseconds a Date holds; past it, toISOString throws.
const MAX_TIME = 8.64e15;
const isTime = (ms: number) => Math.abs(ms) <= MAX_TIME;

/** ISO-8601 (or epoch ms) to epoch ms; undefined when absent, NaN when present but unreadable. */
function time(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'number') return isTime(value) ? value : NaN;
  if (typeof value !== 'string') return NaN;
  return Date.parse(value);
}

function reject(reason: RejectReason, raw: Json | null): Normalized {
  const id = raw ? idString(raw.messageId) : null;
  return { ok: false, reason, messageId: id && id.length <= LIMITS.messageIdChars ? id : null };
}

/**
 * Validates one call and adds the server's fields: messageId when absent, receivedAt, originalTimestamp,
 * the skew-corrected timestamp, context.ip and the parsed user agent. `pathType` is the call type the URL
 * names; batch items carry their own.
 */
export function normalizeCall(raw: unknown, pathType: CallType | undefined, envelope: Envelope, facts: RequestFacts): Normalized {
  if (!isObject(raw)) return reject('not_an_object', null);
  const type = pathType ?? raw.type;
  if (typeof type !== 'string' || !(CALL_TYPES as readonly string[]).includes(type)) return reject('invalid_type', raw);
  const callType = type as CallType;

  const rawMessageId = raw.messageId;
  let messageId = idString(rawMessageId);
  if (messageId && messageId.length > LIMITS.messageIdChars) return reject('message_id_too_long', raw);
  messageId ??= `rapport-${timeOrderedUuid()}`;

  const userId = idString(raw.userId);
  const anonymousId = idString(raw.anonymousId);
  if (!userId && !anonymousId) return reject('no_user_anon_id', raw);

  let event: string | null = null;
  if (callType === 'track') {
    event = typeof raw.event === 'string' && raw.event.trim() ? raw.event : null;
    if (!event) return reject('missing_event_name', raw);
  } else if (callType === 'page' || callType === 'screen') {
    event = typeof raw.name === 'string' && raw.name ? raw.name : null;
  }
  if (callType === 'group') {
    const groupId = idString(raw.groupId);
    if (!groupId) return reject('missing_group_id', raw);
    if (groupId.length > LIMITS.groupIdChars) return reject('group_id_too_long', raw);
  }
  if (callType === 'alias' && !idString(raw.previousId)) return reject('missing_previous_id', raw);

  const original = time(raw.timestamp ?? raw.originalTimestamp);
  const sentAt = time(raw.sentAt ?? envelope.sentAt);
  if (Number.isNaN(original) || Number.isNaN(sentAt)) return reject('invalid_timestamp', raw);
  // Segment's skew correction: the device clock may be wrong, but the gap between event and send is right.
  let timestamp = facts.receivedAt;
  if (original !== undefined) timestamp = sentAt !== undefined ? facts.receivedAt - (sentAt - original) : original;
  if (!isTime(timestamp)) return reject('invalid_timestamp', raw);

  const context: Json = { ...(isObject(envelope.context) ? envelope.context : {}), ...(isObject(raw.context) ? raw.context : {}) };
  if (context.ip === undefined && facts.ip) context.ip = facts.ip;
  if (typeof context.userAgent === 'string' && context.userAgent && context.userAgentParsed === undefined) {
    context.userAgentParsed = parseUserAgent(context.userAgent);
  }
  const integrations = { ...(isObject(envelope.integrations) ? envelope.integrations : {}), ...(isObject(raw.integrations) ? raw.integrations : {}) };

  const { writeKey: _writeKey, ...rest } = raw;
  const message: Json = {
    ...rest,
    type: callType,
    messageId,
    context,
    integrations,
    receivedAt: new Date(facts.receivedAt).toISOString(),
    timestamp: new Date(timestamp).toISOString(),
  };
  if (userId) message.userId = userId;
  if (anonymousId) message.anonymousId = anonymousId;
  if (original !== undefined) message.originalTimestamp = new Date(original).toISOString();
  if (sentAt !== undefined) message.sentAt = new Date(sentAt).toISOString();

  return { ok: true, call: { messageId, type: callType, event, userId, anonymousId, timestamp, message } };
}
