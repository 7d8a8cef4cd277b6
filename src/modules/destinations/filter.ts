import { readPath, testValue } from '../audiences/index.js';
import type { DestinationDefinition } from './definition.js';

/** The facts of a logged event a destination's filter looks at. */
export interface EventFacts {
  type: string;
  event: string | null;
  message: Record<string, unknown>;
}

/** The name a filter's `events` matches: a track's event, a page's or screen's name. */
function nameOf(e: EventFacts): string | undefined {
  if (e.type === 'track') return e.event ?? undefined;
  if (e.type === 'page' || e.type === 'screen') return typeof e.message.name === 'string' ? e.message.name : undefined;
  return undefined;
}

/**
 * Whether the event passes the destination's filter and consent requirements (audience membership, which
 * needs the store, is checked by the caller). Consent follows Segment's consent spec: every required
 * category must be granted (`true`) by the event's `context.consent.categoryPreferences` or by the
 * profile's current consent, and refused (`false`) by neither: a profile's later refusal outranks what an
 * event said, and an event's own refusal holds whatever the profile said before.
 */
export function passes(d: DestinationDefinition, e: EventFacts, profileConsent?: Record<string, boolean> | null): boolean {
  const f = d.filter;
  if (f?.types && !f.types.includes(e.type as never)) return false;
  if (f?.events) {
    const name = nameOf(e);
    if (name === undefined || !f.events.includes(name)) return false;
  }
  if (f?.where && !f.where.every((w) => testValue(w, readPath(e.message, w.path)))) return false;
  // null: consent is judged later, once the event's profile is known.
  if (d.consent?.length && profileConsent !== null) {
    const read = readPath(e.message, 'context.consent.categoryPreferences');
    const stated = (read && typeof read === 'object' ? read : {}) as Record<string, unknown>;
    const profile = profileConsent ?? {};
    const allowed = (c: string) => stated[c] !== false && profile[c] !== false && (stated[c] === true || profile[c] === true);
    if (!d.consent.every(allowed)) return false;
  }
  return true;
}
