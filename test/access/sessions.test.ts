import { createHash, randomBytes, scryptSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { request, sessionSetCookie, signIn, type BrowserSession } from '../support/browser-session.js';
import { startServer, type TestServer } from '../support/server.js';

// Each sign-in runs scrypt (about a second here, several on a loaded machine); a test may run a dozen.
const SCRYPT_HEAVY = 120_000;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const OWNER = { email: 'owner@acme.test', password: 'correct horse battery staple' };

/** The clock the server reads: tests move it to let sessions idle out and expire. */
const clock = { t: Date.now(), now: () => clock.t };
const advance = (ms: number) => {
  clock.t += ms;
};

describe.each(ENGINES)('signing in with a session on $name', (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(engine, { clock });
  });
  afterAll(() => server?.close());

  const login = (body: Record<string, unknown> = OWNER, headers: Record<string, string> = {}) => signIn(server.url, body, undefined, headers);
  const owner = async (): Promise<BrowserSession> => {
    const { answer, session } = await login();
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    return session!;
  };
  const whoAmI = (session: BrowserSession) => session.call('GET', '/api/v1/auth/session');

  it('signs in with email and password: a __Host- cookie that GET /auth/session recognises, hashed at rest', async () => {
    const { answer, session } = await login({ email: '  Owner@Acme.TEST ', password: OWNER.password });
    expect(answer.status).toBe(200);
    const cookie = sessionSetCookie(answer)!;
    expect(cookie.value).toMatch(/^[\w-]{43}$/);
    expect(cookie.attributes).toEqual(expect.arrayContaining(['Path=/', 'HttpOnly', 'Secure', 'SameSite=Lax', `Max-Age=${12 * 3600}`]));
    expect(cookie.attributes.some((a) => a.toLowerCase().startsWith('domain'))).toBe(false);
    expect(answer.headers.get('cache-control')).toBe('no-store');

    const me = await whoAmI(session!);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({
      actor: { type: 'user' },
      user: { email: 'owner@acme.test' },
      workspace: { id: server.setup.workspaceId, name: 'Acme' },
      role: 'owner',
      csrfToken: session!.csrfToken,
      session: { idleTimeoutSeconds: 1800 },
      workspaces: [{ id: server.setup.workspaceId, name: 'Acme', role: 'owner' }],
    });
    expect(me.body.permissions).toEqual(expect.arrayContaining(['users:read', 'users:write', 'deals:write', 'roles:write']));
    expect(Date.parse(me.body.session.expiresAt) - Date.parse(me.body.session.createdAt)).toBe(12 * HOUR);

    // Neither the cookie's secret nor the CSRF token is stored, only their SHA-256.
    const rows = (await server.rapport.database.db.selectFrom('sessions').selectAll().execute()) as { id: string; csrf_hash: string; ip: string }[];
    const sha = (v: string) => createHash('sha256').update(v).digest('hex');
    const row = rows.find((r) => r.id === sha(session!.secret));
    expect(row).toMatchObject({ csrf_hash: sha(session!.csrfToken), ip: '127.0.0.1' });
    expect(JSON.stringify(rows)).not.toContain(session!.secret);
    expect(JSON.stringify(rows)).not.toContain(session!.csrfToken);
  });

  it('answers a wrong password and an unknown email alike: same 401, same message, similar time', async () => {
    const timed = async (email: string) => {
      const started = performance.now();
      const { answer } = await login({ email, password: 'not the right password at all' });
      return { answer, ms: performance.now() - started };
    };
    // The quicker of two tries each, so a busy machine's stall does not decide the comparison.
    const wrong = [await timed(OWNER.email), await timed(OWNER.email)];
    const unknown = [await timed('nobody@acme.test'), await timed('nobody@acme.test')];
    for (const { answer } of [...wrong, ...unknown]) {
      expect(answer.status).toBe(401);
      expect(answer.body).toEqual({ error: { code: 'authentication_error', message: 'Wrong email or password.' } });
      expect(sessionSetCookie(answer)).toBeUndefined();
    }
    // Both run scrypt (about a second): an unknown email is not answered at once.
    const fastest = (tries: { ms: number }[]) => Math.min(...tries.map((t) => t.ms));
    expect(fastest(unknown)).toBeGreaterThan(fastest(wrong) / 3);
    expect(fastest(wrong)).toBeGreaterThan(fastest(unknown) / 3);
  });

  it('gives every sign-in a new session id; the first stays valid until it is signed out', async () => {
    const first = await owner();
    const second = await owner();
    expect(second.secret).not.toBe(first.secret);
    expect(second.csrfToken).not.toBe(first.csrfToken);
    expect((await whoAmI(first)).status).toBe(200);
    expect((await whoAmI(second)).status).toBe(200);

    const out = await first.call('POST', '/api/v1/auth/logout');
    expect(out.status).toBe(204);
    expect(sessionSetCookie(out)).toMatchObject({ value: '', attributes: expect.arrayContaining(['Max-Age=0']) });
    const ended = await whoAmI(first);
    expect(ended.status).toBe(401);
    expect(ended.body.error.message).toContain('sign in again');
    expect(sessionSetCookie(ended)?.value).toBe('');
    expect((await whoAmI(second)).status).toBe(200);
  });

  it('ends the session a browser held when it signs in again', async () => {
    const before = await owner();
    const { session: after } = await login(OWNER, { cookie: `__Host-rapport_session=${before.secret}` });
    expect(after!.secret).not.toBe(before.secret);
    expect((await whoAmI(before)).status).toBe(401);
    expect((await whoAmI(after!)).status).toBe(200);
  });

  it('does not sign out without the CSRF token', async () => {
    const session = await owner();
    const forged = await session.call('POST', '/api/v1/auth/logout', undefined, { csrf: null });
    expect(forged.status).toBe(403);
    expect(forged.body.error.code).toBe('csrf_error');
    expect((await whoAmI(session)).status).toBe(200);
  });

  it('ends a session left idle for 30 minutes; use keeps it alive', async () => {
    const session = await owner();
    advance(29 * MINUTE);
    expect((await whoAmI(session)).status).toBe(200);
    advance(29 * MINUTE);
    expect((await whoAmI(session)).status).toBe(200);
    advance(30 * MINUTE);
    expect((await whoAmI(session)).status).toBe(401);
  });

  it('ends a session 12 hours after sign-in however busy it is', async () => {
    const session = await owner();
    const other = await owner();
    for (let elapsed = 0; elapsed < 12 * HOUR - 20 * MINUTE; elapsed += 20 * MINUTE) {
      advance(20 * MINUTE);
      expect((await whoAmI(session)).status, `after ${elapsed / MINUTE + 20} minutes`).toBe(200);
    }
    advance(20 * MINUTE);
    expect((await whoAmI(session)).status).toBe(401);
    // The other session, just as old but idle, had ended long before.
    expect((await whoAmI(other)).status).toBe(401);
  });

  it('refuses a write made with the cookie but without the X-CSRF-Token header, and changes nothing', async () => {
    const session = await owner();
    const keysBefore = (await server.call('GET', '/api/v1/api-keys')).body.data.length;
    for (const csrf of [null, 'a-guessed-token', (await owner()).csrfToken]) {
      const refused = await session.call('POST', '/api/v1/api-keys', { name: 'forged' }, { csrf });
      expect(refused.status, String(csrf)).toBe(403);
      expect(refused.body.error.code).toBe('csrf_error');
    }
    expect((await server.call('GET', '/api/v1/api-keys')).body.data).toHaveLength(keysBefore);

    const made = await session.call('POST', '/api/v1/api-keys', { name: 'made in a browser' });
    expect(made.status).toBe(201);
    expect((await session.call('GET', '/api/v1/api-keys')).body.data).toHaveLength(keysBefore + 1);
    // The same with an API key needs no token at all.
    expect((await server.call('POST', '/api/v1/api-keys', { name: 'by key' })).status).toBe(201);
  });

  it('tells an API key who it is, with no user and no CSRF token', async () => {
    const me = await server.call('GET', '/api/v1/auth/session');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ actor: { type: 'api_key' }, user: null, csrfToken: null, session: null, role: 'owner', workspace: { id: server.setup.workspaceId } });
    expect((await server.call('POST', '/api/v1/auth/logout')).status).toBe(400);
    expect((await request(server.url, 'GET', '/api/v1/auth/session')).status).toBe(401);
  });

  it('redoes a hash made with weaker scrypt parameters at the next sign-in', async () => {
    const db = server.rapport.database.db;
    const salt = randomBytes(16);
    const weak = ['scrypt', 2 ** 14, 8, 1, salt.toString('base64'), scryptSync(OWNER.password, salt, 32, { N: 2 ** 14, r: 8, p: 1 }).toString('base64')].join('$');
    await db.updateTable('users').set({ password_hash: weak }).where('email', '=', OWNER.email).execute();
    expect((await login()).answer.status).toBe(200);
    const { password_hash } = await db.selectFrom('users').select('password_hash').where('email', '=', OWNER.email).executeTakeFirstOrThrow();
    expect(password_hash).toMatch(/^scrypt\$131072\$8\$1\$/);
    expect((await login()).answer.status).toBe(200);
  });

  it('refuses sign-in after 5 failures for one email with 429 and Retry-After, even with the right password, for 15 minutes', async () => {
    advance(HOUR);
    for (let i = 0; i < 5; i++) expect((await login({ email: OWNER.email, password: `wrong password number ${i}` })).answer.status).toBe(401);
    const limited = await login(OWNER);
    expect(limited.answer.status).toBe(429);
    expect(limited.answer.body.error.code).toBe('rate_limit_error');
    expect(Number(limited.answer.headers.get('retry-after'))).toBe(15 * 60);
    expect(sessionSetCookie(limited.answer)).toBeUndefined();
    advance(10 * MINUTE);
    const later = await login(OWNER);
    expect(later.answer.status).toBe(429);
    expect(Number(later.answer.headers.get('retry-after'))).toBe(5 * 60);
    advance(5 * MINUTE + 1);
    expect((await login(OWNER)).answer.status).toBe(200);
    // A success clears the count: four more failures are allowed before the next block.
    for (let i = 0; i < 4; i++) expect((await login({ email: OWNER.email, password: `wrong password number ${i}` })).answer.status).toBe(401);
    expect((await login(OWNER)).answer.status).toBe(200);
  });

  it('limits an unknown email exactly as a known one, so the limit reveals nothing', async () => {
    advance(HOUR);
    for (let i = 0; i < 5; i++) expect((await login({ email: 'ghost@acme.test', password: `wrong password number ${i}` })).answer.status).toBe(401);
    const limited = await login({ email: 'ghost@acme.test', password: 'anything at all here' });
    expect(limited.answer.status).toBe(429);
    expect(limited.answer.headers.get('retry-after')).toBe(String(15 * 60));
  });

  it('records sign-ins in the audit log: success, a wrong password, the block, sign-out; an unknown email nowhere', async () => {
    advance(HOUR);
    const audited = async (action: string) => (await server.call('GET', `/api/v1/audit?action=${action}&limit=1000`)).body.data as any[];
    const before = { in: (await audited('auth.login')).length, failed: (await audited('auth.login_failed')).length, throttled: (await audited('auth.login_throttled')).length };
    const session = await owner();
    const ownerId = (await whoAmI(session)).body.user.id;
    const [signedIn] = await audited('auth.login');
    expect(signedIn).toMatchObject({ actor: { type: 'user', id: ownerId }, target: { type: 'user', id: ownerId }, status: 200, ip: '127.0.0.1', change: { via: 'password' } });
    expect((await audited('auth.login')).length).toBe(before.in + 1);

    for (let i = 0; i < 5; i++) await login({ email: OWNER.email, password: `wrong password number ${i}` });
    await login({ email: 'nobody-here@acme.test', password: 'wrong password again' });
    expect((await login(OWNER)).answer.status).toBe(429);
    const failed = await audited('auth.login_failed');
    expect(failed.length).toBe(before.failed + 5);
    expect(failed[0]).toMatchObject({ actor: { type: 'anonymous', id: '127.0.0.1' }, target: { type: 'user', id: ownerId }, status: 401 });
    expect(JSON.stringify(failed)).not.toContain('wrong password');
    const throttled = await audited('auth.login_throttled');
    expect(throttled.length).toBe(before.throttled + 1);
    expect(throttled[0]).toMatchObject({ target: { type: 'user', id: ownerId }, status: 429 });
    // The unknown email is in no workspace's log, under any action.
    expect(await (await server.api('/api/v1/audit/export')).text()).not.toContain('nobody-here');

    expect((await session.call('POST', '/api/v1/auth/logout')).status).toBe(204);
    const [out] = await audited('auth.logout');
    expect(out).toMatchObject({ actor: { type: 'user', id: ownerId }, status: 204 });
    expect((await server.call('GET', '/api/v1/audit/verify')).body.ok).toBe(true);
  });

  it('keeps the failures in the store, where every node counts them', async () => {
    advance(HOUR);
    await login({ email: 'counted@acme.test', password: 'wrong password once' });
    const rows = (await server.rapport.database.db.selectFrom('login_failures').selectAll().execute()) as { key: string }[];
    const keys = rows.map((r) => r.key);
    expect(keys).toContain(`email:${createHash('sha256').update('counted@acme.test').digest('hex')}`);
    expect(keys).toContain('ip:127.0.0.1');
    expect(JSON.stringify(rows)).not.toContain('counted@acme.test');
  });
}, SCRYPT_HEAVY);

describe.each(ENGINES)('sign-in failures per client address on $name', (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(engine, { access: { loginFailuresPerIp: 3 } });
  });
  afterAll(() => server?.close());

  it('refuses every sign-in from an address after its failures reach the limit, whatever the email', async () => {
    for (const name of ['ann', 'bob', 'cid']) {
      expect((await signIn(server.url, { email: `${name}@acme.test`, password: 'some wrong password' })).answer.status).toBe(401);
    }
    const limited = await signIn(server.url, OWNER);
    expect(limited.answer.status).toBe(429);
    expect(Number(limited.answer.headers.get('retry-after'))).toBeGreaterThan(14 * 60);
  });
}, SCRYPT_HEAVY);
