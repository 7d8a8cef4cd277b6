import { deflateSync, gzipSync } from 'node:zlib';

/**
 * Malformed and hostile requests for the collection API and a few management routes, drawn from a seeded
 * generator so that a failure names the seed and index that reproduce it. Shared by the short test
 * (test/reliability) and the 100,000-request bench (bench/hostile.ts).
 */
export interface HostileRequest {
  kind: string;
  method: 'POST' | 'PUT' | 'PATCH' | 'GET';
  path: string;
  /** Which credential the request carries: a source's write key (Basic) or the owner's API key (Bearer). */
  auth: 'write-key' | 'api-key';
  headers: Record<string, string>;
  body?: Buffer | string;
}

/** mulberry32: small, fast and the same on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)];
const int = (random: Random, max: number) => Math.floor(random() * max);

const COLLECT_PATHS = ['/v1/batch', '/v1/b', '/v1/import', '/v1/track', '/v1/t', '/v1/identify', '/v1/i', '/v1/page', '/v1/p', '/v1/screen', '/v1/group', '/v1/alias', '/v1/a', '/v1/g', '/v1/s'];
const SINGLE_PATHS = ['/v1/track', '/v1/t', '/v1/identify', '/v1/i', '/v1/group', '/v1/page'];
const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', '\\u005f\\u005fproto\\u005f\\u005f', '__pro\\u0074o__'];
// A body built as text, so that keys JSON.stringify would drop or rename (`__proto__`) reach the server.
const POISON = `{"polluted":"yes","isAdmin":true}`;
const DEPTH = 10_000;
// Precomputed once: a gzip bomb (50 MB of spaces is about 50 KB compressed) and its truncated form.
const BOMB = gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20), { level: 9 });

/** A JSON value drawn at random, as text: any type, any shape, hostile strings and numbers included. */
function randomJson(random: Random, depth = 0): string {
  const roll = random();
  if (depth > 4 || roll < 0.35) {
    return pick(random, [
      () => 'null', () => 'true', () => 'false', () => String(int(random, 1e6)), () => '-0', () => '1e400', () => '-1e400', () => '1e-400',
      () => '123456789012345678901234567890', () => String(random() * 1e20), () => JSON.stringify(randomString(random)),
      () => '"\\u0000"', () => '"\\ud800"', () => '"\\udfff\\ud800"', () => '""',
    ])();
  }
  if (roll < 0.65) return `[${Array.from({ length: int(random, 5) }, () => randomJson(random, depth + 1)).join(',')}]`;
  const keys = Array.from({ length: int(random, 6) }, () => (random() < 0.2 ? pick(random, PROTO_KEYS) : pick(random, FIELD_NAMES)));
  return `{${keys.map((k) => `"${k}":${randomJson(random, depth + 1)}`).join(',')}}`;
}

const FIELD_NAMES = ['type', 'userId', 'anonymousId', 'event', 'messageId', 'traits', 'properties', 'context', 'integrations', 'timestamp', 'sentAt', 'groupId', 'previousId', 'name', 'batch', 'writeKey', 'email', 'x'];

function randomString(random: Random): string {
  const alphabet = ['a', 'Z', ' ', 'é', '😀', '\u2028', '\\', '"', '\n', '<script>', '%00', '${x}', '\uFEFF', '\u0001'];
  return Array.from({ length: int(random, 12) }, () => pick(random, alphabet)).join('');
}

/** A call that passes validation, so that hostile content in it reaches the log and the pipeline. */
function validCall(random: Random, type = pick(random, ['track', 'identify', 'group', 'page', 'alias'] as const), slots: Record<string, string> = {}): string {
  const fields: Record<string, string> = {
    type: JSON.stringify(type),
    userId: JSON.stringify(`hostile-user-${int(random, 50)}`),
    ...(random() < 0.5 ? { anonymousId: JSON.stringify(`hostile-anon-${int(random, 80)}`) } : {}),
    ...(type === 'track' ? { event: JSON.stringify(pick(random, ['Signed Up', 'Order Completed', '__proto__', 'constructor'])) } : {}),
    ...(type === 'group' ? { groupId: JSON.stringify(`hostile-group-${int(random, 10)}`) } : {}),
    ...(type === 'alias' ? { previousId: JSON.stringify(`hostile-anon-${int(random, 80)}`) } : {}),
    ...(type === 'page' ? { name: JSON.stringify('Home') } : {}),
    traits: `{"email":"hostile${int(random, 50)}@example.test","plan":"pro"}`,
    properties: `{"revenue":${int(random, 100)}}`,
    ...slots,
  };
  return `{${Object.entries(fields).map(([k, v]) => `"${k}":${v}`).join(',')}}`;
}

/** An object whose own keys are `__proto__`, `constructor` and `prototype` (escaped or not), at `depth` levels. */
function protoObject(random: Random, depth: number): string {
  const key = pick(random, PROTO_KEYS);
  const inner = depth <= 1 ? POISON : protoObject(random, depth - 1);
  const shapes = [
    `{"${key}":${inner},"ok":1}`,
    `{"constructor":{"prototype":${inner}}}`,
    `{"a":{"${key}":${inner}},"${pick(random, PROTO_KEYS)}":"x"}`,
    `[${inner},{"${key}":${inner}}]`,
  ];
  return pick(random, shapes);
}

const nestedArrays = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const nestedObjects = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

const GENERATORS: [string, number, (random: Random) => Omit<HostileRequest, 'kind'>][] = [
  ['random-json', 14, (r) => json(pick(r, COLLECT_PATHS), randomJson(r))],
  ['random-call', 12, (r) => {
    // A valid call with some of its fields replaced by random JSON.
    const slots: Record<string, string> = {};
    for (let i = int(r, 3); i >= 0; i--) slots[pick(r, FIELD_NAMES)] = randomJson(r, 2);
    return r() < 0.5 ? json('/v1/batch', `{"batch":[${validCall(r, undefined, slots)},${validCall(r)}]}`) : json(pick(r, SINGLE_PATHS), validCall(r, undefined, slots));
  }],
  ['prototype-keys', 16, (r) => {
    const slot = pick(r, ['traits', 'properties', 'context', 'integrations']);
    const call = validCall(r, pick(r, ['identify', 'track', 'group'] as const), { [slot]: protoObject(r, 1 + int(r, 4)) });
    const top = `"${pick(r, PROTO_KEYS)}":${POISON}`;
    return pick(r, [
      () => json('/v1/batch', `{"batch":[${call}],"context":${protoObject(r, 2)},"integrations":${protoObject(r, 1)},${top}}`),
      () => json('/v1/identify', call.replace(/^\{/, `{${top},`)),
      () => json('/v1/batch', `{"${pick(r, PROTO_KEYS)}":{"batch":[${call}]},"batch":[${call}]}`),
      () => json('/v1/track', call),
    ])();
  }],
  ['deep-nesting', 6, (r) => {
    const deep = r() < 0.5 ? nestedArrays(DEPTH) : nestedObjects(DEPTH);
    const slot = pick(r, ['traits', 'properties', 'context', 'integrations', 'userId', 'messageId']);
    return pick(r, [
      () => json(pick(r, SINGLE_PATHS), validCall(r, undefined, { [slot]: deep })),
      () => json('/v1/batch', `{"batch":[${validCall(r, undefined, { [slot]: deep })}]}`),
      () => json('/v1/batch', `{"batch":${deep}}`),
      () => json(pick(r, COLLECT_PATHS), deep),
    ])();
  }],
  ['huge-strings', 5, (r) => {
    const size = pick(r, [20_000, 33_000, 400_000, 700_000, 3_000_000]);
    const huge = JSON.stringify('x'.repeat(size));
    return pick(r, [
      () => json(pick(r, SINGLE_PATHS), validCall(r, 'identify', { traits: `{"bio":${huge}}` })),
      () => json('/v1/batch', `{"batch":[${validCall(r, 'track', { properties: `{${huge}:1}` })}]}`),
      () => json('/v1/track', validCall(r, 'track', { messageId: huge })),
      () => json('/v1/identify', validCall(r, 'identify', { userId: huge })),
    ])();
  }],
  ['numbers', 6, (r) => {
    const n = pick(r, ['1e400', '-1e400', '1e-400', '-0', '123456789012345678901234567890', '9007199254740993', '0.1e-999999', '1E+309']);
    const slot = pick(r, ['userId', 'anonymousId', 'messageId', 'timestamp', 'sentAt', 'groupId', 'traits', 'properties']);
    const value = slot === 'traits' || slot === 'properties' ? `{"n":${n},"${n}":${n}}` : n;
    return json(r() < 0.5 ? '/v1/batch' : pick(r, SINGLE_PATHS), r() < 0.5 ? `{"batch":[${validCall(r, undefined, { [slot]: value })}],"sentAt":${n}}` : validCall(r, undefined, { [slot]: value }));
  }],
  ['unicode', 10, (r) => {
    const bad = pick(r, [
      Buffer.from([0xff, 0xfe]), Buffer.from([0xc3]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf4, 0x90, 0x80, 0x80]),
      Buffer.from([0x00]), Buffer.from('\\u0000'), Buffer.from('\\ud800'), Buffer.from('\\udc00x\\ud83d'), Buffer.from([0xe2, 0x80]),
    ]);
    const slot = pick(r, ['userId', 'event', 'messageId', 'key', 'traits', 'context']);
    const call = validCall(r, slot === 'event' ? 'track' : 'identify');
    const [head, tail] = slot === 'key' ? ['{"traits":{"k', '":1},'] : slot === 'traits' || slot === 'context' ? [`{"${slot}":{"v":"`, '"},'] : [`{"${slot}":"a`, 'b",'];
    const body = Buffer.concat([Buffer.from(head), bad, Buffer.from(tail), Buffer.from(call.slice(1))]);
    return { ...json(pick(r, SINGLE_PATHS), ''), body };
  }],
  ['wrong-shapes', 10, (r) => {
    const odd = pick(r, ['[]', '[1,2]', '"str"', '7', 'null', 'true', '{}', '[{}]']);
    const slot = pick(r, ['traits', 'properties', 'context', 'integrations', 'userId', 'event', 'messageId', 'timestamp', 'sentAt', 'type', 'groupId', 'previousId']);
    return pick(r, [
      () => json(pick(r, SINGLE_PATHS), validCall(r, undefined, { [slot]: odd })),
      () => json('/v1/batch', `{"batch":${odd}}`),
      () => json('/v1/batch', `{"batch":[${validCall(r)}],"context":${odd},"integrations":${odd}}`),
      () => json(pick(r, COLLECT_PATHS), odd),
      () => json('/v1/batch', `{"batch":[${odd},${validCall(r)}]}`),
    ])();
  }],
  ['content-types', 6, (r) => {
    const type = pick(r, ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/octet-stream', 'application/json; charset=latin1', '', 'image/png', 'application/json, text/html']);
    const body = pick(r, [validCall(r), 'a=1&b=2', '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--', '<call/>', '', ' ', '{', '{"batch":[']);
    return { method: 'POST', path: pick(r, COLLECT_PATHS), auth: 'write-key', headers: type ? { 'content-type': type } : ({} as Record<string, string>), body };
  }],
  ['encodings', 6, (r) => {
    const plain = `{"batch":[${validCall(r)}]}`;
    const gz = gzipSync(plain);
    return pick(r, [
      () => gzipped(BOMB, 'gzip'),
      () => gzipped(BOMB.subarray(0, int(r, BOMB.length)), 'gzip'),
      () => gzipped(gz.subarray(0, Math.max(1, int(r, gz.length - 1))), 'gzip'),
      () => gzipped(Buffer.from(plain), 'gzip'),
      () => gzipped(gzipSync(gz), 'gzip'),
      () => gzipped(deflateSync(plain), 'deflate'),
      () => gzipped(gz, pick(r, ['br', 'gzip, gzip', 'compress', 'GZIP', 'x-gzip', 'identity, gzip'])),
      () => gzipped(gzipSync(Buffer.concat([Buffer.from('{"batch":[{"type":"track","userId":"u","event":"'), Buffer.from([0xff, 0xc3]), Buffer.from('"}]}')])), 'gzip'),
    ])();
  }],
  ['management', 9, (r) => {
    const body = pick(r, [
      () => protoObject(r, 1 + int(r, 3)),
      () => randomJson(r),
      () => `{"name":${randomJson(r, 3)},"type":${randomJson(r, 3)}}`,
      () => `{"key":"__proto__","name":"x","definition":${randomJson(r, 2)}}`,
      () => nestedObjects(DEPTH),
      () => `{"name":"${'n'.repeat(100_000)}"}`,
      () => `{"email":"a@b.c","traits":${protoObject(r, 2)}}`,
    ])();
    const [method, path] = pick(r, [
      ['POST', '/api/v1/sources'], ['POST', '/api/v1/crm/contacts'], ['POST', '/api/v1/crm/deals'], ['POST', '/api/v1/crm/companies'],
      ['POST', '/api/v1/audiences/preview'], ['POST', '/api/v1/audiences'], ['POST', '/api/v1/computed-traits'], ['POST', '/api/v1/crm/activities'],
      ['POST', '/api/v1/crm/tasks'], ['PUT', '/api/v1/identity/rules/email'], ['POST', '/api/v1/destinations'], ['POST', '/api/v1/crm/views'],
      ['PUT', '/api/v1/profiles/settings'], ['POST', '/api/v1/auth/login'],
    ] as const);
    return { method, path, auth: 'api-key', headers: { 'content-type': 'application/json' }, body };
  }],
  ['management-text', 6, (r) => {
    // Bodies the routes' schemas accept, so that hostile text reaches the services and the store.
    const text = JSON.stringify(pick(r, ['a\u0000b', '\ud800', 'x'.repeat(5_000), '__proto__', 'constructor', '😀\u2028', '%00', 'Robert\'); drop table--']));
    const [method, path, body] = pick(r, [
      ['POST', '/api/v1/sources', `{"name":${text},"type":"server"}`],
      ['POST', '/api/v1/crm/contacts', `{"email":"m${int(r, 1e6)}@a.test","name":${text}}`],
      ['POST', '/api/v1/crm/tasks', `{"title":${text}}`],
      ['POST', '/api/v1/crm/companies', `{"name":${text}}`],
      ['POST', '/api/v1/auth/login', `{"email":${text},"password":${text}}`],
      ['POST', '/api/v1/api-keys', `{"name":${text},"role":"analyst"}`],
    ] as const);
    return { method, path, auth: 'api-key', headers: { 'content-type': 'application/json' }, body };
  }],
  ['query-strings', 4, (r) => {
    const q = pick(r, ['%00', 'a%00b', '%ED%A0%80', '%FF%FE', '%C3', encodeURIComponent('__proto__'), 'x'.repeat(4_000), '%25%00', '%2500', '*', '%22%27']);
    const path = pick(r, [
      `/api/v1/profiles?q=${q}`, `/api/v1/crm/contacts?q=${q}`, `/api/v1/crm/search?q=${q}`, `/api/v1/crm/deals?q=${q}`,
      `/api/v1/profiles/${q}`, `/api/v1/sources/${q}`, `/api/v1/profiles?limit=${q}`,
    ]);
    return { method: 'GET', path, auth: 'api-key', headers: {} };
  }],
];
const TOTAL_WEIGHT = GENERATORS.reduce((sum, [, weight]) => sum + weight, 0);

function json(path: string, body: string): Omit<HostileRequest, 'kind'> {
  return { method: 'POST', path, auth: 'write-key', headers: { 'content-type': 'application/json' }, body };
}

function gzipped(body: Buffer, encoding: string): Omit<HostileRequest, 'kind'> {
  return { method: 'POST', path: '/v1/batch', auth: 'write-key', headers: { 'content-type': 'application/json', 'content-encoding': encoding }, body };
}

/** Request number `index` of the sequence drawn from `seed`: the same request on every run. */
export function hostileRequest(seed: number, index: number): HostileRequest {
  const random = seededRandom(seed * 1_000_003 + index);
  let roll = random() * TOTAL_WEIGHT;
  for (const [kind, weight, generate] of GENERATORS) {
    roll -= weight;
    if (roll < 0) return { kind, ...generate(random) };
  }
  const [kind, , generate] = GENERATORS[0];
  return { kind, ...generate(random) };
}

/** Sends one hostile request; the status, or 0 when the connection failed. */
export async function sendHostile(url: string, request: HostileRequest, credentials: { writeKey: string; apiKey: string }): Promise<number> {
  const authorization = request.auth === 'write-key' ? `Basic ${Buffer.from(`${credentials.writeKey}:`).toString('base64')}` : `Bearer ${credentials.apiKey}`;
  try {
    const res = await fetch(url + request.path, {
      method: request.method,
      headers: { authorization, ...request.headers },
      body: request.body as RequestInit['body'],
      signal: AbortSignal.timeout(60_000),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}
