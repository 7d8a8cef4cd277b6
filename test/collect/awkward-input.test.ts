import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { messageId, send, storedWith } from './requests.js';

/** JSON text nested `depth` arrays deep. */
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe.each(ENGINES)('input that must not break the log on $name', (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(engine);
  });
  afterAll(() => server?.close());

  it('stores a call whose strings hold NUL characters, without them', async () => {
    const id = messageId('nul');
    // Written as JSON text: the \u0000 escapes reach the server as they would from a client.
    const res = await send(server, '/v1/track', `{"messageId":"${id}","userId":"u1\\u0000","event":"Sign\\u0000ed Up","properties":{"note\\u0000":"a\\u0000b"}}`);
    expect(res.status).toBe(200);
    const [row] = await storedWith(server, id);
    expect(row.payload).toMatchObject({ userId: 'u1', event: 'Signed Up', properties: { note: 'ab' } });
  });

  it('stores a call whose strings hold lone surrogates, replaced by U+FFFD, and keeps real pairs', async () => {
    const id = messageId('surrogate');
    const res = await send(server, '/v1/track', `{"messageId":"${id}","userId":"u1","event":"E","properties":{"lone":"a\\ud800b","pair":"\\ud83d\\ude00"}}`);
    expect(res.status).toBe(200);
    const [row] = await storedWith(server, id);
    expect(row.payload.properties).toEqual({ lone: 'a\uFFFDb', pair: '😀' });
  });

  it('cleans such strings inside gzip bodies too', async () => {
    const id = messageId('nul-gzip');
    const body = gzipSync(`{"batch":[{"type":"track","messageId":"${id}","userId":"u1","event":"E\\u0000"}]}`);
    expect((await send(server, '/v1/batch', body, { 'content-encoding': 'gzip' })).status).toBe(200);
    expect((await storedWith(server, id))[0].payload.event).toBe('E');
  });

  it('answers 200 to every request committed alongside one carrying such strings', async () => {
    const id = messageId('neighbours');
    const answers = await Promise.all([
      ...Array.from({ length: 8 }, (_, i) => send(server, '/v1/track', { messageId: `${id}-${i}`, userId: 'u1', event: 'E' })),
      send(server, '/v1/track', `{"messageId":"${id}-odd","userId":"u1","event":"E\\u0000","properties":{"k":"\\udfff"}}`),
    ]);
    expect(answers.map((r) => r.status)).toEqual(Array(9).fill(200));
    expect(await storedWith(server, id)).toHaveLength(9);
  });

  it('leaves a literal backslash-u in a string as it is', async () => {
    const id = messageId('backslash');
    expect((await send(server, '/v1/track', { messageId: id, userId: 'u1', event: 'E', properties: { path: 'C:\\u0000dir' } })).status).toBe(200);
    expect((await storedWith(server, id))[0].payload.properties).toEqual({ path: 'C:\\u0000dir' });
  });

  it.each([
    ['a single call', '/v1/track', (depth: number) => `{"userId":"u1","event":"E","properties":{"deep":${nested(depth)}}}`],
    ['a batch item', '/v1/batch', (depth: number) => `{"batch":[{"type":"track","userId":"u1","event":"E","properties":{"deep":${nested(depth)}}}]}`],
    ['a batch item that is itself an array', '/v1/batch', (depth: number) => `{"batch":[${nested(depth)}]}`],
  ])('refuses %s nested too deeply to store with 400, not 500', async (_case, path, body) => {
    const res = await send(server, path, body(15_000));
    expect(res.status).toBe(400);
    expect((await res.json()).error.message).toMatch(/nested too deeply/);
  });
});
