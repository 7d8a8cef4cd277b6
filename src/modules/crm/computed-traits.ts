import { sql, type Kysely } from 'kysely';
import type { AudienceRelations } from './profile-list.js';

export interface ComputedAndAudiences {
  /** By key: the computed traits' and scores' values, as JSON. */
  computedTraits: Record<string, unknown>;
  audiences: { id: string; key: string; name: string; enteredAt: number }[];
}

/** The computed traits (scores among them) and current audiences of a page of contacts or companies: one query each. */
export async function computedAndAudiencesOf(db: Kysely<any>, r: AudienceRelations, ids: string[]): Promise<Map<string, ComputedAndAudiences>> {
  const out = new Map(ids.map((id) => [id, { computedTraits: {}, audiences: [] } as ComputedAndAudiences]));
  if (ids.length === 0) return out;
  const values = await sql<{ profile_id: string; key: string; value: string }>`select v.profile_id, t.key, v.value from ${sql.table(r.computedValues)} v
    join ${sql.table(r.computedTraits)} t on t.id = v.trait_id where v.profile_id in (${sql.join(ids)}) order by t.key`.execute(db);
  for (const v of values.rows) out.get(v.profile_id)!.computedTraits[v.key] = JSON.parse(v.value) as unknown;
  const members = await sql<{ profile_id: string; id: string; key: string; name: string; entered_at: number }>`select m.profile_id, a.id, a.key, a.name, m.entered_at
    from ${sql.table(r.audienceMembers)} m join ${sql.table(r.audiences)} a on a.id = m.audience_id where m.profile_id in (${sql.join(ids)}) order by a.key`.execute(db);
  for (const m of members.rows) out.get(m.profile_id)!.audiences.push({ id: m.id, key: m.key, name: m.name, enteredAt: Number(m.entered_at) });
  return out;
}
