import type { AggregateKind, Collection, EventFilter } from './definition.js';
import { matchesFilter, propertyRoot, filterType, readPath, type EventFacts } from './match.js';
import { bucketOf } from './window.js';

/**
 * An aggregate folds a profile's matching events into a small state, bucketed by event time so that a
 * rolling window can be read at any moment and states of two merged profiles can be added together.
 * Computed traits, scores (kind `points`) and the event conditions of audiences are all aggregates.
 */
export interface AggregateSpec {
  id: string;
  workspaceId: string;
  collection: Collection;
  kind: AggregateKind | 'points';
  /** An event counts when any filter matches (scores have one per rule). */
  filters: EventFilter[];
  property?: string;
  /** Points of a matching event (kind `points`): the sum over the rules whose filter it matches. */
  points?: number[];
  /** Bucket width in ms; Infinity keeps one all-time bucket. */
  bucket: number;
  /** How far back buckets are kept, in ms (Infinity: forever). */
  retain: number;
  /** The windows (ms) the value is read over, when bucketed: when a bucket leaves one, the value changes. */
  windows?: number[];
  /** Kind `points`: the half-life in ms of an event's points. */
  decay?: number;
}

type Pick3 = [number, number, string];
type Partial = number | [number, number] | Record<string, number> | Pick3;
export type AggregateState = Record<string, Partial>;

/** At most this many distinct values per bucket are kept for most_frequent and unique_*. */
export const DISTINCT_CAP = 1000;
const LIST_LIMIT = 100;

export interface EventAt extends EventFacts {
  timestamp: number;
  offset: number;
}

/** Folds one event into `state`; returns false when the event does not count for this aggregate. */
export function addEvent(spec: AggregateSpec, state: AggregateState, e: EventAt): boolean {
  let points = 0;
  let matched = false;
  spec.filters.forEach((f, i) => {
    if (matchesFilter(f, e)) {
      matched = true;
      points += spec.points?.[i] ?? 0;
    }
  });
  if (!matched) return false;
  const key = String(bucketOf(e.timestamp, spec.bucket));
  const prior = state[key];
  switch (spec.kind) {
    case 'count':
      state[key] = ((prior as number | undefined) ?? 0) + 1;
      return true;
    case 'points':
      // Decaying points are stored as worth at the bucket's start, so reading them later decays each
      // event from its own time: p * 0.5^((now - t) / h) = (p * 2^((t - b) / h)) * 0.5^((now - b) / h).
      state[key] = ((prior as number | undefined) ?? 0) + (spec.decay ? points * 2 ** ((e.timestamp - Number(key)) / spec.decay) : points);
      return true;
  }
  const value = readPath(e.message[propertyRoot(filterType(spec.filters[0]))], spec.property ?? '');
  if (value === undefined || value === null) return false;
  switch (spec.kind) {
    case 'sum':
    case 'avg': {
      if (!isNumber(value)) return false;
      const [sum, n] = (prior as [number, number] | undefined) ?? [0, 0];
      state[key] = [sum + value, n + 1];
      return true;
    }
    case 'min':
    case 'max': {
      if (!isNumber(value)) return false;
      state[key] = prior === undefined ? value : spec.kind === 'min' ? Math.min(prior as number, value) : Math.max(prior as number, value);
      return true;
    }
    case 'most_frequent':
    case 'unique_list':
    case 'unique_count': {
      const counts = (prior as Record<string, number> | undefined) ?? {};
      const json = JSON.stringify(value);
      if (counts[json] === undefined && Object.keys(counts).length >= DISTINCT_CAP) return false;
      counts[json] = (counts[json] ?? 0) + 1;
      state[key] = counts;
      return true;
    }
    case 'first':
    case 'last': {
      const pick: Pick3 = [e.timestamp, e.offset, JSON.stringify(value)];
      state[key] = prior === undefined ? pick : choose(spec.kind, prior as Pick3, pick);
      return true;
    }
  }
}

/** Numbers in numeric order, then everything else by its JSON text. */
function byValue(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  const [x, y] = [JSON.stringify(a), JSON.stringify(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const earlier = (a: Pick3, b: Pick3) => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
const choose = (kind: 'first' | 'last', a: Pick3, b: Pick3): Pick3 => (kind === 'first' ? (earlier(b, a) ? b : a) : earlier(a, b) ? b : a);

function combine(kind: AggregateSpec['kind'], a: Partial, b: Partial): Partial {
  switch (kind) {
    case 'count':
    case 'points':
      return (a as number) + (b as number);
    case 'sum':
    case 'avg':
      return [(a as number[])[0] + (b as number[])[0], (a as number[])[1] + (b as number[])[1]];
    case 'min':
      return Math.min(a as number, b as number);
    case 'max':
      return Math.max(a as number, b as number);
    case 'first':
    case 'last':
      return choose(kind, a as Pick3, b as Pick3);
    default: {
      const out = { ...(a as Record<string, number>) };
      for (const [v, n] of Object.entries(b as Record<string, number>)) {
        if (out[v] === undefined && Object.keys(out).length >= DISTINCT_CAP) continue;
        out[v] = (out[v] ?? 0) + n;
      }
      return out;
    }
  }
}

/** The state of two merged profiles: bucket by bucket, as if one profile had seen both event streams. */
export function mergeStates(spec: AggregateSpec, a: AggregateState, b: AggregateState): AggregateState {
  const out: AggregateState = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = out[k] === undefined ? v : combine(spec.kind, out[k], v);
  return out;
}

/**
 * When the value read from `state` next changes by time alone: the first moment one of its buckets leaves
 * one of the windows read over it (a bucket B leaves window W once floor((now - W) / b) * b > B, i.e. at
 * B + b + W). null when time alone never changes it. The time re-check visits exactly these states.
 */
export function expiresAt(spec: AggregateSpec, state: AggregateState, now: number): number | null {
  if (spec.bucket === Infinity || !spec.windows?.length) return null;
  let next = Infinity;
  for (const k of Object.keys(state)) {
    for (const w of spec.windows) {
      const t = Number(k) + spec.bucket + w;
      if (t > now && t < next) next = t;
    }
  }
  return next === Infinity ? null : next;
}

/** Drops buckets older than the aggregate keeps; returns whether anything is left. */
export function prune(spec: AggregateSpec, state: AggregateState, now: number): boolean {
  if (spec.retain !== Infinity) {
    const from = now - spec.retain - spec.bucket;
    for (const k of Object.keys(state)) if (Number(k) < from) delete state[k];
  }
  return Object.keys(state).length > 0;
}

/**
 * The aggregate's value over the buckets from `from` on (a window start; -Infinity for all time).
 * undefined when no matching event is in the window: a computed trait then has no value.
 * `decay`: kind `points` only, the half-life in ms of an event's points.
 */
export function valueOf(spec: AggregateSpec, state: AggregateState, from: number, now: number, halfLife?: number): unknown {
  const decay = spec.decay ?? halfLife;
  let acc: Partial | undefined;
  let decayed = 0;
  for (const [k, v] of Object.entries(state)) {
    const bucket = Number(k);
    if (bucket < from) continue;
    if (spec.kind === 'points' && decay) decayed += (v as number) * 0.5 ** (Math.max(0, now - bucket) / decay);
    acc = acc === undefined ? v : combine(spec.kind, acc, v);
  }
  if (acc === undefined) return undefined;
  switch (spec.kind) {
    case 'count':
      return acc;
    case 'points':
      return decay ? decayed : acc;
    case 'sum':
      return (acc as number[])[0];
    case 'avg':
      return (acc as number[])[0] / (acc as number[])[1];
    case 'min':
    case 'max':
      return acc;
    case 'first':
    case 'last':
      return JSON.parse((acc as Pick3)[2]);
    case 'most_frequent': {
      let best: [string, number] | undefined;
      for (const [v, n] of Object.entries(acc as Record<string, number>)) if (!best || n > best[1] || (n === best[1] && v < best[0])) best = [v, n];
      return JSON.parse(best![0]);
    }
    case 'unique_count':
      return Object.keys(acc as Record<string, number>).length;
    case 'unique_list':
      return Object.keys(acc as Record<string, number>).map((v) => JSON.parse(v) as unknown).sort(byValue).slice(0, LIST_LIMIT);
  }
}
