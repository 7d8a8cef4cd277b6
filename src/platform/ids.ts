import { randomBytes } from 'node:crypto';

/**
 * A UUID of version 7 (RFC 9562): the first 48 bits are the time in milliseconds, the rest random. Ids made
 * one after another sort one after another, so the rows keyed by them (a new profile's row, traits, timeline,
 * CRM record and search document) go to the end of their indexes instead of to a random page of each: a batch
 * of new profiles then writes a few pages per index rather than one per profile.
 */
export function timeOrderedUuid(now = Date.now()): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = (bytes[6] & 0x0f) | 0x70;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
