import { normalizeCall } from '../../src/modules/collect/index.js';
import { createEventLogAppender, type LogEntry } from '../../src/modules/collect/event-log.js';
import type { Database } from '../../src/platform/db/database.js';

/**
 * Appends `count` calls to the event log the way the collection API stores them (normalised, one
 * transaction per `chunk`), without HTTP: the quick way to build a backlog. Returns the append rate.
 */
export async function appendCalls(
  database: Database,
  target: { workspaceId: string; sourceId: string },
  next: () => Record<string, unknown>,
  count: number,
  chunk = 2000,
): Promise<{ events: number; ms: number }> {
  const appender = createEventLogAppender(database);
  let ms = 0;
  for (let done = 0; done < count; done += chunk) {
    const entries: LogEntry[] = [];
    const receivedAt = Date.now();
    for (let i = 0; i < Math.min(chunk, count - done); i++) {
      const normalized = normalizeCall(next(), undefined, {}, { receivedAt, ip: '127.0.0.1' });
      if (!normalized.ok) throw new Error(`the generator made a call the API rejects: ${normalized.reason}`);
      const c = normalized.call;
      entries.push({
        workspaceId: target.workspaceId, sourceId: target.sourceId, messageId: c.messageId, type: c.type, event: c.event,
        userId: c.userId, anonymousId: c.anonymousId, timestamp: c.timestamp, receivedAt, payload: JSON.stringify(c.message),
      });
    }
    const started = performance.now();
    await appender.append(entries, []);
    ms += performance.now() - started;
  }
  // close() is newer than some appenders: call it where it exists (it lets go of the WAL file handle).
  await (appender as { close?: () => Promise<void> }).close?.();
  return { events: count, ms };
}
