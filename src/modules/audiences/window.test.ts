import { describe, expect, it } from 'vitest';
import { bucketMs, bucketOf, DAY, HOUR, MINUTE, windowMs, windowStart } from './window.js';

const NOON = Date.parse('2026-05-01T12:00:00.000Z');

describe('rolling windows', () => {
  it('measures a window in its unit', () => {
    expect(windowMs({ last: 30, unit: 'minutes' })).toBe(30 * MINUTE);
    expect(windowMs({ last: 6, unit: 'hours' })).toBe(6 * HOUR);
    expect(windowMs({ last: 7, unit: 'days' })).toBe(7 * DAY);
  });

  it('counts by the minute for windows up to a day, by the hour beyond, and in one bucket for all time', () => {
    expect(bucketMs({ last: 90, unit: 'minutes' })).toBe(MINUTE);
    expect(bucketMs({ last: 24, unit: 'hours' })).toBe(MINUTE);
    expect(bucketMs({ last: 1, unit: 'days' })).toBe(MINUTE);
    expect(bucketMs({ last: 25, unit: 'hours' })).toBe(HOUR);
    expect(bucketMs({ last: 30, unit: 'days' })).toBe(HOUR);
    expect(bucketMs(undefined)).toBe(Infinity);
  });

  it('starts "the last 30 days" at the start of the hour 30 days ago', () => {
    const now = NOON + 42 * MINUTE + 17_000;
    expect(windowStart({ last: 30, unit: 'days' }, now)).toBe(NOON - 30 * DAY);
  });

  it('starts "the last 2 hours" at the start of the minute 2 hours ago', () => {
    const now = NOON + 42 * MINUTE + 17_000;
    expect(windowStart({ last: 2, unit: 'hours' }, now)).toBe(NOON - 2 * HOUR + 42 * MINUTE);
  });

  it('starts exactly at `now - window` when now falls on a bucket boundary', () => {
    expect(windowStart({ last: 10, unit: 'minutes' }, NOON)).toBe(NOON - 10 * MINUTE);
  });

  it('has no start without a window: all time counts', () => {
    expect(windowStart(undefined, NOON)).toBe(-Infinity);
  });

  it('puts an event in the bucket that starts at or before its time, and every event in bucket 0 for all time', () => {
    expect(bucketOf(NOON + 59_999, MINUTE)).toBe(NOON);
    expect(bucketOf(NOON + 60_000, MINUTE)).toBe(NOON + MINUTE);
    expect(bucketOf(NOON + 59 * MINUTE, HOUR)).toBe(NOON);
    expect(bucketOf(NOON, Infinity)).toBe(0);
    expect(bucketOf(-1, Infinity)).toBe(0);
  });

  it('keeps an event in the window exactly as long as its bucket starts at or after the window start', () => {
    const w = { last: 1, unit: 'hours' } as const;
    const event = NOON + 30_000;
    const bucket = bucketOf(event, bucketMs(w));
    expect(bucket >= windowStart(w, NOON + HOUR + 59_999)).toBe(true);
    expect(bucket >= windowStart(w, NOON + HOUR + 60_000)).toBe(false);
  });
});
