/**
 * The demo workspace's vocabulary (names, pages, products) and the definitions it starts with: computed
 * traits, a score, audiences and a destination, as the management API takes them.
 */

export const FIRST_NAMES = [
  'Ada', 'Alan', 'Amara', 'Ana', 'Arjun', 'Ben', 'Camille', 'Chen', 'Chloe', 'Daniel', 'Diego', 'Elena', 'Emma', 'Farah', 'Felix', 'Grace',
  'Hana', 'Hugo', 'Ines', 'Isaac', 'Jonas', 'Julia', 'Kai', 'Kenji', 'Lara', 'Leo', 'Lina', 'Lucas', 'Maya', 'Mateo', 'Mei', 'Nadia',
  'Noah', 'Nora', 'Omar', 'Priya', 'Rafael', 'Rosa', 'Sami', 'Sara', 'Sofia', 'Tariq', 'Theo', 'Yara', 'Yusuf', 'Zoe',
] as const;

export const LAST_NAMES = [
  'Abara', 'Bauer', 'Berg', 'Costa', 'Dubois', 'Eriksen', 'Fischer', 'Garcia', 'Haddad', 'Ito', 'Jansen', 'Kim', 'Kowalski', 'Laurent',
  'Lopez', 'Moreau', 'Murphy', 'Nakamura', 'Novak', 'Okafor', 'Olsen', 'Patel', 'Petrov', 'Quinn', 'Rossi', 'Santos', 'Schmidt', 'Silva',
  'Singh', 'Tanaka', 'Weber', 'Wright', 'Yilmaz', 'Zhang',
] as const;

export const COMPANY_WORDS = [
  'Atlas', 'Beacon', 'Birch', 'Bright', 'Cedar', 'Copper', 'Delta', 'Ember', 'Fern', 'Granite', 'Harbor', 'Iris', 'Juniper', 'Kestrel',
  'Lumen', 'Maple', 'Meridian', 'North', 'Nova', 'Orbit', 'Pine', 'Quartz', 'River', 'Silver', 'Summit', 'Tidal', 'Umber', 'Vale', 'Willow', 'Zenith',
] as const;
export const COMPANY_KINDS = ['Labs', 'Systems', 'Logistics', 'Foods', 'Health', 'Analytics', 'Works', 'Studio', 'Robotics', 'Energy', 'Retail', 'Media', 'Software', 'Travel'] as const;
export const INDUSTRIES = ['Software', 'Retail', 'Healthcare', 'Logistics', 'Finance', 'Media', 'Manufacturing', 'Education', 'Travel', 'Energy'] as const;
export const TITLES = ['Head of Marketing', 'Growth Lead', 'CTO', 'Data Engineer', 'VP Sales', 'Product Manager', 'Founder', 'Operations Manager', 'Customer Success Lead', 'Analyst'] as const;
export const PLANS = ['free', 'starter', 'pro', 'team'] as const;

/** The demo site: [path, page name, title]. Page names are what audiences and scores match on. */
export const PAGES = {
  home: ['/', 'Home', 'Rapport: one record for every customer'],
  pricing: ['/pricing', 'Pricing', 'Pricing'],
  docs: ['/docs', 'Docs', 'Documentation'],
  quickstart: ['/docs/quick-start', 'Docs', 'Quick start'],
  api: ['/docs/api', 'Docs', 'API reference'],
  features: ['/features', 'Features', 'Features'],
  customers: ['/customers', 'Customers', 'Customer stories'],
  signup: ['/signup', 'Sign Up', 'Create your account'],
  login: ['/login', 'Log In', 'Log in'],
  account: ['/account', 'Account', 'Your account'],
  checkout: ['/checkout', 'Checkout', 'Checkout'],
} as const satisfies Record<string, readonly [string, string, string]>;
export type PageKey = keyof typeof PAGES;

export const BLOG_POSTS = ['identity-resolution-explained', 'audiences-without-sql', 'crm-meets-cdp', 'event-tracking-plan', 'segment-migration', 'lead-scoring-101'] as const;
export const REFERRERS = ['', '', 'https://www.google.com/', 'https://news.ycombinator.com/', 'https://www.linkedin.com/', 'https://twitter.com/', 'https://duckduckgo.com/'] as const;
export const CAMPAIGNS = [undefined, undefined, undefined, { source: 'newsletter', medium: 'email', name: 'november-digest' }, { source: 'google', medium: 'cpc', name: 'cdp-search' }] as const;

export const USER_AGENTS = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36 Edg/130.0',
  'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Mobile Safari/537.36',
] as const;

/** What the demo shop sells: [name, sku, price in USD]. */
export const PRODUCTS = [
  ['Starter plan (annual)', 'plan-starter-12', 290], ['Pro plan (annual)', 'plan-pro-12', 990], ['Team plan (monthly)', 'plan-team-1', 149],
  ['Extra seats (5)', 'seats-5', 75], ['Onboarding session', 'onboarding', 250], ['Data warehouse connector', 'addon-warehouse', 120],
  ['Priority support', 'addon-support', 60], ['Training workshop', 'workshop', 450],
] as const;

export const DEAL_PRODUCTS = ['Team plan', 'Enterprise plan', 'Warehouse connector', 'Onboarding package', 'Annual renewal', 'Seat expansion'] as const;

/** The default pipeline's stages (crm/pipelines.ts), with the share of demo deals in each. */
export const DEAL_STAGES = [['Qualification', 24], ['Meeting scheduled', 18], ['Proposal', 16], ['Negotiation', 12], ['Won', 18], ['Lost', 12]] as const;

export const TASK_TITLES = ['Call back about pricing', 'Send the proposal', 'Book a demo', 'Follow up on the trial', 'Check in after onboarding', 'Prepare the renewal quote', 'Answer the security questionnaire', 'Introduce the solutions engineer'] as const;
export const TICKET_SUBJECTS = [
  'Events from the iOS app are missing', 'Cannot invite a teammate', 'Webhook returns 401', 'Import stuck at 80%', 'Invoice shows the wrong VAT number',
  'Audience size looks too small', 'How do I rotate a write key?', 'Duplicate profiles after migration', 'Export contacts to CSV', 'Password reset email never arrives',
] as const;
export const NOTE_SUBJECTS = ['Discovery call notes', 'Budget confirmed for Q1', 'Champion moving teams', 'Asked for a security review', 'Prefers annual billing', 'Competitor in the deal'] as const;

export const COMPUTED_TRAITS = [
  { key: 'orders_count', name: 'Orders', kind: 'count', event: { type: 'track', name: 'Order Completed' } },
  { key: 'lifetime_revenue', name: 'Lifetime revenue', kind: 'sum', event: { type: 'track', name: 'Order Completed' }, property: 'revenue' },
  { key: 'pages_last_30_days', name: 'Pages viewed (30 days)', kind: 'count', event: { type: 'page' }, within: { last: 30, unit: 'days' } },
  {
    key: 'lead_score', name: 'Lead score', kind: 'score', decay: { half_life_days: 30 },
    rules: [
      { event: { type: 'page', name: 'Pricing' }, points: 10 },
      { event: { type: 'page', name: 'Docs' }, points: 3 },
      { event: { type: 'track', name: 'Signed In' }, points: 2 },
      { event: { type: 'track', name: 'Order Completed' }, points: 25 },
      { trait: { trait: 'plan', op: 'in', values: ['pro', 'team'] }, points: 15 },
    ],
  },
] as const;

export const AUDIENCES = [
  {
    key: 'pricing_twice_this_week', name: 'Visited pricing twice this week', description: 'Two or more views of /pricing in the last 7 days: ready for a sales call.',
    condition: { event: { type: 'page', name: 'Pricing' }, count: { op: 'at_least', value: 2 }, within: { last: 7, unit: 'days' } },
  },
  {
    key: 'customers_over_500', name: 'Customers with revenue > 500', description: 'Lifetime revenue above 500 USD.',
    condition: { computed_trait: 'lifetime_revenue', op: 'gt', value: 500 },
  },
  {
    key: 'hot_leads', name: 'Hot leads', description: 'A lead score of 40 or more and no order yet.',
    condition: { all: [{ computed_trait: 'lead_score', op: 'gte', value: 40 }, { not: { event: { type: 'track', name: 'Order Completed' } } }] },
  },
  {
    key: 'large_accounts', name: 'Accounts with 250+ employees', collection: 'accounts', description: 'Companies big enough for the enterprise plan.',
    condition: { trait: 'employees', op: 'gte', value: 250 },
  },
] as const;

/**
 * A webhook created disabled: enabled, it would fill the outbox with every order for a URL that answers
 * nothing and dead-letter them. Point it at a request bin and enable it to watch deliveries.
 */
export const DESTINATION = {
  name: 'Demo webhook (orders)',
  type: 'webhook',
  enabled: false,
  settings: { url: 'http://127.0.0.1:9/rapport-demo-webhook', mode: 'batch', batchSize: 100 },
  filter: { types: ['track'], events: ['Order Completed'] },
} as const;

/**
 * The demo's support targets for urgent tickets. The API cannot backdate a ticket, so with the default
 * targets (an hour) nothing would breach while a newcomer looks; two minutes makes the queue show breaches.
 */
export const URGENT_SLA = { firstResponseMinutes: 2, resolutionMinutes: 60 } as const;
