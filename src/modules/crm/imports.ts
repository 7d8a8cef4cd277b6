import { randomUUID } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import type { Kysely } from 'kysely';
import { errors, RapportError } from '../../platform/errors.js';
import { LIFECYCLE_STAGES, type ContactsDeps } from './contacts.js';
import { validateValues, type FieldDefinition } from './custom-fields.js';
import { appendCrmEvents, CRM_SOURCE, type CrmEvent, type LogEntryInput } from './events.js';

/** Contact fields a CSV column can map to; `custom.<key>` maps to a custom field. */
export const CONTACT_IMPORT_FIELDS = ['email', 'name', 'firstName', 'lastName', 'phone', 'title', 'ownerId', 'lifecycleStage'] as const;
const TRAITS = new Set(['email', 'name', 'firstName', 'lastName', 'phone', 'title']);
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const REPORTED = 1_000;
const APPLY_CHUNK = 2_000;

export const importSchema = {
  type: 'object', additionalProperties: false, required: ['csv', 'mapping'],
  properties: {
    object: { enum: ['contact'], description: 'Default contact.' },
    csv: { type: 'string', minLength: 1, description: 'The file, with a header row.' },
    mapping: {
      type: 'object', minProperties: 1, additionalProperties: { type: 'string' },
      description: `Column header → field: ${CONTACT_IMPORT_FIELDS.join(', ')}, or custom.<key>. Unmapped columns are ignored; email is required.`,
    },
    dryRun: { type: 'boolean', description: 'Check every row and report, writing nothing.' },
  },
};

interface ImportRow { id: string; workspace_id: string; object: string; status: string; rows: number; valid: number; invalid: number; applied: number; last_message_id: string | null; report: string; created_at: number; finished_at: number | null }
interface PendingRow { import_id: string; line: number; email: string; fields: string }
type Tables = { crm_imports: ImportRow; crm_import_rows: PendingRow; crm_contacts: { profile_id: string; workspace_id: string; owner_id: string | null; lifecycle_stage: string | null; custom: string; version: number; created_at: number; updated_at: number } };

export interface ImportReport {
  rows: number;
  valid: number;
  invalid: number;
  duplicates: number;
  problems: { line: number; errors: string[] }[];
}

/**
 * CSV import of contacts: every row checked first (bad rows reported with their line and every reason; a
 * duplicate email reported against its first line); then, unless a dry run, the good rows are written in
 * one transaction: an identify per row through the log (identity finds or creates each profile, by email)
 * and the rows' CRM fields, set by `advance` once the pipeline has applied the last identify.
 */
export function createImports(deps: ContactsDeps & { byEmails(db: Kysely<any>, workspaceId: string, emails: string[]): Promise<Map<string, string>> }, fields: (db: Kysely<any>, workspaceId: string) => Promise<FieldDefinition[]>) {
  function check(mapping: Record<string, string>, defs: FieldDefinition[]) {
    const targets = Object.values(mapping);
    for (const f of targets) {
      const custom = f.startsWith('custom.') ? f.slice(7) : undefined;
      if (custom !== undefined ? !defs.some((d) => d.key === custom) : !(CONTACT_IMPORT_FIELDS as readonly string[]).includes(f)) {
        throw errors.validation(`Invalid mapping: "${f}" is not a contact field (${CONTACT_IMPORT_FIELDS.join(', ')}, or custom.<key> of a defined field).`);
      }
    }
    if (!targets.includes('email')) throw errors.validation('Invalid mapping: a column must map to email (contacts are found or created by email).');
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

  return {
    async start(db: Kysely<any>, workspaceId: string, input: { csv: string; mapping: Record<string, string>; dryRun?: boolean }) {
      const defs = await fields(db, workspaceId);
      check(input.mapping, defs);
      const rows = parseCsv(input.csv);
      const headers = new Set(rows.length ? Object.keys(rows[0].record) : []);
      const missing = Object.keys(input.mapping).find((c) => !headers.has(c));
      if (rows.length && missing) throw errors.validation(`Invalid mapping: the file has no column "${missing}".`);
      const problems: ImportReport['problems'] = [];
      const seen = new Map<string, number>();
      const good: { line: number; email: string; traits: Record<string, unknown>; crm: Record<string, unknown> }[] = [];
      let invalid = 0;
      let duplicates = 0;
      for (const { line, record } of rows) {
        const reasons: string[] = [];
        const traits: Record<string, unknown> = {};
        const crm: Record<string, unknown> = {};
        const custom: Record<string, unknown> = {};
        for (const [column, field] of Object.entries(input.mapping)) {
          const raw = record[column];
          if (raw === undefined || raw === '') continue;
          if (field.startsWith('custom.')) {
            const def = defs.find((d) => d.key === field.slice(7))!;
            custom[def.key] = def.type === 'number' ? (Number.isNaN(Number(raw)) ? raw : Number(raw)) : def.type === 'boolean' ? (raw === 'true' ? true : raw === 'false' ? false : raw) : def.type === 'multi_select' ? raw.split(/\s*[;|]\s*/) : raw;
          } else if (TRAITS.has(field)) traits[field] = raw;
          else crm[field] = raw;
        }
        const email = typeof traits.email === 'string' ? traits.email.toLowerCase() : '';
        if (!email) reasons.push('email is missing');
        else if (!EMAIL.test(email) || email.length > 254) reasons.push(`email "${traits.email}" is not an email address`);
        if (crm.lifecycleStage !== undefined && !(LIFECYCLE_STAGES as readonly string[]).includes(String(crm.lifecycleStage))) reasons.push(`lifecycleStage "${crm.lifecycleStage}" is not one of ${LIFECYCLE_STAGES.join(', ')}`);
        for (const [k, v] of Object.entries(traits)) if (typeof v === 'string' && v.length > 300) reasons.push(`${k} is longer than 300 characters`);
        try {
          crm.custom = validateValues(defs, custom, 'create');
        } catch (error) {
          if (!(error instanceof RapportError)) throw error;
          for (const d of (error.details as { field: string; message: string }[] | undefined) ?? [{ field: '', message: error.message }]) reasons.push(`${d.field ? `custom.${d.field} ` : ''}${d.message}`);
        }
        if (reasons.length === 0 && seen.has(email)) {
          duplicates++;
          reasons.push(`email ${email} is already on line ${seen.get(email)}`);
        }
        if (reasons.length) {
          invalid++;
          if (problems.length < REPORTED) problems.push({ line, errors: reasons });
          continue;
        }
        seen.set(email, line);
        good.push({ line, email, traits: { ...traits, email }, crm });
      }
      const report: ImportReport = { rows: rows.length, valid: good.length, invalid, duplicates, problems };
      if (input.dryRun) return { id: null, status: 'dry_run', ...report };

      const now = deps.now();
      const id = randomUUID();
      const at = new Date(now).toISOString();
      const entries: LogEntryInput[] = good.map((g) => {
        const messageId = `crm-import-${id}-${g.line}`;
        const message = { type: 'identify', messageId, userId: null, anonymousId: null, traits: g.traits, timestamp: at, receivedAt: at, sentAt: at, context: { rapport: { collection: 'users', importId: id } } };
        return { workspaceId, sourceId: `${CRM_SOURCE}:records`, messageId, type: 'identify', event: null, userId: null, anonymousId: null, timestamp: now, receivedAt: now, payload: JSON.stringify(message) };
      });
      // All or nothing: the job, its rows and their calls commit together.
      await db.transaction().execute(async (tx) => {
        const t = tx as Kysely<Tables>;
        await t.insertInto('crm_imports').values({
          id, workspace_id: workspaceId, object: 'contact', status: good.length ? 'processing' : 'done', rows: rows.length, valid: good.length, invalid, applied: 0,
          last_message_id: entries.length ? entries[entries.length - 1].messageId : null, report: JSON.stringify(report), created_at: now, finished_at: good.length ? null : now,
        }).execute();
        for (let i = 0; i < good.length; i += APPLY_CHUNK) {
          await t.insertInto('crm_import_rows').values(good.slice(i, i + APPLY_CHUNK).map((g) => ({ import_id: id, line: g.line, email: g.email, fields: JSON.stringify(g.crm) }))).execute();
        }
        for (let i = 0; i < entries.length; i += 5_000) await deps.appendToLog(tx, entries.slice(i, i + 5_000));
      });
      return { id, status: good.length ? 'processing' : 'done', ...report };
    },

    async get(db: Kysely<any>, workspaceId: string, id: string) {
      const row = await (db as Kysely<Tables>).selectFrom('crm_imports').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
      if (!row) throw errors.notFound('Import');
      return { id: row.id, object: row.object, status: row.status, applied: Number(row.applied), createdAt: Number(row.created_at), finishedAt: row.finished_at === null ? null : Number(row.finished_at), ...(JSON.parse(row.report) as ImportReport) };
    },

    /** Sets the CRM fields of imports whose calls the pipeline has applied, a chunk at a time; true when it did some. */
    async advance(db: Kysely<any>): Promise<boolean> {
      const t = db as Kysely<Tables>;
      const job = await t.selectFrom('crm_imports').selectAll().where('status', '=', 'processing').orderBy('created_at').limit(1).executeTakeFirst();
      if (!job || !job.last_message_id || !(await deps.applied(db, job.workspace_id, job.last_message_id))) return false;
      const rows = await t.selectFrom('crm_import_rows').selectAll().where('import_id', '=', job.id).orderBy('line').limit(APPLY_CHUNK).execute();
      await db.transaction().execute(async (tx) => {
        const x = tx as Kysely<Tables>;
        const now = deps.now();
        // A chunk at a time: its profiles in one lookup, the new CRM records in one insert, their events in one append.
        const profiles = await deps.byEmails(tx, job.workspace_id, rows.map((r) => r.email));
        const ids = [...new Set([...profiles.values()])];
        const existing = new Map((ids.length ? await x.selectFrom('crm_contacts').selectAll().where('profile_id', 'in', ids).execute() : []).map((c) => [c.profile_id, c]));
        const inserts = new Map<string, Tables['crm_contacts']>();
        const created: CrmEvent[] = [];
        for (const r of rows) {
          const profileId = profiles.get(r.email);
          if (!profileId) continue;
          const f = JSON.parse(r.fields) as { ownerId?: string; lifecycleStage?: string; custom?: Record<string, unknown> };
          const current = inserts.get(profileId) ?? existing.get(profileId);
          const custom = { ...(current ? JSON.parse(current.custom) : {}), ...f.custom };
          const set = { owner_id: f.ownerId ?? current?.owner_id ?? null, lifecycle_stage: f.lifecycleStage ?? current?.lifecycle_stage ?? null, custom: JSON.stringify(custom), updated_at: now };
          const stored = existing.get(profileId);
          if (stored) {
            await x.updateTable('crm_contacts').set({ ...set, version: Number(stored.version) + 1 }).where('profile_id', '=', profileId).execute();
            existing.set(profileId, { ...stored, ...set, version: Number(stored.version) + 1 });
          } else {
            if (!inserts.has(profileId)) created.push({ workspaceId: job.workspace_id, event: 'Contact Created', profileId, collection: 'users', properties: { email: r.email, owner_id: set.owner_id, lifecycle_stage: set.lifecycle_stage, import_id: job.id } });
            inserts.set(profileId, { profile_id: profileId, workspace_id: job.workspace_id, ...set, version: 1, created_at: now });
          }
        }
        const fresh = [...inserts.values()];
        for (let i = 0; i < fresh.length; i += 500) await x.insertInto('crm_contacts').values(fresh.slice(i, i + 500)).execute();
        await appendCrmEvents(tx, deps, created);
        if (rows.length) await x.deleteFrom('crm_import_rows').where('import_id', '=', job.id).where('line', 'in', rows.map((r) => r.line)).execute();
        const done = rows.length < APPLY_CHUNK;
        await x.updateTable('crm_imports').set({ applied: Number(job.applied) + rows.length, ...(done ? { status: 'done', finished_at: now } : {}) }).where('id', '=', job.id).execute();
      });
      return true;
    },
  };
}

export type Imports = ReturnType<typeof createImports>;
