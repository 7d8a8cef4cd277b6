import { BLOG_POSTS, CAMPAIGNS, COMPANY_KINDS, COMPANY_WORDS, FIRST_NAMES, INDUSTRIES, LAST_NAMES, PAGES, PLANS, PRODUCTS, REFERRERS, TITLES, USER_AGENTS, type PageKey } from './catalog.js';
import { prng, type Random } from './random.js';

/**
 * The demo's population and the Segment calls its people would have sent over the last 90 days: anonymous
 * visits, sign-ups and logins (identify), second devices (an anonymous profile merged at login), orders and
 * accounts (group). Pure: the same seed and size give the same people, message ids and order of calls.
 */

export interface DemoCompany {
  name: string;
  domain: string;
  industry: string;
  employees: number;
}

export interface DemoPerson {
  userId: string;
  email: string;
  firstName: string;
  lastName: string;
  title: string;
  plan: string;
  company: DemoCompany | undefined;
  orders: number;
  /** Viewed pricing twice in the last week. */
  hot: boolean;
  /** Browsed anonymously on a second device, then logged in there: two profiles merged. */
  merged: boolean;
}

/** A Segment call as a client sends it in a batch. */
export type SegmentCall = Record<string, unknown> & { type: string; messageId: string; timestamp: string };

export interface Population {
  companies: DemoCompany[];
  /** The people who signed up (the anonymous-only visitors are only in the calls). */
  people: DemoPerson[];
  /** Every call, oldest first: the log then holds them in the order they happened. */
  calls: SegmentCall[];
}

const DAY = 86_400_000;
const MINUTE = 60_000;
const SITE = 'https://rapport.example';

function hex(rng: Random, n: number): string {
  let out = '';
  while (out.length < n) out += rng.int(16).toString(16);
  return out;
}

const uuid = (rng: Random) => `${hex(rng, 8)}-${hex(rng, 4)}-4${hex(rng, 3)}-a${hex(rng, 3)}-${hex(rng, 12)}`;

export function generateCompanies(seed: number, count: number): DemoCompany[] {
  const rng = prng(seed ^ 0x5eed);
  const taken = new Set<string>();
  const companies: DemoCompany[] = [];
  while (companies.length < count) {
    const word = rng.pick(COMPANY_WORDS);
    const kind = rng.pick(COMPANY_KINDS);
    let name = `${word} ${kind}`;
    if (taken.has(name)) name = `${name} ${companies.length + 1}`;
    taken.add(name);
    const employees = rng.weighted([[rng.between(3, 50), 40], [rng.between(51, 249), 35], [rng.between(250, 5000), 25]] as const);
    companies.push({ name, domain: `${name.toLowerCase().replace(/[^a-z0-9]+/g, '')}.example`, industry: rng.pick(INDUSTRIES), employees });
  }
  return companies;
}

/** The calls of one visitor, who is a person with an account or stays anonymous. */
class Visitor {
  readonly calls: SegmentCall[] = [];
  private sent = 0;
  private readonly userAgent: string;

  constructor(private readonly rng: Random, private readonly prefix: string) {
    this.userAgent = rng.pick(USER_AGENTS);
  }

  private call(type: string, at: number, ids: { userId?: string; anonymousId?: string }, fields: Record<string, unknown>, page?: { path: string; title: string; referrer: string }, campaign?: object) {
    this.sent += 1;
    const context: Record<string, unknown> = { userAgent: this.userAgent };
    if (page) context.page = { path: page.path, url: SITE + page.path, title: page.title, referrer: page.referrer };
    if (campaign) context.campaign = campaign;
    this.calls.push({ type, messageId: `${this.prefix}-${this.sent}`, timestamp: new Date(at).toISOString(), ...ids, context, ...fields });
  }

  /** A visit: pages a few seconds to minutes apart, starting at `at`; returns when it ended. */
  session(at: number, ids: { userId?: string; anonymousId?: string }, pages: PageKey[] | 'browse'): number {
    const keys = pages === 'browse' ? this.browse() : pages;
    let t = at;
    let referrer: string = this.rng.pick(REFERRERS);
    const campaign = this.rng.pick(CAMPAIGNS);
    for (const [i, key] of keys.entries()) {
      const blog = key === 'home' && i === 0 && this.rng.chance(0.3) ? this.rng.pick(BLOG_POSTS) : undefined;
      const [path, name, title] = blog ? [`/blog/${blog}`, 'Blog', blog.replace(/-/g, ' ')] : PAGES[key];
      const page = { path, title, referrer };
      this.call('page', t, ids, { name, properties: { path, url: SITE + path, title, referrer } }, page, i === 0 ? campaign : undefined);
      referrer = SITE + path;
      t += this.rng.between(10, 240) * 1000;
    }
    return t;
  }

  private browse(): PageKey[] {
    const pages: PageKey[] = [this.rng.weighted([['home', 6], ['pricing', 1], ['docs', 2], ['features', 1]] as const)];
    const more = this.rng.between(0, 3);
    for (let i = 0; i < more; i++) pages.push(this.rng.weighted([['pricing', 1], ['docs', 3], ['quickstart', 2], ['api', 1], ['features', 2], ['customers', 1], ['home', 1]] as const));
    return pages;
  }

  identify(at: number, ids: { userId: string; anonymousId?: string }, traits: Record<string, unknown>) {
    this.call('identify', at, ids, { traits });
  }

  track(at: number, ids: { userId?: string; anonymousId?: string }, event: string, properties: Record<string, unknown>) {
    this.call('track', at, ids, { event, properties });
  }

  group(at: number, userId: string, company: DemoCompany) {
    this.call('group', at, { userId }, { groupId: company.domain, traits: { name: company.name, domain: company.domain, industry: company.industry, employees: company.employees } });
  }
}

/** Session start times: the first between 3 and 90 days ago, more of them recent, the rest after it. */
function visitTimes(rng: Random, now: number, count: number): number[] {
  const first = now - (3 + Math.floor(87 * rng.next() ** 1.4)) * DAY - rng.int(DAY);
  const times = [first];
  for (let i = 1; i < count; i++) times.push(first + Math.floor((now - first - 2 * 3_600_000) * rng.next()));
  return times.sort((a, b) => a - b);
}

function person(seed: number, index: number, now: number, companies: DemoCompany[]): { person?: DemoPerson; calls: SegmentCall[] } {
  // Each visitor has a stream of their own: visitor 17 makes the same visits whatever --profiles says
  // (only the company they work for depends on how many companies there are).
  const rng = prng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const visitor = new Visitor(rng, `demo-${seed}-${index}`);
  const anonymousId = uuid(rng);
  const times = visitTimes(rng, now, rng.between(1, 6));
  const hot = rng.chance(0.12);
  if (!rng.chance(0.72)) {
    // A visitor who never signs up: anonymous pages only.
    for (const at of times) visitor.session(at, { anonymousId }, 'browse');
    if (hot) visitor.session(now - rng.between(1, 6) * DAY, { anonymousId }, ['pricing', 'features', 'pricing']);
    return { calls: visitor.calls };
  }

  const firstName = rng.pick(FIRST_NAMES);
  const lastName = rng.pick(LAST_NAMES);
  const company = rng.chance(0.6) ? rng.pick(companies) : undefined;
  const userId = `user-${String(index + 1).padStart(5, '0')}`;
  const email = `${firstName}.${lastName}.${index + 1}@${company?.domain ?? 'mail.example'}`.toLowerCase();
  const buyer = rng.chance(0.35);
  const paidPlan = rng.pick(PLANS.slice(1));
  let plan = 'free';
  const title = rng.pick(TITLES);
  const traits = { email, firstName, lastName, name: `${firstName} ${lastName}`, title, ...(company ? { company: { name: company.name } } : {}) };
  const user = { userId, anonymousId };
  // A login as analytics.js reports it: identify (the email and the plan as they are now), then Signed In.
  const login = (at: number, ids: { userId: string; anonymousId?: string }, method: string) => {
    visitor.identify(at, ids, { email, plan });
    visitor.track(at + 1000, ids, 'Signed In', { method });
  };

  // First visit: browsing anonymously, then signing up: the identify carries the anonymous id.
  let t = visitor.session(times[0]!, { anonymousId }, 'browse');
  t = visitor.session(t, { anonymousId }, ['pricing', 'signup']);
  visitor.identify(t, user, { ...traits, plan, createdAt: new Date(t).toISOString() });
  visitor.track(t + 1000, user, 'Signed Up', { plan: 'free' });
  if (company) visitor.group(t + 2000, userId, company);

  const merged = times.length >= 3 && rng.chance(0.3);
  let orders = 0;
  for (const [i, at] of times.slice(1).entries()) {
    if (merged && i === times.length - 3) {
      // A second device: anonymous at first, then logging in there merges its profile into the person's.
      const device = uuid(rng);
      let s = visitor.session(at, { anonymousId: device }, 'browse');
      s = visitor.session(s, { anonymousId: device }, ['login']);
      login(s, { userId, anonymousId: device }, 'password');
      visitor.session(s + 2000, { userId, anonymousId: device }, ['account']);
      continue;
    }
    login(at, user, rng.pick(['password', 'google', 'sso']));
    const end = visitor.session(at + 2000, user, 'browse');
    if (buyer && (orders === 0 || rng.chance(0.4))) {
      const s = visitor.session(end, user, ['checkout']);
      orders += 1;
      const items = Array.from({ length: rng.between(1, 2) }, () => {
        const [name, sku, price] = rng.pick(PRODUCTS);
        return { product_id: sku, sku, name, price, quantity: rng.between(1, 3) };
      });
      const revenue = items.reduce((sum, p) => sum + p.price * p.quantity, 0);
      visitor.track(s + 30_000, user, 'Order Completed', { order_id: `${userId}-order-${orders}`, revenue, currency: 'USD', products: items });
      if (plan === 'free') {
        // The first order upgrades the plan: the profile's trait changes on that day.
        plan = paidPlan;
        visitor.identify(s + 31_000, user, { plan });
      }
    }
  }
  if (hot) {
    // Back this week, twice on pricing: the sales team's favourite audience.
    const at = now - rng.between(1, 6) * DAY - rng.int(12 * 60) * MINUTE;
    login(at, user, 'password');
    visitor.session(at + 2000, user, ['pricing', 'docs', 'pricing']);
  }
  return { person: { userId, email, firstName, lastName, title, plan, company, orders, hot, merged }, calls: visitor.calls };
}

export function generatePopulation({ seed, profiles, now }: { seed: number; profiles: number; now: number }): Population {
  const companies = generateCompanies(seed, Math.max(5, Math.round(profiles / 20)));
  const people: DemoPerson[] = [];
  const calls: SegmentCall[] = [];
  for (let i = 0; i < profiles; i++) {
    const generated = person(seed, i, now, companies);
    if (generated.person) people.push(generated.person);
    calls.push(...generated.calls);
  }
  calls.sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0));
  return { companies, people, calls };
}
