import { describe, expect, it } from 'vitest';
import type { ValueTest } from './definition.js';
import { filterType, matchesFilter, propertyRoot, readPath, testValue } from './match.js';

describe('value tests', () => {
  it.each<[string, ValueTest, unknown, boolean]>([
    ['exists holds for a present value', { op: 'exists' }, 0, true],
    ['exists holds for false and the empty string', { op: 'exists' }, '', true],
    ['exists fails for an absent value', { op: 'exists' }, undefined, false],
    ['exists fails for null', { op: 'exists' }, null, false],
    ['not_exists holds for an absent value', { op: 'not_exists' }, undefined, true],
    ['not_exists holds for null', { op: 'not_exists' }, null, true],
    ['not_exists fails for a present value', { op: 'not_exists' }, 'x', false],
    ['eq holds for the same string', { op: 'eq', value: 'pro' }, 'pro', true],
    ['eq is case-sensitive', { op: 'eq', value: 'pro' }, 'Pro', false],
    ['eq never equates the string "5" with the number 5', { op: 'eq', value: 5 }, '5', false],
    ['eq never equates the number 5 with the string "5"', { op: 'eq', value: '5' }, 5, false],
    ['eq holds for the same boolean', { op: 'eq', value: true }, true, true],
    ['eq never equates true with 1', { op: 'eq', value: true }, 1, false],
    ['eq fails for an absent value', { op: 'eq', value: 'pro' }, undefined, false],
    ['eq fails for an object', { op: 'eq', value: 'pro' }, { plan: 'pro' }, false],
    ['neq holds for another value', { op: 'neq', value: 'pro' }, 'free', true],
    ['neq holds for an absent value', { op: 'neq', value: 'pro' }, undefined, true],
    ['neq holds across types', { op: 'neq', value: 5 }, '5', true],
    ['neq fails for the same value', { op: 'neq', value: 'pro' }, 'pro', false],
    ['in holds for one of the values', { op: 'in', values: ['a', 2, false] }, 2, true],
    ['in holds for false among the values', { op: 'in', values: ['a', 2, false] }, false, true],
    ['in is typed', { op: 'in', values: ['a', 2, false] }, '2', false],
    ['not_in holds for none of the values', { op: 'not_in', values: ['a', 'b'] }, 'c', true],
    ['not_in holds for an absent value', { op: 'not_in', values: ['a', 'b'] }, undefined, true],
    ['not_in fails for one of the values', { op: 'not_in', values: ['a', 'b'] }, 'b', false],
    ['gt holds for a larger number', { op: 'gt', value: 10 }, 10.5, true],
    ['gt fails for an equal number', { op: 'gt', value: 10 }, 10, false],
    ['gte holds for an equal number', { op: 'gte', value: 10 }, 10, true],
    ['lt holds for a smaller number', { op: 'lt', value: 0 }, -1, true],
    ['lte holds for an equal number', { op: 'lte', value: 0 }, 0, true],
    ['numeric comparisons hold only for numbers, not numeric strings', { op: 'gt', value: 10 }, '20', false],
    ['numeric comparisons fail for an absent value', { op: 'lt', value: 10 }, undefined, false],
    ['numeric comparisons fail for null', { op: 'lte', value: 10 }, null, false],
    ['contains holds for a substring', { op: 'contains', value: 'acme' }, 'ops@acme.com', true],
    ['contains is case-sensitive', { op: 'contains', value: 'ACME' }, 'ops@acme.com', false],
    ['contains holds only for strings', { op: 'contains', value: '1' }, 123, false],
    ['starts_with holds for a prefix', { op: 'starts_with', value: 'ops@' }, 'ops@acme.com', true],
    ['starts_with fails for a substring elsewhere', { op: 'starts_with', value: 'acme' }, 'ops@acme.com', false],
    ['starts_with holds only for strings', { op: 'starts_with', value: 'tr' }, true, false],
  ])('%s', (_, test, value, expected) => {
    expect(testValue(test, value)).toBe(expected);
  });
});

describe('property paths', () => {
  it('reads a top-level property and descends into objects with dots', () => {
    const root = { plan: 'pro', address: { city: 'Oslo', geo: { lat: 59.9 } } };
    expect(readPath(root, 'plan')).toBe('pro');
    expect(readPath(root, 'address.city')).toBe('Oslo');
    expect(readPath(root, 'address.geo.lat')).toBe(59.9);
  });

  it('reads nothing from a missing path, a scalar or an array', () => {
    expect(readPath({ a: 1 }, 'b')).toBeUndefined();
    expect(readPath({ a: 1 }, 'a.b')).toBeUndefined();
    expect(readPath({ a: [{ b: 1 }] }, 'a.0.b')).toBeUndefined();
    expect(readPath(undefined, 'a')).toBeUndefined();
    expect(readPath(null, 'a')).toBeUndefined();
  });

  it('reads null as a value, so not_exists holds for it', () => {
    expect(readPath({ a: null }, 'a')).toBeNull();
  });

  it('treats a payload\'s __proto__ and inherited names as data, never as a way into prototypes', () => {
    const payload = JSON.parse('{"__proto__": {"admin": true}}') as Record<string, unknown>;
    expect(readPath(payload, '__proto__.admin')).toBe(true);
    expect(readPath({}, '__proto__')).toBeUndefined();
    expect(readPath({}, 'constructor')).toBeUndefined();
    expect(readPath({ a: {} }, 'a.toString')).toBeUndefined();
  });
});

describe('event filters', () => {
  const order = { type: 'track', event: 'Order Completed', message: { properties: { total: 30, coupon: 'SPRING', shipping: { country: 'NO' } } } };
  const identify = { type: 'identify', event: null, message: { traits: { plan: 'pro' }, properties: { plan: 'free' } } };
  const page = { type: 'page', event: 'Pricing', message: { properties: { path: '/pricing' } } };

  it('counts track events by default', () => {
    expect(filterType({})).toBe('track');
    expect(matchesFilter({}, order)).toBe(true);
    expect(matchesFilter({}, page)).toBe(false);
  });

  it('matches a track event by its name and a page by its name', () => {
    expect(matchesFilter({ name: 'Order Completed' }, order)).toBe(true);
    expect(matchesFilter({ name: 'Order Refunded' }, order)).toBe(false);
    expect(matchesFilter({ type: 'page', name: 'Pricing' }, page)).toBe(true);
    expect(matchesFilter({ type: 'page', name: 'Pricing' }, order)).toBe(false);
  });

  it('requires every property test to hold', () => {
    expect(matchesFilter({ name: 'Order Completed', where: [{ property: 'total', op: 'gte', value: 30 }, { property: 'coupon', op: 'exists' }] }, order)).toBe(true);
    expect(matchesFilter({ name: 'Order Completed', where: [{ property: 'total', op: 'gte', value: 30 }, { property: 'coupon', op: 'not_exists' }] }, order)).toBe(false);
    expect(matchesFilter({ where: [{ property: 'shipping.country', op: 'in', values: ['NO', 'SE'] }] }, order)).toBe(true);
  });

  it('tests the traits of identify and group calls, and the properties of everything else', () => {
    expect(propertyRoot('identify')).toBe('traits');
    expect(propertyRoot('group')).toBe('traits');
    expect(propertyRoot('track')).toBe('properties');
    expect(propertyRoot('page')).toBe('properties');
    expect(propertyRoot('screen')).toBe('properties');
    expect(matchesFilter({ type: 'identify', where: [{ property: 'plan', op: 'eq', value: 'pro' }] }, identify)).toBe(true);
    expect(matchesFilter({ type: 'identify', where: [{ property: 'plan', op: 'eq', value: 'free' }] }, identify)).toBe(false);
  });

  it('lets a negative test hold for an event without that property', () => {
    expect(matchesFilter({ where: [{ property: 'referrer', op: 'neq', value: 'ads' }] }, order)).toBe(true);
    expect(matchesFilter({ where: [{ property: 'referrer', op: 'not_in', values: ['ads'] }] }, order)).toBe(true);
  });
});
