import type { Generated, Kysely } from 'kysely';

export interface PipelineRow { id: string; workspace_id: string; name: string; position: number; created_at: number; updated_at: number }
export interface StageRow { id: string; pipeline_id: string; workspace_id: string; name: string; position: number; probability: number; outcome: 'open' | 'won' | 'lost' }
export interface DealRow {
  id: string; workspace_id: string; name: string; pipeline_id: string; stage_id: string; amount_minor: number | null; amount: number | null; currency: string;
  close_date: string | null; owner_id: string | null; company_id: string | null; custom: string; status: 'open' | 'won' | 'lost';
  closed_at: number | null; version: number; created_at: number; updated_at: number;
}
export interface StageChangeRow { id: number; deal_id: string; workspace_id: string; from_stage_id: string | null; to_stage_id: string; at: number; actor: string }
export interface FieldRow { id: string; workspace_id: string; object: string; key: string; definition: string; created_at: number }

export interface CrmTables {
  crm_pipelines: PipelineRow;
  crm_stages: StageRow;
  crm_deals: DealRow;
  crm_deal_contacts: { deal_id: string; profile_id: string; workspace_id: string; position: number };
  crm_deal_stage_history: Omit<StageChangeRow, 'id'> & { id: Generated<number> };
  crm_fields: FieldRow;
}

const t = (db: Kysely<any>) => db as Kysely<CrmTables>;
const deal = (r: DealRow): DealRow => ({ ...r, amount_minor: r.amount_minor === null ? null : Number(r.amount_minor), amount: r.amount === null ? null : Number(r.amount), version: Number(r.version), created_at: Number(r.created_at), updated_at: Number(r.updated_at), closed_at: r.closed_at === null ? null : Number(r.closed_at) });

export const crmStore = {
  pipelines: (db: Kysely<any>, workspaceId: string) => t(db).selectFrom('crm_pipelines').selectAll().where('workspace_id', '=', workspaceId).orderBy('position').orderBy('created_at').execute(),
  pipeline: (db: Kysely<any>, workspaceId: string, id: string) => t(db).selectFrom('crm_pipelines').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst(),
  stagesOf: (db: Kysely<any>, pipelineIds: string[]) =>
    pipelineIds.length ? t(db).selectFrom('crm_stages').selectAll().where('pipeline_id', 'in', pipelineIds).orderBy('position').execute() : Promise.resolve([] as StageRow[]),
  stage: (db: Kysely<any>, workspaceId: string, id: string) => t(db).selectFrom('crm_stages').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst(),
  insertPipeline: (db: Kysely<any>, row: PipelineRow) => t(db).insertInto('crm_pipelines').values(row).execute(),
  updatePipeline: (db: Kysely<any>, id: string, set: Partial<PipelineRow>) => t(db).updateTable('crm_pipelines').set(set).where('id', '=', id).execute(),
  deletePipeline: async (db: Kysely<any>, id: string) => {
    await t(db).deleteFrom('crm_stages').where('pipeline_id', '=', id).execute();
    await t(db).deleteFrom('crm_pipelines').where('id', '=', id).execute();
  },
  insertStages: async (db: Kysely<any>, rows: StageRow[]) => {
    if (rows.length) await t(db).insertInto('crm_stages').values(rows).execute();
  },
  updateStage: (db: Kysely<any>, id: string, set: Partial<StageRow>) => t(db).updateTable('crm_stages').set(set).where('id', '=', id).execute(),
  deleteStages: async (db: Kysely<any>, ids: string[]) => {
    if (ids.length) await t(db).deleteFrom('crm_stages').where('id', 'in', ids).execute();
  },
  /** Deals per stage of a pipeline (to refuse removing a stage that has some). */
  async dealCounts(db: Kysely<any>, pipelineId: string): Promise<Map<string, number>> {
    const rows = await t(db).selectFrom('crm_deals').select(['stage_id', (eb) => eb.fn.countAll().as('n')]).where('pipeline_id', '=', pipelineId).groupBy('stage_id').execute();
    return new Map(rows.map((r) => [r.stage_id, Number(r.n)]));
  },

  async deal(db: Kysely<any>, workspaceId: string, id: string, lock = false): Promise<DealRow | undefined> {
    let q = t(db).selectFrom('crm_deals').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id);
    if (lock) q = q.forUpdate();
    const r = await q.executeTakeFirst();
    return r && deal(r);
  },
  insertDeals: async (db: Kysely<any>, rows: DealRow[]) => {
    if (rows.length) await t(db).insertInto('crm_deals').values(rows).execute();
  },
  /** Applies a change only if the deal is still at `version`; false when someone else changed it first. */
  async updateDeal(db: Kysely<any>, id: string, version: number, set: Partial<DealRow>): Promise<boolean> {
    const r = await t(db).updateTable('crm_deals').set({ ...set, version: version + 1 }).where('id', '=', id).where('version', '=', version).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },
  async deleteDeal(db: Kysely<any>, id: string) {
    await t(db).deleteFrom('crm_deal_contacts').where('deal_id', '=', id).execute();
    await t(db).deleteFrom('crm_deal_stage_history').where('deal_id', '=', id).execute();
    await t(db).deleteFrom('crm_deals').where('id', '=', id).execute();
  },
  async contactsOf(db: Kysely<any>, dealIds: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>(dealIds.map((id) => [id, []]));
    if (dealIds.length === 0) return out;
    const rows = await t(db).selectFrom('crm_deal_contacts').select(['deal_id', 'profile_id']).where('deal_id', 'in', dealIds).orderBy('position').execute();
    for (const r of rows) out.get(r.deal_id)!.push(r.profile_id);
    return out;
  },
  async setContacts(db: Kysely<any>, workspaceId: string, dealId: string, profileIds: string[]) {
    await t(db).deleteFrom('crm_deal_contacts').where('deal_id', '=', dealId).execute();
    if (profileIds.length) await t(db).insertInto('crm_deal_contacts').values(profileIds.map((profile_id, position) => ({ deal_id: dealId, profile_id, workspace_id: workspaceId, position }))).execute();
  },
  /** Contacts of new deals (setContacts replaces a deal's). */
  addContacts: async (db: Kysely<any>, rows: CrmTables['crm_deal_contacts'][]) => {
    if (rows.length) await t(db).insertInto('crm_deal_contacts').values(rows).execute();
  },
  recordStageChanges: async (db: Kysely<any>, rows: Omit<StageChangeRow, 'id'>[]) => {
    if (rows.length) await t(db).insertInto('crm_deal_stage_history').values(rows).execute();
  },
  stageHistory: (db: Kysely<any>, dealId: string) => t(db).selectFrom('crm_deal_stage_history').selectAll().where('deal_id', '=', dealId).orderBy('id').execute(),

  fields: (db: Kysely<any>, workspaceId: string, object: string) => t(db).selectFrom('crm_fields').selectAll().where('workspace_id', '=', workspaceId).where('object', '=', object).orderBy('created_at').orderBy('key').execute(),
  insertField: (db: Kysely<any>, row: FieldRow) => t(db).insertInto('crm_fields').values(row).execute(),
  deleteField: (db: Kysely<any>, workspaceId: string, object: string, key: string) =>
    t(db).deleteFrom('crm_fields').where('workspace_id', '=', workspaceId).where('object', '=', object).where('key', '=', key).executeTakeFirst(),
};

export { deal as dealRow };
