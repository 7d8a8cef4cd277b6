import type { AudienceDefinition, ComputedTraitDefinition, Condition } from '../../src/modules/audiences/index.js';

/**
 * The definitions the audiences benchmark uses.
 *
 * For the full computation (number 1) on the generated store: one computed trait (lifetime orders, whose
 * values the generator writes consistently with the timelines) and one audience with the three kinds of
 * condition the issue names: a trait, an event count in a 30-day window, a computed trait.
 *
 * For the pipeline (numbers 2 and 3), over the event names of `process-support/calls.ts` (Product Viewed,
 * Product Added, Checkout Started, Order Completed, Signed In, Search, page "Page"; identify traits plan,
 * logins, email, name): three computed traits and 20 audiences, a mix of trait conditions, event counts
 * with windows from an hour to 30 days (one with a property test), computed traits, negations and one
 * audience of audiences.
 */
type Trait = Omit<ComputedTraitDefinition, 'collection'>;
type Audience = Omit<AudienceDefinition, 'collection' | 'description'>;

export const LIFETIME_ORDERS: Trait = { key: 'lifetime_orders', name: 'Lifetime orders', kind: 'count', event: { name: 'Order Completed' } };

/** Each condition of the full-computation audience alone, to show what each costs. */
export const FULL_AUDIENCE_PARTS: Record<string, Condition> = {
  trait: { trait: 'plan', op: 'in', values: ['pro', 'team'] },
  'event count, 30 days': { event: { name: 'Product Viewed' }, count: { op: 'at_least', value: 3 }, within: { last: 30, unit: 'days' } },
  'computed trait': { computed_trait: 'lifetime_orders', op: 'gte', value: 1 },
};

export const FULL_AUDIENCE: Condition = { all: Object.values(FULL_AUDIENCE_PARTS) };

export const PIPELINE_TRAITS: Trait[] = [
  { key: 'orders_30d', name: 'Orders, 30 days', kind: 'count', event: { name: 'Order Completed' }, within: { last: 30, unit: 'days' } },
  { key: 'revenue', name: 'Revenue', kind: 'sum', event: { name: 'Order Completed' }, property: 'value' },
  {
    key: 'engagement', name: 'Engagement score', kind: 'score', decay: { half_life_days: 7 },
    rules: [{ event: { name: 'Product Viewed' }, points: 1 }, { event: { name: 'Order Completed' }, points: 10 }, { trait: { trait: 'plan', op: 'eq', value: 'pro' }, points: 5 }],
  },
];

const within = (last: number, unit: 'minutes' | 'hours' | 'days') => ({ last, unit });

/** The audience the latency probes qualify for: one Order Completed in the last 30 days. */
export const PROBE_AUDIENCE = 'buyers_30d';

export const PIPELINE_AUDIENCES: Audience[] = [
  { key: 'pro_users', name: 'Pro users', condition: { trait: 'plan', op: 'eq', value: 'pro' } },
  { key: 'paying', name: 'Paying', condition: { trait: 'plan', op: 'in', values: ['starter', 'pro', 'team'] } },
  { key: 'frequent_logins', name: 'Frequent logins', condition: { trait: 'logins', op: 'gte', value: 5 } },
  { key: 'viewers_7d', name: 'Viewers, 7 days', condition: { event: { name: 'Product Viewed' }, count: { op: 'at_least', value: 3 }, within: within(7, 'days') } },
  { key: PROBE_AUDIENCE, name: 'Buyers, 30 days', condition: { event: { name: 'Order Completed' }, within: within(30, 'days') } },
  {
    key: 'cart_abandoners', name: 'Cart abandoners',
    condition: { all: [{ event: { name: 'Product Added' }, within: within(1, 'days') }, { event: { name: 'Order Completed' }, count: { op: 'at_most', value: 0 }, within: within(1, 'days') }] },
  },
  { key: 'repeat_buyers', name: 'Repeat buyers', condition: { computed_trait: 'orders_30d', op: 'gte', value: 2 } },
  { key: 'big_spenders', name: 'Big spenders', condition: { computed_trait: 'revenue', op: 'gt', value: 300 } },
  { key: 'searchers_24h', name: 'Searchers, 24 hours', condition: { event: { name: 'Search' }, count: { op: 'at_least', value: 2 }, within: within(24, 'hours') } },
  {
    key: 'checkout_no_order', name: 'Checkout without order',
    condition: { all: [{ event: { name: 'Checkout Started' }, within: within(7, 'days') }, { not: { event: { name: 'Order Completed' }, within: within(7, 'days') } }] },
  },
  { key: 'active_1h', name: 'Active, last hour', condition: { event: { type: 'page' }, count: { op: 'at_least', value: 2 }, within: within(1, 'hours') } },
  { key: 'signed_in_3d', name: 'Signed in, 3 days', condition: { event: { name: 'Signed In' }, within: within(3, 'days') } },
  { key: 'pro_viewers', name: 'Pro viewers', condition: { all: [{ audience: 'pro_users' }, { audience: 'viewers_7d' }] } },
  {
    key: 'high_value_orders', name: 'High-value orders',
    condition: { event: { name: 'Order Completed', where: [{ property: 'value', op: 'gt', value: 150 }] }, within: within(30, 'days') },
  },
  { key: 'team_searchers', name: 'Team searchers', condition: { all: [{ trait: 'plan', op: 'eq', value: 'team' }, { event: { name: 'Search' }, within: within(30, 'days') }] } },
  {
    key: 'quiet_known', name: 'Known, not viewing today',
    condition: { all: [{ trait: 'email', op: 'exists' }, { event: { name: 'Product Viewed' }, count: { op: 'at_most', value: 0 }, within: within(24, 'hours') }] },
  },
  { key: 'upgrade_candidates', name: 'Upgrade candidates', condition: { all: [{ trait: 'plan', op: 'eq', value: 'free' }, { computed_trait: 'orders_30d', op: 'gte', value: 1 }] } },
  { key: 'engaged', name: 'Engaged', condition: { any: [{ computed_trait: 'engagement', op: 'gte', value: 20 }, { event: { name: 'Product Added' }, count: { op: 'at_least', value: 3 }, within: within(7, 'days') }] } },
  { key: 'free_sample', name: 'Free, an email sample', condition: { all: [{ trait: 'email', op: 'contains', value: 'person1' }, { trait: 'plan', op: 'eq', value: 'free' }] } },
  { key: 'new_signups', name: 'Signed up recently', condition: { all: [{ trait: 'createdAt', op: 'exists' }, { trait: 'logins', op: 'lte', value: 2 }] } },
];
