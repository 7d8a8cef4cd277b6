import type { Kysely } from 'kysely';
import { prng } from '../../src/demo/random.js';

/**
 * A seeded, deterministic population of people and the Segment calls their devices send, with the ground
 * truth a resolver is scored against: whose each event is, and what each person's traits are now.
 */

const DAY = 86_400_000;
const START = Date.UTC(2026, 0, 1);
const JUNK_ANONYMOUS_IDS = ['null', 'undefined', 'anonymous', '0'];
/** The all-zero id iOS reports when tracking is limited. */
const ZERO_DEVICE_ID = '00000000-0000-0000-0000-000000000000';
const PLANS = ['free', 'starter', 'pro', 'team'];
const CITIES = ['Paris', 'Lyon', 'Berlin', 'Lisbon', 'Oslo', 'Leeds', 'Austin'];

export interface PopulationCall {
  /** Index of the person who sent it; null for calls whose only ids are junk (no one can tell whose). */
  person: number | null;
  message: Record<string, unknown>;
}

export interface Population {
  /** In arrival order, which is not timestamp order: some devices deliver late. */
  calls: PopulationCall[];
  /** `anchor` is an identifier the person's profile must hold; `mayBeSplit` says why the rules may leave some of their calls apart. */
  people: { userId: string | null; anchor: string; mayBeSplit: string | null }[];
  /** Per person, each trait's value at its newest event timestamp (`createdAt`, set once: the oldest). */
  traits: Record<string, unknown>[];
  /** What the population contains, for the report. */
  census: Record<string, number>;
}

export function generatePopulation(options: { people: number; seed: number; prefix?: string }): Population {
  const rng = prng(options.seed);
  const prefix = options.prefix ?? 'pop';
  const census: Record<string, number> = {};
  const count = (what: string, n = 1) => (census[what] = (census[what] ?? 0) + n);
  const calls: (PopulationCall & { arrival: number; at: number })[] = [];
  const usedTimes = new Set<number>();
  let seq = 0;

  const kiosks = Array.from({ length: Math.max(2, Math.round(options.people / 40)) }, (_, k) => `${prefix}-kiosk-${k}`);
  const tablets = Array.from({ length: Math.max(1, Math.round(options.people / 60)) }, (_, k) => ({ anonymousId: `${prefix}-tablet-${k}`, deviceId: `${prefix}-tabdev-${k}` }));
  const teamEmails = Array.from({ length: Math.max(1, Math.round(options.people / 50)) }, (_, k) => `team-${k}@acme.example`);
  census.kiosks = kiosks.length;
  census.familyTablets = tablets.length;
  census.sharedTeamInboxes = teamEmails.length;

  const people: Population['people'] = [];
  const traits: Record<string, unknown>[] = [];

  for (let p = 0; p < options.people; p++) {
    const userId = rng.chance(0.8) ? (rng.chance(0.3) ? String(100_000 + p) : `${prefix}-user-${p}`) : null;
    const cookieClearer = userId !== null && rng.chance(0.02);
    const deviceCount = cookieClearer ? 7 : 1 + (rng.chance(0.5) ? 1 : 0) + (rng.chance(0.2) ? 1 : 0);
    const email = userId || rng.chance(0.6) ? `person${p}@example.com` : null;
    const newEmail = userId && rng.chance(0.2) ? `p${p}.moved@example.org` : null;
    const phone = rng.chance(0.3) ? `+33 6 ${String((p * 7919 + 1234) % 100_000_000).padStart(8, '0')}` : null;
    // Someone who never identifies cannot be linked across devices: one device, or a second one left unlinked.
    const unlinkedDevice = !userId && !email && rng.chance(0.1);
    const devices = Array.from({ length: userId || email ? deviceCount : unlinkedDevice ? 2 : 1 }, (_, j) => ({
      anonymousId: `${prefix}-anon-${p}-${j}`,
      deviceId: !cookieClearer && rng.chance(0.4) ? `${prefix}-dev-${p}-${j}` : null,
    }));
    const start = START + rng.between(0, 30) * DAY + rng.between(0, DAY);
    // A cookie clearer gets a new anonymousId many times in one week; the others use their devices for weeks.
    const span = cookieClearer ? 6 * DAY : 40 * DAY;
    const mayBeSplit = cookieClearer ? 'more anonymousIds in a week than the limit of 5' : unlinkedDevice ? 'a second device never identified' : null;
    people.push({ userId, anchor: userId ? `user_id:${userId}` : `anonymous_id:${devices[0].anonymousId}`, mayBeSplit });
    count('people');
    if (userId) count('people who log in');
    else if (email) count('anonymous people who leave an email');
    else count('anonymous people who never identify');
    if (cookieClearer) count('people who clear cookies (7 anonymousIds in a week)');
    if (newEmail) count('people who change email');
    if (phone) count('people with a phone');
    count('devices (anonymousIds)', devices.length);
    count('devices with a device.id', devices.filter((d) => d.deviceId).length);

    const latest = new Map<string, { value: unknown; at: number }>();
    const at = (from: number, to: number) => {
      let t = from + Math.floor(rng.next() * Math.max(1, to - from));
      while (usedTimes.has(t)) t++;
      usedTimes.add(t);
      return t;
    };
    const send = (person: number | null, message: Record<string, unknown>, time: number, maxDelay = 5 * DAY) => {
      // Some calls reach the server late (an app offline, a retried batch, a slow back-office sync of profile updates).
      const late = rng.chance(message.type === 'identify' ? 0.3 : 0.1);
      const arrival = time + (late ? rng.between(0, maxDelay) : rng.between(0, 60_000));
      calls.push({ person, at: time, arrival, message: { ...message, messageId: `${prefix}-${seq++}`, timestamp: new Date(time).toISOString() } });
      count(`calls: ${message.type}`);
    };
    const context = (device: { deviceId: string | null }, junkDevice = false) =>
      device.deviceId || junkDevice ? { context: { device: { id: junkDevice ? ZERO_DEVICE_ID : device.deviceId, type: 'ios' } } } : {};
    const identify = (ids: Record<string, unknown>, time: number, extra: Record<string, unknown> = {}, maxDelay?: number) => {
      const t: Record<string, unknown> = { ...extra };
      if (rng.chance(0.7) && !('plan' in t)) t.plan = rng.pick(PLANS);
      if (rng.chance(0.5)) t.city = rng.pick(CITIES);
      if (rng.chance(0.3)) t.createdAt = new Date(time).toISOString();
      if (phone && rng.chance(0.5)) t.phone = rng.chance(0.5) ? phone : phone.replace(/ /g, '');
      for (const [name, value] of Object.entries(t)) {
        const current = latest.get(name);
        const wins = !current || (name === 'createdAt' ? time < current.at : time > current.at);
        if (wins) latest.set(name, { value, at: time });
      }
      send(p, { type: 'identify', ...ids, traits: t }, time, maxDelay);
    };
    const emailAt = (time: number, changeAt: number) => (newEmail && time > changeAt ? newEmail : email);
    const changeAt = start + span / 2;
    const spelling = (address: string) => (rng.chance(0.3) ? address.toUpperCase() : address);

    devices.forEach((device, j) => {
      const from = start + (j * span) / (devices.length + 1);
      const loginAt = from + rng.between(DAY / 24, DAY);
      // Browsing before anyone knows who this is.
      for (let k = rng.between(1, 3); k > 0; k--) {
        const call = rng.chance(0.5) ? { type: 'page', name: 'Home' } : { type: 'track', event: 'Product Viewed' };
        send(p, { ...call, anonymousId: device.anonymousId, ...context(device) }, at(from, loginAt));
      }
      if (userId) {
        if (j === 0 && rng.chance(0.15)) {
          send(p, { type: 'alias', previousId: device.anonymousId, userId }, at(loginAt, loginAt + 1000));
          count('logins by alias');
        }
        const when = at(loginAt, loginAt + 60_000);
        const address = emailAt(when, changeAt);
        identify({ userId, anonymousId: device.anonymousId, ...context(device) }, when, address ? { email: spelling(address) } : {});
        for (let k = rng.between(1, 3); k > 0; k--) {
          const junk = rng.chance(0.08);
          if (junk) count('identified calls with a junk anonymousId or device id');
          send(p, { type: 'track', event: 'Order Completed', userId, anonymousId: junk ? rng.pick(JUNK_ANONYMOUS_IDS) : device.anonymousId, ...context(device, junk && rng.chance(0.5)) }, at(loginAt + 60_000, loginAt + span / 2));
        }
        // Logged out, but the SDK still sends the string "null" as the userId.
        if (rng.chance(0.05)) {
          send(p, { type: 'page', name: 'Logged out', userId: 'null', anonymousId: device.anonymousId }, at(loginAt + span / 2, loginAt + span));
          count('calls with userId "null"');
        }
      } else if (email) {
        identify({ anonymousId: device.anonymousId, ...context(device) }, at(loginAt, loginAt + 60_000), { email: spelling(email) });
        send(p, { type: 'track', event: 'Newsletter Opened', anonymousId: device.anonymousId }, at(loginAt + 60_000, loginAt + span / 2));
      }
    });

    if (userId) {
      // Profile updates from the server side: userId only, spread over the weeks, some of them late.
      for (let k = rng.between(1, 3); k > 0; k--) {
        const when = at(start, start + span);
        const address = emailAt(when, changeAt);
        identify({ userId }, when, address && rng.chance(0.5) ? { email: address } : {});
      }
      if (newEmail) identify({ userId }, at(changeAt, changeAt + DAY), { email: newEmail });
      // A burst of plan changes within an hour (trial, upgrade, downgrade) whose calls may cross on the way.
      if (rng.chance(0.4)) {
        count('people who change plan several times within an hour');
        const burst = at(start + span, start + span + DAY);
        for (let k = 0; k < 3; k++) identify({ userId }, at(burst + k * 600_000, burst + (k + 1) * 600_000), { plan: PLANS[(p + k) % PLANS.length] }, 3_600_000);
      }
      if (rng.chance(0.15)) {
        const kiosk = rng.pick(kiosks);
        count('people who log in on a shared kiosk');
        const when = at(start, start + span);
        send(p, { type: 'identify', userId, anonymousId: kiosk, traits: {} }, when);
        send(p, { type: 'track', event: 'Checked In', userId, anonymousId: kiosk }, at(when, when + 600_000));
      }
      if (rng.chance(0.1)) {
        const tablet = rng.pick(tablets);
        count('people who log in on a shared family tablet');
        const when = at(start, start + span);
        send(p, { type: 'track', event: 'Video Watched', userId, anonymousId: tablet.anonymousId, context: { device: { id: tablet.deviceId, type: 'android' } } }, when);
      }
      if (rng.chance(0.05)) {
        count('people who also use a shared team inbox');
        identify({ userId }, at(start, start + span), { email: rng.pick(teamEmails) });
      }
    }
    // Calls whose only ids are junk belong to someone, but to no one anyone can tell.
    if (rng.chance(0.05)) {
      send(null, { type: 'track', event: 'App Opened', anonymousId: rng.pick(JUNK_ANONYMOUS_IDS) }, at(start, start + span));
      count('calls with only junk ids');
    }
    traits.push(Object.fromEntries([...latest].map(([name, { value }]) => [name, value])));
  }

  calls.sort((a, b) => a.arrival - b.arrival);
  census.calls = calls.length;
  census['calls arriving after a later-stamped call of the same person'] = outOfOrder(calls);
  census['people whose traits would be wrong if the last call to arrive won'] = wrongByArrival(calls, traits);
  return { calls: calls.map(({ person, message }) => ({ person, message })), people, traits, census };
}

/** How many people a store that lets the last-arriving value win (PostHog's behaviour) would get wrong. */
function wrongByArrival(calls: PopulationCall[], truth: Record<string, unknown>[]): number {
  const byArrival = truth.map(() => new Map<string, unknown>());
  for (const c of calls) {
    if (c.person === null || c.message.type !== 'identify') continue;
    for (const [name, value] of Object.entries(c.message.traits as Record<string, unknown>)) {
      if (name !== 'createdAt' || !byArrival[c.person].has(name)) byArrival[c.person].set(name, value);
    }
  }
  return truth.filter((t, i) => !sameTraits(t, Object.fromEntries(byArrival[i]))).length;
}

export function sameTraits(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const canonical = (o: Record<string, unknown>) => JSON.stringify(Object.entries(o).sort(([x], [y]) => x.localeCompare(y)));
  return canonical(a) === canonical(b);
}

function outOfOrder(calls: { person: number | null; at: number }[]): number {
  const newest = new Map<number, number>();
  let n = 0;
  for (const c of calls) {
    if (c.person === null) continue;
    if ((newest.get(c.person) ?? -Infinity) > c.at) n++;
    newest.set(c.person, Math.max(newest.get(c.person) ?? -Infinity, c.at));
  }
  return n;
}

export interface PairwiseScore {
  precision: number;
  recall: number;
  truePairs: number;
  predictedPairs: number;
  correctPairs: number;
  events: number;
  unattributed: number;
}

/**
 * Pairwise precision and recall of a grouping of events: a pair of events is predicted when both sit on
 * one profile, and true when both come from one person. An event on no profile pairs with nothing.
 */
export function scorePairs(events: { person: number; profile: string | null }[]): PairwiseScore {
  const pairs = (n: number) => (n * (n - 1)) / 2;
  const tally = (key: (e: { person: number; profile: string | null }) => string | null) => {
    const counts = new Map<string, number>();
    for (const e of events) {
      const k = key(e);
      if (k !== null) counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    let total = 0;
    for (const n of counts.values()) total += pairs(n);
    return total;
  };
  const truePairs = tally((e) => String(e.person));
  const predictedPairs = tally((e) => e.profile);
  const correctPairs = tally((e) => (e.profile === null ? null : `${e.profile}|${e.person}`));
  return {
    precision: predictedPairs === 0 ? 1 : correctPairs / predictedPairs,
    recall: truePairs === 0 ? 1 : correctPairs / truePairs,
    truePairs,
    predictedPairs,
    correctPairs,
    events: events.length,
    unattributed: events.filter((e) => e.profile === null).length,
  };
}

export interface ProfileState {
  identifiers: string[];
  traits: Record<string, [unknown, number, string]>;
  events: string[];
}

/**
 * What the profiles are, independent of their generated ids: each live profile by its identifiers, with its
 * traits (value, event time, source message) and its timeline (message ids); and how many rows each kind
 * of merge-log entry has, which an effect applied twice would change.
 */
export async function resolvedProfiles(db: Kysely<any>) {
  const identifiers: { key: string; profile_id: string }[] = await db.selectFrom('identifiers').select(['key', 'profile_id']).execute();
  const traits: { profile_id: string; name: string; value: string; updated_at: number; message_id: string }[] = await db
    .selectFrom('profile_traits')
    .select(['profile_id', 'name', 'value', 'updated_at', 'message_id'])
    .execute();
  const timeline: { profile_id: string; message_id: string }[] = await db
    .selectFrom('profile_events')
    .innerJoin('events', 'events.offset', 'profile_events.event_offset')
    .select(['profile_events.profile_id', 'events.message_id'])
    .execute();
  const live: { id: string }[] = await db.selectFrom('profiles').select('id').where('merged_into', 'is', null).execute();
  const log: { kind: string; n: number | string | bigint }[] = await db.selectFrom('merge_log').select(['kind', (eb) => eb.fn.countAll().as('n')]).groupBy('kind').orderBy('kind').execute();
  const profiles = new Map<string, ProfileState>(live.map((p) => [p.id, { identifiers: [], traits: {}, events: [] }]));
  const of = (id: string) => {
    let p = profiles.get(id);
    if (!p) profiles.set(id, (p = { identifiers: [`(not a live profile: ${id})`], traits: {}, events: [] }));
    return p;
  };
  for (const i of identifiers) of(i.profile_id).identifiers.push(i.key);
  for (const t of traits) of(t.profile_id).traits[t.name] = [JSON.parse(t.value), Number(t.updated_at), t.message_id];
  for (const e of timeline) of(e.profile_id).events.push(e.message_id);
  const byIdentifiers = new Map<string, ProfileState>();
  for (const p of profiles.values()) {
    p.identifiers.sort();
    p.events.sort();
    p.traits = Object.fromEntries(Object.entries(p.traits).sort(([a], [b]) => a.localeCompare(b)));
    byIdentifiers.set(p.identifiers.join(' '), p);
  }
  return { profiles: byIdentifiers, mergeLog: log.map((r) => `${r.kind}: ${Number(r.n)}`), liveProfiles: live.length };
}

export type ResolvedProfiles = Awaited<ReturnType<typeof resolvedProfiles>>;

/** How many profiles differ between two resolutions (and a few of them), merge-log tallies and profile counts included. */
export function sameProfiles(actual: ResolvedProfiles, expected: ResolvedProfiles) {
  const keys = [...new Set([...expected.profiles.keys(), ...actual.profiles.keys()])];
  const differing = keys.filter((key) => JSON.stringify(actual.profiles.get(key)) !== JSON.stringify(expected.profiles.get(key)));
  const examples: unknown[] = differing.slice(0, 3).map((key) => ({ key, actual: actual.profiles.get(key), expected: expected.profiles.get(key) }));
  if (JSON.stringify(actual.mergeLog) !== JSON.stringify(expected.mergeLog)) examples.push({ mergeLog: actual.mergeLog, expected: expected.mergeLog });
  if (actual.liveProfiles !== expected.liveProfiles) examples.push({ liveProfiles: actual.liveProfiles, expected: expected.liveProfiles });
  return { differing: differing.length, examples };
}
