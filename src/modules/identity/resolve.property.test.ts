import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GraphView, type ProfileNode } from './graph.js';
import { keyOf, type Identifier } from './identifiers.js';
import { resolveEvent, type Resolution } from './resolve.js';
import { RuleBook } from './rules.js';

const DAY = 86_400_000;

interface Event {
  ids: Identifier[];
  at: number;
}

const DEFAULT = new RuleBook();
// Tight limits and caps, so that the limit, cap and blocked-value paths run often.
const TIGHT = new RuleBook(
  [
    { type: 'email', priority: 2, limit: 2, windowMs: null, blocked: ['e4@x.io'] },
    { type: 'phone', priority: 3, limit: 1, windowMs: null, blocked: [] },
    { type: 'anonymous_id', priority: 6, limit: 3, windowMs: 7 * DAY, blocked: [] },
  ],
  { mergesPerProfile: 3, identifiersPerProfile: 8 },
);
// Caps low enough that profiles reach them within a few dozen events.
const LOW_CAPS = new RuleBook([], { mergesPerProfile: 2, identifiersPerProfile: 5 });
const RULE_BOOKS = [
  { name: 'default rules', rules: DEFAULT },
  { name: 'tight limits and caps', rules: TIGHT },
  { name: 'low caps', rules: LOW_CAPS },
];

const id = (type: string, value: string): Identifier => ({ type, value });
const pool = (type: string, values: string[]) => fc.constantFrom(...values).map((value) => id(type, value));
const JUNK = ['null', 'anonymous', '0', '', 'undefined', '-1'];

/** Small pools, so that events collide: shared devices, shared emails, re-used ids. */
const anyIdentifier = fc.oneof(
  { arbitrary: pool('user_id', ['u0', 'u1', 'u2', 'u3', 'u4']), weight: 3 },
  { arbitrary: pool('anonymous_id', ['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9']), weight: 4 },
  { arbitrary: pool('email', ['e0@x.io', 'e1@x.io', 'e2@x.io', 'e3@x.io', 'e4@x.io']), weight: 2 },
  { arbitrary: pool('phone', ['+15550100', '+15550101', '+15550102', '+15550103']), weight: 1 },
  { arbitrary: pool('device_id', ['d0', 'd1', 'd2', 'd3']), weight: 1 },
  { arbitrary: fc.tuple(fc.constantFrom('user_id', 'anonymous_id', 'email'), fc.constantFrom(...JUNK)).map(([t, v]) => id(t, v)), weight: 1 },
);
/** alias(previousId, userId): the userId first, the previous id typed user_id or anonymous_id. */
const aliasPair = fc
  .tuple(pool('user_id', ['u0', 'u1', 'u2', 'u3', 'u4']), fc.oneof(pool('user_id', ['u0', 'u1', 'u2', 'u3', 'u4']), pool('anonymous_id', ['a0', 'a1', 'a2', 'a3'])))
  .map((pair) => [...pair]);
const eventsWithin = (spanMs: number) =>
  fc.array(
    fc.record({ ids: fc.oneof({ arbitrary: fc.array(anyIdentifier, { minLength: 0, maxLength: 4 }), weight: 5 }, { arbitrary: aliasPair, weight: 1 }), at: fc.integer({ min: 0, max: spanMs }) }),
    { maxLength: 80, size: 'max' },
  );

/**
 * Resolves the events in order. `check` sees each event's result, with the windowed counts (see
 * `windowCounts`) that the profiles holding one of its identifiers had just before it.
 */
function replay(rules: RuleBook, events: Event[], check: (view: GraphView, event: Event, r: Resolution, before: Map<string, Map<string, number>>) => void = () => {}): GraphView {
  const view = new GraphView();
  let n = 0;
  events.forEach((event, i) => {
    const before = new Map<string, Map<string, number>>();
    for (const identifier of event.ids) {
      const owner = view.ownerOf('users', identifier);
      if (owner) before.set(owner.id, windowCounts(rules, owner, event.at));
    }
    const r = resolveEvent(view, rules, { collection: 'users', identifiers: event.ids, at: event.at, offset: i + 1 }, () => `p${++n}`);
    check(view, event, r, before);
  });
  return view;
}

/** Per type, the identifiers the limit counts at event time `at`. */
function windowCounts(rules: RuleBook, profile: ProfileNode, at: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (const held of profile.identifiers.values()) {
    const window = rules.rule(held.type).windowMs;
    if (window === null || held.firstSeen > at - window) counts.set(held.type, (counts.get(held.type) ?? 0) + 1);
  }
  return counts;
}

const countOf = (profile: ProfileNode, type: string) => [...profile.identifiers.values()].filter((h) => h.type === type).length;

/** Every identifier is held by exactly one live profile, and the owner index agrees with what profiles hold. */
function expectConsistentOwnership(view: GraphView) {
  for (const [ownerKey, owner] of view.owners) {
    const profile = view.profiles.get(owner);
    expect(profile, `${ownerKey} points at ${owner}, which is not a live profile`).toBeDefined();
    expect(profile!.identifiers.has(ownerKey.slice('users|'.length)), `${owner} does not hold ${ownerKey}`).toBe(true);
  }
  for (const profile of view.profiles.values()) {
    for (const key of profile.identifiers.keys()) expect(view.owners.get(`users|${key}`), `${key} is on ${profile.id} but owned elsewhere`).toBe(profile.id);
  }
}

/** The grouping of identifiers, whatever the profiles are called. */
const partition = (view: GraphView) => [...view.profiles.values()].map((p) => [...p.identifiers.keys()].sort().join(' ')).sort();

// PROPERTY_RUNS=3000 for a longer hunt (about a minute).
const RUNS = Number(process.env.PROPERTY_RUNS ?? 150);

/**
 * Only the profile an event lands on changes (the ones merged into it disappear), so each step checks that one.
 * The identifiers-per-profile cap is not asserted yet: a merge refused by the merge cap can still attach past it
 * (see resolve.caps.test.ts).
 */
function expectWithinLimits(rules: RuleBook, profile: ProfileNode, windowed: boolean) {
  expect(countOf(profile, 'user_id'), `${profile.id} holds two user_ids`).toBeLessThanOrEqual(1);
  for (const type of new Set([...profile.identifiers.values()].map((h) => h.type))) {
    const rule = rules.rule(type);
    if (windowed || rule.windowMs === null) expect(countOf(profile, type), `${profile.id}: ${type}`).toBeLessThanOrEqual(rule.limit);
  }
  expect(profile.merges).toBeLessThanOrEqual(rules.caps.mergesPerProfile);
  expect(profile.identifiers.size, `${profile.id} holds more identifiers than the cap`).toBeLessThanOrEqual(rules.caps.identifiersPerProfile);
}

describe.each(RULE_BOOKS)('identity resolution under any sequence of events ($name)', ({ rules }) => {
  it('never gives a profile two user_ids, nor more identifiers of a type than its limit (events within one window)', () => {
    fc.assert(
      fc.property(eventsWithin(6 * DAY), (events) => {
        const view = replay(rules, events, (v, _event, r) => {
          if (r.profileId) expectWithinLimits(rules, v.profiles.get(r.profileId)!, true);
        });
        for (const profile of view.profiles.values()) expectWithinLimits(rules, profile, true);
      }),
      { numRuns: RUNS },
    );
  });

  it('never lets an event grow a profile past a limit, windows counted in event time, events arriving in any order over weeks', () => {
    fc.assert(
      fc.property(eventsWithin(60 * DAY), (events) => {
        const view = replay(rules, events, (v, event, r, before) => {
          if (!r.profileId) return;
          const profile = v.profiles.get(r.profileId)!;
          expectWithinLimits(rules, profile, false);
          for (const [type, n] of windowCounts(rules, profile, event.at)) {
            const was = before.get(r.profileId)?.get(type) ?? 0;
            expect(n <= rules.rule(type).limit || n <= was, `${type}: ${was} -> ${n} within the window`).toBe(true);
          }
        });
        for (const profile of view.profiles.values()) expectWithinLimits(rules, profile, false);
      }),
      { numRuns: RUNS },
    );
  });

  it('keeps every identifier on exactly one live profile, and puts every event with a usable identifier on a profile holding one of them', () => {
    fc.assert(
      fc.property(eventsWithin(60 * DAY), (events) => {
        const view = replay(rules, events, (v, event, r) => {
          const usable = event.ids.filter((i) => !rules.isBlocked(i.type, i.value));
          if (usable.length === 0) return expect(r.profileId).toBeNull();
          const profile = v.profiles.get(r.profileId!);
          expect(profile, 'the event landed on a live profile').toBeDefined();
          expect(usable.some((i) => profile!.identifiers.has(keyOf(i)))).toBe(true);
          for (const m of r.merged) expect(v.profiles.has(m.profileId)).toBe(false);
          // An identified event never lands on someone else's profile.
          const userIds = new Set(usable.filter((i) => i.type === 'user_id').map(keyOf));
          if (userIds.size > 0) for (const held of profile!.identifiers.keys()) if (held.startsWith('user_id:')) expect(userIds).toContain(held);
        });
        expectConsistentOwnership(view);
      }),
      { numRuns: RUNS },
    );
  });
});

/**
 * People whose identifiers no one else uses, few enough that no limit or cap can be reached: here the
 * rules never refuse a link, so the grouping is the connected components of "seen on one event together".
 */
const PEOPLE = 6;
const personIdentifiers = (p: number): Identifier[] => [
  id('user_id', `u${p}`),
  ...[0, 1, 2].map((j) => id('anonymous_id', `a${p}-${j}`)),
  ...[0, 1].map((j) => id('email', `e${p}-${j}@x.io`)),
  id('phone', `+1555020${p}`),
  ...[0, 1].map((j) => id('device_id', `d${p}-${j}`)),
];
const disjointPeopleEvents = fc.array(
  fc.record({
    person: fc.integer({ min: 0, max: PEOPLE - 1 }),
    pick: fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 1, maxLength: 4 }),
    junk: fc.option(fc.tuple(fc.constantFrom('user_id', 'anonymous_id'), fc.constantFrom(...JUNK)), { freq: 4 }),
    at: fc.integer({ min: 0, max: 90 * DAY }),
  }).map(({ person, pick, junk, at }): Event => ({ ids: [...pick.map((j) => personIdentifiers(person)[j]), ...(junk ? [id(junk[0], junk[1])] : [])], at })),
  { maxLength: 60, size: 'max' },
);

function components(events: Event[], rules: RuleBook): string[] {
  const parent = new Map<string, string>();
  const find = (k: string): string => (parent.get(k) === k ? k : find(parent.get(k)!));
  for (const e of events) {
    const keys = e.ids.filter((i) => !rules.isBlocked(i.type, i.value)).map(keyOf);
    for (const k of keys) if (!parent.has(k)) parent.set(k, k);
    for (const k of keys.slice(1)) parent.set(find(k), find(keys[0]));
  }
  const groups = new Map<string, string[]>();
  for (const k of parent.keys()) groups.set(find(k), [...(groups.get(find(k)) ?? []), k]);
  return [...groups.values()].map((g) => g.sort().join(' ')).sort();
}

describe('identity resolution where the rules never refuse a link', () => {
  it('groups identifiers the same whatever order the events arrive in', () => {
    fc.assert(
      fc.property(
        disjointPeopleEvents.chain((events) => fc.tuple(fc.constant(events), fc.shuffledSubarray(events, { minLength: events.length }))),
        ([events, shuffled]) => {
          const grouping = partition(replay(DEFAULT, events));
          expect(partition(replay(DEFAULT, shuffled))).toEqual(grouping);
          expect(grouping).toEqual(components(events, DEFAULT));
        },
      ),
      { numRuns: RUNS * 2 },
    );
  });
});
