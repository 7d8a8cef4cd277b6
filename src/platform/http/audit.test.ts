import { describe, expect, it } from 'vitest';
import { createLog } from '../log.js';
import { deriveAudit, type AuditedRequest } from './audit.js';
import { createHttpServer } from './server.js';

describe('the action a write is recorded as', () => {
  it.each([
    ['POST', '/crm/deals', 'crm.deal.create', 'crm.deal', []],
    ['PATCH', '/crm/deals/:id', 'crm.deal.update', 'crm.deal', ['id']],
    ['DELETE', '/crm/deals/:id', 'crm.deal.delete', 'crm.deal', ['id']],
    ['POST', '/api-keys', 'api_key.create', 'api_key', []],
    ['DELETE', '/api-keys/:id', 'api_key.delete', 'api_key', ['id']],
    ['POST', '/crm/contacts/:id/merge', 'crm.contact.merge', 'crm.contact', ['id']],
    ['POST', '/crm/deals/bulk', 'crm.deal.bulk', 'crm.deal', []],
    ['POST', '/sources/:id/rotate-write-key', 'source.rotate_write_key', 'source', ['id']],
    ['POST', '/destinations/:id/dead-letters/replay', 'destination.dead_letter.replay', 'destination', ['id']],
    ['DELETE', '/destinations/:id/dead-letters', 'destination.dead_letter.delete', 'destination', ['id']],
    ['POST', '/destinations/:id/replays', 'destination.replay.create', 'destination', ['id']],
    ['PUT', '/crm/sla-policies/:priority', 'crm.sla_policy.update', 'crm.sla_policy', ['priority']],
    ['DELETE', '/crm/fields/:object/:key', 'crm.field.delete', 'crm.field', ['object', 'key']],
    ['PUT', '/computed-traits/:key', 'computed_trait.update', 'computed_trait', ['key']],
    ['PUT', '/identity/rules/:type', 'identity.rule.update', 'identity.rule', ['type']],
    ['PUT', '/profiles/settings', 'profile.setting.update', 'profile.setting', []],
    ['PATCH', '/workspace', 'workspace.update', 'workspace', []],
  ])('%s %s → %s', (method, path, action, targetType, params) => {
    expect(deriveAudit(method, path)).toEqual({ action, targetType, params });
  });
});

describe('the hook that records writes', () => {
  const server = () => {
    const recorded: AuditedRequest[] = [];
    const app = createHttpServer({
      log: createLog('silent'),
      authenticators: {
        bearer: async (token) => (token === 'rk_writer' || token === 'rk_reader'
          ? { workspaceId: 'w1', actor: { type: 'api_key', id: token }, can: (p) => token === 'rk_writer' || p.endsWith(':read') }
          : null),
        session: async () => null,
        writeKey: async (key) => (key === 'wk_1' ? { id: 's1', workspaceId: 'w1' } : null),
      },
      audit: { prefix: '/api/v1', record: async (entry) => void recorded.push(entry) },
    });
    app.register(async (scope) => {
      scope.post('/things', { config: { access: { permission: 'things:write' } } }, async (_request, reply) => reply.status(201).send({ id: 't-1', name: 'created' }));
      scope.patch('/things/:id', { config: { access: { permission: 'things:write' } } }, async () => { throw new Error('boom'); });
      scope.get('/things/:id', { config: { access: { permission: 'things:read' } } }, async () => ({ id: 't-1' }));
      scope.post('/things/preview', { config: { access: { permission: 'things:read' } } }, async () => ({ size: 1 }));
      scope.get('/things/export', { config: { access: { permission: 'things:read' }, audit: { action: 'thing.export' } } }, async () => 'all of them');
    }, { prefix: '/api/v1' });
    app.post('/v1/track', { config: { access: 'write-key' } }, async () => ({ success: true }));
    return { app, recorded };
  };
  const as = (key: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json', ...extra });

  it('records a write with its actor, action, target, body, status and request id', async () => {
    const { app, recorded } = server();
    const res = await app.inject({ method: 'POST', url: '/api/v1/things', headers: as('rk_writer', { 'x-request-id': 'abc-123', 'user-agent': 'ua/1' }), payload: { name: 'created', token: 'tok' } });
    expect(res.statusCode).toBe(201);
    expect(recorded).toEqual([{
      workspaceId: 'w1', actor: { type: 'api_key', id: 'rk_writer' }, action: 'thing.create', target: { type: 'thing', id: 't-1' },
      change: { name: 'created', token: 'tok' }, requestId: 'abc-123', ip: '127.0.0.1', userAgent: 'ua/1', status: 201,
    }]);
    await app.close();
  });

  it('records failed writes: a key whose role lacks the permission, and a handler that throws', async () => {
    const { app, recorded } = server();
    expect((await app.inject({ method: 'POST', url: '/api/v1/things', headers: as('rk_reader'), payload: { name: 'x' } })).statusCode).toBe(403);
    expect((await app.inject({ method: 'PATCH', url: '/api/v1/things/t-9', headers: as('rk_writer'), payload: { name: 'y' } })).statusCode).toBe(500);
    expect(recorded.map((e) => [e.actor.id, e.action, e.target, e.status])).toEqual([
      ['rk_reader', 'thing.create', { type: 'thing', id: null }, 403],
      ['rk_writer', 'thing.update', { type: 'thing', id: 't-9' }, 500],
    ]);
    expect(recorded[0].requestId).toMatch(/^[0-9a-f-]{36}$/);
    await app.close();
  });

  it('records no read, no call without a key, no POST behind a read permission, no collection call; a declared read is recorded', async () => {
    const { app, recorded } = server();
    expect((await app.inject({ url: '/api/v1/things/t-1', headers: as('rk_writer') })).statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: '/api/v1/things', headers: as('rk_unknown'), payload: {} })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/api/v1/things/preview', headers: as('rk_writer'), payload: {} })).statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: '/v1/track', headers: { 'content-type': 'application/json' }, payload: { writeKey: 'wk_1' } })).statusCode).toBe(200);
    expect(recorded).toEqual([]);
    expect((await app.inject({ url: '/api/v1/things/export?since=2026-01-01', headers: as('rk_reader') })).statusCode).toBe(200);
    expect(recorded.map((e) => [e.action, e.status, e.change])).toEqual([['thing.export', 200, { since: '2026-01-01' }]]);
    await app.close();
  });

  it('answers the write even when recording it fails', async () => {
    const app = createHttpServer({
      log: createLog('silent'),
      authenticators: { bearer: async () => ({ workspaceId: 'w1', actor: { type: 'api_key', id: 'k' }, can: () => true }), session: async () => null, writeKey: async () => null },
      audit: { prefix: '/api/v1', record: async () => { throw new Error('audit store down'); } },
    });
    app.post('/api/v1/things', { config: { access: { permission: 'things:write' } } }, async () => ({ id: 't-1' }));
    const res = await app.inject({ method: 'POST', url: '/api/v1/things', headers: as('rk_any'), payload: {} });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ id: 't-1' });
    await app.close();
  });
});
