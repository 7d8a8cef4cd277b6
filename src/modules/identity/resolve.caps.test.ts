import { describe, expect, it } from 'vitest';
import { GraphView } from './graph.js';
import { resolveEvent } from './resolve.js';
import { RuleBook } from './rules.js';

describe('identity caps', () => {
  it('never lets a profile hold more identifiers than the cap, even when the merge cap has refused a merge', () => {
    const rules = new RuleBook([], { mergesPerProfile: 1, identifiersPerProfile: 3 });
    const view = new GraphView();
    let n = 0;
    let offset = 0;
    const see = (ids: [string, string][]) =>
      resolveEvent(view, rules, { collection: 'users', identifiers: ids.map(([type, value]) => ({ type, value })), at: 1_000, offset: ++offset }, () => `p${++n}`);
    see([['email', 'hub@x.io'], ['device_id', 'd1']]);
    see([['anonymous_id', 'a1']]);
    see([['email', 'hub@x.io'], ['anonymous_id', 'a1']]); // p1 absorbs p2: 3 identifiers, 1 merge, both caps reached
    see([['anonymous_id', 'a2']]);
    // The merge with a2's profile is refused (merge cap), and the event falls back to attaching to p1.
    const r = see([['email', 'hub@x.io'], ['anonymous_id', 'a2'], ['phone', '+15550100']]);
    expect(r.warnings.map((w) => w.code)).toContain('merge_cap');
    expect(view.profiles.get('p1')!.identifiers.size).toBeLessThanOrEqual(3);
  });
});
