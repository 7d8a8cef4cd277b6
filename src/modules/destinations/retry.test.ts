import { describe, expect, it } from 'vitest';
import type { RetryPolicy } from './definition.js';
import { classify, exhausted, parseRetryAfter, retryDelay } from './retry.js';

const policy: RetryPolicy = { minDelayMs: 100, maxDelayMs: 1_000, maxAgeMs: 60_000, minAttempts: 3 };
const NOW = Date.parse('2026-11-26T09:00:00Z');

describe('what an answer means for the messages it carried', () => {
  it('counts every 2xx as delivered', () => {
    for (const status of [200, 201, 202, 204, 299]) expect(classify(status)).toEqual({ kind: 'delivered' });
  });

  it('retries network errors and timeouts (no status at all)', () => {
    expect(classify(undefined)).toEqual({ kind: 'retry' });
  });

  it('retries 408, 429 and every 5xx', () => {
    for (const status of [408, 429, 500, 502, 503, 504, 599]) expect(classify(status)).toEqual({ kind: 'retry' });
  });

  it("passes on when a receiver that asks to slow down wants the next try", () => {
    expect(classify(429, '7', NOW)).toEqual({ kind: 'retry', retryAfterMs: 7_000 });
    expect(classify(503, new Date(NOW + 90_000).toUTCString(), NOW)).toEqual({ kind: 'retry', retryAfterMs: 90_000 });
  });

  it('gives up at once on any other answer, since sending it again would not change it', () => {
    for (const status of [301, 400, 401, 403, 404, 409, 413, 422]) expect(classify(status)).toEqual({ kind: 'rejected' });
  });

  it('ignores Retry-After on an answer that is delivered or refused', () => {
    expect(classify(200, '30')).toEqual({ kind: 'delivered' });
    expect(classify(400, '30')).toEqual({ kind: 'rejected' });
  });
});

describe('Retry-After', () => {
  it('reads delay-seconds', () => {
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter(' 3 ', NOW)).toBe(3_000);
  });

  it('reads an HTTP date as the time from now until then', () => {
    expect(parseRetryAfter('Thu, 26 Nov 2026 09:00:05 GMT', NOW)).toBe(5_000);
    expect(parseRetryAfter(new Date(NOW + 61_000).toUTCString(), NOW)).toBe(61_000);
  });

  it('reads a date already past as "now", never as a negative wait', () => {
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', NOW)).toBe(0);
  });

  it('ignores a missing or unreadable header', () => {
    for (const value of [undefined, null, '', 'soon', '5s', '1e3']) expect(parseRetryAfter(value, NOW)).toBeUndefined();
  });
});

describe('the wait before the next attempt', () => {
  const middle = () => 0.5;

  it('starts at minDelayMs and doubles with each attempt', () => {
    expect([1, 2, 3, 4].map((a) => retryDelay(policy, a, undefined, middle))).toEqual([100, 200, 400, 800]);
  });

  it('never waits longer than maxDelayMs, however many attempts', () => {
    for (const attempts of [5, 10, 60, 5_000]) expect(retryDelay(policy, attempts, undefined, middle)).toBe(1_000);
  });

  it('jitters by at most 20% either way, within the bounds', () => {
    expect(retryDelay(policy, 3, undefined, () => 0)).toBe(320);
    expect(retryDelay(policy, 3, undefined, () => 0.999_999)).toBe(480);
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) {
      for (const attempts of [1, 2, 3, 4, 8]) {
        const d = retryDelay(policy, attempts);
        expect(d).toBeGreaterThanOrEqual(policy.minDelayMs);
        expect(d).toBeLessThanOrEqual(policy.maxDelayMs);
        if (attempts === 3) seen.add(d);
      }
    }
    // Messages failed together come back spread out, not all at once.
    expect(seen.size).toBeGreaterThan(20);
  });

  it("waits as long as the receiver's Retry-After asks when that is longer", () => {
    expect(retryDelay(policy, 1, 5_000, middle)).toBe(5_000);
    // Longer than maxDelayMs is still honoured: the receiver said when.
    expect(retryDelay(policy, 1, 30_000, middle)).toBe(30_000);
  });

  it('keeps its own backoff when Retry-After asks for less', () => {
    expect(retryDelay(policy, 3, 0, middle)).toBe(400);
    expect(retryDelay(policy, 3, 50, middle)).toBe(400);
  });

  it("never waits past the message's whole retry window for a Retry-After", () => {
    expect(retryDelay(policy, 1, 3_600_000, middle)).toBe(policy.maxAgeMs);
  });
});

describe('when a message is given up', () => {
  const enqueued_at = NOW - 60_000;

  it('gives up a message old enough and tried often enough', () => {
    expect(exhausted(policy, { attempts: 3, enqueued_at }, NOW)).toBe(true);
    expect(exhausted(policy, { attempts: 40, enqueued_at: NOW - 3_600_000 }, NOW)).toBe(true);
  });

  it('keeps trying a message tried fewer than minAttempts times, however old', () => {
    expect(exhausted(policy, { attempts: 2, enqueued_at: NOW - 86_400_000 }, NOW)).toBe(false);
  });

  it('keeps trying a message younger than maxAgeMs, however often it failed', () => {
    expect(exhausted(policy, { attempts: 500, enqueued_at: NOW - 59_999 }, NOW)).toBe(false);
  });
});
