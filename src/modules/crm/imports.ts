import { timeOrderedUuid } from '../../platform/ids.js';
import { parse } from 'csv-parse/sync';
import type { Kysely } from 'kysely';
import { errors } from '../../platform/errors.js';
import type { ContactsDeps } from './contacts.js';
import type { CrmObject, FieldDefinition } from './custom-fields.js';
import type { Deals } from './deals.js';
import { COMPANY_IMPORT_FIELDS, companyImport } from './import-companies.js';
import { CONTACT_IMPORT_FIELDS, contactImport } from './import-contacts.js';
import { DEAL_IMPORT_FIELDS, dealImport } from './import-deals.js';
import { APPLY_CHUNK, cellValue, type ImportObject, type ImportTables, type MappedRow } from './import-rows.js';

export const IMPORT_OBJECTS = ['contact', 'company', 'deal'] as const;
export type ImportObjectName = (typeof IMPORT_OBJECTS)[number];
const REPORTED = 1_000;

export const importSchema = {
  type: 'object', additionalProperties: false, required: ['csv', 'mapping'],
  properties: {
    object: {
      enum: [...IMPORT_OBJECTS],
      description: 'What each row is; default contact. Contacts are deduplicated by email, companies by domain (or group id); deals have no dedupe key: every good row is a new deal.',
    },
    csv: { type: 'string', minLength: 1, description: 'The file, with a header row.' },
    mapping: {
      type: 'object', minProperties: 1, additionalProperties: { type: 'string' },
      description: [
        'Column header → field; unmapped columns are ignored, empty cells leave a field unset; custom.<key> maps to a custom field of the object (see /crm/fields/{object}).',
        `contact: ${CONTACT_IMPORT_FIELDS.join(', ')}; email is required.`,
        `company: ${COMPANY_IMPORT_FIELDS.join(', ')}; domain or groupId is required (groupId defaults to the domain; domains are compared lower-case, without http(s)://, www. or a path).`,
        `deal: ${DEAL_IMPORT_FIELDS.join(', ')}; name is required. pipeline and stage take a name or an id (default: the first pipeline, its first stage); contactEmail links an existing contact, companyDomain an existing company; amount is in major units of currency (default USD).`,
      ].join(' '),
    },
    dryRun: { type: 'boolean', description: 'Check every row and report, writing nothing.' },
  },
};

export interface ImportReport {
  rows: number;
  valid: number;
  invalid: number;
  duplicates: number;
  problems: { line: number; errors: string[] }[];
}

export interface ImportInput {
  object?: ImportObjectName;
  csv: string;
  mapping: Record<string, string>;
  dryRun?: boolean;
}

/**
 * CSV import of contacts, companies and deals: every row checked first (bad rows reported with their line and
 * every reason; a repeated key reported against its first line); then, unless a dry run, the good rows are
 * written in one transaction. Contacts and companies go through the log (identity finds or creates each
 * profile) and `advance` sets their CRM fields once the pipeline has applied the last call; deals are written
 * at once.
 */
export function createImports(
  deps: ContactsDeps & { byEmails(db: Kysely<any>, workspaceId: string, emails: string[]): Promise<Map<string, string>>; deals: Deals },
  fields: (db: Kysely<any>, workspaceId: string, object: CrmObject) => Promise<FieldDefinition[]>,
) {
  const objects: Record<ImportObjectName, ImportObject<any>> = { contact: contactImport(deps), company: companyImport(deps), deal: dealImport(deps, deps.deals) };

  function check(object: ImportObjectName, kind: ImportObject<unknown>, mapping: Record<string, string>, defs: FieldDefinition[]) {
    const targets = Object.values(mapping);
    for (const f of targets) {
      const custom = f.startsWith('custom.') ? f.slice(7) : undefined;
      if (custom !== undefined ? !defs.some((d) => d.key === custom) : !kind.fields.includes(f)) {
        throw errors.validation(`Invalid mapping: "${f}" is not a ${object} field (${kind.fields.join(', ')}, or custom.<key> of a defined field).`);
      }
    }
    const problem = kind.mappingProblem(targets);
    if (problem) throw errors.validation(`Invalid mapping: ${problem}.`);
    const twice = targets.find((f, i) => targets.indexOf(f) !== i);
    if (twice) throw errors.validation(`Invalid mapping: two columns map to "${twice}".`);
  }

  function parseCsv(csv: string): { line: number; record: Record<string, string> }[] {
    try {
      const out = parse(csv, { columns: true, bom: true, skip_empty_lines: true, trim: true, relax_column_count: true, info: true }) as { record: Record<string, string>; info: { lines: number } }[];
      return out.map((r) => ({ line: r.info.lines, record: r.record }));
    } catch (error) {
      throw errors.validation(`The CSV cannot be read: ${(error as Error).message}`);
    }
  }

  /** Each row's mapped cells: standard fields by name, custom values typed for their field; empty cells left out. */
  function mapRows(rows: { line: number; record: Record<string, string> }[], mapping: Record<string, string>, defs: FieldDefinition[]): MappedRow[] {
    const columns = Object.entries(mapping).map(([column, field]) => ({ column, field, def: field.startsWith('custom.') ? defs.find((d) => d.key === field.slice(7)) : undefined }));
    return rows.map(({ line, record }) => {
      const row: MappedRow = { line, values: {}, custom: {} };
      for (const { column, field, def } of columns) {
        const raw = record[column];
        if (raw === undefined || raw === '') continue;
        if (def) row.custom[def.key] = cellValue(def, raw);
        else row.values[field] = raw;
      }
      return row;
    });
  }

  return {
    async start(db: Kysely<any>, workspaceId: string, input: ImportInput, actor = 'import') {
      const object = input.object ?? 'contact';
      const kind = objects[object];
      const defs = await fields(db, workspaceId, object);
      check(object, kind, input.mapping, defs);
      const rows = parseCsv(input.csv);
      const headers = new Set(rows.length ? Object.keys(rows[0].record) : []);
      const missing = Object.keys(input.mapping).find((c) => !headers.has(c));
      if (rows.length && missing) throw errors.validation(`Invalid mapping: the file has no column "${missing}".`);
      const { good, bad, duplicates } = await kind.check(db, workspaceId, mapRows(rows, input.mapping, defs), defs);
      const report: ImportReport = { rows: rows.length, valid: good.length, invalid: bad.length, duplicates, problems: bad.slice(0, REPORTED) };
      if (input.dryRun) return { id: null, object, status: 'dry_run', ...report };

      const now = deps.now();
      const id = timeOrderedUuid();
      // All or nothing: the job, its rows and their calls (or records) commit together.
      const status = await db.transaction().execute(async (tx) => {
        const last = good.length ? await kind.write(tx, workspaceId, id, good, actor) : null;
        const pending = last !== null;
        await (tx as Kysely<ImportTables>).insertInto('crm_imports').values({
          id, workspace_id: workspaceId, object, status: pending ? 'processing' : 'done', rows: rows.length, valid: good.length, invalid: bad.length, applied: pending ? 0 : good.length,
          last_message_id: last, report: JSON.stringify(report), created_at: now, finished_at: pending ? null : now,
        }).execute();
        return pending ? 'processing' : 'done';
      });
      return { id, object, status, ...report };
    },

    async get(db: Kysely<any>, workspaceId: string, id: string) {
      const row = await (db as Kysely<ImportTables>).selectFrom('crm_imports').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
      if (!row) throw errors.notFound('Import');
      return { id: row.id, object: row.object, status: row.status, applied: Number(row.applied), createdAt: Number(row.created_at), finishedAt: row.finished_at === null ? null : Number(row.finished_at), ...(JSON.parse(row.report) as ImportReport) };
    },

    /** Sets the CRM fields of imports whose calls the pipeline has applied, a chunk at a time; true when it did some. */
    async advance(db: Kysely<any>): Promise<boolean> {
      const t = db as Kysely<ImportTables>;
      const job = await t.selectFrom('crm_imports').selectAll().where('status', '=', 'processing').orderBy('created_at').limit(1).executeTakeFirst();
      if (!job || !job.last_message_id || !(await deps.applied(db, job.workspace_id, job.last_message_id))) return false;
      await db.transaction().execute(async (tx) => {
        const x = tx as Kysely<ImportTables>;
        // Worker nodes share the queue: the job's row is locked and read again, so a chunk is applied once.
        let locked = x.selectFrom('crm_imports').select(['applied', 'status']).where('id', '=', job.id);
        if (deps.postgres) locked = locked.forUpdate();
        const current = await locked.executeTakeFirst();
        if (current?.status !== 'processing') return;
        const rows = await x.selectFrom('crm_import_rows').selectAll().where('import_id', '=', job.id).orderBy('line').limit(APPLY_CHUNK).execute();
        if (rows.length) await objects[job.object as ImportObjectName].apply!(tx, job, rows);
        if (rows.length) await x.deleteFrom('crm_import_rows').where('import_id', '=', job.id).where('line', 'in', rows.map((r) => r.line)).execute();
        const done = rows.length < APPLY_CHUNK;
        await x.updateTable('crm_imports').set({ applied: Number(current.applied) + rows.length, ...(done ? { status: 'done', finished_at: deps.now() } : {}) }).where('id', '=', job.id).execute();
      });
      return true;
    },
  };
}

export type Imports = ReturnType<typeof createImports>;
