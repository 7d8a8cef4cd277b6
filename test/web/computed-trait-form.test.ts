import { describe, expect, it } from 'vitest';
import { computedTraitsIn, fromDefinition, toDefinition, windowText, type TraitDefinition } from '../../web/src/computed-trait-form.js';

const roundTrip = (d: TraitDefinition) => toDefinition(fromDefinition(d));

describe("the computed trait form as the definition language", () => {
  it('gives back an aggregate as it was saved: event filter, property tests, property and window', () => {
    const spent: TraitDefinition = {
      key: 'spent', name: 'Spent', collection: 'users', kind: 'sum', property: 'total', within: { last: 12, unit: 'hours' },
      event: { type: 'track', name: 'Order Completed', where: [{ property: 'currency', op: 'in', values: ['EUR', 'USD'] }, { property: 'total', op: 'gt', value: 5 }] },
    };
    expect(roundTrip(spent)).toEqual(spent);
  });

  it('gives back a score with event and trait rules and decay, and sends no event or property with it', () => {
    const score: TraitDefinition = {
      key: 'engagement', name: 'Engagement', collection: 'users', kind: 'score', decay: { half_life_days: 7 },
      rules: [{ event: { type: 'page', name: 'Pricing' }, points: 3 }, { trait: { trait: 'plan', op: 'exists' }, points: -2 }],
    };
    expect(roundTrip(score)).toEqual(score);
  });

  it('sends a count without a property even when one was typed for another kind', () => {
    const form = { ...fromDefinition({ key: 'n', name: 'N', collection: 'users', kind: 'sum', property: 'total', event: { name: 'Order Completed' } }), kind: 'count' as const };
    expect(toDefinition(form)).toEqual({ key: 'n', name: 'N', collection: 'users', kind: 'count', event: { type: 'track', name: 'Order Completed' } });
  });

  it('says the window in words and finds the computed traits a condition uses', () => {
    expect(windowText(undefined)).toBe('all time');
    expect(windowText({ last: 1, unit: 'days' })).toBe('last 1 day');
    expect(windowText({ last: 30, unit: 'days' })).toBe('last 30 days');
    expect([...computedTraitsIn({ all: [{ computed_trait: 'spent', op: 'gt', value: 1 }, { account: { not: { computed_trait: 'seats', op: 'exists' } } }] })]).toEqual(['spent', 'seats']);
  });
});
