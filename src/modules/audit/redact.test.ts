import { describe, expect, it } from 'vitest';
import { recordedChange, REDACTED } from './redact.js';

describe('what the audit log keeps of a change', () => {
  it('never keeps a password, token, API key, write key or secret, at any depth', () => {
    const change = {
      name: 'Webhook', password: 'hunter2hunter2', settings: { secret: 's3cr3t', writeKey: 'wk_live', nested: [{ api_key: 'rk_x', accessToken: 't', clientSecret: 'c' }] },
    };
    const kept = recordedChange(change)!;
    for (const secret of ['hunter2hunter2', 's3cr3t', 'wk_live', 'rk_x', '"t"', '"c"']) expect(kept).not.toContain(secret);
    expect(JSON.parse(kept)).toEqual({
      name: 'Webhook', password: REDACTED, settings: { secret: REDACTED, writeKey: REDACTED, nested: [{ api_key: REDACTED, accessToken: REDACTED, clientSecret: REDACTED }] },
    });
  });

  it("keeps custom headers' names, never their values", () => {
    expect(JSON.parse(recordedChange({ headers: { 'X-Custom-Auth': 'Bearer abc', Accept: 'json' } })!)).toEqual({ headers: { 'X-Custom-Auth': REDACTED, Accept: REDACTED } });
  });

  it('keeps ordinary fields as they were sent, including keys named key', () => {
    const change = { key: 'vip', name: 'VIP', amount: 1200, tags: ['a'], closed: false, owner: null };
    expect(JSON.parse(recordedChange(change)!)).toEqual(change);
  });

  it('replaces a long value (an uploaded CSV) by its length, and caps the whole', () => {
    expect(JSON.parse(recordedChange({ csv: 'x'.repeat(5000) })!)).toEqual({ csv: '[5000 characters omitted]' });
    const huge = { rows: Array.from({ length: 2000 }, (_, i) => ({ email: `person${i}@example.com`, name: `Person ${i}` })) };
    expect(JSON.parse(recordedChange(huge)!)).toEqual({ omitted: expect.stringMatching(/^\d+ characters$/) });
  });

  it('records nothing for a write without a body', () => {
    expect(recordedChange(undefined)).toBeNull();
    expect(recordedChange(null)).toBeNull();
  });
});
