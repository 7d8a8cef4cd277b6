import type { FastifyInstance, FastifyRequest } from 'fastify';

/**
 * Field-level security for personal data: a caller whose role lacks `pii:read` gets email addresses, phone
 * numbers and postal (and IP) addresses masked in every answer, wherever they sit: contact fields, traits,
 * event payloads, identifiers, search results, merge explanations. One hook does it for every route, so a new
 * route cannot forget; a route whose answer holds no customer data (who am I, the workspace's users) opts out
 * with `config.pii: false`. Streams and files that bypass serialisation (CSV exports, the debugger's
 * server-sent events) call `personalDataMask(request)` themselves.
 *
 * What is masked is found three ways: by key (`email`, `workEmail`, `phone`, `mobile`, `address`, `street`,
 * `postalCode`, `ip`, …, at any depth, the whole value under an address), by shape (an identifier
 * `{type: 'email' | 'phone', value | id}`, a named value `{name: 'phone', value}`), and by look (any string containing an email address, such as a
 * search result's subtitle or `email:ann@example.com`). A masked value keeps a hint to tell records apart:
 * `a***@example.com`, `***67` (a phone's last two digits), `***`.
 */
declare module 'fastify' {
  interface FastifyContextConfig {
    pii?: false;
  }
}

export type Masker = <T>(value: T) => T;

type Kind = 'email' | 'phone' | 'address';

const EMAIL_IN_TEXT = /([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})/g;
const PHONE_IDENTIFIER_IN_TEXT = /\bphone:\+?[\d(][\d().-]*(?: [\d(][\d().-]*)*/g;

const ADDRESS_KEYS = new Set(['street', 'postalcode', 'postcode', 'zip', 'zipcode', 'ip']);

/** The kind of personal data a key holds, from its name folded to lower-case letters and digits. */
function kindOfKey(key: string): Kind | undefined {
  const k = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (k.includes('email')) return 'email';
  if (k.includes('phone') || k.includes('mobile') || k === 'fax' || k === 'tel') return 'phone';
  if (k.includes('address') || ADDRESS_KEYS.has(k)) return 'address';
  return undefined;
}

function maskText(text: string): string {
  return text.includes('@') || text.includes('phone:')
    ? text.replace(EMAIL_IN_TEXT, '$1***@$2').replace(PHONE_IDENTIFIER_IN_TEXT, 'phone:***')
    : text;
}

function maskScalar(value: unknown, kind: Kind): unknown {
  if (typeof value === 'string') {
    if (value === '') return value;
    if (kind === 'email') {
      const masked = maskText(value);
      return masked === value ? '***' : masked;
    }
    if (kind === 'phone') {
      const digits = value.replace(/\D/g, '');
      return digits.length >= 6 ? `***${digits.slice(-2)}` : '***';
    }
    return '***';
  }
  // A count (`emailsSent`) or a flag (`emailOptIn`) says nothing personal; a phone stored as a number does.
  if (typeof value === 'number') {
    if (kind === 'address') return '***';
    return kind === 'phone' && Math.abs(value) >= 100_000 ? `***${String(Math.trunc(Math.abs(value))).slice(-2)}` : value;
  }
  return value;
}

function maskAll(value: unknown, kind: Kind): unknown {
  if (Array.isArray(value)) return value.map((v) => maskAll(v, kind));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = maskAll(v, kind);
    return out;
  }
  return maskScalar(value, kind);
}

const IDENTIFIER_KINDS: Record<string, Kind> = { email: 'email', phone: 'phone' };

function mask(value: unknown): unknown {
  if (typeof value === 'string') return maskText(value);
  if (Array.isArray(value)) return value.map(mask);
  if (!value || typeof value !== 'object') return value;
  if (value instanceof Date || Buffer.isBuffer(value)) return value;
  const record = value as Record<string, unknown>;
  // An identifier: `{type: 'email', value}` here, `{type: 'email', id, collection, encoding}` in the Profile
  // API's external ids. (An activity `{type: 'email', id}` keeps its id: an email address in it is masked by look.)
  const identifierKind = typeof record.type === 'string' ? IDENTIFIER_KINDS[record.type] : undefined;
  const externalId = identifierKind !== undefined && ('encoding' in record || 'collection' in record);
  // A named value: a trait's details `{name: 'phone', value}`, a field `{key: 'workEmail', value}`.
  const label = [record.name, record.key, record.trait].find((l): l is string => typeof l === 'string');
  const valueKind = identifierKind ?? (label !== undefined ? kindOfKey(label) : undefined);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) {
    const kind = valueKind && (k === 'value' || (k === 'id' && externalId)) ? valueKind : kindOfKey(k);
    out[k] = kind ? maskAll(v, kind) : mask(v);
  }
  return out;
}

/** Masks a value (a copy; the argument is left as it is). */
export const maskPersonalData: Masker = <T>(value: T): T => mask(value) as T;

/** What `personalDataMask` gives a caller who may see everything. */
export const unmasked: Masker = (value) => value;

/** The masking a request's answer needs: none for a caller with `pii:read`, for a public route or an opted-out one. */
export function personalDataMask(request: FastifyRequest): Masker {
  const principal = request.principal;
  if (!principal || request.routeOptions.config?.pii === false || principal.can('pii:read')) return unmasked;
  return maskPersonalData;
}

export function maskPersonalDataInAnswers(app: FastifyInstance): void {
  app.addHook('preSerialization', async (request, _reply, payload) => personalDataMask(request)(payload));
}
