import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

describe.each(ENGINES)('privacy requests on $name', (engine) => {
  let server: TestServer;
  const call = (method: string, path: string, body?: unknown, apiKey?: string | null) => server.call(method, path, body, apiKey);
  const send = async (batch: Record<string, unknown>[]) => {
    const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, batch }) });
    expect(res.status).toBe(200);
    await server.rapport.core.pipeline.drain();
  };
  const profileIdOf = async (userId: string) => (await call('GET', `/api/v1/profiles?q=${encodeURIComponent(`user_id:${userId}`)}`)).body.data[0]?.id as string | undefined;
  /** Makes a request and runs it (the worker is not relied on: it runs here at once). */
  const request = async (type: string, identifier: { type: string; value: string }) => {
    const made = await call('POST', '/api/v1/privacy/requests', { type, identifier });
    expect(made.status, JSON.stringify(made.body)).toBe(202);
    await server.rapport.core.privacy.drain();
    return (await call('GET', `/api/v1/privacy/requests/${made.body.id}`)).body;
  };

  beforeAll(async () => {
    server = await startServer(engine);
    // The worker would race the test's own drain: stopped, so each request runs where the test says.
    await server.rapport.core.privacy.worker.stop();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('refuses a malformed request with a 400 and records nothing', async () => {
    for (const bad of [{}, { type: 'forget', identifier: { type: 'email', value: 'a@b.c' } }, { type: 'delete' }, { type: 'delete', identifier: { type: 'email' } },
      { type: 'delete', identifier: { type: 'Email!', value: 'x' } }, { type: 'delete', identifier: { type: 'email', value: ' ' } }, { type: 'delete', identifier: { type: 'group_id', value: 'g1' } }]) {
      const r = await call('POST', '/api/v1/privacy/requests', bad);
      expect(r.status, JSON.stringify(bad)).toBe(400);
    }
    expect((await call('GET', '/api/v1/privacy/requests')).body.data).toEqual([]);
    // The attempts are in the audit log, refused, with the identifier's type and never its value.
    const audit = (await call('GET', '/api/v1/audit?action=privacy')).body.data;
    expect(audit).toHaveLength(7);
    expect(audit.every((e: { status: number }) => e.status === 400)).toBe(true);
    expect(audit.map((e: { action: string }) => e.action)).toContain('privacy.delete');
    expect(JSON.stringify(audit)).not.toMatch(/a@b\.c|"g1"/);
  });

  it('suppresses a person: later events of any of their identifiers are dropped and leave the log; unsuppress lifts it', async () => {
    await send([{ type: 'identify', userId: 's1', anonymousId: 'anon-s1', messageId: 's1-a', traits: { email: 'S1@Example.com', plan: 'pro' } }]);
    const id = await profileIdOf('s1');
    const done = await request('suppress', { type: 'email', value: 'S1@example.com' });
    expect(done).toMatchObject({ type: 'suppress', status: 'completed', identifier: { type: 'email', value: null }, profileId: id, result: { profileFound: true } });
    expect(done.finishedAt).not.toBeNull();
    await send([
      { type: 'track', anonymousId: 'anon-s1', event: 'Dropped', messageId: 's1-b' },
      { type: 'identify', userId: 's1', messageId: 's1-c', traits: { plan: 'enterprise' } },
      { type: 'track', userId: 'other', event: 'Kept', messageId: 'o-a' },
    ]);
    const traits = (await call('GET', `/api/v1/profiles/${id}`)).body.traits;
    expect(traits.plan).toBe('pro');
    const ids = (await server.rapport.database.db.selectFrom('events').select('message_id').execute()).map((r: { message_id: string }) => r.message_id);
    expect(ids).toContain('o-a');
    expect(ids).not.toContain('s1-b');
    expect(ids).not.toContain('s1-c');

    const lifted = await request('unsuppress', { type: 'user_id', value: 's1' });
    expect(lifted).toMatchObject({ status: 'completed', result: { liftedKeys: expect.any(Number) } });
    expect(lifted.result.liftedKeys).toBeGreaterThanOrEqual(3);
    await send([{ type: 'identify', userId: 's1', messageId: 's1-d', traits: { plan: 'enterprise' } }]);
    expect((await call('GET', `/api/v1/profiles/${id}`)).body.traits.plan).toBe('enterprise');
  });

  it('exports everything about a person as one JSON document, and records its download', async () => {
    await call('POST', '/api/v1/privacy/consent-categories', { name: 'Analytics' });
    await send([
      { type: 'identify', userId: 'e1', messageId: 'e1-a', traits: { email: 'e1@example.com', name: 'Eve One' }, context: { consent: { categoryPreferences: { Analytics: true } } } },
      { type: 'track', userId: 'e1', event: 'Bought', messageId: 'e1-b', properties: { total: 12 } },
    ]);
    const made = await call('POST', '/api/v1/privacy/requests', { type: 'export', identifier: { type: 'email', value: 'e1@example.com' } });
    expect((await call('GET', `/api/v1/privacy/requests/${made.body.id}/export`)).status).toBe(409);
    await server.rapport.core.privacy.drain();
    const done = (await call('GET', `/api/v1/privacy/requests/${made.body.id}`)).body;
    expect(done).toMatchObject({ status: 'completed', download: `/api/v1/privacy/requests/${made.body.id}/export`, result: { events: 2 } });
    const res = await server.api(done.download);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toContain('attachment');
    const doc = await res.json();
    expect(doc.identifiers.map((i: { type: string; value: string }) => `${i.type}:${i.value}`).sort()).toEqual(['email:e1@example.com', 'user_id:e1']);
    expect(doc.traits.name.value).toBe('Eve One');
    expect(doc.events.map((e: { messageId: string }) => e.messageId)).toEqual(['e1-a', 'e1-b']);
    expect(doc.consent.current.Analytics.granted).toBe(true);
    expect(doc.crm.contact).toMatchObject({ id: done.profileId });
    // A role that may read privacy requests but not personal data gets the document with emails masked.
    const role = await call('POST', '/api/v1/roles', { name: 'Privacy desk', permissions: ['privacy:read'] });
    expect(role.status).toBe(201);
    const key = (await call('POST', '/api/v1/api-keys', { name: 'desk', role: role.body.id })).body.key as string;
    const masked = await server.call('GET', done.download, undefined, key);
    expect(masked.status).toBe(200);
    expect(JSON.stringify(masked.body)).not.toContain('e1@example.com');
    expect(masked.body.events.map((e: { messageId: string }) => e.messageId)).toEqual(['e1-a', 'e1-b']);
    expect((await server.call('GET', `/api/v1/privacy/requests/${made.body.id}`, undefined, key)).status).toBe(200);
    expect((await server.call('POST', '/api/v1/privacy/requests', { type: 'delete', identifier: { type: 'user_id', value: 'e1' } }, key)).status).toBe(403);
    // The early download (409) is recorded too: an attempt to read a person's data.
    const audit = (await call('GET', `/api/v1/audit?targetId=${made.body.id}`)).body.data.map((e: { action: string; status: number }) => `${e.action} ${e.status}`);
    expect(audit.sort()).toEqual(['privacy.export 202', 'privacy.export.complete 200', 'privacy.export.download 200', 'privacy.export.download 200', 'privacy.export.download 409']);
  });

  it('tracks a request to completion through the worker, and lists requests newest first with a cursor', async () => {
    server.rapport.core.privacy.worker.start();
    try {
      const made = await call('POST', '/api/v1/privacy/requests', { type: 'suppress', identifier: { type: 'user_id', value: 'nobody-known' } });
      expect(made.body.status).toBe('pending');
      const got = await until('the worker to complete it', async () => {
        const r = (await call('GET', `/api/v1/privacy/requests/${made.body.id}`)).body;
        return r.status === 'completed' ? r : undefined;
      });
      expect(got).toMatchObject({ status: 'completed', profileId: null, result: { profileFound: false, suppressedKeys: 1 } });
    } finally {
      await server.rapport.core.privacy.worker.stop();
    }
    const first = (await call('GET', '/api/v1/privacy/requests?limit=2')).body;
    expect(first.data).toHaveLength(2);
    const rest = (await call('GET', `/api/v1/privacy/requests?limit=50&cursor=${first.nextCursor}`)).body;
    const all = [...first.data, ...rest.data];
    expect(new Set(all.map((r: { id: string }) => r.id)).size).toBe(all.length);
    expect(all.map((r: { createdAt: string }) => r.createdAt)).toEqual([...all.map((r: { createdAt: string }) => r.createdAt)].sort().reverse());
    expect((await call('GET', '/api/v1/privacy/requests?type=export')).body.data.every((r: { type: string }) => r.type === 'export')).toBe(true);
    expect((await call('GET', '/api/v1/privacy/requests/nope')).status).toBe(404);
    expect((await call('POST', `/api/v1/privacy/requests/${all[0].id}/retry`)).status).toBe(409);
    expect((await call('POST', '/api/v1/privacy/requests/nope/retry')).status).toBe(404);
    expect((await call('GET', '/api/v1/privacy/requests?cursor=zz')).status).toBe(400);
  });

  it('marks a request that fails as failed with the reason, and runs it again on retry', async () => {
    await send([{ type: 'identify', userId: 'f1', messageId: 'f1-a', traits: { email: 'f1@example.com' } }]);
    const core = server.rapport.core;
    const original = core.crm.erasure.erase;
    core.crm.erasure.erase = async () => {
      throw new Error('the disk is full of f1@example.com');
    };
    let made;
    try {
      made = (await call('POST', '/api/v1/privacy/requests', { type: 'delete', identifier: { type: 'email', value: 'f1@example.com' } })).body;
      await core.privacy.drain();
    } finally {
      core.crm.erasure.erase = original;
    }
    const failed = (await call('GET', `/api/v1/privacy/requests/${made.id}`)).body;
    // The deletion was one transaction: nothing of it happened.
    expect(failed).toMatchObject({ status: 'failed', identifier: { value: 'f1@example.com' }, error: 'internal error (Error)', attempts: 1 });
    expect(await profileIdOf('f1')).toBeDefined();
    const audit = (await call('GET', `/api/v1/audit?targetId=${made.id}`)).body.data.map((e: { action: string }) => e.action);
    expect(audit).toEqual(['privacy.delete.fail', 'privacy.delete']);

    expect((await call('POST', `/api/v1/privacy/requests/${made.id}/retry`)).body.status).toBe('pending');
    await core.privacy.drain();
    expect((await call('GET', `/api/v1/privacy/requests/${made.id}`)).body).toMatchObject({ status: 'completed', attempts: 2, error: null, identifier: { value: null } });
    expect(await profileIdOf('f1')).toBeUndefined();
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/rapport_privacy_requests\{status="completed"\} \d+/);
    expect(metrics).toMatch(/rapport_privacy_events_dropped_total \d+/);
  });
});
