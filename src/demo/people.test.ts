import { describe, expect, it } from 'vitest';
import { dealImport } from './crm.js';
import { generatePopulation } from './people.js';

const NOW = Date.UTC(2026, 10, 24, 12);

describe('the demo population', () => {
  it('is the same for the same seed, and another for another seed', () => {
    const a = generatePopulation({ seed: 1, profiles: 100, now: NOW });
    expect(generatePopulation({ seed: 1, profiles: 100, now: NOW })).toEqual(a);
    expect(generatePopulation({ seed: 2, profiles: 100, now: NOW }).calls.map((c) => c.messageId)).not.toEqual(a.calls.map((c) => c.messageId));
  });

  it('keeps each visitor whatever the size, so a bigger run only adds people', () => {
    const small = generatePopulation({ seed: 1, profiles: 50, now: NOW });
    const big = generatePopulation({ seed: 1, profiles: 80, now: NOW });
    const byId = new Map(big.calls.map((c) => [c.messageId, c]));
    const visitorCalls = small.calls.filter((c) => c.type !== 'group');
    for (const call of visitorCalls) expect(byId.get(call.messageId)).toMatchObject({ type: call.type, timestamp: call.timestamp });
  });

  it('spreads the calls over the last 90 days, oldest first, with unique message ids', () => {
    const { calls } = generatePopulation({ seed: 1, profiles: 200, now: NOW });
    const times = calls.map((c) => Date.parse(c.timestamp));
    expect(times).toEqual([...times].sort((x, y) => x - y));
    expect(Math.min(...times)).toBeGreaterThan(NOW - 91 * 86_400_000);
    expect(Math.max(...times)).toBeLessThan(NOW);
    expect(new Set(calls.map((c) => c.messageId)).size).toBe(calls.length);
  });

  it('has visitors who stay anonymous, people who log in on a second device, buyers and accounts', () => {
    const { calls, people } = generatePopulation({ seed: 1, profiles: 200, now: NOW });
    expect(calls.some((c) => c.anonymousId && !c.userId)).toBe(true);
    expect(people.some((p) => p.merged)).toBe(true);
    expect(people.some((p) => p.orders > 0)).toBe(true);
    expect(calls.some((c) => c.type === 'group')).toBe(true);
    expect(calls.filter((c) => c.type === 'track' && c.event === 'Order Completed').every((c) => (c.properties as { revenue: number }).revenue > 0)).toBe(true);
  });

  it('puts deals in every stage, even for a small demo', () => {
    const { people } = generatePopulation({ seed: 1, profiles: 30, now: NOW });
    const rows = dealImport(1, people, NOW, 'owner')!.csv.trim().split('\n').slice(1);
    for (const stage of ['Qualification', 'Meeting scheduled', 'Proposal', 'Negotiation', 'Won', 'Lost']) expect(rows.some((r) => r.includes(`,${stage},`))).toBe(true);
  });
});
