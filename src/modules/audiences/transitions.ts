import { timeOrderedUuid } from '../../platform/ids.js';
import { sql, type Kysely } from 'kysely';
import type { AudienceEntry } from './catalog.js';
import type { AudiencesDeps, LogEntryInput } from './context.js';
import { audiencesStore as store, chunks, type AudiencesTables } from './store.js';

/** The source id of the events Rapport itself appends; the pipeline attributes them by `context.rapport.profileId`. */
export const AUDIENCES_SOURCE = 'rapport:audiences';

export interface Transition {
  audience: AudienceEntry;
  entered: string[];
  exited: string[];
  /** Why members left: `condition` (no longer qualify), `merged` (merged into another profile), `deleted`. */
  reason: string;
  /**
   * Merged members whose survivor is not a member: their exit is announced (the person left), addressed by
   * the survivor's identifiers, which are theirs now. Other merged members leave silently: the person is
   * still in, as the survivor.
   */
  announceMerged?: Map<string, string>;
}

/**
 * Records membership changes (members, history, size) and appends one `Audience Entered` or `Audience
 * Exited` event per change to the log, in the caller's transaction: a transition is recorded and announced
 * together or not at all, so each appears exactly once.
 */
export async function applyTransitions(db: Kysely<any>, deps: AudiencesDeps, transitions: Transition[], now: number, announce = true): Promise<number> {
  const t = db as Kysely<AudiencesTables>;
  const entries: LogEntryInput[] = [];
  const changed = transitions.filter((x) => x.entered.length + x.exited.length > 0);
  const ids = [...new Set(changed.flatMap((x) => [...x.entered, ...(x.reason === 'condition' ? x.exited : []), ...(x.announceMerged?.values() ?? [])]))];
  const known = announce ? await primaryIds(db, deps, ids) : new Map();
  for (const x of changed) {
    const a = x.audience.row;
    if (x.entered.length) await store.enter(t, a.workspace_id, a.id, x.entered, now);
    if (x.exited.length) await store.exit(t, a.id, x.exited, now, x.reason);
    await store.setSize(t, a.id, x.entered.length - x.exited.length);
    if (!announce) continue;
    const announceFor = (profileIds: string[], event: string) => {
      for (const profileId of profileIds) {
        const { userId = null, anonymousId = null, groupId, email } = known.get(x.announceMerged?.get(profileId) ?? profileId) ?? {};
        const messageId = `audience-${timeOrderedUuid()}`;
        const at = new Date(now).toISOString();
        const message = {
          type: 'track', event, messageId, userId, anonymousId, timestamp: at, receivedAt: at, sentAt: at,
          properties: { audience_key: a.key, audience_name: a.name, audience_id: a.id, collection: a.collection },
          // The email rides in context.rapport, not context.traits, which would set the profile's traits again.
          context: { ...(groupId ? { groupId } : {}), rapport: { profileId, audienceId: a.id, collection: a.collection, ...(email ? { email } : {}) } },
        };
        entries.push({ workspaceId: a.workspace_id, sourceId: AUDIENCES_SOURCE, messageId, type: 'track', event, userId, anonymousId, timestamp: now, receivedAt: now, payload: JSON.stringify(message) });
      }
    };
    announceFor(x.entered, 'Audience Entered');
    if (x.reason === 'condition') announceFor(x.exited, 'Audience Exited');
    if (x.announceMerged) announceFor([...x.announceMerged.keys()], 'Audience Exited');
  }
  if (entries.length) await deps.appendToLog(db, entries);
  return entries.length;
}

/** Each profile's user_id, anonymous_id and email (a person) or group_id (an account), so destinations can address whom the event is about. */
async function primaryIds(db: Kysely<any>, deps: AudiencesDeps, profileIds: string[]) {
  const out = new Map<string, { userId?: string; anonymousId?: string; groupId?: string; email?: string }>();
  for (const part of chunks(profileIds)) {
    const rows = await sql<{ profile_id: string; type: string; value: string }>`select profile_id, type, value from ${sql.table(deps.relations.identifiers)}
      where profile_id in (${sql.join(part)}) and type in ('user_id', 'anonymous_id', 'group_id', 'email') order by first_offset`.execute(db);
    for (const r of rows.rows) {
      const ids = out.get(r.profile_id) ?? out.set(r.profile_id, {}).get(r.profile_id)!;
      if (r.type === 'user_id') ids.userId ??= r.value;
      else if (r.type === 'group_id') ids.groupId ??= r.value;
      else if (r.type === 'email') ids.email ??= r.value;
      else ids.anonymousId ??= r.value;
    }
  }
  return out;
}
