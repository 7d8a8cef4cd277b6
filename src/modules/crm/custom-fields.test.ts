import { describe, expect, it } from 'vitest';
import { RapportError } from '../../platform/errors.js';
import { checkFieldDefinition, sortableValue, validateValues, type FieldDefinition } from './custom-fields.js';

const STAGE: FieldDefinition = { key: 'stage', label: 'Stage', type: 'select', options: [{ value: 'new', label: 'New' }, { value: 'won', label: 'Won' }] };
const TAGS: FieldDefinition = { key: 'tags', label: 'Tags', type: 'multi_select', options: [{ value: 'a', label: 'A' }, { value: 'b', label: 'B' }, { value: 'c', label: 'C' }] };

/** The error thrown, so tests can read its message and details. */
function failure(run: () => unknown): RapportError {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(RapportError);
    expect((e as RapportError).code).toBe('validation_error');
    return e as RapportError;
  }
  throw new Error('expected a validation error');
}

const one = (def: Omit<FieldDefinition, 'key' | 'label'>, value: unknown) => validateValues([{ key: 'f', label: 'F', ...def }], { f: value }, 'update').f;
const refusal = (def: Omit<FieldDefinition, 'key' | 'label'>, value: unknown) => failure(() => one(def, value)).message;

describe('field definitions', () => {
  it('accepts a definition of each shape', () => {
    expect(checkFieldDefinition(STAGE)).toEqual(STAGE);
    expect(checkFieldDefinition({ key: 'owner_company', label: 'Company', type: 'link', link: { object: 'company' }, required: true })).toMatchObject({ type: 'link' });
    expect(checkFieldDefinition({ key: 'arr', label: 'ARR', type: 'currency', min: 0, max: 1e9 })).toMatchObject({ min: 0 });
    expect(checkFieldDefinition({ key: 'notes', label: 'Notes', type: 'text', maxLength: 500 })).toMatchObject({ maxLength: 500 });
  });

  it('says what is wrong, and where, in one sentence', () => {
    const cases: [unknown, string][] = [
      [{ key: 'stage', label: 'Stage', type: 'select' }, 'Invalid field: a select field needs options.'],
      [{ ...STAGE, options: [] }, 'Invalid field: /options must NOT have fewer than 1 items.'],
      [{ key: 'l', label: 'L', type: 'link' }, 'Invalid field: a link field needs link.object.'],
      [{ key: 'n', label: 'N', type: 'number', options: STAGE.options }, 'Invalid field: /options is only for select and multi_select fields.'],
      [{ key: 'n', label: 'N', type: 'text', link: { object: 'deal' } }, 'Invalid field: /link is only for link fields.'],
      [{ key: 'n', label: 'N', type: 'text', min: 1 }, 'Invalid field: /min is only for number and currency fields.'],
      [{ key: 'n', label: 'N', type: 'number', maxLength: 3 }, 'Invalid field: /maxLength is only for text fields.'],
      [{ key: 'Stage', label: 'Stage', type: 'text' }, 'Invalid field: /key must start with a lower-case letter followed by at most 63 lower-case letters, digits or _.'],
      [{ key: 'stage', label: '', type: 'text' }, 'Invalid field: /label must NOT have fewer than 1 characters.'],
      [{ key: 'stage', label: 'Stage', type: 'colour' }, 'Invalid field: /type must be one of text, number, date, datetime, select, multi_select, boolean, currency, user, link, email, url, phone.'],
      [{ key: 'stage', label: 'Stage' }, 'Invalid field: the definition is missing "type".'],
      [{ key: 'stage', label: 'Stage', type: 'text', colour: 'red' }, 'Invalid field: the definition has an unexpected property "colour".'],
      [{ key: 'l', label: 'L', type: 'link', link: { object: 'invoice' } }, 'Invalid field: /link/object must be one of contact, company, deal, ticket.'],
      [{ ...STAGE, options: [{ value: 'new' }] }, 'Invalid field: /options/0 is missing "label".'],
      ['stage', 'Invalid field: the definition must be an object.'],
      [{ ...STAGE, options: [...STAGE.options!, { value: 'new', label: 'Again' }] }, 'Invalid field: /options/2 repeats the value "new".'],
      [{ key: 'n', label: 'N', type: 'number', min: 5, max: 1 }, 'Invalid field: /min must not be greater than /max.'],
      [{ key: 'n', label: 'N', type: 'text', maxLength: 10_001 }, 'Invalid field: /maxLength must be <= 10000.'],
    ];
    for (const [input, message] of cases) expect(failure(() => checkFieldDefinition(input)).message).toBe(message);
  });

  it('talks about the type, not the properties it takes, when the type itself is wrong', () => {
    expect(failure(() => checkFieldDefinition({ key: 'x', label: 'X', type: 'colour', options: STAGE.options })).message).toMatch(/^Invalid field: \/type must be one of/);
  });

  it('refuses more than 500 options', () => {
    const options = Array.from({ length: 501 }, (_, i) => ({ value: `v${i}`, label: `V${i}` }));
    expect(failure(() => checkFieldDefinition({ ...STAGE, options })).message).toBe('Invalid field: /options must NOT have more than 500 items.');
  });
});

describe('custom field values', () => {
  it('keeps text trimmed, within its length, and clears a field with a blank one', () => {
    expect(one({ type: 'text' }, '  Hello ')).toBe('Hello');
    expect(one({ type: 'text' }, '   ')).toBeNull();
    expect(one({ type: 'text', maxLength: 3 }, '😀😀😀')).toBe('😀😀😀');
    expect(refusal({ type: 'text', maxLength: 3 }, 'abcd')).toBe('Invalid custom fields: "f" must be at most 3 characters.');
    expect(refusal({ type: 'text' }, 'x'.repeat(10_001))).toBe('Invalid custom fields: "f" must be at most 10000 characters.');
    expect(refusal({ type: 'text' }, 42)).toBe('Invalid custom fields: "f" must be a string.');
  });

  it('takes numbers as numbers, never numeric strings, within min and max', () => {
    expect(one({ type: 'number' }, 2.5)).toBe(2.5);
    expect(refusal({ type: 'number' }, '5')).toBe('Invalid custom fields: "f" must be a number.');
    expect(refusal({ type: 'number' }, Number.NaN)).toBe('Invalid custom fields: "f" must be a number.');
    expect(refusal({ type: 'number' }, Infinity)).toBe('Invalid custom fields: "f" must be a number.');
    expect(refusal({ type: 'number', min: 0 }, -1)).toBe('Invalid custom fields: "f" must be at least 0.');
    expect(refusal({ type: 'number', max: 10 }, 11)).toBe('Invalid custom fields: "f" must be at most 10.');
    expect(one({ type: 'number', min: 0, max: 10 }, 10)).toBe(10);
  });

  it('takes real calendar dates only', () => {
    expect(one({ type: 'date' }, '2026-02-28')).toBe('2026-02-28');
    expect(one({ type: 'date' }, '2028-02-29')).toBe('2028-02-29');
    for (const bad of ['2026-02-29', '2026-02-30', '2100-02-29', '2026-13-01', '2026-04-31', '2026-1-5', '2026-01-05T00:00:00Z', 20260105]) {
      expect(refusal({ type: 'date' }, bad)).toBe('Invalid custom fields: "f" must be a date as YYYY-MM-DD.');
    }
  });

  it('takes date-times with a time zone and stores them in UTC', () => {
    expect(one({ type: 'datetime' }, '2026-11-24T10:00:00Z')).toBe('2026-11-24T10:00:00.000Z');
    expect(one({ type: 'datetime' }, '2026-11-24T10:00:00+02:00')).toBe('2026-11-24T08:00:00.000Z');
    expect(one({ type: 'datetime' }, '2026-11-24T23:30-01:00')).toBe('2026-11-25T00:30:00.000Z');
    expect(one({ type: 'datetime' }, '2026-11-24T10:00:00.123456Z')).toBe('2026-11-24T10:00:00.123Z');
    expect(one({ type: 'datetime' }, '0050-01-01T00:00:00Z')).toBe('0050-01-01T00:00:00.000Z');
    for (const bad of ['2026-11-24T10:00:00', '2026-11-24 10:00:00Z', '2026-02-30T10:00:00Z', '2026-11-24T24:00:00Z', '2026-11-24T10:00:60Z', '2026-11-24', '0000-01-01T00:00:00+01:00', 1764000000000]) {
      expect(refusal({ type: 'datetime' }, bad)).toMatch(/^Invalid custom fields: "f" must be an ISO 8601 date and time with a time zone/);
    }
  });

  it('takes one of a select field\'s options', () => {
    expect(validateValues([STAGE], { stage: 'won' }, 'update')).toEqual({ stage: 'won' });
    expect(failure(() => validateValues([STAGE], { stage: 'lost' }, 'update')).message).toBe('Invalid custom fields: "stage" must be one of new, won.');
    expect(failure(() => validateValues([STAGE], { stage: ['won'] }, 'update')).message).toBe('Invalid custom fields: "stage" must be one of new, won.');
  });

  it('stores a multi-select in the options\' order, without duplicates, and clears it with an empty list', () => {
    expect(validateValues([TAGS], { tags: ['c', 'a'] }, 'update')).toEqual({ tags: ['a', 'c'] });
    expect(validateValues([TAGS], { tags: [] }, 'update')).toEqual({ tags: null });
    expect(failure(() => validateValues([TAGS], { tags: ['a', 'a'] }, 'update')).message).toBe('Invalid custom fields: "tags" lists "a" twice.');
    expect(failure(() => validateValues([TAGS], { tags: ['a', 'z'] }, 'update')).message).toBe('Invalid custom fields: "tags" must be a list of a, b, c.');
    expect(failure(() => validateValues([TAGS], { tags: 'a' }, 'update')).message).toBe('Invalid custom fields: "tags" must be a list of a, b, c.');
    expect(failure(() => validateValues([{ ...TAGS, required: true }], { tags: [] }, 'update')).message).toBe('Invalid custom fields: "tags" is required and cannot be cleared.');
  });

  it('takes booleans, not truthy values', () => {
    expect(one({ type: 'boolean' }, false)).toBe(false);
    for (const bad of ['true', 1, 0]) expect(refusal({ type: 'boolean' }, bad)).toBe('Invalid custom fields: "f" must be true or false.');
  });

  it('takes money in a known currency, to that currency\'s minor unit', () => {
    expect(one({ type: 'currency' }, { amount: 12.5, currency: 'eur' })).toEqual({ amount: 12.5, currency: 'EUR' });
    expect(one({ type: 'currency' }, { amount: 1500, currency: 'JPY' })).toEqual({ amount: 1500, currency: 'JPY' });
    expect(one({ type: 'currency' }, { amount: 1.234, currency: 'KWD' })).toEqual({ amount: 1.234, currency: 'KWD' });
    // Floating-point noise is rounded away; a real extra decimal is refused.
    expect(one({ type: 'currency' }, { amount: 0.1 + 0.2, currency: 'EUR' })).toEqual({ amount: 0.3, currency: 'EUR' });
    expect(refusal({ type: 'currency' }, { amount: 10.005, currency: 'EUR' })).toBe('Invalid custom fields: "f" has more decimals than EUR has (2).');
    expect(refusal({ type: 'currency' }, { amount: 1.5, currency: 'JPY' })).toBe('Invalid custom fields: "f" has more decimals than JPY has (0).');
    expect(refusal({ type: 'currency' }, { amount: 1.2345, currency: 'KWD' })).toBe('Invalid custom fields: "f" has more decimals than KWD has (3).');
    expect(refusal({ type: 'currency' }, { amount: 1, currency: 'XYZ' })).toBe('Invalid custom fields: "f" has an unknown currency "XYZ".');
    expect(refusal({ type: 'currency' }, { amount: 1, currency: 'EURO' })).toBe('Invalid custom fields: "f" has an unknown currency "EURO".');
    expect(refusal({ type: 'currency' }, { amount: 1e300, currency: 'EUR' })).toBe('Invalid custom fields: "f" has an amount too large.');
    expect(refusal({ type: 'currency', min: 0 }, { amount: -1, currency: 'EUR' })).toBe('Invalid custom fields: "f" must have an amount of at least 0.');
    for (const bad of [12.5, { amount: '12.5', currency: 'EUR' }, { amount: 1 }, { amount: 1, currency: 'EUR', note: 'x' }, ['EUR', 1]]) {
      expect(refusal({ type: 'currency' }, bad)).toBe('Invalid custom fields: "f" must be { amount, currency } with a number amount and a 3-letter currency code.');
    }
  });

  it('takes user and record ids as non-empty strings', () => {
    expect(one({ type: 'user' }, ' usr_1 ')).toBe('usr_1');
    expect(one({ type: 'link', link: { object: 'company' } }, 'cmp_1')).toBe('cmp_1');
    expect(refusal({ type: 'user' }, '')).toBe('Invalid custom fields: "f" must be the id of a user.');
    expect(refusal({ type: 'link', link: { object: 'company' } }, 7)).toBe('Invalid custom fields: "f" must be the id of a company.');
  });

  it('takes plausible email addresses and lower-cases their domain', () => {
    expect(one({ type: 'email' }, ' Ada.Lovelace+crm@Example.COM ')).toBe('Ada.Lovelace+crm@example.com');
    expect(one({ type: 'email' }, 'zoë@bücher.de')).toBe('zoë@bücher.de');
    for (const bad of ['ada', 'ada@', '@example.com', 'ada@example', 'ada@@example.com', 'a da@example.com', 'ada..l@example.com', `${'a'.repeat(250)}@x.io`, 5]) {
      expect(refusal({ type: 'email' }, bad)).toBe('Invalid custom fields: "f" must be an email address.');
    }
  });

  it('takes http and https URLs, normalised', () => {
    expect(one({ type: 'url' }, 'https://Example.com')).toBe('https://example.com/');
    expect(one({ type: 'url' }, 'http://example.com/a?b=c')).toBe('http://example.com/a?b=c');
    for (const bad of ['example.com', 'ftp://example.com', 'javascript:alert(1)', 'https://', 42]) {
      expect(refusal({ type: 'url' }, bad)).toBe('Invalid custom fields: "f" must be an http or https URL.');
    }
  });

  it('takes phone numbers written with digits and the usual punctuation', () => {
    expect(one({ type: 'phone' }, ' +33 (1) 23.45-67-89 ')).toBe('+33 (1) 23.45-67-89');
    for (const bad of ['1234', '+33 1 23 45 67 89 ext 2', '-- -- --', '1'.repeat(33), 33123456789]) {
      expect(refusal({ type: 'phone' }, bad)).toMatch(/^Invalid custom fields: "f" must be a phone number/);
    }
  });
});

describe('required fields, clearing and modes', () => {
  const defs: FieldDefinition[] = [{ ...STAGE, required: true }, { key: 'notes', label: 'Notes', type: 'text' }];

  it('needs every required field on create', () => {
    expect(validateValues(defs, { stage: 'new' }, 'create')).toEqual({ stage: 'new' });
    const e = failure(() => validateValues(defs, { notes: 'hi' }, 'create'));
    expect(e.message).toBe('Invalid custom fields: "stage" is required.');
    expect(failure(() => validateValues(defs, { stage: null }, 'create')).message).toBe('Invalid custom fields: "stage" is required.');
  });

  it('checks only the given keys on update, but never clears a required field', () => {
    expect(validateValues(defs, { notes: 'hi' }, 'update')).toEqual({ notes: 'hi' });
    expect(validateValues(defs, {}, 'update')).toEqual({});
    expect(failure(() => validateValues(defs, { stage: null }, 'update')).message).toBe('Invalid custom fields: "stage" is required and cannot be cleared.');
  });

  it('clears an optional field with null', () => {
    expect(validateValues(defs, { notes: null }, 'update')).toEqual({ notes: null });
    expect(validateValues(defs, { stage: 'won', notes: null }, 'create')).toEqual({ stage: 'won', notes: null });
  });

  it('ignores keys given as undefined', () => {
    expect(validateValues(defs, { notes: undefined }, 'update')).toEqual({});
    expect(failure(() => validateValues(defs, { stage: undefined }, 'create')).message).toBe('Invalid custom fields: "stage" is required.');
  });

  it('refuses fields the object does not define', () => {
    expect(failure(() => validateValues(defs, { colour: 'red' }, 'update')).message).toBe('Invalid custom fields: custom field "colour" is not defined for this object.');
  });

  it('refuses anything but an object of keys to values', () => {
    for (const bad of [null, 'stage=new', [['stage', 'new']], new Map([['stage', 'new']])]) {
      expect(failure(() => validateValues(defs, bad, 'update')).message).toBe('Invalid custom fields: they must be an object of field keys to values.');
    }
  });

  it('reports every problem at once, each with its field', () => {
    const all: FieldDefinition[] = [...defs, { key: 'amount', label: 'Amount', type: 'number' }];
    const e = failure(() => validateValues(all, { amount: 'ten', stage: 'lost', colour: 'red' }, 'update'));
    expect(e.message).toBe('Invalid custom fields: "amount" must be a number; "stage" must be one of new, won; custom field "colour" is not defined for this object.');
    expect(e.details).toEqual([
      { field: 'amount', message: 'must be a number' },
      { field: 'stage', message: 'must be one of new, won' },
      { field: 'colour', message: 'is not defined for this object' },
    ]);
    expect(failure(() => validateValues(all, { notes: 5 }, 'create')).details).toEqual([
      { field: 'notes', message: 'must be a string' },
      { field: 'stage', message: 'is required' },
    ]);
  });
});

describe('hostile keys', () => {
  const defs: FieldDefinition[] = [{ key: 'notes', label: 'Notes', type: 'text' }];

  it('refuses a __proto__ key from parsed JSON and pollutes nothing', () => {
    const input: unknown = JSON.parse('{"__proto__": {"polluted": true}, "notes": "hi"}');
    const e = failure(() => validateValues(defs, input, 'update'));
    expect(e.message).toBe('Invalid custom fields: custom field "__proto__" is not defined for this object.');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('does not mistake Object.prototype members for definitions', () => {
    for (const key of ['constructor', 'toString', 'hasOwnProperty']) {
      expect(failure(() => validateValues(defs, { [key]: 'x' }, 'update')).message).toBe(`Invalid custom fields: custom field "${key}" is not defined for this object.`);
    }
  });

  it('treats a field whose key is a prototype member as an ordinary own property', () => {
    const out = validateValues([{ key: 'constructor', label: 'C', type: 'text' }], { constructor: 'x' }, 'create');
    expect(Object.hasOwn(out, 'constructor')).toBe(true);
    expect(out.constructor).toBe('x');
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
  });

  it('refuses an object whose prototype was swapped', () => {
    const sneaky = Object.create({ notes: 'inherited' }) as object;
    expect(failure(() => validateValues(defs, sneaky, 'update')).message).toBe('Invalid custom fields: they must be an object of field keys to values.');
  });

  it('refuses __proto__ in a field definition', () => {
    const input: unknown = JSON.parse('{"key": "notes", "label": "Notes", "type": "text", "__proto__": {"required": true}}');
    expect(failure(() => checkFieldDefinition(input)).message).toBe('Invalid field: the definition has an unexpected property "__proto__".');
  });
});

describe('sortable values', () => {
  const def = (type: FieldDefinition['type'], extra: Partial<FieldDefinition> = {}): FieldDefinition => ({ key: 'f', label: 'F', type, ...extra });

  it('gives each type a value that sorts naturally', () => {
    expect(sortableValue(def('number'), 9)).toBe(9);
    expect(sortableValue(def('currency'), { amount: 12.5, currency: 'EUR' })).toBe(12.5);
    expect(sortableValue(def('date'), '2026-02-28')).toBe('2026-02-28');
    expect(sortableValue(def('datetime'), '2026-11-24T10:00:00.000Z')).toBe('2026-11-24T10:00:00.000Z');
    expect(sortableValue(def('boolean'), true)).toBe(1);
    expect(sortableValue(def('boolean'), false)).toBe(0);
    expect(sortableValue(TAGS, ['a', 'c'])).toBe('a,c');
    expect(sortableValue(def('text'), 'Zoë')).toBe('zoë');
    expect(sortableValue(STAGE, 'Won')).toBe('won');
    expect(sortableValue(def('email'), 'Ada@example.com')).toBe('ada@example.com');
  });

  it('gives null for a cleared value or one of the wrong shape', () => {
    expect(sortableValue(def('number'), null)).toBeNull();
    expect(sortableValue(def('text'), undefined)).toBeNull();
    expect(sortableValue(def('number'), '9')).toBeNull();
    expect(sortableValue(def('currency'), 12)).toBeNull();
  });

  it('sorts the values validateValues stores in their natural order', () => {
    const stored = ['2026-11-24T10:00:00+02:00', '2026-11-24T09:00:00Z', '2026-11-23T23:00:00-05:00'].map((v) => one({ type: 'datetime' }, v));
    const keys = stored.map((v) => sortableValue(def('datetime'), v) as string);
    expect([...keys].sort()).toEqual(['2026-11-24T04:00:00.000Z', '2026-11-24T08:00:00.000Z', '2026-11-24T09:00:00.000Z']);
  });
});
