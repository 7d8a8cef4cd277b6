import type { Kysely } from 'kysely';
import type { AudiencesService } from '../modules/audiences/index.js';
import { eventLog } from '../modules/collect/index.js';
import type { Crm } from '../modules/crm/index.js';
import { createDirectory, identityErasure } from '../modules/identity/index.js';
import type { Privacy, RequestContext, RequestOutcome } from '../modules/privacy/index.js';
import type { ProfilesService } from '../modules/profiles/index.js';
import { RapportError } from '../platform/errors.js';

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString());
const LIMIT = 1000;

/**
 * A privacy export: everything Rapport holds about the person the identifier names, as one JSON document
 * (GDPR article 15 / CCPA "right to know"): identifiers, traits, every event in the log (the whole messages),
 * consent and its history, computed traits and audiences, the CRM record with its deals, tickets and
 * activities. The profiles merged into the person's are part of it.
 */
export async function exportPerson(
  deps: { profiles: ProfilesService; audiences: AudiencesService; crm: Crm; privacy: Privacy },
  tx: Kysely<any>, request: RequestContext,
): Promise<RequestOutcome> {
  const { workspaceId, identifier } = request;
  const directory = createDirectory(tx);
  const live = await directory.byIdentifier(workspaceId, 'users', identifier);
  const base = { exportedAt: iso(request.now), requestId: request.requestId, workspaceId, identifier };
  if (!live) return { profileId: null, result: { profileFound: false, events: 0 }, document: { ...base, profile: null } };
  const family = await identityErasure.family(tx, live.id);
  const identifiers = (await Promise.all(family.map((id) => directory.identifiers(id)))).flat();
  const traits = await deps.profiles.traits(tx, live.id);
  const offsets = (await Promise.all(family.map((id) => deps.profiles.timeline(tx, id)))).flat().map((r) => Number(r.event_offset));
  const events = await eventLog.at(tx, workspaceId, [...new Set(offsets)]);
  const consent = await deps.privacy.consent.get(tx, live.id, 10_000);
  const contact = await deps.crm.contacts.get(tx, workspaceId, live.id).catch((e: unknown) => {
    if (e instanceof RapportError && e.status === 404) return null;
    throw e;
  });
  const document = {
    ...base,
    profile: { id: live.id, createdAt: iso(live.created_at), updatedAt: iso(live.updated_at), mergedProfiles: family.filter((id) => id !== live.id) },
    identifiers: identifiers.map((i) => ({ type: i.type, value: i.value, firstSeen: iso(i.first_seen) })),
    traits: Object.fromEntries(traits.map((t) => [t.name, { value: JSON.parse(t.value) as unknown, updatedAt: iso(t.updated_at) }])),
    consent: {
      current: Object.fromEntries(consent.current.map((c) => [c.category, { granted: Number(c.granted) === 1, statedAt: iso(c.stated_at), source: c.source }])),
      history: consent.history.map((h) => ({ category: h.category, granted: Number(h.granted) === 1, statedAt: iso(h.stated_at), source: h.source, messageId: h.message_id })),
    },
    computedTraits: (await deps.audiences.valuesOf(tx, workspaceId, live.id)).map((v) => ({ key: v.name, value: v.value, updatedAt: iso(v.updated_at) })),
    audiences: (await deps.audiences.membershipsOf(tx, workspaceId, live.id)).map((m) => ({ key: m.name, enteredAt: iso(m.updated_at) })),
    crm: {
      contact,
      deals: (await deps.crm.deals.list(tx, workspaceId, { limit: LIMIT, contactId: live.id })).deals,
      tickets: (await deps.crm.tickets.list(tx, workspaceId, { limit: LIMIT, contactId: live.id })).tickets,
      activities: await deps.crm.activities.on(tx, workspaceId, 'contact', live.id, LIMIT),
    },
    events: events.map((e) => e.message),
  };
  return { profileId: live.id, result: { profileFound: true, events: events.length, identifiers: identifiers.length, traits: traits.length }, document };
}
