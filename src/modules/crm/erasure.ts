import type { Kysely } from 'kysely';
import { dealDocument, ticketDocument, type Search } from './search.js';
import type { CrmTables } from './store.js';
import type { WorkTables } from './work-store.js';

type Db = Kysely<CrmTables & WorkTables & { crm_contacts: { profile_id: string; workspace_id: string }; crm_imports: { id: string; workspace_id: string; report: string }; crm_import_rows: { import_id: string; line: number; email: string; fields: string } }>;
const CHUNK = 500;
const chunks = <T>(list: T[]) => Array.from({ length: Math.ceil(list.length / CHUNK) }, (_, i) => list.slice(i * CHUNK, (i + 1) * CHUNK));
const ERASED = '[erased]';

/** Replaces every whole-word occurrence of the values (any case) with "[erased]". */
export function scrub(text: string, values: string[]): string {
  let out = text;
  // Longest first: "Zoe Quarrington" goes as one, before "Zoe" alone.
  for (const v of [...values].sort((a, b) => b.length - a.length)) {
    if (!v) continue;
    const escaped = v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    out = out.replace(new RegExp(`(?<![\\p{L}\\p{N}])${escaped}(?![\\p{L}\\p{N}])`, 'giu'), ERASED);
  }
  return out;
}
const scrubNullable = (text: string | null, values: string[]) => (text === null ? null : scrub(text, values));

/**
 * Erasure of a person from the CRM (privacy deletions): the contact record and its search document go;
 * notes, calls, emails, meetings and tasks about the person alone go; those also about another record
 * (a deal, a company, a ticket) stay, without the link to the person and with the person's values erased
 * from their text; tickets and deals lose the person as their contact and the values from their text;
 * import rows of the person go and import reports lose the values.
 */
export function createCrmErasure(search: Search) {
  return {
    async erase(rawDb: Kysely<any>, workspaceId: string, profileIds: string[], values: string[], now: number) {
      const db = rawDb as Db;
      const counts = { contacts: 0, activities: 0, tasks: 0, recordsScrubbed: 0, importRows: 0 };
      await search.drop(db, 'contact', profileIds);
      const dealIds = new Set<string>();
      const linked: { record_type: string; record_id: string }[] = [];
      for (const part of chunks(profileIds)) {
        counts.contacts += Number((await db.deleteFrom('crm_contacts').where('workspace_id', '=', workspaceId).where('profile_id', 'in', part).executeTakeFirst()).numDeletedRows);
        for (const r of await db.selectFrom('crm_deal_contacts').select('deal_id').where('workspace_id', '=', workspaceId).where('profile_id', 'in', part).execute()) dealIds.add(r.deal_id);
        await db.deleteFrom('crm_deal_contacts').where('workspace_id', '=', workspaceId).where('profile_id', 'in', part).execute();
        linked.push(...(await db.selectFrom('crm_associations').select(['record_type', 'record_id']).where('workspace_id', '=', workspaceId).where('object', '=', 'contact').where('target_id', 'in', part).execute()));
        await db.deleteFrom('crm_associations').where('workspace_id', '=', workspaceId).where('object', '=', 'contact').where('target_id', 'in', part).execute();
      }

      // Activities and tasks: about the person alone, deleted; about others too, kept with the person's values erased.
      const tables = { activity: 'crm_activities', task: 'crm_tasks' } as const;
      for (const [recordType, table] of Object.entries(tables) as [keyof typeof tables, (typeof tables)[keyof typeof tables]][]) {
        const ids = [...new Set(linked.filter((l) => l.record_type === recordType).map((l) => l.record_id))];
        for (const part of chunks(ids)) {
          const still = new Set((await db.selectFrom('crm_associations').select('record_id').where('record_type', '=', recordType).where('record_id', 'in', part).execute()).map((r) => r.record_id));
          const alone = part.filter((id) => !still.has(id));
          if (alone.length) {
            const n = Number((await db.deleteFrom(table).where('workspace_id', '=', workspaceId).where('id', 'in', alone).executeTakeFirst()).numDeletedRows);
            if (recordType === 'activity') counts.activities += n;
            else counts.tasks += n;
          }
          if (still.size === 0) continue;
          if (recordType === 'activity') {
            for (const a of await db.selectFrom('crm_activities').select(['id', 'subject', 'body']).where('id', 'in', [...still]).execute()) {
              await db.updateTable('crm_activities').set({ subject: scrubNullable(a.subject, values), body: scrubNullable(a.body, values), updated_at: now }).where('id', '=', a.id).execute();
              counts.recordsScrubbed++;
            }
          } else {
            for (const t of await db.selectFrom('crm_tasks').select(['id', 'title', 'body']).where('id', 'in', [...still]).execute()) {
              await db.updateTable('crm_tasks').set({ title: scrub(t.title, values), body: scrubNullable(t.body, values), updated_at: now }).where('id', '=', t.id).execute();
              counts.recordsScrubbed++;
            }
          }
        }
      }

      // Tickets: the person stops being their contact; their text loses the person's values.
      const ticketIds = new Set(linked.filter((l) => l.record_type === 'ticket').map((l) => l.record_id));
      for (const part of chunks(profileIds)) {
        for (const r of await db.selectFrom('crm_tickets').select('id').where('workspace_id', '=', workspaceId).where('contact_id', 'in', part).execute()) ticketIds.add(r.id);
        await db.updateTable('crm_tickets').set({ contact_id: null }).where('workspace_id', '=', workspaceId).where('contact_id', 'in', part).execute();
      }
      for (const part of chunks([...ticketIds])) {
        for (const t of await db.selectFrom('crm_tickets').selectAll().where('workspace_id', '=', workspaceId).where('id', 'in', part).execute()) {
          const after = { ...t, subject: scrub(t.subject, values), description: scrubNullable(t.description, values), custom: scrub(t.custom, values), updated_at: now };
          await db.updateTable('crm_tickets').set({ subject: after.subject, description: after.description, custom: after.custom, updated_at: now }).where('id', '=', t.id).execute();
          await search.put(db, [ticketDocument(after)], now);
          counts.recordsScrubbed++;
        }
      }

      // Deals the person was a contact of keep going, with the person's values erased from their name and fields.
      for (const part of chunks([...dealIds])) {
        for (const d of await db.selectFrom('crm_deals').selectAll().where('workspace_id', '=', workspaceId).where('id', 'in', part).execute()) {
          const name = scrub(d.name, values);
          const custom = scrub(d.custom, values);
          if (name === d.name && custom === d.custom) continue;
          await db.updateTable('crm_deals').set({ name, custom, updated_at: now }).where('id', '=', d.id).execute();
          const stage = await db.selectFrom('crm_stages').select('name').where('id', '=', d.stage_id).executeTakeFirst();
          await search.put(db, [dealDocument({ ...d, name, amount: d.amount === null ? null : Number(d.amount) }, stage?.name)], now);
          counts.recordsScrubbed++;
        }
      }

      // Imports: the person's rows, and the values in reports (a bad row is reported with its line's values).
      const imports = await db.selectFrom('crm_imports').select(['id', 'report']).where('workspace_id', '=', workspaceId).execute();
      const emails = values.filter((v) => v.includes('@'));
      for (const part of chunks(imports.map((i) => i.id))) {
        if (emails.length) counts.importRows += Number((await db.deleteFrom('crm_import_rows').where('import_id', 'in', part).where('email', 'in', emails).executeTakeFirst()).numDeletedRows);
      }
      for (const i of imports) {
        const report = scrub(i.report, values);
        if (report !== i.report) await db.updateTable('crm_imports').set({ report }).where('id', '=', i.id).execute();
      }
      await search.compact(db);
      return counts;
    },
  };
}
