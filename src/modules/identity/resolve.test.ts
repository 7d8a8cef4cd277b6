import { describe, expect, it } from 'vitest';
import { GraphView } from './graph.js';
import { extractIdentifiers, normalizePhone } from './identifiers.js';
import { resolveEvent, type Resolution } from './resolve.js';
import { RuleBook } from './rules.js';

const DAY = 86_400_000;

function world(rules = new RuleBook()) {
  const view = new GraphView();
  let n = 0;
  let offset = 0;
  const see = (ids: Record<string, string>[] | Record<string, string>, at = 1_000_000): Resolution => {
    const list = (Array.isArray(ids) ? ids : [ids]).flatMap((o) => Object.entries(o).map(([type, value]) => ({ type, value })));
    return resolveEvent(view, rules, { collection: 'users', identifiers: list, at, offset: ++offset }, () => `p${++n}`);
  };
  const idsOf = (profileId: string | null) => [...(view.profiles.get(profileId!)?.identifiers.keys() ?? [])].sort();
  return { view, see, idsOf };
}

describe('identity resolution', () => {
  it('creates a profile for identifiers never seen', () => {
    const { see } = world();
    expect(see({ anonymous_id: 'a1' })).toMatchObject({ profileId: 'p1', created: true });
  });

  it('attaches new identifiers to the one profile that matches', () => {
    const { see, idsOf } = world();
    see({ anonymous_id: 'a1' });
    const r = see({ anonymous_id: 'a1', email: 'x@y.z' });
    expect(r).toMatchObject({ profileId: 'p1', created: false });
    expect(idsOf('p1')).toEqual(['anonymous_id:a1', 'email:x@y.z']);
  });

  it('merges an anonymous visitor into the account that logs in, keeping the older profile', () => {
    const { see, idsOf } = world();
    see({ user_id: 'u1' });
    see({ anonymous_id: 'a1' });
    const r = see({ user_id: 'u1', anonymous_id: 'a1' });
    expect(r.profileId).toBe('p1');
    expect(r.merged).toEqual([{ profileId: 'p2', anchor: [{ type: 'user_id', value: 'u1' }], via: [{ type: 'anonymous_id', value: 'a1' }], moved: [{ type: 'anonymous_id', value: 'a1' }] }]);
    expect(idsOf('p1')).toEqual(['anonymous_id:a1', 'user_id:u1']);
  });

  it('never puts two user_ids on one profile: a shared device keeps two people apart', () => {
    const { see, idsOf } = world();
    see({ user_id: 'alice', anonymous_id: 'ipad' });
    const r = see({ user_id: 'bob', anonymous_id: 'ipad' });
    expect(r.profileId).not.toBe('p1');
    expect(r.warnings[0]).toMatchObject({ code: 'limit_exceeded', rule: 'limit:user_id', identifier: { type: 'anonymous_id', value: 'ipad' } });
    expect(idsOf('p1')).toEqual(['anonymous_id:ipad', 'user_id:alice']);
    expect(idsOf(r.profileId)).toEqual(['user_id:bob']);
  });

  it('gives a new user_id its own profile even when it arrives with a known email (Segment semantics)', () => {
    const { see } = world();
    see({ user_id: 'abc123', email: 'shared@acme.com' });
    const r = see({ user_id: 'abc456', email: 'shared@acme.com' });
    expect(r).toMatchObject({ profileId: 'p2', created: true });
  });

  it('ignores blocked and junk values', () => {
    const { see } = world();
    see({ user_id: 'u1', anonymous_id: 'null' });
    for (const junk of ['undefined', 'anonymous', 'guest', '0', '-1', '0000', '--', '[object Object]', 'NaN', 'email', 'id', '']) {
      const r = see({ user_id: 'u2', anonymous_id: junk });
      expect(r.profileId).toBe('p2');
      expect(r.warnings[0]?.code).toBe('blocked_value');
    }
    expect(see({ anonymous_id: 'null' })).toMatchObject({ profileId: null });
  });

  it('honours configured blocked values', () => {
    const { see } = world(new RuleBook([{ type: 'email', priority: 2, limit: 5, windowMs: null, blocked: ['team@acme.com'] }]));
    see({ user_id: 'u1', email: 'team@acme.com' });
    expect(see({ user_id: 'u2', email: 'team@acme.com' })).toMatchObject({ profileId: 'p2', created: true });
  });

  it('limits anonymous_ids per rolling window and lets old ones age out', () => {
    const { see } = world();
    const t0 = 100 * DAY;
    for (let i = 0; i < 5; i++) expect(see({ user_id: 'u1', anonymous_id: `a${i}` }, t0 + i).profileId).toBe('p1');
    const sixth = see({ user_id: 'u1', anonymous_id: 'a5' }, t0 + 10);
    expect(sixth.profileId).toBe('p1');
    expect(sixth.attached).toEqual([]);
    expect(sixth.warnings[0]).toMatchObject({ rule: 'limit:anonymous_id' });
    const later = see({ user_id: 'u1', anonymous_id: 'a6' }, t0 + 8 * DAY);
    expect(later.attached).toEqual([{ type: 'anonymous_id', value: 'a6' }]);
  });

  it('stops merging into a profile past the merge cap, with a warning, and still resolves the event', () => {
    const { see } = world(new RuleBook([], { mergesPerProfile: 2, identifiersPerProfile: 1000 }));
    see({ email: 'hub@x.io' });
    for (let i = 0; i < 2; i++) {
      see({ anonymous_id: `a${i}` });
      expect(see({ email: 'hub@x.io', anonymous_id: `a${i}` }).merged).toHaveLength(1);
    }
    see({ anonymous_id: 'a9' });
    const r = see({ email: 'hub@x.io', anonymous_id: 'a9' });
    expect(r.merged).toEqual([]);
    expect(r.profileId).toBe('p1');
    expect(r.warnings[0]).toMatchObject({ code: 'merge_cap' });
  });

  it('links alias previousId and userId like any two identifiers', () => {
    const { see } = world();
    see({ anonymous_id: 'old' });
    see({ user_id: 'new' });
    expect(see([{ user_id: 'new' }, { anonymous_id: 'old' }]).merged).toHaveLength(1);
  });
});

describe('identifier extraction', () => {
  it('reads user, anonymous, email (lower-cased), phone (E.164), device and external ids', () => {
    const ids = extractIdentifiers({
      type: 'identify', userId: 42, anonymousId: 'anon-1', traits: { email: ' Ada@Example.COM ', phone: '+44 20 7946 0958' },
      context: { device: { id: 'dev-1', advertisingId: 'ad-1', adTrackingEnabled: false }, externalIds: [{ id: 'cus_1', type: 'stripe_id', collection: 'users' }] },
    });
    expect(ids.user).toEqual([
      { type: 'user_id', value: '42' }, { type: 'anonymous_id', value: 'anon-1' }, { type: 'email', value: 'ada@example.com' },
      { type: 'phone', value: '+442079460958' }, { type: 'device_id', value: 'dev-1' }, { type: 'stripe_id', value: 'cus_1' },
    ]);
  });

  it('takes the advertising id only when ad tracking is enabled', () => {
    const ids = extractIdentifiers({ type: 'track', anonymousId: 'a', context: { device: { advertisingId: 'ad-1', adTrackingEnabled: true } } });
    expect(ids.user).toContainEqual({ type: 'advertising_id', value: 'ad-1' });
  });

  it('puts group_id in the accounts collection', () => {
    expect(extractIdentifiers({ type: 'group', userId: 'u', groupId: 'acme' }).account).toEqual([{ type: 'group_id', value: 'acme' }]);
  });

  it('keeps unparseable phones as digits and refuses non-numbers', () => {
    expect(normalizePhone('(555) 0100-22')).toBe('555010022');
    expect(normalizePhone('call me')).toBeNull();
  });
});
