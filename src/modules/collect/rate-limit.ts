/**
 * Token buckets per write key, counted in events: a batch of 100 costs 100. Per node; with N API nodes
 * the effective limit is N times this, which docs/architecture.md notes.
 */
export class EventRateLimiter {
  private buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly now: () => number) {}

  /** Takes `cost` tokens from a bucket of `perSecond` capacity; returns seconds to wait, or 0 when allowed. */
  take(key: string, perSecond: number, cost: number): number {
    if (perSecond <= 0) return 0;
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: perSecond, at: now };
    bucket.tokens = Math.min(perSecond, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= cost || (bucket.tokens === perSecond && cost > perSecond)) {
      bucket.tokens -= cost;
      return 0;
    }
    return Math.max(1, Math.ceil((cost - bucket.tokens) / perSecond));
  }
}
