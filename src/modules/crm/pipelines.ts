import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { isPostgres } from '../../platform/db/migrate.js';
import { errors } from '../../platform/errors.js';
import { crmStore as store, type PipelineRow, type StageRow } from './store.js';

export interface StageInput {
  id?: string;
  name: string;
  probability?: number;
  outcome?: 'open' | 'won' | 'lost';
}

export interface PipelineInput {
  name: string;
  stages: StageInput[];
}

export const stageSchema = {
  type: 'object', additionalProperties: false, required: ['name'],
  properties: {
    id: { type: 'string', description: 'An existing stage (to rename or move it); omit for a new one.' },
    name: { type: 'string', minLength: 1, maxLength: 100 },
    probability: { type: 'integer', minimum: 0, maximum: 100, description: 'Percent: the weight of its deals in the forecast. Default: 100 for won, 0 for lost, else by position.' },
    outcome: { enum: ['open', 'won', 'lost'], description: 'Default open.' },
  },
};

export const pipelineSchema = {
  type: 'object', additionalProperties: false, required: ['name', 'stages'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 100 },
    stages: { type: 'array', minItems: 2, maxItems: 50, items: stageSchema, description: 'In order. At least one open stage, one won and one lost.' },
  },
};

/** The pipeline a workspace starts with. */
export const DEFAULT_PIPELINE: PipelineInput = {
  name: 'Sales pipeline',
  stages: [
    { name: 'Qualification', probability: 10 }, { name: 'Meeting scheduled', probability: 20 }, { name: 'Proposal', probability: 40 },
    { name: 'Negotiation', probability: 60 }, { name: 'Won', outcome: 'won' }, { name: 'Lost', outcome: 'lost' },
  ],
};

export interface Pipeline extends PipelineRow {
  stages: StageRow[];
}

function checkStages(stages: StageInput[]) {
  const names = new Set<string>();
  for (const s of stages) {
    const key = s.name.trim().toLowerCase();
    if (names.has(key)) throw errors.validation(`Invalid pipeline: two stages are named "${s.name}".`);
    names.add(key);
    if (s.outcome === 'won' && s.probability !== undefined && s.probability !== 100) throw errors.validation(`Invalid pipeline: the won stage "${s.name}" has probability 100.`);
    if (s.outcome === 'lost' && s.probability !== undefined && s.probability !== 0) throw errors.validation(`Invalid pipeline: the lost stage "${s.name}" has probability 0.`);
  }
  for (const outcome of ['open', 'won', 'lost'] as const) {
    if (!stages.some((s) => (s.outcome ?? 'open') === outcome)) throw errors.validation(`Invalid pipeline: it needs at least one ${outcome} stage.`);
  }
}

const probabilityOf = (s: StageInput, i: number, n: number) =>
  s.probability ?? (s.outcome === 'won' ? 100 : s.outcome === 'lost' ? 0 : Math.round(((i + 1) / (n + 1)) * 100));

export async function listPipelines(db: Kysely<any>, workspaceId: string): Promise<Pipeline[]> {
  const rows = await store.pipelines(db, workspaceId);
  const stages = await store.stagesOf(db, rows.map((r) => r.id));
  return rows.map((r) => ({ ...r, stages: stages.filter((s) => s.pipeline_id === r.id) }));
}

export async function getPipeline(db: Kysely<any>, workspaceId: string, id: string): Promise<Pipeline> {
  const row = await store.pipeline(db, workspaceId, id);
  if (!row) throw errors.notFound('Pipeline');
  return { ...row, stages: await store.stagesOf(db, [id]) };
}

export async function createPipeline(db: Kysely<any>, workspaceId: string, input: PipelineInput, now: number): Promise<Pipeline> {
  checkStages(input.stages);
  if (input.stages.some((s) => s.id)) throw errors.validation('Invalid pipeline: a new pipeline\'s stages have no ids.');
  const existing = await store.pipelines(db, workspaceId);
  const row: PipelineRow = { id: randomUUID(), workspace_id: workspaceId, name: input.name, position: existing.length, created_at: now, updated_at: now };
  await store.insertPipeline(db, row);
  const stages = input.stages.map((s, i): StageRow => ({
    id: randomUUID(), pipeline_id: row.id, workspace_id: workspaceId, name: s.name, position: i, probability: probabilityOf(s, i, input.stages.length), outcome: s.outcome ?? 'open',
  }));
  await store.insertStages(db, stages);
  return { ...row, stages };
}

/** The workspace's pipelines, the default one created on first use (once, however many requests ask at once). */
export async function ensurePipelines(db: Kysely<any>, workspaceId: string, now: number): Promise<Pipeline[]> {
  const pipelines = await listPipelines(db, workspaceId);
  if (pipelines.length) return pipelines;
  if (isPostgres(db)) {
    await sql`select pg_advisory_xact_lock(hashtext(${`crm-pipelines:${workspaceId}`}))`.execute(db);
    const again = await listPipelines(db, workspaceId);
    if (again.length) return again;
  }
  return [await createPipeline(db, workspaceId, DEFAULT_PIPELINE, now)];
}

/**
 * Holds a pipeline against changes to its stages until the transaction ends, so a deal never enters a stage
 * being removed (PostgreSQL: the row is locked; SQLite serialises writers anyway).
 */
export async function lockPipeline(db: Kysely<any>, pipelineId: string): Promise<void> {
  if (isPostgres(db)) await sql`select id from crm_pipelines where id = ${pipelineId} for update`.execute(db);
}

/**
 * Renames a pipeline and sets its stages: stages given with an id are kept (renamed, moved, re-weighted),
 * without one are added, and stages left out are removed, which is refused while deals sit in them.
 */
export async function updatePipeline(db: Kysely<any>, workspaceId: string, id: string, input: Partial<PipelineInput>, now: number): Promise<Pipeline> {
  await lockPipeline(db, id);
  const current = await getPipeline(db, workspaceId, id);
  if (input.name !== undefined) await store.updatePipeline(db, id, { name: input.name, updated_at: now });
  if (input.stages) {
    checkStages(input.stages);
    const known = new Map(current.stages.map((s) => [s.id, s]));
    const ids = input.stages.map((s) => s.id).filter((x): x is string => Boolean(x));
    const twice = ids.find((x, i) => ids.indexOf(x) !== i);
    if (twice) throw errors.validation(`Invalid pipeline: stage "${twice}" is listed twice.`);
    for (const s of input.stages) if (s.id && !known.has(s.id)) throw errors.validation(`Invalid pipeline: stage "${s.id}" is not a stage of this pipeline.`);
    const kept = new Set(input.stages.map((s) => s.id).filter(Boolean));
    const removed = current.stages.filter((s) => !kept.has(s.id));
    const counts = await store.dealCounts(db, id);
    const busy = removed.filter((s) => (counts.get(s.id) ?? 0) > 0);
    if (busy.length) throw errors.conflict(`Stage "${busy[0].name}" still has ${counts.get(busy[0].id)} deals; move them first.`);
    for (const s of input.stages) {
      const c = s.id ? known.get(s.id) : undefined;
      if (c && (s.outcome ?? 'open') !== c.outcome && (counts.get(c.id) ?? 0) > 0) throw errors.conflict(`Stage "${c.name}" has deals; its outcome cannot change.`);
    }
    await store.deleteStages(db, removed.map((s) => s.id));
    const added: StageRow[] = [];
    for (const [i, s] of input.stages.entries()) {
      const probability = probabilityOf(s, i, input.stages.length);
      if (s.id) await store.updateStage(db, s.id, { name: s.name, position: i, probability, outcome: s.outcome ?? 'open' });
      else added.push({ id: randomUUID(), pipeline_id: id, workspace_id: workspaceId, name: s.name, position: i, probability, outcome: s.outcome ?? 'open' });
    }
    await store.insertStages(db, added);
    await store.updatePipeline(db, id, { updated_at: now });
  }
  return getPipeline(db, workspaceId, id);
}

export async function deletePipeline(db: Kysely<any>, workspaceId: string, id: string): Promise<void> {
  await lockPipeline(db, id);
  await getPipeline(db, workspaceId, id);
  const deals = [...(await store.dealCounts(db, id)).values()].reduce((a, b) => a + b, 0);
  if (deals > 0) throw errors.conflict(`The pipeline still has ${deals} deals; move or delete them first.`);
  await store.deletePipeline(db, id);
}
