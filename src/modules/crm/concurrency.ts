import { errors } from '../../platform/errors.js';

/** A record's ETag: its id and version, bumped by every change. */
export const etagOf = (r: { id: string; version: number }) => `"${r.id}.${r.version}"`;

/**
 * Optimistic concurrency: with If-Match (the ETag the client read), a record changed since is refused with
 * 412, so a stale write never silently overwrites. Without the header the write goes through.
 */
export function checkIfMatch(ifMatch: string | undefined, current: { id: string; version: number }, what: string): void {
  if (ifMatch === undefined || ifMatch.trim() === '*') return;
  const tags = ifMatch.split(',').map((tag) => tag.trim().replace(/^W\//, ''));
  if (!tags.includes(etagOf(current))) throw errors.preconditionFailed(`The ${what} changed since you read it (now ${etagOf(current)}); read it again and reapply your change.`);
}
