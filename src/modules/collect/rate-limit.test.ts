import { describe, expect, it } from 'vitest';
import { EventRateLimiter } from './rate-limit.js';

function limiterAt(start = 1_000_000) {
  const clock = { now: start };
  return { limiter: new EventRateLimiter(() => clock.now), advance: (ms: number) => (clock.now += ms) };
}

describe('EventRateLimiter', () => {
  it('allows a full second’s worth of events at once, then asks the caller to wait', () => {
    const { limiter } = limiterAt();
    for (let i = 0; i < 10; i++) expect(limiter.take('s1', 10, 1)).toBe(0);
    expect(limiter.take('s1', 10, 1)).toBe(1);
  });

  it('refills at the configured rate', () => {
    const { limiter, advance } = limiterAt();
    expect(limiter.take('s1', 10, 10)).toBe(0);
    advance(500);
    expect(limiter.take('s1', 10, 5)).toBe(0);
    expect(limiter.take('s1', 10, 1)).toBeGreaterThan(0);
  });

  it('counts a batch by its number of events', () => {
    const { limiter } = limiterAt();
    expect(limiter.take('s1', 100, 80)).toBe(0);
    expect(limiter.take('s1', 100, 80)).toBe(1);
  });

  it('lets a batch larger than the limit through when the bucket is full, so it is never stuck', () => {
    const { limiter } = limiterAt();
    expect(limiter.take('s1', 10, 50)).toBe(0);
  });

  it('makes the key pay back such a batch, and tells how many seconds that takes', () => {
    const { limiter, advance } = limiterAt();
    limiter.take('s1', 10, 50);
    expect(limiter.take('s1', 10, 1)).toBe(5);
    advance(4_000);
    expect(limiter.take('s1', 10, 1)).toBe(1);
    advance(1_000);
    expect(limiter.take('s1', 10, 1)).toBe(0);
  });

  it('keeps a bucket per key', () => {
    const { limiter } = limiterAt();
    expect(limiter.take('s1', 5, 5)).toBe(0);
    expect(limiter.take('s1', 5, 1)).toBeGreaterThan(0);
    expect(limiter.take('s2', 5, 1)).toBe(0);
  });

  it('does not limit when the rate is 0', () => {
    const { limiter } = limiterAt();
    for (let i = 0; i < 1_000; i++) expect(limiter.take('s1', 0, 100)).toBe(0);
  });

  it('applies a lowered limit at once', () => {
    const { limiter } = limiterAt();
    expect(limiter.take('s1', 100, 1)).toBe(0);
    expect(limiter.take('s1', 2, 2)).toBe(0);
    expect(limiter.take('s1', 2, 1)).toBeGreaterThan(0);
  });
});
