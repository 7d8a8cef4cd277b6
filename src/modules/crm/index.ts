import type { Kysely } from 'kysely';
import type { Migrations } from '../../platform/db/migrate.js';
import { createActivities } from './activities.js';
import { createCompanies } from './companies.js';
import { createContacts, type ContactsDeps } from './contacts.js';
import { createDeals } from './deals.js';
import { createFields, type CrmObject } from './fields.js';
import * as deals from './migrations/202611261000-crm-deals.js';
import * as work from './migrations/202611261100-crm-work.js';
import * as contacts from './migrations/202611261200-crm-contacts.js';
import * as imports from './migrations/202611261300-crm-imports.js';
import * as views from './migrations/202611261400-crm-views.js';
import * as search from './migrations/202611261500-crm-search.js';
import * as searchAddresses from './migrations/202611290000-crm-search-addresses.js';
import { createProfileStep } from './indexing.js';
import { createCrmErasure } from './erasure.js';
import { createSearch } from './search.js';
import { recordRules } from './record-scope.js';
import { createViews, VIEW_QUERIES, type ViewObject } from './views.js';
import { Ajv } from 'ajv';
import { errors } from '../../platform/errors.js';
import { createImports } from './imports.js';
import { createTasks } from './tasks.js';
import { createTickets } from './tickets.js';

export { crmRoutes } from './routes.js';
export { crmWorkRoutes } from './work-routes.js';
export { CRM_SOURCE } from './events.js';
export { crmEventRecord } from './timeline.js';
export { CONTACT_SEARCH_TRAITS, COMPANY_SEARCH_TRAITS, type ProfileChange } from './indexing.js';
export type CrmProfileStep = ReturnType<typeof createProfileStep>;

export const crmMigrations: Migrations = { '202611261000-crm-deals': deals, '202611261100-crm-work': work, '202611261200-crm-contacts': contacts, '202611261300-crm-imports': imports, '202611261400-crm-views': views, '202611261500-crm-search': search, '202611290000-crm-search-addresses': searchAddresses };

/** The CRM's services: custom fields, deals (pipelines are plain functions over the store), activities, tasks, tickets. */
export function createCrm(rawDeps: Omit<ContactsDeps, 'search'> & {
  byGroupId(db: Kysely<any>, workspaceId: string, groupId: string): Promise<string | undefined>;
  byEmails(db: Kysely<any>, workspaceId: string, emails: string[]): Promise<Map<string, string>>;
}) {
  const deps = { ...rawDeps, search: createSearch() };
  const fields = createFields(deps.now);
  const rules = recordRules(deps.relations.profiles);
  const dealService = createDeals(deps, rules, (db: Kysely<any>, workspaceId: string) => fields.of(db, workspaceId, 'deal'));
  const tickets = createTickets(deps, rules, (db: Kysely<any>, workspaceId: string) => fields.of(db, workspaceId, 'ticket'));
  // An outbound email or call logged on a ticket is its first response.
  const activities = createActivities(deps, rules, async (db, activity) => {
    if ((activity.kind !== 'email' && activity.kind !== 'call') || activity.direction !== 'outbound') return;
    for (const a of activity.associations) if (a.object === 'ticket') await tickets.responded(db, activity.workspace_id, a.target_id, activity.occurred_at);
  });
  const contactService = createContacts(deps, (db: Kysely<any>, workspaceId: string) => fields.of(db, workspaceId, 'contact'));
  const companies = createCompanies(deps, (db: Kysely<any>, workspaceId: string) => fields.of(db, workspaceId, 'company'));
  const importService = createImports({ ...deps, deals: dealService }, (db: Kysely<any>, workspaceId: string, object: CrmObject) => fields.of(db, workspaceId, object));
  // Formats (dates) are checked by the list the view is applied to, as it reads them.
  const ajv = new Ajv({ allErrors: false, strict: false, allowUnionTypes: true, validateFormats: false });
  const viewQueries = Object.fromEntries(Object.entries(VIEW_QUERIES).map(([object, properties]) => [object, ajv.compile({ type: 'object', additionalProperties: false, properties })]));
  const viewService = createViews(deps.now, (object: ViewObject, query: unknown) => {
    const check = viewQueries[object];
    if (!check(query)) throw errors.validation(`Invalid view query: ${check.errors?.[0]?.instancePath || 'the query'} ${check.errors?.[0]?.message ?? 'is not valid'}${check.errors?.[0]?.keyword === 'additionalProperties' ? ` ("${(check.errors[0].params as { additionalProperty: string }).additionalProperty}")` : ''}.`);
  });
  return { rules, search: deps.search, profileRelations: deps.relations, profileStep: createProfileStep(deps.relations, deps.search), fields, deals: dealService, activities, tasks: createTasks(deps, rules), tickets, contacts: contactService, companies, imports: importService, views: viewService, worker: importWorker(importService), erasure: createCrmErasure(deps.search) };
}

export type Crm = ReturnType<typeof createCrm>;

/** Sets imported contacts' CRM fields as the pipeline creates their profiles: a small loop beside the pipeline. */
function importWorker(service: ReturnType<typeof createImports>) {
  let running = false;
  let loop: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  return {
    start(db: Kysely<any>, onError: (error: unknown) => void) {
      if (running) return;
      running = true;
      loop = (async () => {
        while (running) {
          let did = false;
          try {
            did = await service.advance(db);
          } catch (error) {
            onError(error);
          }
          if (!did && running) await new Promise<void>((resolve) => {
            wake = resolve;
            timer = setTimeout(resolve, 250);
          });
        }
      })();
    },
    async stop() {
      running = false;
      clearTimeout(timer);
      wake?.();
      await loop;
    },
  };
}
