import type { Kysely } from 'kysely';
import type { AuditEntry, AuditService } from './service.js';

/**
 * Group commit for entries written in their own transaction (the HTTP layer's): entries that arrive while
 * one transaction is being written share the next, so a burst of writes costs a few commits, not one each,
 * and waits on each workspace's head once per group. A group that fails is retried entry by entry, so one
 * entry that cannot be written costs only itself.
 */
export function createAuditWriter(db: Kysely<any>, service: Pick<AuditService, 'record'>) {
  let queue: { entry: AuditEntry; done: (error?: unknown) => void }[] = [];
  let running: Promise<void> | undefined;

  async function drain() {
    while (queue.length > 0) {
      const group = queue;
      queue = [];
      try {
        await service.record(db, ...group.map((g) => g.entry));
        for (const g of group) g.done();
      } catch (error) {
        if (group.length === 1) group[0].done(error);
        else for (const g of group) await service.record(db, g.entry).then(() => g.done(), (e: unknown) => g.done(e));
      }
    }
    running = undefined;
  }

  return {
    write(entry: AuditEntry): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        queue.push({ entry, done: (error) => (error === undefined ? resolve() : reject(error)) });
        // The next turn of the event loop, so requests answered together are written together.
        running ??= new Promise<void>((start) => setImmediate(start)).then(drain);
      });
    },
    /** Resolves once everything queued so far is written (or has failed). */
    flushed: () => running ?? Promise.resolve(),
  };
}
