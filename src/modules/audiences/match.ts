import type { EventFilter, EventType, Scalar, ValueTest } from './definition.js';

/**
 * The meaning of a value test, which compile.ts reproduces in SQL. `value` is the decoded JSON value, or
 * undefined when absent. Tests are typed: `eq` never equates the string "5" with the number 5, numeric
 * comparisons hold only for numbers and substring tests only for strings (case-sensitive).
 */
export function testValue(test: ValueTest, value: unknown): boolean {
  switch (test.op) {
    case 'exists':
      return value !== undefined && value !== null;
    case 'not_exists':
      return value === undefined || value === null;
    case 'eq':
      return sameScalar(value, test.value);
    case 'neq':
      return !sameScalar(value, test.value);
    case 'in':
      return test.values.some((v) => sameScalar(value, v));
    case 'not_in':
      return !test.values.some((v) => sameScalar(value, v));
    case 'gt':
      return typeof value === 'number' && value > test.value;
    case 'gte':
      return typeof value === 'number' && value >= test.value;
    case 'lt':
      return typeof value === 'number' && value < test.value;
    case 'lte':
      return typeof value === 'number' && value <= test.value;
    case 'contains':
      return typeof value === 'string' && value.includes(test.value);
    case 'starts_with':
      return typeof value === 'string' && value.startsWith(test.value);
  }
}

const sameScalar = (value: unknown, expected: Scalar) => typeof value === typeof expected && value === expected;

/** Reads `a.b.c` from an object, own properties only (a payload's `__proto__` key is data, not a path). */
export function readPath(root: unknown, path: string): unknown {
  let at = root;
  for (const key of path.split('.')) {
    if (at === null || typeof at !== 'object' || Array.isArray(at) || !Object.hasOwn(at, key)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

export const filterType = (filter: EventFilter): EventType => filter.type ?? 'track';

/** Where an event's tested values live: `traits` for identify and group calls, `properties` otherwise. */
export const propertyRoot = (type: EventType): 'traits' | 'properties' => (type === 'identify' || type === 'group' ? 'traits' : 'properties');

/** The event facts a filter looks at, as the log stores them. */
export interface EventFacts {
  type: string;
  event: string | null;
  message: Record<string, unknown>;
}

/** The events Rapport appends itself; a filter counts them only when it names them. */
export const DERIVED_EVENTS = ['Audience Entered', 'Audience Exited'];

export function matchesFilter(filter: EventFilter, e: EventFacts): boolean {
  const type = filterType(filter);
  if (e.type !== type) return false;
  if (filter.name !== undefined ? e.event !== filter.name : type === 'track' && DERIVED_EVENTS.includes(e.event ?? '')) return false;
  if (!filter.where?.length) return true;
  const root = e.message[propertyRoot(type)];
  return filter.where.every((w) => testValue(w, readPath(root, w.property)));
}
