import type { Window } from './definition.js';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

const UNIT = { minutes: MINUTE, hours: HOUR, days: DAY } as const;

export const windowMs = (w: Window): number => w.last * UNIT[w.unit];

/**
 * Counters keep one bucket per minute (windows up to a day) or per hour (longer ones), and a window starts
 * on a bucket boundary: "the last 30 days" counts from the start of the hour 30 days ago. The SQL
 * computation uses the same start, so the incremental counters and the full computation agree exactly.
 */
export const bucketMs = (w: Window | undefined): number => (w === undefined ? Infinity : windowMs(w) <= DAY ? MINUTE : HOUR);

/** The first moment inside the window at `now` (-Infinity for all time). */
export function windowStart(w: Window | undefined, now: number): number {
  if (w === undefined) return -Infinity;
  const b = bucketMs(w);
  return Math.floor((now - windowMs(w)) / b) * b;
}

/** The bucket an event time falls in; 0 is the single bucket of all-time counters. */
export function bucketOf(timestamp: number, size: number): number {
  return size === Infinity ? 0 : Math.floor(timestamp / size) * size;
}
