import { describe, expect, it } from 'vitest';
import { LIMITS, normalizeCall, type AcceptedCall, type CallType, type Envelope, type Normalized } from './normalize.js';

const RECEIVED_AT = Date.parse('2026-05-01T12:00:00.000Z');
const facts = { receivedAt: RECEIVED_AT, ip: '192.0.2.10' };

function accepted(raw: unknown, pathType?: CallType, envelope: Envelope = {}): AcceptedCall & { message: Record<string, any> } {
  const result = normalizeCall(raw, pathType, envelope, facts);
  if (!result.ok) throw new Error(`expected the call to be accepted, got ${result.reason}`);
  return result.call;
}

function rejected(raw: unknown, pathType?: CallType, envelope: Envelope = {}): Extract<Normalized, { ok: false }> {
  const result = normalizeCall(raw, pathType, envelope, facts);
  if (result.ok) throw new Error('expected the call to be rejected');
  return result;
}

describe('normalizeCall', () => {
  describe('what it accepts', () => {
    it.each<[CallType, Record<string, unknown>, string | null]>([
      ['identify', { traits: { email: 'a@example.com' } }, null],
      ['track', { event: 'Order Completed' }, 'Order Completed'],
      ['page', { name: 'Pricing' }, 'Pricing'],
      ['page', {}, null],
      ['screen', { name: 'Cart' }, 'Cart'],
      ['group', { groupId: 'acme' }, null],
      ['alias', { previousId: 'anon-1' }, null],
    ])('accepts a %s call with its required fields, indexing its event name', (type, fields, event) => {
      const call = accepted({ userId: 'u1', ...fields }, type);
      expect(call).toMatchObject({ type, event, userId: 'u1', anonymousId: null });
      expect(call.message).toMatchObject({ type, userId: 'u1', ...fields });
    });

    it('takes the type from the path over the body, and from the body in a batch', () => {
      expect(accepted({ type: 'identify', userId: 'u1', event: 'E' }, 'track').type).toBe('track');
      expect(accepted({ type: 'identify', userId: 'u1' }).type).toBe('identify');
    });

    it('accepts numeric ids and stores them as strings', () => {
      const call = accepted({ userId: 42, anonymousId: 7, messageId: 1001, event: 'E' }, 'track');
      expect(call).toMatchObject({ userId: '42', anonymousId: '7', messageId: '1001' });
      expect(call.message).toMatchObject({ userId: '42', anonymousId: '7', messageId: '1001' });
    });

    it('accepts a messageId of exactly 100 characters', () => {
      const messageId = 'm'.repeat(LIMITS.messageIdChars);
      expect(accepted({ messageId, userId: 'u1' }, 'identify').messageId).toBe(messageId);
    });

    it('leaves the write key out of the stored message', () => {
      expect(accepted({ writeKey: 'secret', userId: 'u1' }, 'identify').message).not.toHaveProperty('writeKey');
    });
  });

  describe('what it rejects, and why', () => {
    it.each<[string, unknown, CallType | undefined, string]>([
      ['a call that is not an object', ['u1'], 'track', 'not_an_object'],
      ['a batch item without a type', { userId: 'u1' }, undefined, 'invalid_type'],
      ['a batch item of an unknown type', { type: 'purchase', userId: 'u1' }, undefined, 'invalid_type'],
      ['a call with neither userId nor anonymousId', { event: 'E' }, 'track', 'no_user_anon_id'],
      ['a call whose ids are empty strings', { userId: '', anonymousId: '', event: 'E' }, 'track', 'no_user_anon_id'],
      ['a track without an event name', { userId: 'u1' }, 'track', 'missing_event_name'],
      ['a track whose event name is blank', { userId: 'u1', event: '   ' }, 'track', 'missing_event_name'],
      ['a group without a groupId', { userId: 'u1' }, 'group', 'missing_group_id'],
      ['a group with a groupId over 500 characters', { userId: 'u1', groupId: 'g'.repeat(LIMITS.groupIdChars + 1) }, 'group', 'group_id_too_long'],
      ['an alias without a previousId', { userId: 'u1' }, 'alias', 'missing_previous_id'],
      ['a call with an unreadable timestamp', { userId: 'u1', timestamp: 'last tuesday' }, 'identify', 'invalid_timestamp'],
      ['a call with an unreadable sentAt', { userId: 'u1', sentAt: { at: 'now' } }, 'identify', 'invalid_timestamp'],
    ])('rejects %s', (_case, raw, pathType, reason) => {
      expect(rejected(raw, pathType).reason).toBe(reason);
    });

    it.each([
      ['a timestamp past the last date there is', { timestamp: 1e20 }],
      ['a sentAt past the last date there is', { timestamp: '2026-05-01T11:00:00.000Z', sentAt: 1e20 }],
      ['a skew correction that lands past the last date there is', { timestamp: 8e15, sentAt: -8e15 }],
    ])('rejects %s rather than failing the request', (_case, times) => {
      expect(rejected({ userId: 'u1', ...times }, 'identify').reason).toBe('invalid_timestamp');
    });

    it('keeps the messageId of a rejected call, so the debugger can show which one it was', () => {
      expect(rejected({ messageId: 'm-1', userId: 'u1' }, 'track')).toEqual({ ok: false, reason: 'missing_event_name', messageId: 'm-1' });
    });

    it('rejects a messageId over 100 characters without echoing it', () => {
      expect(rejected({ messageId: 'm'.repeat(LIMITS.messageIdChars + 1), userId: 'u1' }, 'identify')).toEqual({
        ok: false,
        reason: 'message_id_too_long',
        messageId: null,
      });
    });
  });

  describe('fields the server adds', () => {
    it('assigns a distinct messageId to each call that has none', () => {
      const first = accepted({ userId: 'u1' }, 'identify');
      const second = accepted({ userId: 'u1', messageId: '' }, 'identify');
      expect(first.messageId).toMatch(/^rapport-[0-9a-f-]{36}$/);
      expect(second.messageId).toMatch(/^rapport-/);
      expect(second.messageId).not.toBe(first.messageId);
      expect(first.message.messageId).toBe(first.messageId);
    });

    it('sets receivedAt, and uses it as the timestamp of a call that has none', () => {
      const call = accepted({ userId: 'u1' }, 'identify');
      expect(call.message.receivedAt).toBe('2026-05-01T12:00:00.000Z');
      expect(call.message.timestamp).toBe('2026-05-01T12:00:00.000Z');
      expect(call.timestamp).toBe(RECEIVED_AT);
      expect(call.message).not.toHaveProperty('originalTimestamp');
    });

    it('corrects the timestamp for a device clock that is wrong: receivedAt - (sentAt - originalTimestamp)', () => {
      // The device's clock runs an hour fast; the event happened 90 s before it was sent.
      const call = accepted({ userId: 'u1', timestamp: '2026-05-01T12:58:30.000Z', sentAt: '2026-05-01T13:00:00.000Z' }, 'identify');
      expect(call.message.timestamp).toBe('2026-05-01T11:58:30.000Z');
      expect(call.timestamp).toBe(RECEIVED_AT - 90_000);
      expect(call.message.originalTimestamp).toBe('2026-05-01T12:58:30.000Z');
      expect(call.message.sentAt).toBe('2026-05-01T13:00:00.000Z');
    });

    it('takes the original timestamp from originalTimestamp when timestamp is absent', () => {
      const call = accepted({ userId: 'u1', originalTimestamp: '2026-05-01T11:59:00.000Z', sentAt: '2026-05-01T12:00:00.000Z' }, 'identify');
      expect(call.message.timestamp).toBe('2026-05-01T11:59:00.000Z');
    });

    it('keeps the timestamp as given when there is no sentAt', () => {
      const call = accepted({ userId: 'u1', timestamp: '2020-02-02T02:02:02.000Z' }, 'identify');
      expect(call.message.timestamp).toBe('2020-02-02T02:02:02.000Z');
      expect(call.message.originalTimestamp).toBe('2020-02-02T02:02:02.000Z');
    });

    it('reads epoch milliseconds as well as ISO-8601', () => {
      const call = accepted({ userId: 'u1', timestamp: RECEIVED_AT - 5_000, sentAt: RECEIVED_AT }, 'identify');
      expect(call.timestamp).toBe(RECEIVED_AT - 5_000);
    });

    it('fills context.ip from the request when absent and keeps the one the call brings', () => {
      expect(accepted({ userId: 'u1' }, 'identify').message.context.ip).toBe('192.0.2.10');
      expect(accepted({ userId: 'u1', context: { ip: '198.51.100.1' } }, 'identify').message.context.ip).toBe('198.51.100.1');
    });

    it('parses context.userAgent, leaving a parse the client sent alone', () => {
      const firefox = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0';
      expect(accepted({ userId: 'u1', context: { userAgent: firefox } }, 'identify').message.context.userAgentParsed).toMatchObject({
        browser: { name: 'Firefox', version: '127.0' },
        os: { name: 'Windows' },
      });
      const own = { browser: { name: 'Custom' } };
      expect(accepted({ userId: 'u1', context: { userAgent: firefox, userAgentParsed: own } }, 'identify').message.context.userAgentParsed).toEqual(own);
    });
  });

  describe('a batch envelope', () => {
    const envelope: Envelope = {
      context: { library: { name: 'lib', version: '1' }, locale: 'en-GB' },
      integrations: { All: true, Mixpanel: false },
      sentAt: '2026-05-01T12:00:10.000Z',
    };

    it('lends its context, integrations and sentAt to a call that has none', () => {
      const call = accepted({ type: 'track', userId: 'u1', event: 'E', timestamp: '2026-05-01T12:00:00.000Z' }, undefined, envelope);
      expect(call.message.context).toEqual({ library: { name: 'lib', version: '1' }, locale: 'en-GB', ip: '192.0.2.10' });
      expect(call.message.integrations).toEqual({ All: true, Mixpanel: false });
      expect(call.message.sentAt).toBe('2026-05-01T12:00:10.000Z');
      expect(call.timestamp).toBe(RECEIVED_AT - 10_000);
    });

    it("yields to the call's own keys", () => {
      const call = accepted(
        { type: 'track', userId: 'u1', event: 'E', context: { locale: 'fr-FR' }, integrations: { Mixpanel: true }, sentAt: '2026-05-01T12:00:02.000Z', timestamp: '2026-05-01T12:00:00.000Z' },
        undefined,
        envelope,
      );
      expect(call.message.context).toMatchObject({ library: { name: 'lib', version: '1' }, locale: 'fr-FR' });
      expect(call.message.integrations).toEqual({ All: true, Mixpanel: true });
      expect(call.timestamp).toBe(RECEIVED_AT - 2_000);
    });

    it('is not changed by the calls it lends to', () => {
      const shared: Envelope = { context: { locale: 'en-GB' }, integrations: {} };
      accepted({ type: 'identify', userId: 'u1', context: { userAgent: 'Mozilla/5.0 Chrome/126.0.0.0' } }, undefined, shared);
      expect(shared).toEqual({ context: { locale: 'en-GB' }, integrations: {} });
    });
  });
});
