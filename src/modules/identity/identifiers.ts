import { parsePhoneNumberFromString } from 'libphonenumber-js';

/** Users and accounts are separate collections: a group_id never meets a user_id. */
export type Collection = 'users' | 'accounts';

export interface Identifier {
  type: string;
  value: string;
}

export const keyOf = (id: Identifier) => `${id.type}:${id.value}`;

export function parseKey(key: string): Identifier {
  const at = key.indexOf(':');
  return { type: key.slice(0, at), value: key.slice(at + 1) };
}

export function normalizeEmail(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const email = value.trim().toLowerCase();
  return /^[^@\s]+@[^@\s]+$/.test(email) ? email : null;
}

/** E.164 where the number parses (with the event's country when it has one); digits otherwise. */
export function normalizePhone(value: unknown, country?: string): string | null {
  if (typeof value !== 'string' && typeof value !== 'number') return null;
  const raw = String(value).trim();
  if (!raw) return null;
  const parsed = parsePhoneNumberFromString(raw, (country?.length === 2 ? country.toUpperCase() : undefined) as never);
  if (parsed?.isValid()) return parsed.number;
  const digits = raw.replace(/[^\d+]/g, '');
  return digits.replace(/\+/g, '').length >= 5 ? digits : null;
}

function idValue(value: unknown): string | null {
  if (typeof value === 'string') return value.trim() || null;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface ExtractedIdentifiers {
  /** Identifiers of the person the event is about. */
  user: Identifier[];
  /** Identifiers of the account, for group calls and accounts-collection external ids. */
  account: Identifier[];
  /** For alias: the previous id, whose type is decided against the graph (user_id or anonymous_id). */
  previousId: string | null;
}

/** Every identifier a Segment message carries, normalised; duplicates removed. */
export function extractIdentifiers(message: Record<string, unknown>): ExtractedIdentifiers {
  const user = new Map<string, Identifier>();
  const account = new Map<string, Identifier>();
  const add = (into: Map<string, Identifier>, type: string, value: string | null) => {
    if (value) into.set(`${type}:${value}`, { type, value });
  };
  const context = isObject(message.context) ? message.context : {};
  const traits = isObject(message.traits) && message.type === 'identify' ? message.traits : {};
  const contextTraits = isObject(context.traits) ? context.traits : {};
  const country = isObject(context.location) && typeof context.location.country === 'string' ? context.location.country : undefined;

  add(user, 'user_id', idValue(message.userId));
  add(user, 'anonymous_id', idValue(message.anonymousId));
  add(user, 'email', normalizeEmail(traits.email) ?? normalizeEmail(contextTraits.email));
  add(user, 'phone', normalizePhone(traits.phone, country) ?? normalizePhone(contextTraits.phone, country));
  const device = isObject(context.device) ? context.device : {};
  add(user, 'device_id', idValue(device.id));
  if (device.adTrackingEnabled === true) add(user, 'advertising_id', idValue(device.advertisingId));
  if (Array.isArray(context.externalIds)) {
    for (const ext of context.externalIds) {
      if (!isObject(ext)) continue;
      const type = typeof ext.type === 'string' ? ext.type.trim().toLowerCase().replace(/[^a-z0-9_]/g, '_') : '';
      const value = type === 'email' ? normalizeEmail(ext.id) : idValue(ext.id);
      if (!type) continue;
      add(ext.collection === 'accounts' ? account : user, type, value);
    }
  }
  if (message.type === 'group') add(account, 'group_id', idValue(message.groupId));
  const previousId = message.type === 'alias' ? idValue(message.previousId) : null;
  return { user: [...user.values()], account: [...account.values()], previousId };
}
