import { Analytics } from '@segment/analytics-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { messageId, storedWith } from './requests.js';

describe.each(ENGINES)("Segment's own Node client against Rapport on $name", (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(engine);
  });
  afterAll(() => server?.close());

  /** Sends each call through a client pointed at Rapport and resolves once it has flushed; collects delivery failures. */
  async function sendWithClient(calls: (analytics: Analytics, done: (error: unknown) => void) => void, settings: { flushAt?: number; path?: string } = {}) {
    const analytics = new Analytics({ writeKey: server.setup.writeKey, host: server.url, maxRetries: 0, flushInterval: 50, ...settings });
    const failures: unknown[] = [];
    analytics.on('error', (error) => failures.push(error));
    calls(analytics, (error) => error && failures.push(error));
    await analytics.closeAndFlush({ timeout: 10_000 });
    return failures;
  }

  it('stores every call type the client sends, with its fields, after a flush', async () => {
    const id = messageId('node-client');
    const failures = await sendWithClient((analytics, done) => {
      analytics.identify({ messageId: `${id}-identify`, userId: 'user-1', traits: { email: 'ada@example.com', plan: 'pro' } }, done);
      analytics.track({ messageId: `${id}-track`, userId: 'user-1', event: 'Order Completed', properties: { revenue: 42 } }, done);
      analytics.page({ messageId: `${id}-page`, anonymousId: 'anon-1', category: 'Docs', name: 'Pricing', properties: { path: '/pricing' } }, done);
      analytics.screen({ messageId: `${id}-screen`, userId: 'user-1', name: 'Home' }, done);
      analytics.group({ messageId: `${id}-group`, userId: 'user-1', groupId: 'acme-inc', traits: { employees: 120 } }, done);
      analytics.alias({ messageId: `${id}-alias`, userId: 'user-1', previousId: 'anon-1' }, done);
    });
    expect(failures).toEqual([]);

    const rows = await storedWith(server, id);
    const byType = Object.fromEntries(rows.map((r) => [r.type, r.payload]));
    expect(Object.keys(byType).sort()).toEqual(['alias', 'group', 'identify', 'page', 'screen', 'track']);
    expect(byType.identify).toMatchObject({ messageId: `${id}-identify`, userId: 'user-1', traits: { email: 'ada@example.com', plan: 'pro' } });
    expect(byType.track).toMatchObject({ event: 'Order Completed', properties: { revenue: 42 } });
    expect(byType.page).toMatchObject({ anonymousId: 'anon-1', name: 'Pricing', category: 'Docs', properties: { path: '/pricing' } });
    expect(byType.screen).toMatchObject({ userId: 'user-1', name: 'Home' });
    expect(byType.group).toMatchObject({ groupId: 'acme-inc', traits: { employees: 120 } });
    expect(byType.alias).toMatchObject({ userId: 'user-1', previousId: 'anon-1' });
    for (const payload of rows.map((r) => r.payload)) {
      expect(payload.context).toMatchObject({ library: { name: '@segment/analytics-node' } });
      expect(payload).toHaveProperty('sentAt');
      expect(payload).toHaveProperty('receivedAt');
      expect(payload).not.toHaveProperty('writeKey');
    }
  });

  it('stores calls flushed one request at a time and through the short batch path', async () => {
    const id = messageId('node-client-paths');
    const failures = [
      ...(await sendWithClient((analytics, done) => {
        for (let i = 0; i < 3; i++) analytics.track({ messageId: `${id}-single-${i}`, anonymousId: 'anon-2', event: 'Clicked' }, done);
      }, { flushAt: 1 })),
      ...(await sendWithClient((analytics, done) => {
        analytics.track({ messageId: `${id}-b`, anonymousId: 'anon-2', event: 'Clicked' }, done);
      }, { path: '/v1/b' })),
    ];
    expect(failures).toEqual([]);
    expect((await storedWith(server, id)).map((r) => r.message_id).sort()).toEqual([`${id}-b`, `${id}-single-0`, `${id}-single-1`, `${id}-single-2`]);
  });
});
