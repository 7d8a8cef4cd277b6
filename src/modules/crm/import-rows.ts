import type { ErrorObject } from 'ajv';
import type { Kysely } from 'kysely';
import { RapportError } from '../../platform/errors.js';
import type { FieldDefinition } from './custom-fields.js';
import { CRM_SOURCE, type CrmEventsDeps, type LogEntryInput } from './events.js';

/** One CSV row as the mapping reads it: standard fields' cells by field, custom values typed from theirs. */
export interface MappedRow {
  line: number;
  values: Record<string, string>;
  custom: Record<string, unknown>;
}

export interface RowProblem {
  line: number;
  errors: string[];
}

export interface CheckedRows<G> {
  good: G[];
  bad: RowProblem[];
  duplicates: number;
}

export interface ImportJob { id: string; workspace_id: string; object: string; status: string; rows: number; valid: number; invalid: number; applied: number; last_message_id: string | null; report: string; created_at: number; finished_at: number | null }
/** A good row waiting for its profile: `email` holds the row's key (a contact's email, a company's group id or profile id). */
export interface PendingRow { import_id: string; line: number; email: string; fields: string }
export type ImportTables = { crm_imports: ImportJob; crm_import_rows: PendingRow };

/** What one kind of record needs from the import: its fields, its row checks, how good rows are written and applied. */
export interface ImportObject<G> {
  /** Standard fields a column can map to (besides custom.<key>). */
  fields: readonly string[];
  /** Why the mapping cannot work for this object, or undefined when it can. */
  mappingProblem(targets: string[]): string | undefined;
  check(db: Kysely<any>, workspaceId: string, rows: MappedRow[], defs: FieldDefinition[]): Promise<CheckedRows<G>>;
  /** Writes the good rows in the import's transaction; gives the last log call they wait for (null: nothing left to apply). */
  write(tx: Kysely<any>, workspaceId: string, importId: string, good: G[], actor: string): Promise<string | null>;
  /** Sets the CRM fields of a chunk of pending rows once the pipeline has applied their calls. */
  apply?(tx: Kysely<any>, job: ImportJob, rows: PendingRow[]): Promise<void>;
}

/** A chunk of pending rows set in one step; also the size of their inserts. */
export const APPLY_CHUNK = 2_000;

/** A cell typed as its custom field expects (checked afterwards by the field's own validation). */
export function cellValue(def: FieldDefinition, raw: string): unknown {
  if (def.type === 'number') return Number.isNaN(Number(raw)) ? raw : Number(raw);
  if (def.type === 'boolean') return raw === 'true' ? true : raw === 'false' ? false : raw;
  if (def.type === 'multi_select') return raw.split(/\s*[;|]\s*/);
  return raw;
}

/** A refusal as report lines: each custom field's problem on its own (`custom.seats must be …`), else the message. */
export function reasonsOf(error: unknown, strip?: string): string[] {
  if (!(error instanceof RapportError)) throw error;
  const details = error.details as { field: string; message: string }[] | undefined;
  if (Array.isArray(details) && details.length) return details.map((d) => `${d.field ? `custom.${d.field} ` : ''}${d.message}`);
  // The service's sentence, without its preamble and full stop, reads like the import's own reasons.
  return [(strip && error.message.startsWith(strip) ? error.message.slice(strip.length) : error.message).replace(/\.$/, '')];
}

/** The API's schema errors as report lines: the field, the value given, what it must be. */
export function schemaReasons(errors: ErrorObject[] | null | undefined, input: Record<string, unknown>): string[] {
  return (errors ?? []).map((e) => {
    if (e.keyword === 'required') return `${String((e.params as { missingProperty: string }).missingProperty)} is missing`;
    const field = e.instancePath.slice(1).split('/')[0];
    const value = input[field];
    return `${field || 'row'}${value === undefined || typeof value === 'object' ? '' : ` "${String(value)}"`} ${e.message ?? 'is not valid'}`;
  });
}

/** A call through the log for one row, found or created by identity (or, with a profile id, attributed to that profile). */
export function rowCall(workspaceId: string, importId: string, line: number, now: number, call: { type: 'identify' | 'group'; traits: Record<string, unknown>; groupId?: string; profileId?: string }): LogEntryInput {
  const at = new Date(now).toISOString();
  const messageId = `crm-import-${importId}-${line}`;
  const collection = call.type === 'group' ? 'accounts' : 'users';
  const message = {
    type: call.type, messageId, userId: null, anonymousId: null, ...(call.groupId ? { groupId: call.groupId } : {}), traits: call.traits, timestamp: at, receivedAt: at, sentAt: at,
    context: { rapport: { ...(call.profileId ? { profileId: call.profileId } : {}), collection, importId } },
  };
  return { workspaceId, sourceId: call.profileId ? CRM_SOURCE : `${CRM_SOURCE}:records`, messageId, type: call.type, event: null, userId: null, anonymousId: null, timestamp: now, receivedAt: now, payload: JSON.stringify(message) };
}

/** Queues rows until the pipeline has applied their calls: the rows and the calls in the caller's transaction. */
export async function queueRows(tx: Kysely<any>, deps: CrmEventsDeps, importId: string, rows: { line: number; key: string; fields: unknown }[], calls: LogEntryInput[]): Promise<string | null> {
  const t = tx as Kysely<ImportTables>;
  for (let i = 0; i < calls.length; i += 5_000) await deps.appendToLog(tx, calls.slice(i, i + 5_000));
  for (let i = 0; i < rows.length; i += APPLY_CHUNK) {
    await t.insertInto('crm_import_rows').values(rows.slice(i, i + APPLY_CHUNK).map((r) => ({ import_id: importId, line: r.line, email: r.key, fields: JSON.stringify(r.fields) }))).execute();
  }
  return calls.length ? calls[calls.length - 1].messageId : null;
}

/** `ids` where they live now (merged ones followed), a chunk at a time. */
export async function liveIdsOf(db: Kysely<any>, deps: { liveIds(db: Kysely<any>, ids: string[]): Promise<Map<string, string>> }, ids: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < ids.length; i += 500) for (const [k, v] of await deps.liveIds(db, ids.slice(i, i + 500))) out.set(k, v);
  return out;
}
