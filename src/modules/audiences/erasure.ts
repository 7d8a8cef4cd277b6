import type { Kysely } from 'kysely';
import { chunks, type AudiencesTables } from './store.js';

/**
 * Erasure of a person's counters, computed values, memberships and membership history (privacy
 * deletions). Audiences they were in shrink by one, silently: an `Audience Exited` would name them again.
 */
export const audiencesErasure = {
  async erase(rawDb: Kysely<any>, profileIds: string[]) {
    const db = rawDb as Kysely<AudiencesTables>;
    let states = 0;
    let values = 0;
    let memberships = 0;
    let history = 0;
    for (const part of chunks(profileIds)) {
      const members = await db.selectFrom('audience_members').select('audience_id').where('profile_id', 'in', part).execute();
      const left = new Map<string, number>();
      for (const m of members) left.set(m.audience_id, (left.get(m.audience_id) ?? 0) + 1);
      for (const [audienceId, n] of left) await db.updateTable('audiences').set((eb) => ({ size: eb('size', '-', n) })).where('id', '=', audienceId).execute();
      memberships += Number((await db.deleteFrom('audience_members').where('profile_id', 'in', part).executeTakeFirst()).numDeletedRows);
      history += Number((await db.deleteFrom('audience_history').where('profile_id', 'in', part).executeTakeFirst()).numDeletedRows);
      states += Number((await db.deleteFrom('aggregate_states').where('profile_id', 'in', part).executeTakeFirst()).numDeletedRows);
      values += Number((await db.deleteFrom('computed_values').where('profile_id', 'in', part).executeTakeFirst()).numDeletedRows);
    }
    return { aggregateStates: states, computedValues: values, memberships, membershipHistory: history };
  },
};
