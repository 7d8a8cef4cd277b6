import { errors } from '../../platform/errors.js';

/** A keyset cursor `<number>_<id>` (a time or sort key, then the id that breaks ties), as the lists give out. */
export function parseKeyset(cursor: string): { at: number; id: string } {
  const cut = cursor.indexOf('_');
  const at = Number(cursor.slice(0, cut));
  if (cut <= 0 || !Number.isSafeInteger(at)) throw errors.invalidRequest('The cursor is not one this API gave out.');
  return { at, id: cursor.slice(cut + 1) };
}

/** A keyset cursor that names the sort and order it came from (base64url JSON `[sort, order, key, id]`, as deals give out). */
export const encodeSortCursor = (sort: string, order: 'asc' | 'desc', key: unknown, id: string) => Buffer.from(JSON.stringify([sort, order, key, id])).toString('base64url');

/** Reads a cursor of `encodeSortCursor`; one from another sort or order is refused rather than misread. */
export function decodeSortCursor(cursor: string, sort: string, order: 'asc' | 'desc'): { key: unknown; id: string } {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    v = undefined;
  }
  if (!Array.isArray(v) || v.length !== 4 || typeof v[0] !== 'string' || typeof v[3] !== 'string' || !v[3]) throw errors.invalidRequest('The cursor is not one this API gave out.');
  if (v[0] !== sort || v[1] !== order) throw errors.invalidRequest(`The cursor belongs to a list sorted by ${v[0]} ${v[1]}; use it with that sort, or start again without it.`);
  return { key: v[2], id: v[3] };
}
