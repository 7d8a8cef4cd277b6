/** The audience builder's rows, and how they become the definition language's condition (audiences/definition.ts). */

export type RowKind = 'trait' | 'event' | 'computed_trait' | 'audience';

export interface ConditionRow {
  id: number;
  kind: RowKind;
  negate: boolean;
  /** trait name, computed trait key or audience key */
  subject: string;
  op: string;
  value: string;
  eventType: 'track' | 'page' | 'screen';
  countOp: 'at_least' | 'at_most' | 'exactly';
  count: number;
  withinDays: number | null;
}

export const VALUE_OPS = [
  { value: 'eq', label: 'is' },
  { value: 'neq', label: 'is not' },
  { value: 'contains', label: 'contains' },
  { value: 'starts_with', label: 'starts with' },
  { value: 'gt', label: 'greater than' },
  { value: 'gte', label: 'at least' },
  { value: 'lt', label: 'less than' },
  { value: 'lte', label: 'at most' },
  { value: 'in', label: 'is one of (comma-separated)' },
  { value: 'exists', label: 'is set' },
  { value: 'not_exists', label: 'is not set' },
];

const NUMERIC = new Set(['gt', 'gte', 'lt', 'lte']);
const TEXT = new Set(['contains', 'starts_with']);

let next = 1;
export function newRow(kind: RowKind = 'trait'): ConditionRow {
  return { id: next++, kind, negate: false, subject: '', op: 'eq', value: '', eventType: 'track', countOp: 'at_least', count: 1, withinDays: null };
}

/** A typed value from what was typed: numbers and true/false as such, the rest as text. */
function scalar(text: string): string | number | boolean {
  const t = text.trim();
  if (t === 'true' || t === 'false') return t === 'true';
  if (t !== '' && !Number.isNaN(Number(t))) return Number(t);
  return t;
}

/** A value test of the definition language from an operator and what was typed (also used by computed traits). */
export function valueTest(row: Pick<ConditionRow, 'op' | 'value'>): Record<string, unknown> {
  if (row.op === 'exists' || row.op === 'not_exists') return { op: row.op };
  if (row.op === 'in') return { op: 'in', values: row.value.split(',').map((v) => scalar(v)).filter((v) => v !== '') };
  if (NUMERIC.has(row.op)) return { op: row.op, value: Number(row.value) };
  if (TEXT.has(row.op)) return { op: row.op, value: row.value };
  return { op: row.op, value: scalar(row.value) };
}

function rowCondition(row: ConditionRow): Record<string, unknown> {
  let condition: Record<string, unknown>;
  if (row.kind === 'trait') condition = { trait: row.subject.trim(), ...valueTest(row) };
  else if (row.kind === 'computed_trait') condition = { computed_trait: row.subject, ...valueTest(row) };
  else if (row.kind === 'audience') condition = { audience: row.subject, member: true };
  else {
    condition = {
      event: { type: row.eventType, ...(row.subject.trim() ? { name: row.subject.trim() } : {}) },
      count: { op: row.countOp, value: row.count },
      ...(row.withinDays ? { within: { last: row.withinDays, unit: 'days' } } : {}),
    };
  }
  return row.negate ? { not: condition } : condition;
}

/** What a value test looks like typed back into the form: the reverse of valueTest. */
export function typedTest(test: { op: string; value?: unknown; values?: unknown[] }): Pick<ConditionRow, 'op' | 'value'> {
  return { op: test.op, value: test.values ? test.values.map(String).join(', ') : test.value === undefined ? '' : String(test.value) };
}

/** The rows joined by all/any; one row stands alone. */
export function toCondition(match: 'all' | 'any', rows: ConditionRow[]): Record<string, unknown> | null {
  if (rows.length === 0) return null;
  if (rows.length === 1) return rowCondition(rows[0]);
  return { [match]: rows.map(rowCondition) };
}

/** What a row still needs before the server can judge it (the server's 400 says the rest). */
export function incomplete(row: ConditionRow): string | null {
  if (row.kind !== 'event' && !row.subject.trim()) return row.kind === 'trait' ? 'Name the trait.' : `Pick the ${row.kind.replace('_', ' ')}.`;
  if ((row.kind === 'trait' || row.kind === 'computed_trait') && !['exists', 'not_exists'].includes(row.op) && row.value.trim() === '') return 'Give a value.';
  if (NUMERIC.has(row.op) && Number.isNaN(Number(row.value))) return 'The value must be a number.';
  return null;
}

/** A key from a name: "Pro users (EU)" -> "pro_users_eu". */
export function keyFrom(name: string): string {
  const key = name.toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '').replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '').replace(/^(\d)/, 'a_$1');
  return key.slice(0, 64);
}
