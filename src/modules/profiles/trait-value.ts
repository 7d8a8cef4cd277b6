import { sql } from 'kysely';

/**
 * `column` (a profile_traits value, JSON text) is one of `values`: compared on the indexed 100-character
 * prefix first, so the index (workspace_id, name, substr(value, 1, 100)) is used, then whole.
 */
export const traitValueIn = (column: string, values: string[]) =>
  sql<boolean>`substr(${sql.ref(column)}, 1, 100) in (${sql.join(values.map((v) => sql`substr(${v}, 1, 100)`))}) and ${sql.ref(column)} in (${sql.join(values)})`;
