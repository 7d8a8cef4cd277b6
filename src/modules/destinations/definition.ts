/**
 * What a destination is: its type and settings, which events it receives (filter, consent), how they are
 * reshaped (mapping), how fast and how persistently they are sent (rate limit, retry). JSON, validated by
 * the schemas below, which the OpenAPI document publishes.
 */
import { valueTestSchemas, type ValueTest } from '../audiences/index.js';

export type DestinationType = 'webhook' | 'segment' | 'audience_sync';
export const EVENT_TYPES = ['track', 'page', 'screen', 'identify', 'group', 'alias'] as const;

export interface WebhookSettings {
  url: string;
  headers?: Record<string, string>;
  /** Signs each body: `X-Rapport-Signature: t=<ms>,v1=<hex HMAC-SHA256 of "<ms>.<body>">`. */
  secret?: string;
  /** `batch`: one POST of `{ batch: [...] }` per batch; `single`: one POST per event. */
  mode?: 'single' | 'batch';
  batchSize?: number;
  timeoutMs?: number;
}

export interface SegmentSettings {
  /** Base URL of a Segment-compatible collection API (another Rapport, Segment, RudderStack): `/v1/batch` is appended. */
  endpoint: string;
  writeKey: string;
  headers?: Record<string, string>;
  batchSize?: number;
  timeoutMs?: number;
}

export interface AudienceSyncSettings {
  url: string;
  /** Keys of the audiences whose members are synced. */
  audiences: string[];
  headers?: Record<string, string>;
  secret?: string;
  batchSize?: number;
  timeoutMs?: number;
}

export type PropertyTest = ValueTest & { path: string };

export interface DestinationFilter {
  types?: (typeof EVENT_TYPES)[number][];
  /** Track event names, page or screen names. */
  events?: string[];
  /** Every test must hold; paths start at the message root (`properties.plan`, `context.page.path`). */
  where?: PropertyTest[];
  /** The event's profile must be a member of at least one of these audiences (by key) when it is processed. */
  audiences?: string[];
}

export type MappingStep =
  | { op: 'rename'; from: string; to: string }
  | { op: 'drop'; path: string }
  | { op: 'set'; path: string; value: unknown }
  | { op: 'template'; path: string; template: string };

export interface RetryPolicy {
  minDelayMs: number;
  maxDelayMs: number;
  /** Give up on a message this long after it was enqueued, once it has had at least `minAttempts` attempts. */
  maxAgeMs: number;
  minAttempts: number;
}

export const DEFAULT_RETRY: RetryPolicy = { minDelayMs: 10_000, maxDelayMs: 300_000, maxAgeMs: 4 * 3600_000, minAttempts: 3 };

export interface DestinationDefinition {
  name: string;
  type: DestinationType;
  enabled?: boolean;
  settings: WebhookSettings | SegmentSettings | AudienceSyncSettings;
  filter?: DestinationFilter;
  mapping?: MappingStep[];
  /** Consent categories that must all be granted in the event's `context.consent.categoryPreferences`. */
  consent?: string[];
  /** Events per second, at most. */
  rateLimit?: number;
  retry?: Partial<RetryPolicy>;
}

const URL_SCHEMA = { type: 'string', minLength: 8, maxLength: 2000, pattern: '^https?://[^\\s]+$', description: 'An http or https URL.' };
const PATH = { type: 'string', minLength: 1, maxLength: 200, pattern: '^[^.\\s]+(\\.[^.\\s]+)*$', description: 'A path from the message root; dots descend into objects.' };
// Headers Rapport sets itself cannot be overridden (names compare case-insensitively).
const RESERVED_HEADERS = ['content-type', 'content-length', 'host', 'user-agent', 'authorization', 'x-rapport-signature', 'x-rapport-message-id', 'transfer-encoding', 'connection'];
const anyCase = (names: string[]) => `^(${names.map((n) => n.replace(/[a-z]/g, (c) => `[${c}${c.toUpperCase()}]`)).join('|')})$`;
const headerNames = (reserved: string[]) => ({ pattern: '^[A-Za-z0-9-]{1,100}$', not: { pattern: anyCase(reserved) } });
const HEADERS = {
  type: 'object', maxProperties: 30, description: `Extra request headers; not ${RESERVED_HEADERS.join(', ')} (a webhook may set authorization).`,
  propertyNames: headerNames(RESERVED_HEADERS.filter((h) => h !== 'authorization')),
  additionalProperties: { type: 'string', maxLength: 2000 },
};
const SEGMENT_HEADERS = { ...HEADERS, propertyNames: headerNames(RESERVED_HEADERS) };

const BATCH_SIZE = { type: 'integer', minimum: 1, maximum: 1000, description: 'Events per request, at most (default 100).' };
const TIMEOUT = { type: 'integer', minimum: 100, maximum: 120_000, description: 'Milliseconds before a request counts as timed out and is retried (default 10,000).' };
const SECRET = { type: 'string', minLength: 16, maxLength: 200, description: 'Signing secret; write-only (responses say only whether one is set).' };

const settingsSchemas = {
  webhook: {
    type: 'object', additionalProperties: false, required: ['url'],
    properties: { url: URL_SCHEMA, headers: HEADERS, secret: SECRET, mode: { enum: ['single', 'batch'], description: 'Default batch.' }, batchSize: BATCH_SIZE, timeoutMs: TIMEOUT },
  },
  segment: {
    type: 'object', additionalProperties: false, required: ['endpoint', 'writeKey'],
    properties: { endpoint: URL_SCHEMA, writeKey: { type: 'string', minLength: 1, maxLength: 200, description: 'Write-only.' }, headers: SEGMENT_HEADERS, batchSize: { ...BATCH_SIZE, maximum: 500 }, timeoutMs: TIMEOUT },
  },
  audience_sync: {
    type: 'object', additionalProperties: false, required: ['url', 'audiences'],
    properties: {
      url: URL_SCHEMA, audiences: { type: 'array', minItems: 1, maxItems: 50, uniqueItems: true, items: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,63}$' } },
      headers: HEADERS, secret: SECRET, batchSize: BATCH_SIZE, timeoutMs: TIMEOUT,
    },
  },
} as const;

export const filterSchema = {
  $id: 'rapport.destination-filter',
  type: 'object', additionalProperties: false,
  description: 'Which events the destination receives; every part given must hold. Without a filter it receives every event.',
  properties: {
    types: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: [...EVENT_TYPES] } },
    events: { type: 'array', minItems: 1, maxItems: 200, items: { type: 'string', minLength: 1, maxLength: 200 }, description: 'Track event names, page or screen names.' },
    where: { type: 'array', maxItems: 20, items: { oneOf: valueTestSchemas({ path: PATH }, ['path']) } },
    audiences: { type: 'array', minItems: 1, maxItems: 50, items: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,63}$' }, description: 'The profile is in at least one of these audiences when the event is processed.' },
  },
};

export const mappingSchema = {
  $id: 'rapport.destination-mapping',
  type: 'array', maxItems: 100,
  description: 'Steps applied in order to each message before it is sent: rename a field, drop one, set a constant, or set a string from a template (`{{path}}` placeholders).',
  items: {
    oneOf: [
      { type: 'object', additionalProperties: false, required: ['op', 'from', 'to'], properties: { op: { const: 'rename' }, from: PATH, to: PATH } },
      { type: 'object', additionalProperties: false, required: ['op', 'path'], properties: { op: { const: 'drop' }, path: PATH } },
      { type: 'object', additionalProperties: false, required: ['op', 'path', 'value'], properties: { op: { const: 'set' }, path: PATH, value: {} } },
      { type: 'object', additionalProperties: false, required: ['op', 'path', 'template'], properties: { op: { const: 'template' }, path: PATH, template: { type: 'string', maxLength: 2000 } } },
    ],
  },
};

const retrySchema = {
  type: 'object', additionalProperties: false,
  description: 'Retries of network errors, timeouts, 408, 429 and 5xx: exponential backoff with jitter from minDelayMs to maxDelayMs (Retry-After honoured); a message is given up (dead-lettered) maxAgeMs after it was enqueued once it has had minAttempts attempts.',
  properties: {
    minDelayMs: { type: 'integer', minimum: 10, maximum: 3600_000 },
    maxDelayMs: { type: 'integer', minimum: 10, maximum: 86_400_000 },
    maxAgeMs: { type: 'integer', minimum: 10, maximum: 7 * 86_400_000 },
    minAttempts: { type: 'integer', minimum: 1, maximum: 100 },
  },
};

const common = {
  name: { type: 'string', minLength: 1, maxLength: 200 },
  enabled: { type: 'boolean', description: 'Default true.' },
  filter: { $ref: 'rapport.destination-filter' },
  mapping: { $ref: 'rapport.destination-mapping' },
  consent: { type: 'array', maxItems: 20, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 100 }, description: 'Consent categories that must be granted, by the event (context.consent.categoryPreferences) or by the profile\'s consent, and refused by neither.' },
  rateLimit: { type: 'integer', minimum: 1, maximum: 1_000_000, description: 'Events per second, at most.' },
  retry: retrySchema,
};

/** One branch per type, so a type's settings are validated as that type's. */
export const destinationSchema = {
  oneOf: (Object.keys(settingsSchemas) as DestinationType[]).map((type) => ({
    type: 'object', additionalProperties: false, required: ['name', 'type', 'settings'],
    properties: { ...common, type: { const: type }, settings: settingsSchemas[type] },
  })),
};

/** A change: any top-level field; `settings` is merged into the current settings (so secrets need not be sent again). */
export const destinationPatchSchema = {
  type: 'object', additionalProperties: false, minProperties: 1,
  properties: { ...common, settings: { type: 'object' } },
};

export const sharedSchemas = [filterSchema, mappingSchema];

export function settingsSchema(type: DestinationType) {
  return settingsSchemas[type];
}

export function retryPolicy(d: DestinationDefinition): RetryPolicy {
  const p = { ...DEFAULT_RETRY, ...d.retry };
  return { ...p, maxDelayMs: Math.max(p.maxDelayMs, p.minDelayMs) };
}
