import { timeOrderedUuid } from '../../platform/ids.js';
import { sql, type Kysely } from 'kysely';
import { errors } from '../../platform/errors.js';
import { ALL_RECORDS, assertVisible, ownerVisible, type RecordRules, type RecordScope } from './record-scope.js';
import { validateValues, type FieldDefinition } from './custom-fields.js';
import { checkIfMatch, etagOf } from './concurrency.js';
import { appendCrmEvents, type CrmEvent, type CrmEventsDeps } from './events.js';

export { etagOf };
import { checkCurrency, fromMinor, toMinor } from './money.js';
import { ensurePipelines, lockPipeline, type Pipeline } from './pipelines.js';
import { dealDocument, type Search } from './search.js';
import { crmStore as store, dealRow, type CrmTables, type DealRow, type StageRow } from './store.js';

export interface DealInput {
  name?: string;
  pipelineId?: string;
  stageId?: string;
  amount?: number | null;
  currency?: string;
  closeDate?: string | null;
  ownerId?: string | null;
  contactIds?: string[];
  companyId?: string | null;
  custom?: Record<string, unknown>;
}

const DATE = { type: ['string', 'null'], pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'YYYY-MM-DD' };
const dealProperties = {
  name: { type: 'string', minLength: 1, maxLength: 500, pattern: '\\S' },
  pipelineId: { type: 'string', description: 'Default: the first pipeline.' },
  stageId: { type: 'string', description: "A stage of the deal's pipeline. Default: its first stage." },
  amount: { type: ['number', 'null'], minimum: 0 },
  currency: { type: 'string', pattern: '^[A-Z]{3}$', description: 'ISO 4217; default USD.' },
  closeDate: DATE,
  ownerId: { type: ['string', 'null'], maxLength: 200 },
  contactIds: { type: 'array', maxItems: 100, uniqueItems: true, items: { type: 'string' }, description: 'Person profiles; the first is the one the deal\'s events are about.' },
  companyId: { type: ['string', 'null'], description: 'An account profile.' },
  custom: { type: 'object', description: 'Custom field values, by key (see /crm/fields/deal).' },
};
export const dealCreateSchema = { type: 'object', additionalProperties: false, required: ['name'], properties: dealProperties };
export const dealUpdateSchema = { type: 'object', additionalProperties: false, minProperties: 1, properties: dealProperties };

export interface DealsDeps extends CrmEventsDeps {
  /** The full-text index, written in the transaction of each change. */
  search: Search;
  /** On PostgreSQL a deal being changed is locked (SELECT … FOR UPDATE); SQLite serialises writers anyway. */
  postgres: boolean;
  /** Where each profile id lives now (merged ones followed to their survivor). */
  liveIds(db: Kysely<any>, ids: string[]): Promise<Map<string, string>>;
  /** A profile's id and the ids of every profile merged into it. */
  aliases(db: Kysely<any>, profileId: string): Promise<string[]>;
  /** The live profile behind an id (merged ids followed), with its collection. */
  profile(db: Kysely<any>, workspaceId: string, id: string): Promise<{ id: string; collection: string } | undefined>;
}

export interface Deal extends DealRow {
  contact_ids: string[];
}

/** A deal checked as create checks it, not yet written: its row, contacts (live ids), stage and pipeline. */
export interface DealDraft {
  row: DealRow;
  contacts: string[];
  stage: StageRow;
  pipeline: Pipeline;
}

/** What a draft reads once for many deals; `profile` may answer from lookups already made (an import's). */
export interface DraftContext {
  now: number;
  pipelines: Pipeline[];
  defs: FieldDefinition[];
  profile?: DealsDeps['profile'];
}


function isRealDate(s: string): boolean {
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

export function createDeals(deps: DealsDeps, rules: RecordRules, fields: (db: Kysely<any>, workspaceId: string) => Promise<FieldDefinition[]>) {
  /**
   * A deal's contacts and company in the caller's scope: one the caller may not see is refused as an unknown
   * one, unless the deal had it; a new list of contacts keeps the hidden ones the deal had, and a hidden company
   * stays when cleared (the caller was not shown them).
   */
  async function scoped(db: Kysely<any>, scope: RecordScope, found: { contacts: string[]; company: string | null | undefined }, had: { contacts: string[]; company: string | null } = { contacts: [], company: null }) {
    if (scope.all) return found;
    const hiddenHad = await rules.hiddenOf(db, scope, [...had.contacts.map((id) => ({ object: 'contact', id })), ...(had.company ? [{ object: 'company', id: had.company }] : [])]);
    const fresh = [
      ...found.contacts.filter((id) => !hiddenHad.has(`contact:${id}`)).map((id) => ({ object: 'contact', id })),
      ...(found.company && found.company !== had.company ? [{ object: 'company', id: found.company }] : []),
    ];
    const hidden = await rules.hiddenOf(db, scope, fresh);
    const refused = fresh.find((r) => hidden.has(`${r.object}:${r.id}`));
    if (refused) throw errors.validation(`Invalid deal: ${refused.object} "${refused.id}" is not ${refused.object === 'contact' ? 'a person' : 'an account'} profile of this workspace.`);
    const kept = had.contacts.filter((id) => hiddenHad.has(`contact:${id}`) && !found.contacts.includes(id));
    // A company it was shown as none (null) stays what it is: clearing it is not the caller's to do.
    const company = found.company === null && had.company && hiddenHad.has(`company:${had.company}`) ? had.company : found.company;
    return { contacts: [...found.contacts, ...kept], company };
  }

  async function resolveStage(db: Kysely<any>, workspaceId: string, pipelines: Pipeline[], pipelineId: string | undefined, stageId: string | undefined) {
    const pipeline = pipelineId ? pipelines.find((p) => p.id === pipelineId) : stageId ? pipelines.find((p) => p.stages.some((s) => s.id === stageId)) : pipelines[0];
    if (!pipeline) throw errors.validation(pipelineId ? `Invalid deal: no pipeline "${pipelineId}".` : `Invalid deal: no stage "${stageId}".`);
    const stage = stageId ? pipeline.stages.find((s) => s.id === stageId) : pipeline.stages[0];
    if (!stage) throw errors.validation(`Invalid deal: "${stageId}" is not a stage of pipeline "${pipeline.name}".`);
    return { pipeline, stage };
  }

  async function checkProfiles(db: Kysely<any>, workspaceId: string, contactIds: string[] | undefined, companyId: string | null | undefined, profile = deps.profile) {
    const contacts: string[] = [];
    for (const id of contactIds ?? []) {
      const p = await profile(db, workspaceId, id);
      if (!p || p.collection !== 'users') throw errors.validation(`Invalid deal: contact "${id}" is not a person profile of this workspace.`);
      if (!contacts.includes(p.id)) contacts.push(p.id);
    }
    let company: string | null | undefined = companyId;
    if (companyId) {
      const p = await profile(db, workspaceId, companyId);
      if (!p || p.collection !== 'accounts') throw errors.validation(`Invalid deal: company "${companyId}" is not an account profile of this workspace.`);
      company = p.id;
    }
    return { contacts, company };
  }

  /** Under the pipeline's lock: the stage read before may have been removed meanwhile. */
  async function stillThere(db: Kysely<any>, workspaceId: string, stage: StageRow) {
    if (!(await store.stage(db, workspaceId, stage.id))) throw errors.conflict(`Stage "${stage.name}" was just removed from its pipeline; read the pipeline again.`);
  }

  /** A deal's contacts as they are now: a contact merged into another profile shows as that profile. */
  async function contactsOf(db: Kysely<any>, dealIds: string[]): Promise<Map<string, string[]>> {
    const stored = await store.contactsOf(db, dealIds);
    const live = await deps.liveIds(db, [...new Set([...stored.values()].flat())]);
    return new Map([...stored].map(([deal, ids]) => [deal, [...new Set(ids.map((p) => live.get(p) ?? p))]]));
  }

  function checkDate(value: string | null | undefined) {
    if (value && !isRealDate(value)) throw errors.validation(`Invalid deal: closeDate "${value}" is not a calendar date.`);
  }

  const outcomeOf = (stage: StageRow) => stage.outcome;

  function eventOf(deal: DealRow, contacts: string[], event: string, stage: StageRow, pipeline: Pipeline, extra: Record<string, unknown> = {}): CrmEvent {
    const profileId = contacts[0] ?? deal.company_id;
    return {
      workspaceId: deal.workspace_id, event, profileId: profileId ?? null, collection: contacts[0] ? 'users' : 'accounts',
      properties: {
        deal_id: deal.id, deal_name: deal.name, pipeline_id: pipeline.id, pipeline_name: pipeline.name, stage_id: stage.id, stage_name: stage.name, status: deal.status,
        amount: deal.amount_minor === null ? null : fromMinor(deal.amount_minor, deal.currency), currency: deal.currency, close_date: deal.close_date, owner_id: deal.owner_id,
        ...extra,
      },
    };
  }
  const announce = (db: Kysely<any>, ...event: Parameters<typeof eventOf>) => appendCrmEvents(db, deps, [eventOf(...event)]);

  /** Every check create makes, writing nothing: the deal as it would be inserted (the first refusal is thrown). */
  async function draft(db: Kysely<any>, workspaceId: string, input: DealInput, ctx: DraftContext): Promise<DealDraft> {
    const { pipeline, stage } = await resolveStage(db, workspaceId, ctx.pipelines, input.pipelineId, input.stageId);
    checkDate(input.closeDate);
    const { contacts, company } = await checkProfiles(db, workspaceId, input.contactIds, input.companyId, ctx.profile);
    const currency = input.currency ?? 'USD';
    checkCurrency(currency);
    const custom = validateValues(ctx.defs, input.custom ?? {}, 'create');
    const status = outcomeOf(stage);
    const row: DealRow = {
      id: timeOrderedUuid(), workspace_id: workspaceId, name: input.name!.trim(), pipeline_id: pipeline.id, stage_id: stage.id,
      amount_minor: input.amount === undefined || input.amount === null ? null : toMinor(input.amount, currency),
      amount: input.amount === undefined || input.amount === null ? null : input.amount, currency,
      close_date: input.closeDate ?? null, owner_id: input.ownerId ?? null, company_id: company ?? null, custom: JSON.stringify(custom), status,
      closed_at: status === 'open' ? null : ctx.now, version: 1, created_at: ctx.now, updated_at: ctx.now,
    };
    return { row, contacts, stage, pipeline };
  }

  /**
   * Writes drafted deals with their contacts, first stage-history entry and Deal Created events, 500 to a
   * statement, under their pipelines' locks (a stage removed since the drafts were made refuses them all).
   */
  async function insert(db: Kysely<any>, drafts: DealDraft[], actor: string): Promise<void> {
    for (const pipelineId of new Set(drafts.map((d) => d.pipeline.id))) await lockPipeline(db, pipelineId);
    for (const d of new Map(drafts.map((x) => [x.stage.id, x])).values()) await stillThere(db, d.row.workspace_id, d.stage);
    for (let i = 0; i < drafts.length; i += 500) {
      const chunk = drafts.slice(i, i + 500);
      await store.insertDeals(db, chunk.map((d) => d.row));
      await deps.search.put(db, chunk.map((d) => dealDocument(d.row, d.stage.name)), chunk[0].row.created_at);
      await store.addContacts(db, chunk.flatMap((d) => d.contacts.map((profile_id, position) => ({ deal_id: d.row.id, profile_id, workspace_id: d.row.workspace_id, position }))));
      await store.recordStageChanges(db, chunk.map((d) => ({ deal_id: d.row.id, workspace_id: d.row.workspace_id, from_stage_id: null, to_stage_id: d.stage.id, at: d.row.created_at, actor })));
      await appendCrmEvents(db, deps, chunk.map((d) => eventOf(d.row, d.contacts, 'Deal Created', d.stage, d.pipeline)));
    }
  }

  return {
    async get(db: Kysely<any>, workspaceId: string, id: string, scope: RecordScope = ALL_RECORDS): Promise<Deal> {
      const row = await store.deal(db, workspaceId, id);
      if (!row) throw errors.notFound('Deal');
      assertVisible(row.owner_id, scope, 'Deal');
      return { ...row, contact_ids: (await contactsOf(db, [id])).get(id)! };
    },

    async create(db: Kysely<any>, workspaceId: string, input: DealInput, actor: string, scope: RecordScope = ALL_RECORDS): Promise<Deal> {
      const now = deps.now();
      const d = await draft(db, workspaceId, input, { now, pipelines: await ensurePipelines(db, workspaceId, now), defs: await fields(db, workspaceId) });
      await scoped(db, scope, { contacts: d.contacts, company: d.row.company_id });
      await insert(db, [d], actor);
      return { ...d.row, contact_ids: d.contacts };
    },

    draft,
    /** Many drafted deals at once (an import), in the caller's transaction. */
    insert,

    /**
     * Changes a deal. With `ifMatch` (the ETag the client read), a deal changed since is refused with 412:
     * a stale write never silently overwrites. A stage change is recorded in the stage history and
     * appended to the log as `Deal Stage Changed`.
     */
    async update(db: Kysely<any>, workspaceId: string, id: string, input: DealInput, actor: string, ifMatch?: string, scope: RecordScope = ALL_RECORDS): Promise<Deal> {
      const current = await store.deal(db, workspaceId, id, deps.postgres);
      if (!current) throw errors.notFound('Deal');
      assertVisible(current.owner_id, scope, 'Deal');
      checkIfMatch(ifMatch, current, 'deal');
      const now = deps.now();
      const pipelines = await ensurePipelines(db, workspaceId, now);
      const moving = input.pipelineId !== undefined || input.stageId !== undefined;
      const { pipeline, stage } = await resolveStage(db, workspaceId, pipelines, input.pipelineId ?? (input.stageId ? undefined : current.pipeline_id), input.stageId ?? (moving && input.pipelineId !== current.pipeline_id ? undefined : current.stage_id));
      if (stage.id !== current.stage_id) {
        await lockPipeline(db, pipeline.id);
        await stillThere(db, workspaceId, stage);
      }
      checkDate(input.closeDate);
      const had = { contacts: input.contactIds ? (await contactsOf(db, [id])).get(id)! : [], company: current.company_id };
      const { contacts, company } = await scoped(db, scope, await checkProfiles(db, workspaceId, input.contactIds, input.companyId), had);
      const currency = input.currency ?? current.currency;
      checkCurrency(currency);
      const defs = await fields(db, workspaceId);
      const custom = { ...JSON.parse(current.custom), ...(input.custom ? validateValues(defs, input.custom, 'update') : {}) } as Record<string, unknown>;
      // A value stays only while its field is defined (and is not cleared).
      for (const [k, v] of Object.entries(custom)) if (v === null || !defs.some((d) => d.key === k)) delete custom[k];
      const status = outcomeOf(stage);
      const stageChanged = stage.id !== current.stage_id;
      const amountMinor = input.amount === undefined
        ? (current.amount_minor === null || currency === current.currency ? current.amount_minor : toMinor(fromMinor(current.amount_minor, current.currency), currency))
        : input.amount === null ? null : toMinor(input.amount, currency);
      const set: Partial<DealRow> = {
        name: input.name?.trim() ?? current.name, pipeline_id: pipeline.id, stage_id: stage.id, amount_minor: amountMinor,
        amount: amountMinor === null ? null : fromMinor(amountMinor, currency), currency,
        close_date: input.closeDate === undefined ? current.close_date : input.closeDate, owner_id: input.ownerId === undefined ? current.owner_id : input.ownerId,
        company_id: company === undefined ? current.company_id : company, custom: JSON.stringify(custom), status,
        closed_at: status === 'open' ? null : stageChanged || current.closed_at === null ? now : current.closed_at, updated_at: now,
      };
      if (!(await store.updateDeal(db, id, current.version, set))) throw errors.preconditionFailed('The deal changed while this change was applied; read it again.');
      if (input.contactIds) await store.setContacts(db, workspaceId, id, contacts);
      const after = { ...current, ...set, version: current.version + 1 } as DealRow;
      await deps.search.put(db, [dealDocument(after, stage.name)], now);
      const contactIds = input.contactIds ? contacts : (await contactsOf(db, [id])).get(id)!;
      if (stageChanged) {
        await store.recordStageChanges(db, [{ deal_id: id, workspace_id: workspaceId, from_stage_id: current.stage_id, to_stage_id: stage.id, at: now, actor }]);
        const previous = pipelines.flatMap((p) => p.stages).find((s) => s.id === current.stage_id);
        await announce(db, after, contactIds, 'Deal Stage Changed', stage, pipeline, { previous_stage_id: current.stage_id, previous_stage_name: previous?.name ?? null });
      }
      return { ...after, contact_ids: contactIds };
    },

    async remove(db: Kysely<any>, workspaceId: string, id: string, ifMatch?: string, scope: RecordScope = ALL_RECORDS): Promise<void> {
      const current = await store.deal(db, workspaceId, id, deps.postgres);
      if (!current) throw errors.notFound('Deal');
      assertVisible(current.owner_id, scope, 'Deal');
      checkIfMatch(ifMatch, current, 'deal');
      const contacts = (await contactsOf(db, [id])).get(id)!;
      const pipelines = await ensurePipelines(db, workspaceId, deps.now());
      const pipeline = pipelines.find((p) => p.id === current.pipeline_id);
      const stage = pipeline?.stages.find((s) => s.id === current.stage_id);
      await store.deleteDeal(db, id);
      await deps.search.drop(db, 'deal', [id]);
      if (pipeline && stage) await announce(db, current, contacts, 'Deal Deleted', stage, pipeline);
    },

    history: (db: Kysely<any>, dealId: string) => store.stageHistory(db, dealId),

    /** A page of deals, filtered and sorted, keyset-paginated on (sort value, id). */
    async list(db: Kysely<any>, workspaceId: string, q: DealQuery, scope: RecordScope = ALL_RECORDS): Promise<{ deals: Deal[]; nextCursor: string | null }> {
      const t = db as Kysely<CrmTables>;
      const column = SORTS[q.sort ?? 'createdAt'];
      const desc = (q.order ?? (q.sort ? 'asc' : 'desc')) === 'desc';
      // Columns that are never null are sorted as they are, so their index serves the page; the others as coalesced.
      const key = column.nullable ? sql`coalesce(${sql.ref(column.name)}, ${column.empty})` : sql.ref(column.name);
      let query = t.selectFrom('crm_deals').selectAll().where('workspace_id', '=', workspaceId).where(ownerVisible('owner_id', scope));
      if (q.pipelineId) query = query.where('pipeline_id', '=', q.pipelineId);
      if (q.stageId) query = query.where('stage_id', '=', q.stageId);
      if (q.status) query = query.where('status', '=', q.status);
      if (q.ownerId) query = query.where('owner_id', '=', q.ownerId);
      if (q.companyId) query = query.where('company_id', '=', q.companyId);
      if (q.contactId) query = query.where('id', 'in', t.selectFrom('crm_deal_contacts').select('deal_id').where('profile_id', 'in', await deps.aliases(db, q.contactId)));
      if (q.q) query = query.where(sql<boolean>`id in (${deps.search.matching(db, workspaceId, 'deal', q.q)})`);
      if (q.closeFrom) query = query.where('close_date', '>=', q.closeFrom);
      if (q.closeTo) query = query.where('close_date', '<=', q.closeTo);
      if (q.cursor) {
        const [value, id] = decodeCursor(q.cursor, q.sort ?? 'createdAt', desc ? 'desc' : 'asc', column.numeric);
        query = query.where(desc ? sql<boolean>`(${key} < ${value} or (${key} = ${value} and id < ${id}))` : sql<boolean>`(${key} > ${value} or (${key} = ${value} and id > ${id}))`);
      }
      const rows = (await query.orderBy(key, desc ? 'desc' : 'asc').orderBy('id', desc ? 'desc' : 'asc').limit(q.limit + 1).execute()).map(dealRow);
      const page = rows.slice(0, q.limit);
      const contacts = await contactsOf(db, page.map((r) => r.id));
      const last = page[page.length - 1];
      return {
        deals: page.map((r) => ({ ...r, contact_ids: contacts.get(r.id)! })),
        nextCursor: rows.length > q.limit ? encodeCursor([q.sort ?? 'createdAt', desc ? 'desc' : 'asc', (last as unknown as Record<string, unknown>)[column.name] ?? column.emptyValue, last.id]) : null,
      };
    },
  };
}

export interface DealQuery {
  limit: number;
  cursor?: string;
  sort?: keyof typeof SORTS;
  order?: 'asc' | 'desc';
  pipelineId?: string;
  stageId?: string;
  status?: 'open' | 'won' | 'lost';
  ownerId?: string;
  companyId?: string;
  contactId?: string;
  q?: string;
  closeFrom?: string;
  closeTo?: string;
}

// Nulls sort as the empty value, so the keyset is total on both engines.
const SORTS = {
  createdAt: { name: 'created_at', empty: sql`0`, emptyValue: 0, numeric: true, nullable: false },
  updatedAt: { name: 'updated_at', empty: sql`0`, emptyValue: 0, numeric: true, nullable: false },
  // By the amount as shown (major units), not minor units, so 5 KWD sorts above 10 USD.
  amount: { name: 'amount', empty: sql`-1`, emptyValue: -1, numeric: true, nullable: true },
  closeDate: { name: 'close_date', empty: sql`''`, emptyValue: '', numeric: false, nullable: true },
  name: { name: 'name', empty: sql`''`, emptyValue: '', numeric: false, nullable: false },
} as const;
export const DEAL_SORTS = Object.keys(SORTS);

const encodeCursor = (v: [string, string, unknown, string]) => Buffer.from(JSON.stringify(v)).toString('base64url');
/** A cursor names the sort and order it came from: used with another, it is refused rather than misread. */
function decodeCursor(c: string, sort: string, order: string, numeric: boolean): [string | number, string] {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8'));
  } catch {
    v = undefined;
  }
  if (!Array.isArray(v) || v.length !== 4 || typeof v[3] !== 'string' || typeof v[2] !== (numeric ? 'number' : 'string')) throw errors.invalidRequest('The cursor is not one this API gave out.');
  if (v[0] !== sort || v[1] !== order) throw errors.invalidRequest(`The cursor belongs to a list sorted by ${v[0]} ${v[1]}; use it with that sort, or start again without it.`);
  return [v[2] as string | number, v[3]];
}

export type Deals = ReturnType<typeof createDeals>;
