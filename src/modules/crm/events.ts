import { timeOrderedUuid } from '../../platform/ids.js';
import type { Kysely } from 'kysely';
import { errors } from '../../platform/errors.js';

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
  e: CrmEvent,
): Promise<void> {
  await appendCrmEvents(db, deps, [e]);
}

export interface CrmEvent {
  workspaceId: string;
  event: string;
  profileId: string | null;
  collection: 'users' | 'accounts';
  properties: Record<string, unknown>;
}

/** Many CRM changes at once (an import): one address lookup and one append for all of them. */
export async function appendCrmEvents(db: Kysely<any>, deps: CrmEventsDeps, events: CrmEvent[]): Promise<void> {
  if (events.length === 0) return;
  const now = deps.now();
  const at = new Date(now).toISOString();
  const addresses = await deps.addresses(db, [...new Set(events.map((e) => e.profileId).filter((p): p is string => p !== null))]);
  const entries = events.map((e): LogEntryInput => {
    const ids = (e.profileId ? addresses.get(e.profileId) : undefined) ?? {};
    const userId = e.collection === 'users' ? ids.userId ?? null : null;
    const anonymousId = e.collection === 'users' ? ids.anonymousId ?? null : null;
    const messageId = `crm-${timeOrderedUuid()}`;
    const message = {
      type: 'track', event: e.event, messageId, userId, anonymousId, timestamp: at, receivedAt: at, sentAt: at, properties: e.properties,
      context: { ...(e.collection === 'accounts' && ids.groupId ? { groupId: ids.groupId } : {}), rapport: { ...(e.profileId ? { profileId: e.profileId } : {}), collection: e.collection } },
    };
    return { workspaceId: e.workspaceId, sourceId: CRM_SOURCE, messageId, type: 'track', event: e.event, userId, anonymousId, timestamp: now, receivedAt: now, payload: JSON.stringify(message) };
  });
  await deps.appendToLog(db, entries);
}

const WAIT_MS = 5_000;

/**
 * Appends a call the identity graph and the profiles apply like any other (an identify about a person, a
 * group about an account) and waits until the pipeline has applied it. With a profile id the call is
 * attributed to that profile (a derived event); without one, identity resolves it by its identifiers.
 */
export async function appendAndWait(
  db: Kysely<any>,
  deps: CrmEventsDeps & { applied(db: Kysely<any>, workspaceId: string, messageId: string): Promise<boolean> },
  workspaceId: string,
  call: { type: 'identify' | 'group'; traits: Record<string, unknown>; groupId?: string; profileId?: string },
): Promise<void> {
  const now = deps.now();
  const at = new Date(now).toISOString();
  const messageId = `crm-${timeOrderedUuid()}`;
  const collection = call.type === 'group' ? 'accounts' : 'users';
  const sourceId = call.profileId ? CRM_SOURCE : `${CRM_SOURCE}:records`;
  const message = {
    type: call.type, messageId, userId: null, anonymousId: null, ...(call.groupId ? { groupId: call.groupId } : {}), traits: call.traits, timestamp: at, receivedAt: at, sentAt: at,
    context: { rapport: { ...(call.profileId ? { profileId: call.profileId } : {}), collection } },
  };
  await db.transaction().execute((tx) =>
    deps.appendToLog(tx, [{ workspaceId, sourceId, messageId, type: call.type, event: null, userId: null, anonymousId: null, timestamp: now, receivedAt: now, payload: JSON.stringify(message) }]));
  const deadline = Date.now() + WAIT_MS;
  while (!(await deps.applied(db, workspaceId, messageId))) {
    if (Date.now() > deadline) throw errors.unavailable('The pipeline has not applied this yet (it is behind or not running); it will be, and a retry finds the record.');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
