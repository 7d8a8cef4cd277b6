import { describe, expect, it } from 'vitest';
import { incomplete, keyFrom, newRow, toCondition, type ConditionRow } from '../../web/src/audience-condition.js';

const row = (change: Partial<ConditionRow>): ConditionRow => ({ ...newRow(change.kind), ...change });

describe("the audience builder's rows as the definition language", () => {
  it('writes one row alone, several under all or any, and a negated row under not', () => {
    const pro = row({ kind: 'trait', subject: 'plan', op: 'eq', value: 'pro' });
    expect(toCondition('all', [pro])).toEqual({ trait: 'plan', op: 'eq', value: 'pro' });
    const buyer = row({ kind: 'event', subject: 'Order Completed', countOp: 'at_least', count: 2, withinDays: 30 });
    expect(toCondition('any', [pro, { ...buyer, negate: true }])).toEqual({
      any: [
        { trait: 'plan', op: 'eq', value: 'pro' },
        { not: { event: { type: 'track', name: 'Order Completed' }, count: { op: 'at_least', value: 2 }, within: { last: 30, unit: 'days' } } },
      ],
    });
    expect(toCondition('all', [])).toBeNull();
  });

  it('types values: numbers and booleans as such, lists split on commas, tests without a value bare', () => {
    expect(toCondition('all', [row({ kind: 'trait', subject: 'age', op: 'gte', value: '18' })])).toEqual({ trait: 'age', op: 'gte', value: 18 });
    expect(toCondition('all', [row({ kind: 'trait', subject: 'vip', op: 'eq', value: 'true' })])).toEqual({ trait: 'vip', op: 'eq', value: true });
    expect(toCondition('all', [row({ kind: 'trait', subject: 'zip', op: 'starts_with', value: '75' })])).toEqual({ trait: 'zip', op: 'starts_with', value: '75' });
    expect(toCondition('all', [row({ kind: 'trait', subject: 'plan', op: 'in', value: 'pro, team,' })])).toEqual({ trait: 'plan', op: 'in', values: ['pro', 'team'] });
    expect(toCondition('all', [row({ kind: 'computed_trait', subject: 'orders', op: 'exists', value: '' })])).toEqual({ computed_trait: 'orders', op: 'exists' });
    expect(toCondition('all', [row({ kind: 'audience', subject: 'churn_risk' })])).toEqual({ audience: 'churn_risk', member: true });
    expect(toCondition('all', [row({ kind: 'event', eventType: 'page', subject: '' })])).toEqual({ event: { type: 'page' }, count: { op: 'at_least', value: 1 } });
  });

  it('says what a row lacks before it is sent', () => {
    expect(incomplete(row({ kind: 'trait', subject: ' ' }))).toBe('Name the trait.');
    expect(incomplete(row({ kind: 'trait', subject: 'plan', op: 'eq', value: '' }))).toBe('Give a value.');
    expect(incomplete(row({ kind: 'trait', subject: 'age', op: 'gt', value: 'old' }))).toBe('The value must be a number.');
    expect(incomplete(row({ kind: 'audience', subject: '' }))).toBe('Pick the audience.');
    expect(incomplete(row({ kind: 'event', subject: '' }))).toBeNull();
  });

  it('makes a key from a name', () => {
    expect(keyFrom('Pro users (EU)')).toBe('pro_users_eu');
    expect(keyFrom('30-day buyers')).toBe('a_30_day_buyers');
    expect(keyFrom('Café crème')).toBe('cafe_creme');
  });
});
