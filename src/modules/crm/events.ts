import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';

/** The source id of the events the CRM appends to the log; the pipeline attributes them by `context.rapport.profileId`. */
export const CRM_SOURCE = 'rapport:crm';

export interface CrmEventsDeps {
  now(): number;
  appendToLog(db: Kysely<any>, entries: LogEntryInput[]): Promise<void>;
  /** user_id, anonymous_id and group_id of profiles, so destinations can address whom an event is about. */
  addresses(db: Kysely<any>, profileIds: string[]): Promise<Map<string, { userId?: string; anonymousId?: string; groupId?: string; email?: string }>>;
}

export interface LogEntryInput {
  workspaceId: string; sourceId: string; messageId: string; type: string; event: string | null; userId: string | null; anonymousId: string | null;
  timestamp: number; receivedAt: number; payload: string;
}

/**
 * Appends a CRM change to the log as a track event about a person (or an account), in the caller's
 * transaction: the change and its event commit together. The pipeline attributes it to the profile, so
 * audiences can count it and destinations receive it.
 */
export async function appendCrmEvent(
  db: Kysely<any>, deps: CrmEventsDeps,
  e: { workspaceId: string; event: string; profileId: string | null; collection: 'users' | 'accounts'; properties: Record<string, unknown> },
): Promise<void> {
  const now = deps.now();
  const at = new Date(now).toISOString();
  const ids = e.profileId ? (await deps.addresses(db, [e.profileId])).get(e.profileId) ?? {} : {};
  const userId = e.collection === 'users' ? ids.userId ?? null : null;
  const anonymousId = e.collection === 'users' ? ids.anonymousId ?? null : null;
  const messageId = `crm-${randomUUID()}`;
  const message = {
    type: 'track', event: e.event, messageId, userId, anonymousId, timestamp: at, receivedAt: at, sentAt: at, properties: e.properties,
    context: { ...(e.collection === 'accounts' && ids.groupId ? { groupId: ids.groupId } : {}), rapport: { ...(e.profileId ? { profileId: e.profileId } : {}), collection: e.collection } },
  };
  await deps.appendToLog(db, [{ workspaceId: e.workspaceId, sourceId: CRM_SOURCE, messageId, type: 'track', event: e.event, userId, anonymousId, timestamp: now, receivedAt: now, payload: JSON.stringify(message) }]);
}
