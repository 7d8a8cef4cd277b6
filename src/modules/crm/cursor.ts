import { errors } from '../../platform/errors.js';

/** A keyset cursor `<number>_<id>` (a time or sort key, then the id that breaks ties), as the lists give out. */
export function parseKeyset(cursor: string): { at: number; id: string } {
  const cut = cursor.indexOf('_');
  const at = Number(cursor.slice(0, cut));
  if (cut <= 0 || !Number.isSafeInteger(at)) throw errors.invalidRequest('The cursor is not one this API gave out.');
  return { at, id: cursor.slice(cut + 1) };
}
