import type { Kysely } from 'kysely';
import type { ProfilesTables } from './store.js';

const CHUNK = 500;
const chunks = <T>(list: T[]) => Array.from({ length: Math.ceil(list.length / CHUNK) }, (_, i) => list.slice(i * CHUNK, (i + 1) * CHUNK));

/** Erasure of a person's traits and timeline (privacy deletions). */
export const profilesErasure = {
  /** What the profiles hold, read before they are erased: their traits' values and the log offsets of their timelines. */
  async holdings(rawDb: Kysely<any>, profileIds: string[]): Promise<{ traits: { name: string; value: unknown }[]; offsets: number[] }> {
    const db = rawDb as Kysely<ProfilesTables>;
    const traits: { name: string; value: unknown }[] = [];
    const offsets: number[] = [];
    for (const part of chunks(profileIds)) {
      for (const t of await db.selectFrom('profile_traits').select(['name', 'value']).where('profile_id', 'in', part).execute()) traits.push({ name: t.name, value: JSON.parse(t.value) as unknown });
      for (const r of await db.selectFrom('profile_events').select('event_offset').where('profile_id', 'in', part).execute()) offsets.push(Number(r.event_offset));
    }
    return { traits, offsets };
  },
  async erase(rawDb: Kysely<any>, profileIds: string[]) {
    const db = rawDb as Kysely<ProfilesTables>;
    let traits = 0;
    let timeline = 0;
    for (const part of chunks(profileIds)) {
      traits += Number((await db.deleteFrom('profile_traits').where('profile_id', 'in', part).executeTakeFirst()).numDeletedRows);
      timeline += Number((await db.deleteFrom('profile_events').where('profile_id', 'in', part).executeTakeFirst()).numDeletedRows);
    }
    return { traits, timeline };
  },
};
