import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES } from '../support/engines.js';
import { startServer, type TestServer } from '../support/server.js';
import { messageId, metric, send, storedWith } from './requests.js';

describe.each(ENGINES)('calls refused one by one on $name', (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(engine);
  });
  afterAll(() => server?.close());

  const rejectedTotal = (reason: string) => metric(server, `rapport_events_rejected_total{reason="${reason}"}`);

  it('stores the good calls of a batch, lists the bad ones with their reasons, and counts them', async () => {
    const id = messageId('mixed');
    const reasons = ['no_user_anon_id', 'missing_event_name', 'message_id_too_long', 'missing_group_id'];
    const before = await Promise.all(reasons.map(rejectedTotal));
    const res = await send(server, '/v1/batch', {
      batch: [
        { type: 'track', messageId: `${id}-ok-1`, userId: 'u1', event: 'Kept' },
        { type: 'track', messageId: `${id}-anonymous`, event: 'Nobody' },
        { type: 'track', messageId: `${id}-unnamed`, userId: 'u1' },
        { type: 'track', messageId: `${id}-${'x'.repeat(100)}`, userId: 'u1', event: 'Long id' },
        { type: 'group', messageId: `${id}-groupless`, userId: 'u1', traits: { name: 'Acme' } },
        { type: 'identify', messageId: `${id}-ok-2`, anonymousId: 'a1' },
      ],
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      success: true,
      accepted: 2,
      rejected: [
        { index: 1, messageId: `${id}-anonymous`, reason: 'no_user_anon_id' },
        { index: 2, messageId: `${id}-unnamed`, reason: 'missing_event_name' },
        // An over-long messageId cannot identify the call, so the answer does not echo it.
        { index: 3, messageId: null, reason: 'message_id_too_long' },
        { index: 4, messageId: `${id}-groupless`, reason: 'missing_group_id' },
      ],
    });
    expect((await storedWith(server, id)).map((r) => r.message_id)).toEqual([`${id}-ok-1`, `${id}-ok-2`]);
    const after = await Promise.all(reasons.map(rejectedTotal));
    expect(after.map((n, i) => n - before[i])).toEqual([1, 1, 1, 1]);
  });

  it('answers 200 to a single call it rejects, with the reason', async () => {
    const id = messageId('single-rejected');
    const res = await send(server, '/v1/track', { messageId: id, userId: 'u1' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true, accepted: 0, rejected: [{ index: 0, messageId: id, reason: 'missing_event_name' }] });
    expect(await storedWith(server, id)).toEqual([]);
  });

  it.each([
    ['an alias without previousId', '/v1/alias', { userId: 'u1' }, 'missing_previous_id'],
    ['an unreadable timestamp', '/v1/track', { userId: 'u1', event: 'E', timestamp: 'yesterday-ish' }, 'invalid_timestamp'],
    ['a groupId over 500 characters', '/v1/group', { userId: 'u1', groupId: 'g'.repeat(501) }, 'group_id_too_long'],
    ['empty ids', '/v1/identify', { userId: '', anonymousId: '' }, 'no_user_anon_id'],
  ])('rejects %s', async (_case, path, call, reason) => {
    const id = messageId('reject');
    const res = await send(server, path, { messageId: id, ...call });
    expect((await res.json()).rejected).toEqual([{ index: 0, messageId: id, reason }]);
  });

  it('rejects a call whose timestamp no date can hold, and stores the rest of its batch', async () => {
    const id = messageId('far-future');
    const res = await send(server, '/v1/batch', {
      batch: [
        { type: 'track', messageId: `${id}-1`, userId: 'u1', event: 'E', timestamp: 1e20 },
        { type: 'track', messageId: `${id}-2`, userId: 'u1', event: 'E' },
      ],
    });
    expect(res.status).toBe(200);
    expect((await res.json()).rejected).toEqual([{ index: 0, messageId: `${id}-1`, reason: 'invalid_timestamp' }]);
    expect((await storedWith(server, id)).map((r) => r.message_id)).toEqual([`${id}-2`]);
  });

  it('shows rejected calls with their reasons in the source’s debugger, beside the accepted ones', async () => {
    const id = messageId('debugger');
    await send(server, '/v1/batch', {
      batch: [
        { type: 'track', messageId: `${id}-ok`, userId: 'u1', event: 'Seen' },
        { type: 'track', messageId: `${id}-nameless`, userId: 'u1' },
        { type: 'page', messageId: `${id}-nobody`, name: 'Home' },
      ],
    });
    const res = await server.api(`/api/v1/sources/${server.setup.sourceId}/debugger?limit=500`);
    expect(res.status).toBe(200);
    const { data } = (await res.json()) as { data: { status: string; messageId: string | null; reason: string | null; type: string; payload: unknown }[] };
    const mine = Object.fromEntries(data.filter((e) => e.messageId?.startsWith(id)).map((e) => [e.messageId, e]));
    expect(mine[`${id}-ok`]).toMatchObject({ status: 'accepted', type: 'track', reason: null });
    expect(mine[`${id}-nameless`]).toMatchObject({ status: 'rejected', type: 'track', reason: 'missing_event_name', payload: { userId: 'u1' } });
    expect(mine[`${id}-nobody`]).toMatchObject({ status: 'rejected', type: 'page', reason: 'no_user_anon_id' });
  });

  it('shows the call type of a call rejected on its own path, which names the type in the URL only', async () => {
    const id = messageId('debugger-path');
    await send(server, '/v1/t', { messageId: id, anonymousId: 'a1' });
    const { data } = (await (await server.api(`/api/v1/sources/${server.setup.sourceId}/debugger?limit=500`)).json()) as { data: { messageId: string; type: string }[] };
    expect(data.find((e) => e.messageId === id)).toMatchObject({ status: 'rejected', type: 'track', reason: 'missing_event_name' });
  });
});
