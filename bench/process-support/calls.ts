/**
 * The processing benchmarks' traffic: a seeded stream of Segment calls from a population of people,
 * 20% identify and the rest track and page, as browsers and servers send them. People browse anonymously
 * first, so their identify merges an anonymous profile into the one of their user id; some use a second
 * device; identify traits change over time (plan, logins) so trait writes replace older values.
 */
import { prng } from '../../src/demo/random.js';

const START = Date.UTC(2026, 0, 5);
const PLANS = ['free', 'starter', 'pro', 'team'];
const PAGES = ['/', '/pricing', '/docs', '/blog', '/signup', '/account'];
const EVENTS = ['Product Viewed', 'Product Added', 'Checkout Started', 'Order Completed', 'Signed In', 'Search'];
const UA = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';

export { prng };

export interface CallStreamOptions {
  seed: number;
  /** Distinct people the stream draws from; with 10 calls per person most calls hit an existing profile. */
  people: number;
  /** Share of identify calls. */
  identifyShare?: number;
  /** Distinguishes runs in one store (message ids and user ids). */
  prefix?: string;
  /** Event time of the first call and the gap between calls, in ms. */
  start?: number;
  stepMs?: number;
}

/** An endless generator of calls; `next()` returns one Segment call (raw, as a client sends it). */
export function callStream(options: CallStreamOptions) {
  const rng = prng(options.seed);
  const share = options.identifyShare ?? 0.2;
  const prefix = options.prefix ?? 'p';
  const stepMs = options.stepMs ?? 20;
  let at = options.start ?? START;
  let seq = 0;
  // Whether the person has identified on their first device yet: before that their calls are anonymous.
  const identified = new Uint8Array(options.people);
  const logins = new Uint16Array(options.people);

  return {
    next(): Record<string, unknown> {
      const person = rng.int(options.people);
      const device = rng.chance(0.15) ? 1 : 0;
      const anonymousId = `${prefix}-anon-${person}-${device}`;
      const userId = `${prefix}-user-${person}`;
      const known = identified[person] === 1 && device === 0;
      at += stepMs;
      const base = {
        messageId: `${prefix}-m-${seq++}`,
        anonymousId,
        timestamp: new Date(at).toISOString(),
        context: { library: { name: 'analytics.js', version: '5.2.0' }, userAgent: UA, locale: 'en-GB', page: { path: rng.pick(PAGES) } },
      };
      const r = rng.next();
      if (r < share) {
        identified[person] = 1;
        logins[person]++;
        return {
          ...base, type: 'identify', userId,
          traits: { email: `${prefix}.person${person}@example.com`, name: `Person ${person}`, plan: rng.pick(PLANS), logins: logins[person], ...(logins[person] === 1 ? { createdAt: base.timestamp } : {}) },
        };
      }
      const withUser = known ? { userId } : {};
      if (r < share + (1 - share) / 2) return { ...base, ...withUser, type: 'track', event: rng.pick(EVENTS), properties: { value: rng.int(200), currency: 'EUR' } };
      return { ...base, ...withUser, type: 'page', name: 'Page', properties: { path: base.context.page.path, title: 'Rapport', referrer: '' } };
    },
  };
}
