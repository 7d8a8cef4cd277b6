import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { DestinationDefinition } from './definition.js';
import type { OutboxRow } from './store.js';
import { buildRequests, type Item } from './transport.js';

let nextId = 1;
function item(message: Record<string, unknown>, profileId = 'p1'): Item {
  const row: OutboxRow = { id: nextId++, destination_id: 'd', workspace_id: 'w', event_offset: nextId, payload: null, key: profileId, profile_id: profileId, attempts: 0, next_attempt_at: 0, enqueued_at: 0, last_error: null };
  return { row, message };
}
const membership = (event: 'Audience Entered' | 'Audience Exited', profileId: string, audience = 'buyers') =>
  item({ type: 'track', event, messageId: `${event}-${profileId}-${nextId}`, userId: `u-${profileId}`, timestamp: '2026-11-24T10:00:00.000Z', properties: { audience_key: audience, audience_id: `id-${audience}`, audience_name: audience }, context: { rapport: { profileId, email: `${profileId}@x.test` } } }, profileId);

describe('audience sync requests', () => {
  const sync: DestinationDefinition = { name: 's', type: 'audience_sync', settings: { url: 'http://r.test/sync', audiences: ['buyers', 'vips'], batchSize: 3 } };

  it('groups members added and removed per audience, addressed by profile, user id and email', () => {
    const [a, b] = buildRequests(sync, [membership('Audience Entered', 'p1'), membership('Audience Exited', 'p2'), membership('Audience Entered', 'p3', 'vips')], 0);
    expect(JSON.parse(a.body)).toMatchObject({ type: 'audience_membership', mode: 'changes', audience: { key: 'buyers', id: 'id-buyers' }, added: [{ profileId: 'p1', userId: 'u-p1', email: 'p1@x.test' }], removed: [{ profileId: 'p2' }] });
    expect(JSON.parse(b.body)).toMatchObject({ audience: { key: 'vips' }, added: [{ profileId: 'p3' }], removed: [] });
  });

  it('starts a new request when a member appears twice, so applying requests in order ends in the right state', () => {
    const requests = buildRequests(sync, [membership('Audience Entered', 'p1'), membership('Audience Exited', 'p1'), membership('Audience Entered', 'p1')], 0);
    expect(requests.map((r) => JSON.parse(r.body)).map((b) => [b.added.length, b.removed.length])).toEqual([[1, 0], [0, 1], [1, 0]]);
  });

  it('keeps to the batch size', () => {
    const requests = buildRequests(sync, ['a', 'b', 'c', 'd', 'e'].map((p) => membership('Audience Entered', p)), 0);
    expect(requests.map((r) => JSON.parse(r.body).added.length)).toEqual([3, 2]);
  });
});

describe('webhook and Segment requests', () => {
  it('signs the exact body it sends', () => {
    const hook: DestinationDefinition = { name: 'h', type: 'webhook', settings: { url: 'http://r.test', secret: 'sixteen-chars-secret' } };
    const [r] = buildRequests(hook, [item({ type: 'track', event: 'E', messageId: 'm1' })], 0);
    const [t, v1] = r.headers['x-rapport-signature'].split(',').map((p) => p.split('=')[1]);
    expect(v1).toBe(createHmac('sha256', 'sixteen-chars-secret').update(`${t}.${r.body}`).digest('hex'));
    expect(JSON.parse(r.body).batch[0].context.rapport.profileId).toBe('p1');
  });

  it('forwards Segment batches to /v1/batch with the write key as Basic user, mapping applied', () => {
    const fwd: DestinationDefinition = { name: 'f', type: 'segment', settings: { endpoint: 'http://other.test/', writeKey: 'wk_1' }, mapping: [{ op: 'rename', from: 'properties.plan', to: 'properties.tier' }] };
    const [r] = buildRequests(fwd, [item({ type: 'track', event: 'E', messageId: 'm1', properties: { plan: 'pro' } })], 0);
    expect(r.url).toBe('http://other.test/v1/batch');
    expect(r.headers.authorization).toBe(`Basic ${Buffer.from('wk_1:').toString('base64')}`);
    expect(JSON.parse(r.body).batch[0].properties).toEqual({ tier: 'pro' });
  });
});
