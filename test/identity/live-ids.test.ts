import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDirectory } from '../../src/modules/identity/index.js';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';

describe.each(ENGINES)('following merged ids on $name', (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(engine);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('answers for more ids than one statement may bind (an import of 40,000 rows asks that many)', async () => {
    const res = await fetch(`${server.url}/v1/batch`, {
      method: 'POST',
      body: JSON.stringify({ writeKey: server.setup.writeKey, batch: [{ type: 'identify', userId: 'u-1' }, { type: 'identify', anonymousId: 'a-1' }, { type: 'alias', previousId: 'a-1', userId: 'u-1' }] }),
    });
    expect(res.status).toBe(200);
    await server.rapport.core.pipeline.drain();
    const db = server.rapport.core.database.db;
    const profiles = (await db.selectFrom('profiles').select(['id', 'merged_into']).execute()) as { id: string; merged_into: string | null }[];
    const merged = profiles.find((p) => p.merged_into !== null)!;
    const ids = [merged.id, ...Array.from({ length: 40_000 }, (_, i) => `unknown-${i}`)];
    const live = await createDirectory(db).liveIds(ids);
    expect(live.get(merged.id)).toBe(merged.merged_into);
    expect(live.size).toBe(1);
  });
});
