import { Ajv } from 'ajv';
import type { Kysely } from 'kysely';
import type { ContactsDeps } from './contacts.js';
import { dealCreateSchema, type DealDraft, type DealInput, type Deals } from './deals.js';
import { companyLookups, normalizeDomain } from './import-companies.js';
import { reasonsOf, schemaReasons, type ImportObject } from './import-rows.js';
import { ensurePipelines, type Pipeline } from './pipelines.js';

/** Deal fields a CSV column can map to; `custom.<key>` maps to a custom field. */
export const DEAL_IMPORT_FIELDS = ['name', 'amount', 'currency', 'pipeline', 'stage', 'closeDate', 'ownerId', 'contactEmail', 'companyDomain'] as const;
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

// The API's own schema, so a row is refused for what POST /crm/deals would refuse.
const validDeal = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true }).compile<unknown>(dealCreateSchema);

const named = <T extends { id: string; name: string }>(list: T[], value: string) => list.find((x) => x.id === value) ?? list.find((x) => x.name.toLowerCase() === value.toLowerCase());

/**
 * Deals: no dedupe key (every good row is a new deal). A row becomes the deals API's own input (pipeline and
 * stage by name or id, the contact by email, the company by domain) and is checked by the deals service's
 * draft, as POST /crm/deals checks it; the good rows are written by its bulk insert in the import's transaction.
 */
export function dealImport(deps: ContactsDeps & { byEmails(db: Kysely<any>, workspaceId: string, emails: string[]): Promise<Map<string, string>> }, deals: Deals): ImportObject<DealDraft> {
  const lookups = companyLookups(deps);

  /** Pipeline and stage ids for the row's names or ids; what is not found is passed on as given, for the draft to refuse. */
  function place(pipelines: Pipeline[], values: Record<string, string>): Pick<DealInput, 'pipelineId' | 'stageId'> {
    const out: Pick<DealInput, 'pipelineId' | 'stageId'> = {};
    const pipeline = values.pipeline === undefined ? undefined : named(pipelines, values.pipeline);
    if (values.pipeline !== undefined) out.pipelineId = pipeline?.id ?? values.pipeline;
    if (values.stage !== undefined) {
      // Without a pipeline: a stage id of any pipeline (as the API takes), else a stage name of the first.
      const within = values.pipeline !== undefined ? pipeline : pipelines.find((p) => p.stages.some((s) => s.id === values.stage)) ?? pipelines[0];
      out.stageId = (within ? named(within.stages, values.stage)?.id : undefined) ?? values.stage;
    }
    return out;
  }

  return {
    fields: DEAL_IMPORT_FIELDS,
    mappingProblem: (targets) => (targets.includes('name') ? undefined : 'a column must map to name (every deal has one)'),

    async check(db, workspaceId, rows, defs) {
      const now = deps.now();
      const pipelines = await db.transaction().execute((tx) => ensurePipelines(tx, workspaceId, now));
      const emails = [...new Set(rows.map((r) => r.values.contactEmail?.toLowerCase()).filter((e): e is string => e !== undefined && EMAIL.test(e)))];
      const people = new Map<string, string>();
      for (let i = 0; i < emails.length; i += 2_000) for (const [e, p] of await deps.byEmails(db, workspaceId, emails.slice(i, i + 2_000))) people.set(e, p);
      const domains = rows.map((r) => r.values.companyDomain).filter((d): d is string => d !== undefined).map(normalizeDomain);
      const viaGroup = await lookups.byGroupIds(db, workspaceId, domains);
      const viaDomain = await lookups.byDomains(db, workspaceId, domains);
      // The draft checks each contact and company through this: the lookups above already know them.
      const known = new Map<string, { id: string; collection: string }>([
        ...[...people.values()].map((id) => [id, { id, collection: 'users' }] as const),
        ...[...viaGroup.values(), ...viaDomain.values()].map((id) => [id, { id, collection: 'accounts' }] as const),
      ]);
      const profile = async (_db: Kysely<any>, _workspaceId: string, id: string) => known.get(id);

      const out: Awaited<ReturnType<ImportObject<DealDraft>['check']>> = { good: [], bad: [], duplicates: 0 };
      for (const { line, values, custom } of rows) {
        const reasons: string[] = [];
        const input: DealInput = { ...place(pipelines, values), custom };
        for (const field of ['name', 'currency', 'closeDate', 'ownerId'] as const) if (values[field] !== undefined) input[field] = values[field];
        if (values.amount !== undefined) {
          const amount = Number(values.amount);
          if (Number.isFinite(amount)) input.amount = amount;
          else reasons.push(`amount "${values.amount}" is not a number`);
        }
        const email = values.contactEmail?.toLowerCase();
        if (email !== undefined) {
          const id = EMAIL.test(email) ? people.get(email) : undefined;
          if (id) input.contactIds = [id];
          else reasons.push(EMAIL.test(email) ? `contactEmail ${email} is not a contact of this workspace` : `contactEmail "${values.contactEmail}" is not an email address`);
        }
        if (values.companyDomain !== undefined) {
          const domain = normalizeDomain(values.companyDomain);
          const id = viaGroup.get(domain) ?? viaDomain.get(domain);
          if (id) input.companyId = id;
          else reasons.push(`companyDomain "${values.companyDomain}" is not a company of this workspace`);
        }
        let draft: DealDraft | undefined;
        if (!validDeal(input)) reasons.push(...schemaReasons(validDeal.errors, input as Record<string, unknown>));
        else {
          try {
            draft = await deals.draft(db, workspaceId, input, { now, pipelines, defs, profile });
          } catch (error) {
            reasons.push(...reasonsOf(error, 'Invalid deal: '));
          }
        }
        if (reasons.length || !draft) out.bad.push({ line, errors: reasons });
        else out.good.push(draft);
      }
      return out;
    },

    async write(tx, _workspaceId, _importId, good, actor) {
      await deals.insert(tx, good, actor);
      return null;
    },
  };
}
