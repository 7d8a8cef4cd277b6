import type { Kysely } from 'kysely';
import { audiencesErasure } from '../modules/audiences/index.js';
import type { AuditService } from '../modules/audit/index.js';
import { logErasure } from '../modules/collect/index.js';
import type { Crm } from '../modules/crm/index.js';
import type { DestinationsService } from '../modules/destinations/index.js';
import { createDirectory, identityErasure, type Identifier } from '../modules/identity/index.js';
import type { Privacy, RequestContext, RequestOutcome } from '../modules/privacy/index.js';
import { profilesErasure } from '../modules/profiles/index.js';
import { lockWorkspace } from '../pipeline/partitions.js';

/** Traits whose string values name the person: they are erased wherever they were copied (notes, audit changes). */
/** Shorter values are matched only as whole JSON strings where text is searched by substring. */
const MIN_SUBSTRING = 5;
const NAMING_TRAITS = ['name', 'firstName', 'lastName', 'first_name', 'last_name', 'email', 'phone', 'username', 'address', 'street', 'birthday'];

function strings(value: unknown, into: Set<string>) {
  if (typeof value === 'string' && value.trim().length >= 2) into.add(value.trim());
  else if (value && typeof value === 'object') for (const v of Object.values(value)) strings(v, into);
}

/**
 * A privacy deletion: the person's profile (and every profile merged into it), identifiers, traits,
 * timeline, events in the log, computed values and memberships, consent, CRM record and personal text,
 * undelivered messages and earlier exports are erased; their identifiers and profile ids are suppressed,
 * so events still in the log or retried by an SDK are dropped when the pipeline reaches them; destinations
 * that take one get a `User Deleted` call; audit entries about the profile or quoting its values lose
 * their change. One transaction holding the workspace's partition lock (the pipeline's, for this workspace): no batch runs half before and half after,
 * so nothing the deletion erased can be written back by a batch already under way.
 */
export async function deletePerson(
  deps: { postgres: boolean; privacy: Privacy; crm: Crm; destinations: DestinationsService; audit: AuditService },
  tx: Kysely<any>, request: RequestContext,
): Promise<RequestOutcome> {
  const { workspaceId, identifier, now } = request;
  await lockWorkspace(tx, workspaceId, deps.postgres);
  const directory = createDirectory(tx);
  const live = await directory.byIdentifier(workspaceId, 'users', identifier);
  const profileIds = live ? await identityErasure.family(tx, live.id) : [];
  const identifiers: Identifier[] = [identifier];
  for (const id of profileIds) for (const i of await directory.identifiers(id)) identifiers.push({ type: i.type, value: i.value });
  const { traits, offsets } = await profilesErasure.holdings(tx, profileIds);
  const naming = new Set(identifiers.map((i) => i.value));
  for (const t of traits) if (NAMING_TRAITS.includes(t.name)) strings(t.value, naming);
  const values = [...naming];
  // Where values are looked for by substring (audit changes, rejected calls, warnings), a short one ("42", "Al")
  // would match other people's records: it is looked for as a whole JSON string ("42", "user_id:42") instead.
  const mentions = [...new Set(values.flatMap((v) => (v.length >= MIN_SUBSTRING ? [v] : [`"${v}"`, `:${v}"`])))];
  const addresses = live ? (await directory.addresses([live.id])).get(live.id) ?? {} : {};

  // First suppress, so whatever the log still holds of the person is dropped rather than applied.
  const suppressedKeys = await deps.privacy.suppression.add(tx, workspaceId, { id: request.requestId, reason: 'delete' }, [...identifiers, ...profileIds.map((profileId) => ({ profileId }))], now);
  const userIds = identifiers.filter((i) => i.type === 'user_id' || i.type === 'anonymous_id').map((i) => i.value);
  const outbox = await deps.destinations.forget(tx, workspaceId, { profileIds, keys: userIds, offsets }, {
    type: 'track', event: 'User Deleted', messageId: `rapport-privacy-delete-${request.requestId}`,
    ...(addresses.userId ? { userId: addresses.userId } : {}), ...(addresses.anonymousId || !addresses.userId ? { anonymousId: addresses.anonymousId ?? `deleted-${request.requestId}` } : {}),
    timestamp: new Date(now).toISOString(), properties: { privacyRequestId: request.requestId }, context: { rapport: { privacyRequestId: request.requestId } },
  });
  const events = await logErasure.eraseEvents(tx, workspaceId, offsets);
  const rejected = await logErasure.eraseRejected(tx, workspaceId, mentions);
  const audiences = await audiencesErasure.erase(tx, profileIds);
  const crm = await deps.crm.erasure.erase(tx, workspaceId, profileIds, values, now);
  const consent = await deps.privacy.consent.erase(tx, profileIds);
  const exports = await deps.privacy.requests.forget(tx, workspaceId, identifiers, profileIds);
  const profiles = await profilesErasure.erase(tx, profileIds);
  const identity = await identityErasure.erase(tx, workspaceId, profileIds, mentions);
  const auditChanges = await deps.audit.eraseChanges(tx, workspaceId, { targetIds: profileIds, mentioning: mentions });
  return {
    profileId: live?.id ?? null,
    result: {
      profileFound: live !== undefined, profiles: identity.profiles, identifiers: identity.identifiers, mergeLog: identity.mergeLog, traits: profiles.traits,
      timeline: profiles.timeline, events, rejectedCalls: rejected, ...audiences, consent, ...crm, exports, outboxDropped: outbox.dropped,
      destinationsNotified: outbox.notified, auditChangesErased: auditChanges, suppressedKeys,
    },
  };
}
