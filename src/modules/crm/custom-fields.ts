/**
 * Custom fields: what a workspace defines on an object (contact, company, deal, ticket), and the checks
 * that turn submitted values into stored ones. Pure: record existence (users, linked records) is the caller's.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { errors } from '../../platform/errors.js';

export const FIELD_TYPES = ['text', 'number', 'date', 'datetime', 'select', 'multi_select', 'boolean', 'currency', 'user', 'link', 'email', 'url', 'phone'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];
export const CRM_OBJECTS = ['contact', 'company', 'deal', 'ticket'] as const;
export type CrmObject = (typeof CRM_OBJECTS)[number];

export interface FieldOption {
  value: string;
  label: string;
}

export interface FieldDefinition {
  key: string;
  label: string;
  type: FieldType;
  required?: boolean;
  /** select and multi_select: the allowed values, in the order they are shown and stored. */
  options?: FieldOption[];
  /** link: values are ids of records of this object. */
  link?: { object: CrmObject };
  /** number, currency (on the amount). */
  min?: number;
  max?: number;
  /** text, in characters; default and ceiling TEXT_MAX_LENGTH. */
  maxLength?: number;
}

export interface Currency {
  amount: number;
  currency: string;
}

export const TEXT_MAX_LENGTH = 10_000;
const KEY_PATTERN = '^[a-z][a-z0-9_]{0,63}$';

// Which properties belong to which types: each becomes an if/then/else, and an error under it is explained
// by the rule rather than by ajv's "must NOT be valid".
const TYPE_RULES: { property: keyof FieldDefinition; types: FieldType[]; needed?: boolean }[] = [
  { property: 'options', types: ['select', 'multi_select'], needed: true },
  { property: 'link', types: ['link'], needed: true },
  { property: 'min', types: ['number', 'currency'] },
  { property: 'max', types: ['number', 'currency'] },
  { property: 'maxLength', types: ['text'] },
];

const LABEL = { type: 'string', minLength: 1, maxLength: 200 };

export const fieldDefinitionSchema = {
  type: 'object', additionalProperties: false, required: ['key', 'label', 'type'],
  properties: {
    key: { type: 'string', pattern: KEY_PATTERN, description: 'Stable name in the API; a lower-case letter, then up to 63 lower-case letters, digits or _.' },
    label: LABEL,
    type: { enum: [...FIELD_TYPES] },
    required: { type: 'boolean', description: 'Default false.' },
    options: {
      type: 'array', minItems: 1, maxItems: 500, description: 'select and multi_select only; values must be unique.',
      items: { type: 'object', additionalProperties: false, required: ['value', 'label'], properties: { value: LABEL, label: LABEL } },
    },
    link: { type: 'object', additionalProperties: false, required: ['object'], properties: { object: { enum: [...CRM_OBJECTS] } }, description: 'link only.' },
    min: { type: 'number', description: 'number and currency only.' },
    max: { type: 'number', description: 'number and currency only.' },
    maxLength: { type: 'integer', minimum: 1, maximum: TEXT_MAX_LENGTH, description: `text only; default ${TEXT_MAX_LENGTH}.` },
  },
  allOf: TYPE_RULES.map((r) => ({
    if: { required: ['type'], properties: { type: { enum: r.types } } },
    ...(r.needed ? { then: { required: [r.property] } } : {}),
    else: { not: { required: [r.property] } },
  })),
};

const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });
const validDefinition = ajv.compile<FieldDefinition>(fieldDefinitionSchema);

/** A definition as submitted, checked; throws one sentence naming the first problem. */
export function checkFieldDefinition(input: unknown): FieldDefinition {
  if (!validDefinition(input)) throw errors.validation(`Invalid field: ${explain(input, validDefinition.errors ?? [])}.`);
  const seen = new Set<string>();
  for (const [i, o] of (input.options ?? []).entries()) {
    if (seen.has(o.value)) throw errors.validation(`Invalid field: /options/${i} repeats the value "${o.value}".`);
    seen.add(o.value);
  }
  if (input.min !== undefined && input.max !== undefined && input.min > input.max) throw errors.validation('Invalid field: /min must not be greater than /max.');
  return input;
}

function explain(input: unknown, list: ErrorObject[]): string {
  const type = (input as { type?: unknown } | null)?.type;
  // With the type itself wrong, rules about which properties that type takes are noise.
  const typeWrong = list.some((e) => e.instancePath === '/type' || (e.instancePath === '' && e.keyword === 'required' && (e.params as { missingProperty: string }).missingProperty === 'type'));
  const ruleOf = (e: ErrorObject) => TYPE_RULES[Number(e.schemaPath.match(/^#\/allOf\/(\d+)\//)?.[1] ?? NaN)];
  const e = list.find((x) => x.keyword !== 'if' && !(typeWrong && ruleOf(x))) ?? list[0];
  const rule = ruleOf(e);
  if (rule) {
    return e.schemaPath.includes('/then/')
      ? `a ${String(type)} field needs ${rule.property === 'link' ? 'link.object' : rule.property}`
      : `/${rule.property} is only for ${rule.types.join(' and ')} fields`;
  }
  const at = e.instancePath || 'the definition';
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required': return `${at} is missing "${String(p.missingProperty)}"`;
    case 'additionalProperties': return `${at} has an unexpected property "${String(p.additionalProperty)}"`;
    case 'enum': return `${at} must be one of ${(p.allowedValues as unknown[]).join(', ')}`;
    case 'type': return `${at} must be ${/^[aeiou]/.test(String(p.type)) ? 'an' : 'a'} ${String(p.type)}`;
    case 'pattern': return `${at} must start with a lower-case letter followed by at most 63 lower-case letters, digits or _`;
    default: return `${at} ${e.message ?? 'is invalid'}`;
  }
}

export interface FieldProblem {
  field: string;
  message: string;
}

/**
 * Submitted values (key → value) checked against the object's definitions and normalised for storage.
 * `null` clears a field. `create` needs every required field; `update` checks only the keys given.
 * Every problem is collected and thrown together in one validation error (details: FieldProblem[]).
 */
export function validateValues(defs: FieldDefinition[], input: unknown, mode: 'create' | 'update'): Record<string, unknown> {
  if (!isPlainObject(input)) throw errors.validation('Invalid custom fields: they must be an object of field keys to values.', []);
  // A Map, not an object: keys such as "constructor" must not find Object.prototype's members.
  const byKey = new Map(defs.map((d) => [d.key, d]));
  const problems: FieldProblem[] = [];
  const out: [string, unknown][] = [];
  for (const key of Object.keys(input)) {
    const raw = input[key];
    if (raw === undefined) continue;
    const def = byKey.get(key);
    if (!def) {
      problems.push({ field: key, message: 'is not defined for this object' });
      continue;
    }
    const checked = raw === null ? { value: null } : checkValue(def, raw);
    if ('problem' in checked) problems.push({ field: key, message: checked.problem });
    else if (checked.value === null && def.required) problems.push({ field: key, message: mode === 'create' ? 'is required' : 'is required and cannot be cleared' });
    else out.push([key, checked.value]);
  }
  if (mode === 'create') {
    for (const d of defs) if (d.required && (!Object.hasOwn(input, d.key) || input[d.key] === undefined)) problems.push({ field: d.key, message: 'is required' });
  }
  if (problems.length) {
    const say = (p: FieldProblem) => (byKey.has(p.field) ? `"${p.field}" ${p.message}` : `custom field "${p.field}" ${p.message}`);
    throw errors.validation(`Invalid custom fields: ${problems.map(say).join('; ')}.`, problems);
  }
  return Object.fromEntries(out);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && [Object.prototype, null].includes(Object.getPrototypeOf(v));

type Checked = { value: unknown } | { problem: string };
const ok = (value: unknown): Checked => ({ value });
const no = (problem: string): Checked => ({ problem });

function checkValue(def: FieldDefinition, v: unknown): Checked {
  switch (def.type) {
    case 'text': {
      if (typeof v !== 'string') return no('must be a string');
      const s = v.trim();
      const max = def.maxLength ?? TEXT_MAX_LENGTH;
      // A blank text is an empty form input: it clears the field (and so is refused when required).
      if (!s) return ok(null);
      return [...s].length > max ? no(`must be at most ${max} characters`) : ok(s);
    }
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v)) return no('must be a number');
      return inRange(def, v, 'must be') ?? ok(v);
    case 'date':
      return typeof v === 'string' && isCalendarDate(v) ? ok(v) : no('must be a date as YYYY-MM-DD');
    case 'datetime': {
      const iso = typeof v === 'string' ? parseDateTime(v) : null;
      return iso ? ok(iso) : no('must be an ISO 8601 date and time with a time zone, such as 2026-11-24T10:00:00Z');
    }
    case 'select': {
      const values = (def.options ?? []).map((o) => o.value);
      return typeof v === 'string' && values.includes(v) ? ok(v) : no(`must be one of ${values.join(', ')}`);
    }
    case 'multi_select':
      return checkMultiSelect(def, v);
    case 'boolean':
      return typeof v === 'boolean' ? ok(v) : no('must be true or false');
    case 'currency':
      return checkCurrency(def, v);
    case 'user':
    case 'link': {
      const id = typeof v === 'string' ? v.trim() : '';
      return id && id.length <= 200 ? ok(id) : no(`must be the id of a ${def.type === 'user' ? 'user' : (def.link?.object ?? 'record')}`);
    }
    case 'email':
      return checkEmail(v);
    case 'url':
      return checkUrl(v);
    case 'phone': {
      const s = typeof v === 'string' ? v.trim() : '';
      return /^[0-9 +\-().]{5,32}$/.test(s) && (s.match(/\d/g)?.length ?? 0) >= 5 ? ok(s) : no('must be a phone number: 5 to 32 digits, spaces and + - ( ) .');
    }
  }
}

function inRange(def: FieldDefinition, n: number, what: string): Checked | undefined {
  if (def.min !== undefined && n < def.min) return no(`${what} at least ${def.min}`);
  if (def.max !== undefined && n > def.max) return no(`${what} at most ${def.max}`);
  return undefined;
}

function checkMultiSelect(def: FieldDefinition, v: unknown): Checked {
  const values = (def.options ?? []).map((o) => o.value);
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || !values.includes(x))) return no(`must be a list of ${values.join(', ')}`);
  const twice = v.find((x, i) => v.indexOf(x) !== i);
  if (twice !== undefined) return no(`lists "${twice}" twice`);
  // An empty list clears the field, like a blank text.
  return v.length ? ok(values.filter((x) => v.includes(x))) : ok(null);
}

// Only codes ICU knows: Intl.NumberFormat accepts any three letters ("XYZ" formats with 2 decimals).
const CURRENCIES = new Set(Intl.supportedValuesOf('currency'));

/** Decimal places of a currency's minor unit (JPY 0, EUR 2, KWD 3), as ICU knows them. */
const minorDigits = (currency: string) => new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;

function checkCurrency(def: FieldDefinition, v: unknown): Checked {
  const shape = 'must be { amount, currency } with a number amount and a 3-letter currency code';
  if (!isPlainObject(v) || Object.keys(v).some((k) => k !== 'amount' && k !== 'currency')) return no(shape);
  const { amount, currency } = v;
  if (typeof amount !== 'number' || !Number.isFinite(amount) || typeof currency !== 'string') return no(shape);
  const code = currency.toUpperCase();
  if (!/^[A-Z]{3}$/.test(code) || !CURRENCIES.has(code)) return no(`has an unknown currency "${currency}"`);
  const digits = minorDigits(code);
  const minor = Math.round(amount * 10 ** digits);
  // More decimals than the currency has are refused, not rounded away: 10.005 EUR is a mistake to show, not
  // to guess at. Float noise (0.1 + 0.2) is within the tolerance and is rounded.
  if (Math.abs(minor / 10 ** digits - amount) > 1e-9 * Math.max(1, Math.abs(amount))) return no(`has more decimals than ${code} has (${digits})`);
  if (!Number.isSafeInteger(minor)) return no('has an amount too large');
  const rounded = minor / 10 ** digits;
  return inRange(def, rounded, 'must have an amount of') ?? ok({ amount: rounded, currency: code });
}

const daysIn = (y: number, m: number) => (m === 2 ? (y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28) : [4, 6, 9, 11].includes(m) ? 30 : 31);

function isCalendarDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return mo >= 1 && mo <= 12 && d >= 1 && d <= daysIn(y, mo);
}

/** An ISO 8601 date and time with a zone (Z or ±hh:mm), as UTC `toISOString()`; null when not one. */
function parseDateTime(s: string): string | null {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|([+-])(\d{2}):(\d{2}))$/.exec(s);
  if (!m || !isCalendarDate(m[1])) return null;
  const [h, min, sec] = [Number(m[2]), Number(m[3]), Number(m[4] ?? 0)];
  const [oh, om] = [Number(m[8] ?? 0), Number(m[9] ?? 0)];
  if (h > 23 || min > 59 || sec > 59 || oh > 23 || om > 59) return null;
  const [y, mo, d] = m[1].split('-').map(Number);
  const t = new Date(0);
  // setUTCFullYear, not Date.UTC, which reads years 0-99 as 1900-1999.
  t.setUTCFullYear(y, mo - 1, d);
  t.setUTCHours(h, min, sec, Number((m[5] ?? '0').padEnd(3, '0').slice(0, 3)));
  const offset = (m[7] === '-' ? -1 : 1) * (oh * 60 + om);
  const iso = new Date(t.getTime() - offset * 60_000).toISOString();
  // An offset can push year 0000 or 9999 out of four digits, which would no longer sort as a string.
  return /^\d{4}-/.test(iso) ? iso : null;
}

function checkEmail(v: unknown): Checked {
  const s = typeof v === 'string' ? v.trim() : '';
  const at = s.lastIndexOf('@');
  const [local, domain] = [s.slice(0, at), s.slice(at + 1).toLowerCase()];
  const plausible = at > 0 && s.length <= 254 && local.length <= 64
    && /^[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+(\.[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+)*$/u.test(local)
    && /^([\p{L}\p{N}]([\p{L}\p{N}-]*[\p{L}\p{N}])?\.)+(\p{L}{2,}|xn--[a-z0-9-]+)$/u.test(domain);
  // The local part is kept as given: some mail servers treat it case-sensitively.
  return plausible ? ok(`${local}@${domain}`) : no('must be an email address');
}

function checkUrl(v: unknown): Checked {
  const s = typeof v === 'string' ? v.trim() : '';
  let url: URL | undefined;
  try {
    url = s.length <= 2000 ? new URL(s) : undefined;
  } catch {
    url = undefined;
  }
  return url && (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname ? ok(url.href) : no('must be an http or https URL');
}

/**
 * A stored value as something that sorts naturally, for the filter and sort index: numbers as numbers,
 * dates as ISO strings, text lower-cased. Currency sorts by amount alone, whatever the currency.
 */
export function sortableValue(def: FieldDefinition, value: unknown): string | number | null {
  if (value === null || value === undefined) return null;
  switch (def.type) {
    case 'number':
      return typeof value === 'number' ? value : null;
    case 'currency': {
      const amount = isPlainObject(value) ? value.amount : undefined;
      return typeof amount === 'number' ? amount : null;
    }
    case 'boolean':
      return typeof value === 'boolean' ? Number(value) : null;
    case 'date':
    case 'datetime':
      return typeof value === 'string' ? value : null;
    case 'multi_select':
      return Array.isArray(value) ? value.join(',').toLowerCase() : null;
    default:
      return typeof value === 'string' ? value.toLowerCase() : null;
  }
}
