import type { Kysely } from 'kysely';
import { LIFECYCLE_STAGES, type ContactsDeps } from './contacts.js';
import { validateValues } from './custom-fields.js';
import { appendCrmEvents, type CrmEvent } from './events.js';
import { queueRows, reasonsOf, rowCall, type ImportObject } from './import-rows.js';

/** Contact fields a CSV column can map to; `custom.<key>` maps to a custom field. */
export const CONTACT_IMPORT_FIELDS = ['email', 'name', 'firstName', 'lastName', 'phone', 'title', 'ownerId', 'lifecycleStage'] as const;
const TRAITS = new Set(['email', 'name', 'firstName', 'lastName', 'phone', 'title']);
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

interface GoodContact { line: number; email: string; traits: Record<string, unknown>; crm: { ownerId?: string; lifecycleStage?: string; custom?: Record<string, unknown> } }
type ContactRow = { profile_id: string; workspace_id: string; owner_id: string | null; lifecycle_stage: string | null; custom: string; version: number; created_at: number; updated_at: number };

/**
 * Contacts: found or created by email. Each good row becomes an identify through the log (identity finds or
 * creates the person); its CRM fields wait in `crm_import_rows` until the pipeline has applied the last one.
 */
export function contactImport(deps: ContactsDeps & { byEmails(db: Kysely<any>, workspaceId: string, emails: string[]): Promise<Map<string, string>> }): ImportObject<GoodContact> {
  return {
    fields: CONTACT_IMPORT_FIELDS,
    mappingProblem: (targets) => (targets.includes('email') ? undefined : 'a column must map to email (contacts are found or created by email)'),

    async check(_db, _workspaceId, rows, defs) {
      const seen = new Map<string, number>();
      const out: Awaited<ReturnType<ImportObject<GoodContact>['check']>> = { good: [], bad: [], duplicates: 0 };
      for (const { line, values, custom } of rows) {
        const reasons: string[] = [];
        const traits: Record<string, unknown> = {};
        const crm: GoodContact['crm'] = {};
        for (const [field, raw] of Object.entries(values)) {
          if (TRAITS.has(field)) traits[field] = raw;
          else crm[field as 'ownerId' | 'lifecycleStage'] = raw;
        }
        const email = typeof traits.email === 'string' ? traits.email.toLowerCase() : '';
        if (!email) reasons.push('email is missing');
        else if (!EMAIL.test(email) || email.length > 254) reasons.push(`email "${traits.email}" is not an email address`);
        if (crm.lifecycleStage !== undefined && !(LIFECYCLE_STAGES as readonly string[]).includes(crm.lifecycleStage)) reasons.push(`lifecycleStage "${crm.lifecycleStage}" is not one of ${LIFECYCLE_STAGES.join(', ')}`);
        for (const [k, v] of Object.entries(traits)) if (typeof v === 'string' && v.length > 300) reasons.push(`${k} is longer than 300 characters`);
        try {
          crm.custom = validateValues(defs, custom, 'create');
        } catch (error) {
          reasons.push(...reasonsOf(error));
        }
        if (reasons.length === 0 && seen.has(email)) {
          out.duplicates++;
          reasons.push(`email ${email} is already on line ${seen.get(email)}`);
        }
        if (reasons.length) {
          out.bad.push({ line, errors: reasons });
          continue;
        }
        seen.set(email, line);
        out.good.push({ line, email, traits: { ...traits, email }, crm });
      }
      return out;
    },

    write(tx, workspaceId, importId, good) {
      const now = deps.now();
      return queueRows(tx, deps, importId, good.map((g) => ({ line: g.line, key: g.email, fields: g.crm })), good.map((g) => rowCall(workspaceId, importId, g.line, now, { type: 'identify', traits: g.traits })));
    },

    // A chunk at a time: its profiles in one lookup, the new CRM records in one insert, their events in one append.
    async apply(tx, job, rows) {
      const x = tx as Kysely<{ crm_contacts: ContactRow }>;
      const now = deps.now();
      const profiles = await deps.byEmails(tx, job.workspace_id, rows.map((r) => r.email));
      const ids = [...new Set([...profiles.values()])];
      const existing = new Map((ids.length ? await x.selectFrom('crm_contacts').selectAll().where('profile_id', 'in', ids).execute() : []).map((c) => [c.profile_id, c]));
      const inserts = new Map<string, ContactRow>();
      const created: CrmEvent[] = [];
      for (const r of rows) {
        const profileId = profiles.get(r.email);
        if (!profileId) continue;
        const f = JSON.parse(r.fields) as GoodContact['crm'];
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
    },
  };
}
