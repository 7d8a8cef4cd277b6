import { AUDIENCES, COMPUTED_TRAITS, DESTINATION, URGENT_SLA } from './catalog.js';
import { inParallel, sendBatches, type ManagementClient } from './client.js';
import { companyImport, contactImport, dealImport, workItems, type ContactRef, type CsvImport } from './crm.js';
import { generatePopulation } from './people.js';
import { openDemoWorkspace } from './workspace.js';

export interface DemoOptions {
  url: string;
  profiles: number;
  seed: number;
  email: string;
  password: string;
  /** One line of progress (the CLI writes them to stderr). */
  progress: (line: string) => void;
  /** How long to wait at the end for the pipeline to apply everything (ms). */
  settleMs?: number;
}

export interface DemoResult {
  url: string;
  workspaceId: string;
  email: string;
  password: string;
  apiKey: string;
  writeKey: string;
  /** False when the workspace already held the demo: nothing was added. */
  loaded: boolean;
  events: number;
  contacts: number;
  companies: number;
  deals: number;
  tasks: number;
  tickets: number;
  activities: number;
  /** Audience sizes by key, once the pipeline caught up (or when waiting for it gave up). */
  audiences: Record<string, number>;
  pipelineLag: number;
  seconds: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Definitions by key that do not exist yet, created; existing ones are left as they are. */
async function ensureDefinitions(api: ManagementClient, path: string, definitions: readonly { key: string }[]) {
  const existing = new Set(((await api.call('GET', path)).data as { key: string }[]).map((d) => d.key));
  for (const d of definitions) if (!existing.has(d.key)) await api.call('POST', path, d);
}

async function runImport(api: ManagementClient, input: CsvImport | undefined): Promise<{ id: string | null; valid: number; invalid: number; problems: unknown[] }> {
  if (!input) return { id: null, valid: 0, invalid: 0, problems: [] };
  const started = await api.call('POST', '/crm/imports', input);
  if (started.invalid > 0) throw new Error(`The demo's ${input.object} import refused ${started.invalid} rows: ${JSON.stringify(started.problems.slice(0, 3))}`);
  return started;
}

async function untilImported(api: ManagementClient, ids: string[], deadline: number) {
  for (const id of ids) {
    while ((await api.call('GET', `/crm/imports/${id}`)).status !== 'done') {
      if (Date.now() > deadline) throw new Error(`Import ${id} is not applied after the time allowed: is the pipeline running (rapport start --role all)?`);
      await sleep(200);
    }
  }
}

async function pipelineLag(api: ManagementClient): Promise<number> {
  return Number((await api.call('GET', '/stats/events?minutes=1')).pipeline.lagEvents);
}

/** Every page of a list endpoint. */
async function all<T>(api: ManagementClient, path: string): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  do {
    const page: { data: T[]; nextCursor: string | null } = await api.call('GET', `${path}${path.includes('?') ? '&' : '?'}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    out.push(...page.data);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

/**
 * Loads the demo workspace through the public APIs, step by step; each step skips what is already there,
 * so a second run adds nothing (events carry fixed message ids, which the collection API deduplicates).
 * The destination is made last: when it exists, the demo is complete and the run only reports.
 */
export async function loadDemo(options: DemoOptions): Promise<DemoResult> {
  const started = Date.now();
  const { progress } = options;
  const url = options.url.replace(/\/+$/, '');
  const ws = await openDemoWorkspace(url, { email: options.email, password: options.password }, progress);
  const { api } = ws;
  const result: DemoResult = {
    url, workspaceId: ws.workspaceId, email: ws.email, password: ws.password, apiKey: ws.apiKey, writeKey: ws.writeKey, loaded: false,
    events: 0, contacts: 0, companies: 0, deals: 0, tasks: 0, tickets: 0, activities: 0, audiences: {}, pipelineLag: 0, seconds: 0,
  };

  const destinations = (await api.call('GET', '/destinations')).data as { name: string }[];
  if (destinations.some((d) => d.name === DESTINATION.name)) {
    progress('The Demo workspace already holds the demo: nothing to add.');
  } else {
    result.loaded = true;
    const now = Date.now();
    progress('Computed traits, a lead score and audiences');
    await ensureDefinitions(api, '/computed-traits', COMPUTED_TRAITS);
    await ensureDefinitions(api, '/audiences', AUDIENCES);
    await api.call('PUT', '/crm/sla-policies/urgent', URGENT_SLA);

    const population = generatePopulation({ seed: options.seed, profiles: options.profiles, now });
    progress(`Sending ${population.calls.length.toLocaleString('en')} events of ${options.profiles.toLocaleString('en')} visitors over the last 90 days to /v1/batch`);
    let shown = 0;
    const sent = await sendBatches(url, ws.writeKey, population.calls, {
      onBatch: (n) => {
        if (n - shown >= 5000 || n === population.calls.length) progress(`  ${(shown = n).toLocaleString('en')} events sent`);
      },
    });
    if (sent.rejected > 0) throw new Error(`The collection API refused ${sent.rejected} of the demo's events.`);
    result.events = sent.accepted;

    progress(`Importing ${population.companies.length} companies and ${population.people.length} contacts (CSV import: owner, lifecycle stage)`);
    const imports = [await runImport(api, companyImport(population.companies, ws.ownerId)), await runImport(api, contactImport(options.seed, population.people, ws.ownerId))];
    progress('Waiting for the pipeline to apply the events and the imports');
    await untilImported(api, imports.map((i) => i.id).filter((id): id is string => id !== null), Date.now() + 120_000);

    if ((await api.call('GET', '/crm/deals?limit=1')).data.length === 0) {
      const deals = dealImport(options.seed, population.people, now, ws.ownerId);
      progress('Deals in every stage of the sales pipeline');
      result.deals = (await runImport(api, deals)).valid;
    }

    if ((await api.call('GET', '/crm/tasks?limit=1')).data.length === 0) {
      // Contacts sorted by email: the API lists newest first, and the same seed must pick the same people.
      const contacts = (await all<{ id: string; email: string | null; companyIds: string[] }>(api, '/crm/contacts'))
        .filter((c) => c.email).sort((a, b) => (a.email! < b.email! ? -1 : 1))
        .map((c): ContactRef => ({ id: c.id, ...(c.companyIds[0] ? { companyId: c.companyIds[0] } : {}) }));
      const work = workItems(options.seed, contacts, options.profiles, now, ws.ownerId);
      progress(`${work.tasks.length} tasks, ${work.tickets.length} tickets, ${work.activities.length} notes, calls and meetings`);
      await inParallel(work.tasks, 4, (t) => api.call('POST', '/crm/tasks', t));
      await inParallel(work.tickets, 4, (t) => api.call('POST', '/crm/tickets', t));
      await inParallel(work.activities, 4, (a) => api.call('POST', '/crm/activities', a));
      Object.assign(result, { tasks: work.tasks.length, tickets: work.tickets.length, activities: work.activities.length });
    }

    progress(`A webhook destination, disabled (${DESTINATION.settings.url}: enable it once it points somewhere real)`);
    await api.call('POST', '/destinations', DESTINATION);
  }

  const settleBy = Date.now() + (options.settleMs ?? 30_000);
  while ((result.pipelineLag = await pipelineLag(api)) > 0 && Date.now() < settleBy) await sleep(250);
  // Audiences are computed after the events they read: wait for none to be pending, within the same time.
  let audiences = (await api.call('GET', '/audiences')).data as { key: string; status: string; size: number }[];
  while (audiences.some((a) => a.status !== 'ready') && Date.now() < settleBy) {
    await sleep(250);
    audiences = (await api.call('GET', '/audiences')).data;
  }
  result.audiences = Object.fromEntries(audiences.map((a) => [a.key, a.size]));
  result.contacts = (await all(api, '/crm/contacts')).length;
  result.companies = (await all(api, '/crm/companies')).length;
  if (!result.loaded) result.deals = (await all(api, '/crm/deals')).length;
  result.seconds = Math.round((Date.now() - started) / 100) / 10;
  return result;
}
