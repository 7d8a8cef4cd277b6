import { randomUUID } from 'node:crypto';
import type { Clock } from '../../platform/clock.js';
import { errors } from '../../platform/errors.js';
import { sha256 } from './credentials.js';
import type { SessionStore } from './session-store.js';

export interface LoginLimits {
  /** Failures allowed per email, and per client address, within `windowMs`; the next attempt gets 429. */
  perEmail: number;
  perIp: number;
  windowMs: number;
}

/** One attempt under way: it counts as a failure unless `succeeded()` is called. */
export interface LoginAttempt {
  succeeded(): Promise<void>;
}

/**
 * Sign-in failures counted in the store, so every node sees them. An attempt is written down *before* the
 * password is checked and counted with the others, so concurrent guesses cannot all slip under the limit;
 * a success takes its own row back and clears the email's count. Unknown emails count like known ones:
 * the limit tells nothing about which accounts exist.
 */
export function createLoginThrottle({ store, clock, limits }: { store: SessionStore; clock: Clock; limits: LoginLimits }) {
  const iso = (ms: number) => new Date(ms).toISOString();

  return {
    async begin(email: string, ip: string): Promise<LoginAttempt> {
      const now = clock.now();
      const since = iso(now - limits.windowMs);
      await store.pruneFailures(since);
      const counters = [
        { key: `email:${sha256(email)}`, limit: limits.perEmail, id: randomUUID() },
        { key: `ip:${ip}`, limit: limits.perIp, id: randomUUID() },
      ];
      for (const c of counters) await store.insertFailure({ id: c.id, key: c.key, at: iso(now) });
      let retryAt = 0;
      for (const c of counters) {
        const times = await store.failuresSince(c.key, since);
        // Without this attempt's own row; the block lifts when the earlier failures drop below the limit.
        const earlier = times.slice();
        earlier.splice(earlier.lastIndexOf(iso(now)), 1);
        if (earlier.length >= c.limit) retryAt = Math.max(retryAt, Date.parse(earlier[earlier.length - c.limit]!) + limits.windowMs);
      }
      if (retryAt > 0) {
        for (const c of counters) await store.deleteFailure(c.id);
        const seconds = Math.max(1, Math.ceil((retryAt - now) / 1000));
        throw errors.rateLimited(seconds, `Too many failed sign-ins for this email or from this address; try again in ${Math.ceil(seconds / 60)} minute(s).`, now);
      }
      return {
        async succeeded() {
          await store.deleteFailure(counters[1]!.id);
          await store.clearFailures(counters[0]!.key);
        },
      };
    },
  };
}

export type LoginThrottle = ReturnType<typeof createLoginThrottle>;
