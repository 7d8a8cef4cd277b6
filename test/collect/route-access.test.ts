import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpServer } from '../../src/platform/http/server.js';
import { createLog } from '../../src/platform/log.js';

const SESSION = '__Host-rapport_session';

/** A bare server with the platform's guard: one API key that may read sources, one session that may also write them, one write key. */
function guardedServer(): FastifyInstance {
  return createHttpServer({
    log: createLog('silent'),
    authenticators: {
      bearer: async (token) =>
        token === 'rk_reader' ? { workspaceId: 'w1', actor: { type: 'api_key', id: 'k1' }, can: (permission) => permission === 'sources:read' } : null,
      session: async (secret) =>
        secret === 'session-1'
          ? { principal: { workspaceId: 'w1', actor: { type: 'user', id: 'u1' }, role: 'editor', can: (p) => p.startsWith('sources:') }, csrfMatches: (token) => token === 'csrf-1' }
          : null,
      writeKey: async (key) => (key === 'wk_1' ? { id: 's1', workspaceId: 'w1' } : null),
    },
  });
}

describe('every route declares who may call it', () => {
  let app: FastifyInstance;
  afterEach(() => app?.close());

  it('refuses to register a route without config.access', () => {
    app = guardedServer();
    expect(() => app.get('/secret', async () => 'open to all')).toThrow(/GET \/secret does not declare who may call it/);
  });

  it('refuses to start when a plugin registers a route without config.access', async () => {
    app = guardedServer();
    const plugin = async (scope: FastifyInstance) => {
      scope.post('/things', { config: {} }, async () => 'created');
    };
    await expect(app.register(plugin, { prefix: '/api/v1' })).rejects.toThrow(/POST \/api\/v1\/things does not declare/);
  });

  it('serves a public route to anyone', async () => {
    app = guardedServer();
    app.get('/open', { config: { access: 'public' } }, async () => ({ ok: true }));
    expect((await app.inject({ url: '/open' })).statusCode).toBe(200);
  });

  it('serves a permission route only to an API key whose role grants that permission', async () => {
    app = guardedServer();
    app.get('/sources', { config: { access: { permission: 'sources:read' } } }, async (request) => ({ workspace: request.principal?.workspaceId }));
    app.post('/sources', { config: { access: { permission: 'sources:write' } } }, async () => ({ ok: true }));
    expect((await app.inject({ url: '/sources' })).statusCode).toBe(401);
    expect((await app.inject({ url: '/sources', headers: { authorization: 'Bearer rk_unknown' } })).statusCode).toBe(401);
    const allowed = await app.inject({ url: '/sources', headers: { authorization: 'Bearer rk_reader' } });
    expect(allowed.json()).toEqual({ workspace: 'w1' });
    expect((await app.inject({ method: 'POST', url: '/sources', headers: { authorization: 'Bearer rk_reader' } })).statusCode).toBe(403);
  });

  it('serves a write-key route only with a known write key, from Basic auth or the body', async () => {
    app = guardedServer();
    app.post('/collect', { config: { access: 'write-key' } }, async (request) => ({ source: request.writeKeySource?.id }));
    const post = (headers: Record<string, string>, body: unknown) => app.inject({ method: 'POST', url: '/collect', headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify(body) });
    expect((await post({}, {})).statusCode).toBe(401);
    expect((await post({ authorization: `Basic ${Buffer.from('wk_other:').toString('base64')}` }, {})).statusCode).toBe(401);
    expect((await post({ authorization: `Basic ${Buffer.from('wk_1:').toString('base64')}` }, {})).json()).toEqual({ source: 's1' });
    expect((await post({}, { writeKey: 'wk_1' })).json()).toEqual({ source: 's1' });
  });

  it('serves a permission route to a session cookie whose role grants it, and its writes only with the CSRF token', async () => {
    app = guardedServer();
    app.get('/sources', { config: { access: { permission: 'sources:read' } } }, async (request) => ({ actor: request.principal?.actor.id }));
    app.post('/sources', { config: { access: { permission: 'sources:write' } } }, async () => ({ ok: true }));
    app.delete('/sources', { config: { access: { permission: 'api_keys:write' } } }, async () => ({ ok: true }));
    const cookie = `theme=dark; ${SESSION}=session-1`;
    expect((await app.inject({ url: '/sources', headers: { cookie } })).json()).toEqual({ actor: 'u1' });
    const noToken = await app.inject({ method: 'POST', url: '/sources', headers: { cookie } });
    expect(noToken.statusCode).toBe(403);
    expect(noToken.json()).toMatchObject({ error: { code: 'csrf_error' } });
    expect((await app.inject({ method: 'POST', url: '/sources', headers: { cookie, 'x-csrf-token': 'csrf-2' } })).statusCode).toBe(403);
    expect((await app.inject({ method: 'POST', url: '/sources', headers: { cookie, 'x-csrf-token': 'csrf-1' } })).json()).toEqual({ ok: true });
    const denied = await app.inject({ method: 'DELETE', url: '/sources', headers: { cookie, 'x-csrf-token': 'csrf-1' } });
    expect(denied.statusCode).toBe(403);
    expect(denied.json().error.message).toContain('Your role (editor) lacks the "api_keys:write" permission');
  });

  it('answers an ended session with 401 and clears its cookie', async () => {
    app = guardedServer();
    app.get('/sources', { config: { access: { permission: 'sources:read' } } }, async () => ({ ok: true }));
    const res = await app.inject({ url: '/sources', headers: { cookie: `${SESSION}=session-gone` } });
    expect(res.statusCode).toBe(401);
    expect(res.headers['set-cookie']).toContain(`${SESSION}=; Max-Age=0`);
  });

  it('lets an API key decide when both a key and a cookie are sent, with no CSRF token needed', async () => {
    app = guardedServer();
    app.get('/who', { config: { access: 'signed-in' } }, async (request) => ({ actor: request.principal?.actor.type }));
    app.post('/who', { config: { access: 'signed-in' } }, async (request) => ({ actor: request.principal?.actor.type }));
    const headers = { authorization: 'Bearer rk_reader', cookie: `${SESSION}=session-1` };
    expect((await app.inject({ url: '/who', headers })).json()).toEqual({ actor: 'api_key' });
    expect((await app.inject({ method: 'POST', url: '/who', headers })).json()).toEqual({ actor: 'api_key' });
    expect((await app.inject({ method: 'POST', url: '/who', headers: { cookie: `${SESSION}=session-1` } })).statusCode).toBe(403);
    expect((await app.inject({ url: '/who' })).statusCode).toBe(401);
  });
});
