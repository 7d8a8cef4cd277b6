import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

const DAY = 86_400_000;

describe.each(ENGINES)('retention of raw events on $name', (engine) => {
  let server: TestServer;
  // The clock retention judges age by; events are received at the real time.
  let offset = 0;
  const clock = { now: () => Date.now() + offset };
  const call = (method: string, path: string, body?: unknown) => server.call(method, path, body);
  const send = async (batch: Record<string, unknown>[]) => {
    const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, batch }) });
    expect(res.status).toBe(200);
  };
  const messageIds = async () => (await server.rapport.database.db.selectFrom('events').select('message_id').orderBy('offset').execute()).map((r: { message_id: string }) => r.message_id);

  beforeAll(async () => {
    server = await startServer(engine, { clock, privacy: { retentionEveryMs: 50 } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('validates the setting: at least 7 days, or null; bad input changes nothing', async () => {
    expect((await call('GET', '/api/v1/privacy/settings')).body).toEqual({ retentionDays: null, updatedAt: null });
    for (const bad of [{ retentionDays: 6 }, { retentionDays: 1.5 }, { retentionDays: 'ten' }, {}, { retentionDays: 30, extra: true }]) {
      expect((await call('PUT', '/api/v1/privacy/settings', bad)).status, JSON.stringify(bad)).toBe(400);
    }
    expect((await call('GET', '/api/v1/privacy/settings')).body.retentionDays).toBeNull();
    expect((await call('PUT', '/api/v1/privacy/settings', { retentionDays: 30 })).body.retentionDays).toBe(30);
    expect((await call('PUT', '/api/v1/privacy/settings', { retentionDays: null })).body.retentionDays).toBeNull();
  });

  it('deletes, on its schedule, the events received more than N days ago, and only those every consumer has read', async () => {
    await send([{ type: 'track', userId: 'r1', event: 'Old', messageId: 'old-1' }, { type: 'identify', userId: 'r1', messageId: 'old-2', traits: { plan: 'pro' } }]);
    await until('the pipeline to apply them', async () => (await call('GET', '/api/v1/profiles?q=user_id%3Ar1')).body.data[0]?.traits.plan === 'pro');
    // These two were received a day before the rest.
    await server.rapport.database.db.updateTable('events').set({ received_at: Date.now() - DAY }).where('message_id', 'in', ['old-1', 'old-2']).execute();
    await send([{ type: 'track', userId: 'r1', event: 'New', messageId: 'new-1' }]);
    await server.rapport.core.pipeline.drain();

    expect((await call('PUT', '/api/v1/privacy/settings', { retentionDays: 7 })).status).toBe(200);
    // Five and a half days on: the oldest were received six and a half days ago, not old enough.
    offset = 5.5 * DAY;
    await new Promise((r) => setTimeout(r, 300));
    expect(await messageIds()).toEqual(['old-1', 'old-2', 'new-1']);
    // A day later the first two are seven and a half days old, the third six and a half.
    offset = 6.5 * DAY;
    await until('the old events to go', async () => (await messageIds()).length === 1);
    expect(await messageIds()).toEqual(['new-1']);
    // The profile stays; only raw events go.
    expect((await call('GET', '/api/v1/profiles?q=user_id%3Ar1')).body.data[0].traits.plan).toBe('pro');
    const entry = (await call('GET', '/api/v1/audit?action=privacy.retention')).body.data[0];
    expect(entry).toMatchObject({ actor: { type: 'system', id: 'retention' }, change: { retentionDays: 7, deletedEvents: 2 } });

    // An event the pipeline has not read is kept, however old.
    await server.rapport.core.pipeline.stop();
    await send([{ type: 'track', userId: 'r1', event: 'Unread', messageId: 'unread-1' }]);
    offset = 30 * DAY;
    await until('new-1 to go', async () => !(await messageIds()).includes('new-1'));
    expect(await messageIds()).toEqual(['unread-1']);
  });
});
