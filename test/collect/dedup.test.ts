import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupWorkspace } from '../../src/workflows/setup-workspace.js';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { basicAuth, messageId, metric, send, storedWith } from './requests.js';

describe.each(ENGINES)('deduplication by messageId on $name', (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(engine);
  });
  afterAll(() => server?.close());

  const track = (id: string, event = 'Paid') => ({ type: 'track', messageId: id, userId: 'u1', event });

  it('stores a messageId sent twice in one batch once, the first call winning', async () => {
    const id = messageId('dup-batch');
    const before = await metric(server, 'rapport_events_deduplicated_total');
    const res = await send(server, '/v1/batch', { batch: [track(id, 'First'), track(id, 'Second')] });
    expect(res.status).toBe(200);
    const rows = await storedWith(server, id);
    expect(rows).toHaveLength(1);
    expect(rows[0].payload.event).toBe('First');
    expect((await metric(server, 'rapport_events_deduplicated_total')) - before).toBe(1);
  });

  it('stores a messageId retried in a later request once, and counts the duplicate', async () => {
    const id = messageId('dup-retry');
    const before = await metric(server, 'rapport_events_deduplicated_total');
    expect((await send(server, '/v1/track', track(id, 'First'))).status).toBe(200);
    expect((await send(server, '/v1/track', track(id, 'Retried'))).status).toBe(200);
    const rows = await storedWith(server, id);
    expect(rows).toHaveLength(1);
    expect(rows[0].payload.event).toBe('First');
    expect((await metric(server, 'rapport_events_deduplicated_total')) - before).toBe(1);
  });

  it('stores a messageId once when two requests carrying it arrive together', async () => {
    const id = messageId('dup-concurrent');
    const answers = await Promise.all([send(server, '/v1/track', track(id)), send(server, '/v1/track', track(id)), send(server, '/v1/batch', { batch: [track(id)] })]);
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(await storedWith(server, id)).toHaveLength(1);
  });

  it('keeps the same messageId from two workspaces apart: each stores its own', async () => {
    const other = await setupWorkspace(
      { access: server.rapport.core.access.service, collect: server.rapport.core.collect.service },
      { workspace: 'Globex', email: 'owner@globex.test', password: 'another long password' },
    );
    const id = messageId('dup-workspaces');
    expect((await send(server, '/v1/track', track(id))).status).toBe(200);
    expect((await send(server, '/v1/track', track(id), { authorization: basicAuth(other.writeKey) })).status).toBe(200);

    const rows = await server.rapport.database.db.selectFrom('events').select(['workspace_id', 'source_id']).where('message_id', '=', id).execute();
    expect(rows.map((r: { workspace_id: string }) => r.workspace_id).sort()).toEqual([server.setup.workspaceId, other.workspaceId].sort());
    expect(rows.map((r: { source_id: string }) => r.source_id).sort()).toEqual([server.setup.sourceId, other.sourceId].sort());
  });
});
