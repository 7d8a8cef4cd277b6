import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from './support/engines.js';
import { logRows, startServer, type TestServer } from './support/server.js';

describe.each(ENGINES)('collection API on $name', (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(engine);
  });
  afterAll(() => server?.close());

  it('stores a track call sent as text/plain with the write key in the body', async () => {
    const res = await fetch(`${server.url}/v1/t`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ writeKey: server.setup.writeKey, userId: 'u1', event: 'Signed Up', messageId: 'm-1' }),
    });
    expect(res.status).toBe(200);
    const rows = await logRows(server);
    expect(rows.map((r) => r.message_id)).toEqual(['m-1']);
    expect(rows[0].payload).toMatchObject({ type: 'track', event: 'Signed Up', userId: 'u1' });
    expect(rows[0].payload).not.toHaveProperty('writeKey');
  });
});
