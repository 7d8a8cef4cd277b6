import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupWorkspace, type SetupResult } from '../../src/workflows/setup-workspace.js';
import { ENGINES } from '../support/engines.js';
import { request, sessionSetCookie, signIn, type BrowserSession } from '../support/browser-session.js';
import { startServer, type TestServer } from '../support/server.js';

// Each sign-in runs scrypt (about a second here, several on a loaded machine); a test may run a dozen.
const SCRYPT_HEAVY = 120_000;
const DAY = 24 * 3_600_000;
const OWNER = { email: 'owner@acme.test', password: 'correct horse battery staple' };

/** The clock the server reads: tests move it past invitations' expiry. */
const clock = { t: Date.now(), now: () => clock.t };

describe.each(ENGINES)('invitations, members and passwords on $name', (engine) => {
  let server: TestServer;
  let globex: SetupResult;
  /** The owner, signed in afresh (the clock moves days ahead between tests). */
  const ownerSession = async (): Promise<BrowserSession> => (await signIn(server.url, OWNER)).session!;
  beforeAll(async () => {
    server = await startServer(engine, { clock });
    globex = await setupWorkspace(
      { access: server.rapport.core.access.service, collect: server.rapport.core.collect.service },
      { workspace: 'Globex', email: 'owner@globex.test', password: 'another correct horse battery' },
    );
  });
  afterAll(() => server?.close());

  const invite = async (email: string, role = 'admin', apiKey = server.setup.apiKey) => {
    const answer = await server.call('POST', '/api/v1/invitations', { email, role }, apiKey);
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    return answer.body as { token: string; invitation: { id: string; email: string; role: string; expiresAt: string } };
  };
  const accept = (token: string, password: string, name?: string) => signIn(server.url, { token, password, ...(name ? { name } : {}) }, '/api/v1/invitations/accept');
  let weaklings = 0;
  const members = async (apiKey = server.setup.apiKey) => (await server.call('GET', '/api/v1/users', undefined, apiKey)).body.data as { id: string; email: string; role: string; name: string | null }[];

  it('invites by email: the token is shown once and stored only as a hash; accepting creates the account and signs in', async () => {
    const { token, invitation } = await invite('Ada@Acme.test');
    expect(token).toMatch(/^rinv_[\w-]{43}$/);
    expect(invitation).toMatchObject({ email: 'ada@acme.test', role: 'admin' });
    expect(Date.parse(invitation.expiresAt) - clock.now()).toBe(7 * DAY);
    const stored = JSON.stringify(await server.rapport.database.db.selectFrom('invitations').selectAll().execute());
    expect(stored).not.toContain(token);
    const pending = (await server.call('GET', '/api/v1/invitations')).body.data;
    expect(pending.map((i: { id: string }) => i.id)).toContain(invitation.id);
    expect(JSON.stringify(pending)).not.toContain(token);

    const { answer, session } = await accept(token, 'analytical engine notes', 'Ada Lovelace');
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    expect(answer.body).toMatchObject({ user: { email: 'ada@acme.test', name: 'Ada Lovelace' }, workspace: { id: server.setup.workspaceId }, role: 'admin' });
    expect((await session!.call('GET', '/api/v1/auth/session')).body.user.email).toBe('ada@acme.test');
    expect(await members()).toEqual(expect.arrayContaining([expect.objectContaining({ email: 'ada@acme.test', role: 'admin', name: 'Ada Lovelace' })]));
    expect((await server.call('GET', '/api/v1/invitations')).body.data.map((i: { id: string }) => i.id)).not.toContain(invitation.id);
    // The new account signs in with its password from now on.
    expect((await signIn(server.url, { email: 'ada@acme.test', password: 'analytical engine notes' })).answer.status).toBe(200);
  });

  it('accepts an invitation once, not twice', async () => {
    const { token } = await invite('grace@acme.test');
    expect((await accept(token, 'compilers and bugs')).answer.status).toBe(201);
    const again = await accept(token, 'compilers and bugs');
    expect(again.answer.status).toBe(410);
    expect(again.answer.body.error.message).toContain('already used');
    expect(sessionSetCookie(again.answer)).toBeUndefined();
    expect((await accept('rinv_made_up_token', 'compilers and bugs')).answer.status).toBe(410);
  });

  it('accepts an invitation for 7 days, not after', async () => {
    const late = await invite('late@acme.test');
    const onTime = await invite('ontime@acme.test');
    clock.t += 7 * DAY - 1000;
    expect((await accept(onTime.token, 'just in time for tea')).answer.status).toBe(201);
    clock.t += 1000;
    expect((await accept(late.token, 'just in time for tea')).answer.status).toBe(410);
    expect((await members()).map((m) => m.email)).not.toContain('late@acme.test');
  });

  it('refuses a revoked invitation', async () => {
    const { token, invitation } = await invite('revoked@acme.test');
    expect((await server.call('DELETE', `/api/v1/invitations/${invitation.id}`)).status).toBe(204);
    expect((await accept(token, 'never to be used here')).answer.status).toBe(410);
    expect((await server.call('DELETE', `/api/v1/invitations/${invitation.id}`)).status).toBe(404);
  });

  it.each([
    ['short', 'tiny pass', 'too_short', 'at least 12 characters'],
    ['common', 'password1234', 'too_common', 'too easy to guess'],
    ['a common word dressed up', 'P@ssw0rd2024!', 'too_common', 'too easy to guess'],
    ['a keyboard walk', '1qaz2wsx3edc', 'too_common', 'too easy to guess'],
    ['a repeated character', 'aaaaaaaaaaaaaaaa', 'too_common', 'too easy to guess'],
    ['the email\'s name in it', 'my name is weakling, hi', 'contains_email', '"weakling"'],
  ])('refuses a %s password with a clear message, and the invitation stays usable', async (_case, password, reason, says) => {
    const { token } = await invite(`weakling@${reason.replace('_', '-')}-${++weaklings}.test`);
    const refused = await accept(token, password);
    expect(refused.answer.status).toBe(400);
    expect(refused.answer.body.error).toMatchObject({ code: 'validation_error', details: { field: 'password', reason } });
    expect(refused.answer.body.error.message).toContain(says);
    expect((await accept(token, 'a much better passphrase')).answer.status).toBe(201);
  });

  it('refuses a weak owner password at setup too', async () => {
    const deps = { access: server.rapport.core.access.service, collect: server.rapport.core.collect.service };
    await expect(setupWorkspace(deps, { workspace: 'Weak', email: 'boss@weak.test', password: 'qwerty123456' })).rejects.toThrow(/too easy to guess/);
    await expect(setupWorkspace(deps, { workspace: 'Weak', email: 'boss@weak.test', password: 'short' })).rejects.toThrow(/at least 12 characters/);
    const names = (await server.rapport.database.db.selectFrom('workspaces').select('name').execute()).map((w: { name: string }) => w.name);
    expect(names).not.toContain('Weak');
  });

  it('adds a membership to an existing account once its password proves it is theirs, and signs into the new workspace', async () => {
    const { token } = (await server.call('POST', '/api/v1/invitations', { email: 'owner@acme.test', role: 'admin' }, globex.apiKey)).body;
    const failedIn = async (apiKey: string) => ((await server.call('GET', '/api/v1/audit?action=auth.login_failed&limit=1000', undefined, apiKey)).body.data as { change: { via?: string } | null }[])
      .filter((e) => e.change?.via === 'invitation').length;
    const before = { acme: await failedIn(server.setup.apiKey), globex: await failedIn(globex.apiKey) };
    const wrong = await accept(token, 'a guess at the password');
    expect(wrong.answer.status).toBe(401);
    // A wrong password on an invitation is a failed sign-in: in the account's workspace and the inviting one.
    expect({ acme: await failedIn(server.setup.apiKey), globex: await failedIn(globex.apiKey) }).toEqual({ acme: before.acme + 1, globex: before.globex + 1 });
    const { answer } = await accept(token, OWNER.password);
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({ workspace: { id: globex.workspaceId, name: 'Globex' }, role: 'admin' });
    expect(answer.body.workspaces.map((w: { name: string }) => w.name)).toEqual(['Acme', 'Globex']);
    // Sign-in opens the first workspace unless another is asked for.
    expect((await signIn(server.url, OWNER)).answer.body.workspace.id).toBe(server.setup.workspaceId);
    const inGlobex = await signIn(server.url, { ...OWNER, workspaceId: globex.workspaceId });
    expect(inGlobex.answer.body).toMatchObject({ workspace: { id: globex.workspaceId }, role: 'admin' });
    const globexUsers = await inGlobex.session!.call('GET', '/api/v1/users');
    expect(globexUsers.body.data.map((m: { email: string }) => m.email).sort()).toEqual(['owner@acme.test', 'owner@globex.test']);
    expect((await signIn(server.url, { ...OWNER, workspaceId: 'not-a-workspace' })).answer.status).toBe(403);
  });

  it('refuses to invite a member twice', async () => {
    const answer = await server.call('POST', '/api/v1/invitations', { email: 'owner@acme.test', role: 'admin' });
    expect(answer.status).toBe(409);
  });

  it('removes a member: their sessions stop working at once', async () => {
    const { token } = await invite('leaving@acme.test');
    const { session } = await accept(token, 'moving on to pastures new');
    const id = session!.signedIn.user.id;
    expect((await session!.call('GET', '/api/v1/crm/contacts')).status).toBe(200);

    const owner = await ownerSession();
    const removed = await owner.call('DELETE', `/api/v1/users/${id}`);
    expect(removed.status).toBe(204);
    expect((await session!.call('GET', '/api/v1/crm/contacts')).status).toBe(401);
    expect((await session!.call('GET', '/api/v1/auth/session')).status).toBe(401);
    expect((await members()).map((m) => m.id)).not.toContain(id);
    expect((await owner.call('DELETE', `/api/v1/users/${id}`)).status).toBe(404);
    // Their account stays; with no workspace left, signing in opens nothing.
    const after = await signIn(server.url, { email: 'leaving@acme.test', password: 'moving on to pastures new' });
    expect(after.answer.status).toBe(403);
    expect(sessionSetCookie(after.answer)).toBeUndefined();
  });

  it('keeps the last owner, and does not reach members of another workspace', async () => {
    const owner = await ownerSession();
    const ownerId = owner.signedIn.user.id;
    const last = await owner.call('DELETE', `/api/v1/users/${ownerId}`);
    expect(last.status).toBe(409);
    expect(last.body.error.message).toContain('last owner');
    const globexOwner = (await members(globex.apiKey)).find((m) => m.email === 'owner@globex.test')!;
    expect((await owner.call('DELETE', `/api/v1/users/${globexOwner.id}`)).status).toBe(404);
    expect((await members(globex.apiKey)).map((m) => m.email)).toContain('owner@globex.test');
  });

  it('lists and changes members never without credentials', async () => {
    expect((await request(server.url, 'GET', '/api/v1/users')).status).toBe(401);
    expect((await request(server.url, 'POST', '/api/v1/invitations', { email: 'x@acme.test', role: 'admin' })).status).toBe(401);
    expect((await request(server.url, 'DELETE', `/api/v1/users/${(await members())[0]!.id}`)).status).toBe(401);
  });

  it('changes a password: the other sessions end, this one goes on, the old password stops working', async () => {
    const { token } = await invite('changer@acme.test');
    const { session: here } = await accept(token, 'first of many passwords');
    const there = (await signIn(server.url, { email: 'changer@acme.test', password: 'first of many passwords' })).session!;

    const weak = await here!.call('PUT', '/api/v1/auth/password', { currentPassword: 'first of many passwords', newPassword: 'iloveyou2024' });
    expect(weak.status).toBe(400);
    expect(weak.body.error.details.reason).toBe('too_common');
    const wrong = await here!.call('PUT', '/api/v1/auth/password', { currentPassword: 'not my password at all', newPassword: 'second of many passwords' });
    expect(wrong.status).toBe(400);
    expect((await there.call('GET', '/api/v1/auth/session')).status).toBe(200);

    const changed = await here!.call('PUT', '/api/v1/auth/password', { currentPassword: 'first of many passwords', newPassword: 'second of many passwords' });
    expect(changed.status).toBe(204);
    expect((await there.call('GET', '/api/v1/auth/session')).status).toBe(401);
    expect((await here!.call('GET', '/api/v1/auth/session')).status).toBe(200);
    expect((await signIn(server.url, { email: 'changer@acme.test', password: 'first of many passwords' })).answer.status).toBe(401);
    expect((await signIn(server.url, { email: 'changer@acme.test', password: 'second of many passwords' })).answer.status).toBe(200);
  });

  it('documents every new route in the OpenAPI document, with who may call it', async () => {
    const doc = (await request(server.url, 'GET', '/api/docs/json')).body;
    for (const [path, method] of [
      ['/api/v1/auth/login', 'post'], ['/api/v1/auth/logout', 'post'], ['/api/v1/auth/session', 'get'], ['/api/v1/auth/password', 'put'],
      ['/api/v1/invitations', 'post'], ['/api/v1/invitations', 'get'], ['/api/v1/invitations/{id}', 'delete'], ['/api/v1/invitations/accept', 'post'],
      ['/api/v1/users', 'get'], ['/api/v1/users/{id}', 'delete'],
    ] as const) {
      expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    }
    expect(doc.paths['/api/v1/auth/login'].post.security).toEqual([]);
    expect(doc.paths['/api/v1/users'].get.security).toEqual([{ apiKey: [] }, { session: [] }]);
    expect(doc.components.securitySchemes.session).toMatchObject({ type: 'apiKey', in: 'cookie', name: '__Host-rapport_session' });
  });
}, SCRYPT_HEAVY);
