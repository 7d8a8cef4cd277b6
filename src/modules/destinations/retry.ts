import type { RetryPolicy } from './definition.js';

/** What one request's result means for the messages it carried. */
export type Outcome =
  | { kind: 'delivered' }
  /** Network error, timeout, 408, 429, 5xx: try again later (`retryAfterMs` when the receiver said when). */
  | { kind: 'retry'; retryAfterMs?: number }
  /** Any other answer outside 2xx: the receiver refused the message; retrying would not change that. */
  | { kind: 'rejected' };

export function classify(status: number | undefined, retryAfter?: string | null, now = Date.now()): Outcome {
  if (status === undefined) return { kind: 'retry' };
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  if (status === 408 || status === 429 || status >= 500) {
    const after = parseRetryAfter(retryAfter, now);
    return after === undefined ? { kind: 'retry' } : { kind: 'retry', retryAfterMs: after };
  }
  return { kind: 'rejected' };
}

/** `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3), in milliseconds from now. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The wait before attempt `attempts + 1`: exponential from `minDelayMs`, doubled per attempt, capped at
 * `maxDelayMs`, with ±20% jitter so that messages failed together do not all come back at once; a
 * receiver's Retry-After wins when it asks for longer (up to the message's whole retry window).
 */
export function retryDelay(policy: RetryPolicy, attempts: number, retryAfterMs?: number, random = Math.random): number {
  const exponential = Math.min(policy.maxDelayMs, policy.minDelayMs * 2 ** Math.max(0, attempts - 1));
  const jittered = Math.round(exponential * (0.8 + 0.4 * random()));
  const delay = Math.min(policy.maxDelayMs, Math.max(policy.minDelayMs, jittered));
  return retryAfterMs === undefined ? delay : Math.min(Math.max(delay, retryAfterMs), policy.maxAgeMs);
}

/** Whether a message that just failed again is given up: old enough and tried often enough. */
export function exhausted(policy: RetryPolicy, row: { attempts: number; enqueued_at: number }, now: number): boolean {
  return row.attempts >= policy.minAttempts && now - row.enqueued_at >= policy.maxAgeMs;
}
