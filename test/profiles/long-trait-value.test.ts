import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';

// On PostgreSQL a B-tree entry may not pass 2,704 bytes: trait lookups index the value's first 100 characters
// (profile_traits_value), so a trait of ~3 kB that does not compress (a bio, a token) is stored like any other.
describe.each(ENGINES)('a trait longer than an index entry, on $name', (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(engine);
    await server.rapport.core.pipeline.stop();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('applies an identify with a 4 kB trait, and the events after it', async () => {
    const send = (body: Record<string, unknown>) => fetch(`${server.url}/v1/identify`, { method: 'POST', body: JSON.stringify({ writeKey: server.setup.writeKey, ...body }) });
    const motto = `${'ad astra per aspera '.repeat(8)}${randomBytes(60).toString('hex')}`;
    expect((await send({ userId: 'long-bio', traits: { bio: randomBytes(3000).toString('base64'), motto } })).status).toBe(200);
    expect((await send({ userId: 'after-it', traits: { plan: 'pro' } })).status).toBe(200);
    await server.rapport.core.pipeline.drain();
    for (const id of ['long-bio', 'after-it']) {
      expect((await server.call('GET', `/api/v1/profiles?q=${encodeURIComponent(`user_id:${id}`)}`)).body.data).toHaveLength(1);
    }
    // Found by its whole value; not by another value sharing its first 100 characters.
    const byTrait = async (value: string) => (await server.call('GET', `/api/v1/profiles?trait=${encodeURIComponent(`motto:${value}`)}`)).body.data;
    expect(await byTrait(motto)).toHaveLength(1);
    expect(await byTrait(`${motto.slice(0, 120)}something else`)).toHaveLength(0);
  });
});
