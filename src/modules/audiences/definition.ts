/**
 * The definition language of computed traits, scores and audiences: JSON, validated by the schemas below
 * (which the OpenAPI document publishes), then checked for meaning by `check*` in service.ts.
 */

export type Scalar = string | number | boolean;
export type Collection = 'users' | 'accounts';

/** How a value (a trait, a computed trait, an event property) is tested. Semantics in match.ts. */
export type ValueTest =
  | { op: 'exists' | 'not_exists' }
  | { op: 'eq' | 'neq'; value: Scalar }
  | { op: 'in' | 'not_in'; values: Scalar[] }
  | { op: 'gt' | 'gte' | 'lt' | 'lte'; value: number }
  | { op: 'contains' | 'starts_with'; value: string };

export type ValueOp = ValueTest['op'];

export type EventType = 'track' | 'page' | 'screen' | 'identify' | 'group' | 'alias';

/** Which events count: a type (default track), optionally a name (track: the event; page/screen: the name), property tests. */
export interface EventFilter {
  type?: EventType;
  name?: string;
  where?: (ValueTest & { property: string })[];
}

export interface Window {
  last: number;
  unit: 'minutes' | 'hours' | 'days';
}

export type Condition =
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition }
  | (ValueTest & { trait: string })
  | (ValueTest & { computed_trait: string })
  | { event: EventFilter; count?: { op: 'at_least' | 'at_most' | 'exactly'; value: number }; within?: Window }
  | { audience: string; member?: boolean }
  | { account: Condition };

export type AggregateKind = 'count' | 'sum' | 'avg' | 'min' | 'max' | 'most_frequent' | 'first' | 'last' | 'unique_list' | 'unique_count';

export type ScoreRule = { event: EventFilter; points: number } | { trait: ValueTest & { trait: string }; points: number };

export interface ComputedTraitDefinition {
  key: string;
  name: string;
  collection: Collection;
  kind: AggregateKind | 'score';
  event?: EventFilter;
  /** The event property aggregated (every kind but count and score). */
  property?: string;
  within?: Window;
  /** Scores: points per matching event and per trait condition the profile meets. */
  rules?: ScoreRule[];
  /** Scores: event points halve every `half_life_days`. */
  decay?: { half_life_days: number };
}

export interface AudienceDefinition {
  key: string;
  name: string;
  description?: string;
  collection: Collection;
  condition: Condition;
}

const KEY = { type: 'string', pattern: '^[a-z][a-z0-9_]{0,63}$', description: 'Lower-case snake_case, unique in the workspace.' };
// A type list, not anyOf: Fastify coerces request bodies, and with anyOf a number would become a string.
const SCALAR = { type: ['string', 'number', 'boolean'] };
const PATH = { type: 'string', minLength: 1, maxLength: 200, pattern: '^[^."\\\\]+(\\.[^."\\\\]+)*$', description: 'A property name; dots descend into objects.' };
const TRAIT = { type: 'string', minLength: 1, maxLength: 200, description: 'A trait name, as set by identify (no path into its value).' };

/** The value tests as JSON Schema `oneOf` branches, each with the extra properties of the place it is used. */
export function valueTests(extra: Record<string, unknown>, required: string[]) {
  const branch = (ops: string[], props: Record<string, unknown>, req: string[]) => ({
    type: 'object',
    additionalProperties: false,
    required: [...required, 'op', ...req],
    properties: { ...extra, op: { enum: ops }, ...props },
  });
  return [
    branch(['exists', 'not_exists'], {}, []),
    branch(['eq', 'neq'], { value: SCALAR }, ['value']),
    branch(['in', 'not_in'], { values: { type: 'array', items: SCALAR, minItems: 1, maxItems: 1000 } }, ['values']),
    branch(['gt', 'gte', 'lt', 'lte'], { value: { type: 'number' } }, ['value']),
    branch(['contains', 'starts_with'], { value: { type: 'string', minLength: 1 } }, ['value']),
  ];
}

export const windowSchema = {
  $id: 'rapport.window',
  type: 'object',
  additionalProperties: false,
  required: ['last', 'unit'],
  description: 'A rolling window ending now, aligned to the minute (windows up to a day) or the hour (longer ones).',
  properties: { last: { type: 'integer', minimum: 1, maximum: 100_000 }, unit: { enum: ['minutes', 'hours', 'days'] } },
};

export const eventFilterSchema = {
  $id: 'rapport.event-filter',
  type: 'object',
  additionalProperties: false,
  description: 'Events of a type (default track) and, optionally, a name (the event of a track, the name of a page or screen) and property tests (all must hold).',
  properties: {
    type: { enum: ['track', 'page', 'screen', 'identify', 'group', 'alias'] },
    name: { type: 'string', minLength: 1, maxLength: 200 },
    where: { type: 'array', maxItems: 20, items: { oneOf: valueTests({ property: PATH }, ['property']) } },
  },
};

export const conditionSchema = {
  $id: 'rapport.condition',
  description: 'A condition tree: all / any / not over trait, computed_trait, event, audience and account conditions.',
  oneOf: [
    { type: 'object', additionalProperties: false, required: ['all'], properties: { all: { type: 'array', minItems: 1, maxItems: 50, items: { $ref: 'rapport.condition' } } } },
    { type: 'object', additionalProperties: false, required: ['any'], properties: { any: { type: 'array', minItems: 1, maxItems: 50, items: { $ref: 'rapport.condition' } } } },
    { type: 'object', additionalProperties: false, required: ['not'], properties: { not: { $ref: 'rapport.condition' } } },
    ...valueTests({ trait: TRAIT }, ['trait']),
    ...valueTests({ computed_trait: KEY }, ['computed_trait']),
    {
      type: 'object', additionalProperties: false, required: ['event'],
      properties: {
        event: { $ref: 'rapport.event-filter' },
        count: {
          type: 'object', additionalProperties: false, required: ['op', 'value'],
          properties: { op: { enum: ['at_least', 'at_most', 'exactly'] }, value: { type: 'integer', minimum: 0, maximum: 1_000_000 } },
          description: 'Default: at least 1.',
        },
        within: { $ref: 'rapport.window' },
      },
    },
    { type: 'object', additionalProperties: false, required: ['audience'], properties: { audience: KEY, member: { type: 'boolean', description: 'Default true; false: not a member.' } } },
    { type: 'object', additionalProperties: false, required: ['account'], properties: { account: { $ref: 'rapport.condition' } } },
  ],
};

export const audienceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['key', 'name', 'condition'],
  properties: {
    key: KEY,
    name: { type: 'string', minLength: 1, maxLength: 200 },
    description: { type: 'string', maxLength: 2000 },
    collection: { enum: ['users', 'accounts'], default: 'users' },
    condition: { $ref: 'rapport.condition' },
  },
};

export const computedTraitSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['key', 'name', 'kind'],
  properties: {
    key: KEY,
    name: { type: 'string', minLength: 1, maxLength: 200 },
    collection: { enum: ['users', 'accounts'], default: 'users' },
    kind: { enum: ['count', 'sum', 'avg', 'min', 'max', 'most_frequent', 'first', 'last', 'unique_list', 'unique_count', 'score'] },
    event: { $ref: 'rapport.event-filter' },
    property: PATH,
    within: { $ref: 'rapport.window' },
    rules: {
      type: 'array', minItems: 1, maxItems: 100,
      items: {
        oneOf: [
          { type: 'object', additionalProperties: false, required: ['event', 'points'], properties: { event: { $ref: 'rapport.event-filter' }, points: { type: 'number', minimum: -10_000, maximum: 10_000 } } },
          { type: 'object', additionalProperties: false, required: ['trait', 'points'], properties: { trait: { oneOf: valueTests({ trait: TRAIT }, ['trait']) }, points: { type: 'number', minimum: -10_000, maximum: 10_000 } } },
        ],
      },
    },
    decay: { type: 'object', additionalProperties: false, required: ['half_life_days'], properties: { half_life_days: { type: 'number', exclusiveMinimum: 0, maximum: 3650 } } },
  },
};

/** Shared schemas, registered once with Fastify (and so published in the OpenAPI document) and with the service's validator. */
export const sharedSchemas = [windowSchema, eventFilterSchema, conditionSchema];
