import { stringify } from 'csv-stringify/sync';
import { DEAL_PRODUCTS, DEAL_STAGES, NOTE_SUBJECTS, TASK_TITLES, TICKET_SUBJECTS } from './catalog.js';
import type { DemoCompany, DemoPerson } from './people.js';
import { prng } from './random.js';

/**
 * The CRM side of the demo, as the management API takes it: CSV imports of companies, contacts and deals,
 * and tasks, tickets and activities on contacts. Pure: the same seed and population give the same records.
 */

export interface CsvImport {
  object: 'contact' | 'company' | 'deal';
  csv: string;
  mapping: Record<string, string>;
}

const DAY = 86_400_000;
const asMapping = (columns: string[]) => Object.fromEntries(columns.map((c) => [c, c]));
const date = (at: number) => new Date(at).toISOString().slice(0, 10);

/** The import of these rows; none for no rows (an import needs at least one). */
function csvImport(object: CsvImport['object'], columns: string[], rows: (string | number)[][]): CsvImport | undefined {
  return rows.length === 0 ? undefined : { object, csv: stringify([columns, ...rows]), mapping: asMapping(columns) };
}

function lifecycleOf(p: DemoPerson, roll: number): string {
  if (p.orders > 0) return 'customer';
  if (p.hot) return 'sales_qualified_lead';
  return roll < 0.4 ? 'lead' : roll < 0.7 ? 'subscriber' : 'marketing_qualified_lead';
}

export function companyImport(companies: DemoCompany[], ownerId: string): CsvImport | undefined {
  return csvImport('company', ['name', 'domain', 'industry', 'employees', 'ownerId'], companies.map((c) => [c.name, c.domain, c.industry, c.employees, ownerId]));
}

export function contactImport(seed: number, people: DemoPerson[], ownerId: string): CsvImport | undefined {
  const rng = prng(seed ^ 0xc0ffee);
  return csvImport('contact', ['email', 'firstName', 'lastName', 'title', 'lifecycleStage', 'ownerId'], people.map((p) => [
    p.email, p.firstName, p.lastName, p.title, lifecycleOf(p, rng.next()), p.company ? ownerId : '',
  ]));
}

/** Deals with the people of companies: every stage of the default pipeline, open ones closing ahead, closed ones behind. */
export function dealImport(seed: number, people: DemoPerson[], now: number, ownerId: string): CsvImport | undefined {
  const rng = prng(seed ^ 0xdea1);
  const buyers = people.filter((p) => p.company);
  const count = buyers.length === 0 ? 0 : Math.min(400, Math.max(DEAL_STAGES.length * 2, Math.round(people.length / 8)));
  const rows: (string | number)[][] = [];
  for (let i = 0; i < count; i++) {
    const p = rng.pick(buyers);
    // The first deals go round the stages, so even a small demo fills the whole board.
    const stage = i < DEAL_STAGES.length ? DEAL_STAGES[i]![0] : rng.weighted(DEAL_STAGES);
    const closed = stage === 'Won' || stage === 'Lost';
    const closeDate = date(closed ? now - rng.between(1, 90) * DAY : now + rng.between(5, 90) * DAY);
    const amount = rng.between(10, 800) * 100;
    rows.push([`${p.company!.name}: ${rng.pick(DEAL_PRODUCTS)}`, amount, 'Sales pipeline', stage, closeDate, ownerId, p.email, p.company!.domain]);
  }
  return csvImport('deal', ['name', 'amount', 'pipeline', 'stage', 'closeDate', 'ownerId', 'contactEmail', 'companyDomain'], rows);
}

/** A contact as the API lists it, with the company it belongs to, if any. */
export interface ContactRef {
  id: string;
  companyId?: string;
}

export interface WorkItems {
  tasks: Record<string, unknown>[];
  tickets: Record<string, unknown>[];
  activities: Record<string, unknown>[];
}

/** Tasks (some overdue, some done), tickets (every priority and status; unanswered urgent ones breach), notes, calls and meetings. */
export function workItems(seed: number, contacts: ContactRef[], profiles: number, now: number, ownerId: string): WorkItems {
  const rng = prng(seed ^ 0x7a5c);
  const size = (per: number, min: number, max: number) => (contacts.length === 0 ? 0 : Math.min(max, Math.max(min, Math.round(profiles / per))));
  const on = (c: ContactRef) => ({ contactIds: [c.id], ...(c.companyId ? { companyIds: [c.companyId] } : {}) });

  const tasks = Array.from({ length: size(40, 8, 50) }, (_, i) => {
    const c = rng.pick(contacts);
    // A third overdue: due in the past and still open.
    const overdue = i % 3 === 0;
    const dueAt = new Date(overdue ? now - rng.between(1, 10) * DAY : now + rng.between(1, 21) * DAY).toISOString();
    const status = overdue ? 'open' : rng.weighted([['open', 5], ['in_progress', 3], ['done', 2]] as const);
    return { title: rng.pick(TASK_TITLES), dueAt, status, priority: rng.weighted([['normal', 5], ['high', 3], ['urgent', 1], ['low', 1]] as const), assigneeId: ownerId, ...on(c) };
  });

  const tickets = Array.from({ length: size(50, 6, 40) }, (_, i) => {
    const c = rng.pick(contacts);
    // Every fourth is urgent and new: nobody has answered, so it breaches the demo's urgent SLA.
    const priority = i % 4 === 0 ? 'urgent' : rng.weighted([['low', 2], ['normal', 5], ['high', 3]] as const);
    const status = i % 4 === 0 ? 'new' : rng.weighted([['new', 2], ['open', 4], ['pending', 2], ['resolved', 2]] as const);
    return {
      subject: rng.pick(TICKET_SUBJECTS), description: 'Opened from the demo data.', priority, status,
      channel: rng.pick(['email', 'chat', 'phone', 'web'] as const), assigneeId: ownerId, contactId: c.id, ...(c.companyId ? { companyId: c.companyId } : {}),
    };
  });

  const activities = Array.from({ length: size(50, 6, 40) }, () => {
    const c = rng.pick(contacts);
    const kind = rng.weighted([['note', 4], ['call', 3], ['meeting', 2], ['email', 1]] as const);
    const occurredAt = new Date(now - rng.between(1, 60) * DAY - rng.int(8 * 3600) * 1000).toISOString();
    const base = { kind, subject: rng.pick(NOTE_SUBJECTS), occurredAt, ownerId, ...on(c) };
    if (kind === 'note') return { ...base, body: 'Logged by the demo: see the timeline for the web activity around it.' };
    if (kind === 'call') return { ...base, direction: rng.pick(['inbound', 'outbound'] as const), outcome: rng.pick(['connected', 'no_answer', 'left_voicemail'] as const), durationSeconds: rng.between(60, 1800) };
    if (kind === 'meeting') return { ...base, durationSeconds: rng.pick([1800, 2700, 3600]) };
    return { ...base, direction: 'outbound', body: 'Sent the pricing sheet and a case study.' };
  });

  return { tasks, tickets, activities };
}
