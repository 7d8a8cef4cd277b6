import { describe, expect, it } from 'vitest';
import { addEvent, DISTINCT_CAP, mergeStates, prune, valueOf, type AggregateSpec, type AggregateState, type EventAt } from './aggregate.js';
import type { EventFilter } from './definition.js';
import { DAY, HOUR, MINUTE } from './window.js';

const NOON = Date.parse('2026-05-01T12:00:00.000Z');
const ORDER: EventFilter = { name: 'Order Completed' };

function spec(kind: AggregateSpec['kind'], more: Partial<AggregateSpec> = {}): AggregateSpec {
  return { id: 'ct:test', workspaceId: 'w', collection: 'users', kind, filters: [ORDER], property: 'total', bucket: Infinity, retain: Infinity, ...more };
}

let offset = 0;
function order(properties: Record<string, unknown>, timestamp = NOON, event = 'Order Completed'): EventAt {
  return { type: 'track', event, message: { properties }, timestamp, offset: offset++ };
}

function fold(s: AggregateSpec, events: EventAt[], state: AggregateState = {}): AggregateState {
  for (const e of events) addEvent(s, state, e);
  return state;
}

const valueAfter = (s: AggregateSpec, events: EventAt[], now = NOON) => valueOf(s, fold(s, events), -Infinity, now);

describe('computed trait aggregates', () => {
  const totals = [order({ total: 10 }), order({ total: 30 }), order({ total: 20 })];

  it('counts the matching events and nothing else', () => {
    const s = spec('count', { property: undefined });
    const state: AggregateState = {};
    expect(addEvent(s, state, order({}))).toBe(true);
    expect(addEvent(s, state, order({}, NOON, 'Order Refunded'))).toBe(false);
    expect(addEvent(s, state, { type: 'page', event: 'Order Completed', message: {}, timestamp: NOON, offset: offset++ })).toBe(false);
    expect(valueOf(s, state, -Infinity, NOON)).toBe(1);
  });

  it('sums, averages, and takes the minimum and maximum of a numeric property', () => {
    expect(valueAfter(spec('sum'), totals)).toBe(60);
    expect(valueAfter(spec('avg'), totals)).toBe(20);
    expect(valueAfter(spec('min'), totals)).toBe(10);
    expect(valueAfter(spec('max'), totals)).toBe(30);
  });

  it('leaves out events whose property is missing, null or not a number from sum, avg, min and max', () => {
    const mixed = [order({ total: 10 }), order({ total: '100' }), order({ total: null }), order({}), order({ total: { amount: 5 } }), order({ total: 20 })];
    expect(valueAfter(spec('sum'), mixed)).toBe(30);
    expect(valueAfter(spec('avg'), mixed)).toBe(15);
    expect(valueAfter(spec('min'), mixed)).toBe(10);
    expect(valueAfter(spec('max'), mixed)).toBe(20);
  });

  it('has no value until a matching event carries the property', () => {
    for (const kind of ['sum', 'avg', 'min', 'max', 'most_frequent', 'first', 'last', 'unique_list', 'unique_count'] as const) {
      expect(valueAfter(spec(kind), [order({ other: 1 })]), kind).toBeUndefined();
    }
    expect(valueAfter(spec('count'), [])).toBeUndefined();
  });

  it('reads a nested property by its dotted path', () => {
    expect(valueAfter(spec('sum', { property: 'price.amount' }), [order({ price: { amount: 2.5 } }), order({ price: { amount: 4 } })])).toBe(6.5);
  });

  it('takes the most frequent value, breaking a tie by the smallest value', () => {
    const s = spec('most_frequent', { property: 'category' });
    expect(valueAfter(s, ['toys', 'books', 'books', 'games'].map((category) => order({ category })))).toBe('books');
    expect(valueAfter(s, ['toys', 'books', 'toys', 'books'].map((category) => order({ category })))).toBe('books');
  });

  it('keeps values typed: the number 5 and the string "5" are two values', () => {
    const s = spec('unique_count', { property: 'size' });
    expect(valueAfter(s, [order({ size: 5 }), order({ size: '5' }), order({ size: 5 })])).toBe(2);
    expect(valueAfter(spec('unique_list', { property: 'size' }), [order({ size: 5 }), order({ size: '5' })])).toEqual([5, '5']);
  });

  it('takes the first and the last value by event time, whatever order the events arrive in', () => {
    const late = order({ category: 'games' }, NOON + HOUR);
    const early = order({ category: 'toys' }, NOON - HOUR);
    const middle = order({ category: 'books' }, NOON);
    expect(valueAfter(spec('first', { property: 'category' }), [late, early, middle])).toBe('toys');
    expect(valueAfter(spec('last', { property: 'category' }), [late, early, middle])).toBe('games');
  });

  it('breaks a tie in event time by log order', () => {
    const a = { ...order({ category: 'a' }), offset: 7 };
    const b = { ...order({ category: 'b' }), offset: 8 };
    expect(valueAfter(spec('first', { property: 'category' }), [b, a])).toBe('a');
    expect(valueAfter(spec('last', { property: 'category' }), [b, a])).toBe('b');
  });

  it('keeps objects and arrays as values for first and last', () => {
    expect(valueAfter(spec('last', { property: 'items' }), [order({ items: [{ sku: 'A' }] })])).toEqual([{ sku: 'A' }]);
  });

  it('lists the distinct values, sorted, and counts them', () => {
    const events = ['toys', 'books', 'toys', 'games'].map((category) => order({ category }));
    expect(valueAfter(spec('unique_list', { property: 'category' }), events)).toEqual(['books', 'games', 'toys']);
    expect(valueAfter(spec('unique_count', { property: 'category' }), events)).toBe(3);
  });

  it('lists at most 100 distinct values', () => {
    const events = Array.from({ length: 150 }, (_, i) => order({ sku: `sku-${String(i).padStart(3, '0')}` }));
    const list = valueAfter(spec('unique_list', { property: 'sku' }), events) as string[];
    expect(list).toHaveLength(100);
    expect(list[0]).toBe('sku-000');
    expect(list[99]).toBe('sku-099');
    expect(valueAfter(spec('unique_count', { property: 'sku' }), events)).toBe(150);
  });

  it(`keeps at most ${DISTINCT_CAP} distinct values, still counting the ones it keeps`, () => {
    const s = spec('unique_count', { property: 'sku' });
    const state = fold(s, Array.from({ length: DISTINCT_CAP }, (_, i) => order({ sku: i })));
    expect(addEvent(s, state, order({ sku: 'one too many' }))).toBe(false);
    expect(addEvent(s, state, order({ sku: 0 }))).toBe(true);
    expect(valueOf(s, state, -Infinity, NOON)).toBe(DISTINCT_CAP);
    expect(valueOf(spec('most_frequent', { property: 'sku' }), state, -Infinity, NOON)).toBe(0);
  });
});

describe('windows over aggregates', () => {
  const minutely = spec('count', { property: undefined, bucket: MINUTE, retain: HOUR });

  it('reads only the buckets from the window start on', () => {
    const state = fold(minutely, [order({}, NOON - 2 * HOUR), order({}, NOON - 30 * MINUTE), order({}, NOON - 1)]);
    expect(valueOf(minutely, state, NOON - HOUR, NOON)).toBe(2);
    expect(valueOf(minutely, state, NOON, NOON)).toBeUndefined();
    expect(valueOf(minutely, state, -Infinity, NOON)).toBe(3);
  });

  it('prunes the buckets older than the window can reach, and says when nothing is left', () => {
    const state = fold(minutely, [order({}, NOON - 2 * HOUR), order({}, NOON - 30 * MINUTE)]);
    expect(prune(minutely, state, NOON)).toBe(true);
    expect(valueOf(minutely, state, -Infinity, NOON)).toBe(1);
    expect(prune(minutely, state, NOON + 2 * HOUR)).toBe(false);
    expect(state).toEqual({});
  });

  it('keeps one bucket longer than the window, so the window start can still be read', () => {
    const state = fold(minutely, [order({}, NOON - HOUR - MINUTE)]);
    expect(prune(minutely, state, NOON)).toBe(true);
  });

  it('never prunes an all-time aggregate', () => {
    const s = spec('count', { property: undefined });
    const state = fold(s, [order({}, 0)]);
    expect(prune(s, state, NOON + 1000 * DAY)).toBe(true);
    expect(Object.keys(state)).toEqual(['0']);
  });
});

describe('score points', () => {
  const score = spec('points', {
    property: undefined,
    filters: [{ name: 'Article Read' }, { name: 'Article Read', where: [{ property: 'premium', op: 'eq', value: true }] }, { name: 'Demo Requested' }],
    points: [10, 5, 50],
    bucket: DAY,
  });
  const read = (premium: boolean, at = NOON) => order({ premium }, at, 'Article Read');

  it('adds the points of every rule an event matches', () => {
    expect(valueAfter(score, [read(false), read(true), order({}, NOON, 'Demo Requested')])).toBe(10 + 15 + 50);
  });

  it('gives no points for an event no rule matches', () => {
    const state: AggregateState = {};
    expect(addEvent(score, state, order({}))).toBe(false);
    expect(valueOf(score, state, -Infinity, NOON)).toBeUndefined();
  });

  it('halves an event\'s points every half-life', () => {
    const dayStart = Math.floor(NOON / DAY) * DAY;
    const state = fold(score, [read(false, dayStart)]);
    const week = 7 * DAY;
    expect(valueOf(score, state, -Infinity, dayStart, week)).toBe(10);
    expect(valueOf(score, state, -Infinity, dayStart + week, week)).toBeCloseTo(5, 10);
    expect(valueOf(score, state, -Infinity, dayStart + 2 * week, week)).toBeCloseTo(2.5, 10);
  });

  it('decays each day\'s points from that day on', () => {
    const dayStart = Math.floor(NOON / DAY) * DAY;
    const state = fold(score, [read(false, dayStart), read(false, dayStart + DAY)]);
    expect(valueOf(score, state, -Infinity, dayStart + DAY, DAY)).toBeCloseTo(5 + 10, 10);
  });
});

describe('merging two profiles\' aggregates', () => {
  // A small deterministic generator, so a failure replays.
  function random(seed: number) {
    return () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  }
  const kinds = ['count', 'sum', 'avg', 'min', 'max', 'most_frequent', 'first', 'last', 'unique_list', 'unique_count', 'points'] as const;

  it.each(kinds)('gives %s the value one profile would have had with both event streams', (kind) => {
    const next = random(kind.length * 7919);
    for (let round = 0; round < 20; round++) {
      const s = spec(kind, {
        property: kind === 'count' || kind === 'points' ? undefined : kind.includes('unique') || kind === 'most_frequent' || kind === 'first' || kind === 'last' ? 'category' : 'total',
        bucket: MINUTE,
        retain: DAY,
        points: kind === 'points' ? [3] : undefined,
      });
      const events = Array.from({ length: 1 + Math.floor(next() * 12) }, (_, i) =>
        ({ ...order({ total: Math.round(next() * 100), category: ['a', 'b', 'c', 'd'][Math.floor(next() * 4)] }, NOON - Math.floor(next() * 10) * MINUTE), offset: i }));
      const mine = events.filter(() => next() < 0.5);
      const theirs = events.filter((e) => !mine.includes(e));
      const merged = mergeStates(s, fold(s, mine), fold(s, theirs));
      const together = fold(s, events);
      for (const from of [-Infinity, NOON - 5 * MINUTE]) {
        expect(valueOf(s, merged, from, NOON), `${kind}, round ${round}`).toEqual(valueOf(s, together, from, NOON));
      }
    }
  });

  it('keeps the other profile\'s buckets when one side has none', () => {
    const s = spec('sum', { bucket: MINUTE, retain: DAY });
    const theirs = fold(s, [order({ total: 4 }, NOON - MINUTE)]);
    expect(mergeStates(s, {}, theirs)).toEqual(theirs);
    expect(mergeStates(s, theirs, {})).toEqual(theirs);
  });
});
