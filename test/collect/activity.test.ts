import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupWorkspace } from '../../src/workflows/setup-workspace.js';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';

describe.each(ENGINES)('events per minute and pipeline lag on $name', (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(engine);
  });
  afterAll(async () => {
    await server?.close();
  });

  const send = (writeKey: string, batch: object[]) => fetch(`${server.url}/v1/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` },
    body: JSON.stringify({ batch }),
  });

  it('counts a workspace\'s accepted and refused events per minute and per source, and no other workspace\'s', async () => {
    const other = await setupWorkspace(
      { access: server.rapport.core.access.service, collect: server.rapport.core.collect.service },
      { workspace: 'Globex', email: 'owner@globex.test', password: 'correct horse battery staple' },
    );
    await send(other.writeKey, [{ type: 'track', userId: 'x', event: 'Elsewhere' }]);
    const answer = await send(server.setup.writeKey, [
      { type: 'track', userId: 'u1', event: 'A' },
      { type: 'page', anonymousId: 'a1' },
      { type: 'identify', userId: 'u1' },
      { type: 'track', userId: 'u1' },
    ]);
    expect((await answer.json()).rejected).toHaveLength(1);

    const { status, body } = await server.call('GET', '/api/v1/stats/events?minutes=5');
    expect(status).toBe(200);
    expect(body.minutes).toHaveLength(5);
    expect(body.minutes.reduce((n: number, m: { accepted: number }) => n + m.accepted, 0)).toBe(3);
    expect(body.minutes.reduce((n: number, m: { rejected: number }) => n + m.rejected, 0)).toBe(1);
    // The newest minute is the current one.
    expect(Date.parse(body.minutes[4].at)).toBeLessThanOrEqual(Date.now());
    expect(Date.parse(body.minutes[4].at) + 60_000).toBeGreaterThan(Date.now());
    expect(body.sources).toEqual([{ sourceId: server.setup.sourceId, accepted: 3, rejected: 1, lastEventAt: expect.any(String) }]);
    expect(body.pipeline).toEqual({ lagEvents: expect.any(Number), logEnd: expect.any(Number) });
    expect(body.pipeline.logEnd).toBeGreaterThanOrEqual(4);
  });

  it('refuses a range it does not offer', async () => {
    for (const minutes of ['0', '1441', 'ten']) expect((await server.call('GET', `/api/v1/stats/events?minutes=${minutes}`)).status).toBe(400);
  });
});
