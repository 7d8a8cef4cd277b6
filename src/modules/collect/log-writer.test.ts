import { describe, expect, it } from 'vitest';
import type { AppendResult, EventLogAppender, LogEntry, RejectionEntry } from './event-log.js';
import { LogWriter } from './log-writer.js';

function entry(messageId: string): LogEntry {
  return { workspaceId: 'w', sourceId: 's', messageId, type: 'track', event: 'E', userId: 'u', anonymousId: null, timestamp: 0, receivedAt: 0, payload: '{}' };
}

/** Records each transaction it is asked to write; can be told to fail or to hold a transaction open. */
class RecordingAppender implements EventLogAppender {
  transactions: string[][] = [];
  failNext = false;
  hold?: Promise<void>;
  async append(entries: LogEntry[], _rejections: RejectionEntry[]): Promise<AppendResult> {
    if (this.hold) await this.hold;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('disk full');
    }
    this.transactions.push(entries.map((e) => e.messageId));
    return { appended: entries.length, duplicates: 0 };
  }
}

describe('group commit', () => {
  it('writes requests that arrive together in one transaction', async () => {
    const appender = new RecordingAppender();
    const writer = new LogWriter(appender, { maxPendingEvents: 1000 });
    await Promise.all([writer.append([entry('a')], []), writer.append([entry('b'), entry('c')], []), writer.append([entry('d')], [])]);
    expect(appender.transactions).toEqual([['a', 'b', 'c', 'd']]);
  });

  it('acknowledges a request only after its transaction commits', async () => {
    const appender = new RecordingAppender();
    let release!: () => void;
    appender.hold = new Promise((r) => (release = r));
    const writer = new LogWriter(appender, { maxPendingEvents: 1000 });
    let acknowledged = false;
    const done = writer.append([entry('a')], []).then(() => (acknowledged = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(acknowledged).toBe(false);
    release();
    await done;
    expect(acknowledged).toBe(true);
  });

  it('fails every request of a group whose commit fails, and keeps working after', async () => {
    const appender = new RecordingAppender();
    appender.failNext = true;
    const writer = new LogWriter(appender, { maxPendingEvents: 1000 });
    const results = await Promise.allSettled([writer.append([entry('a')], []), writer.append([entry('b')], [])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    await writer.append([entry('c')], []);
    expect(appender.transactions).toEqual([['c']]);
  });

  it('groups requests that arrive while a transaction is being written into the next one', async () => {
    const appender = new RecordingAppender();
    let release!: () => void;
    appender.hold = new Promise((r) => (release = r));
    const writer = new LogWriter(appender, { maxPendingEvents: 1000 });
    const first = writer.append([entry('a')], []);
    await new Promise((r) => setTimeout(r, 10));
    const later = [writer.append([entry('b')], []), writer.append([entry('c')], [])];
    appender.hold = undefined;
    release();
    await Promise.all([first, ...later]);
    expect(appender.transactions).toEqual([['a'], ['b', 'c']]);
  });

  it('turns requests away with 503 and Retry-After once the queue is full, never buffering without bound', async () => {
    const appender = new RecordingAppender();
    let release!: () => void;
    appender.hold = new Promise((r) => (release = r));
    const writer = new LogWriter(appender, { maxPendingEvents: 3 });
    const accepted = writer.append([entry('a'), entry('b')], []);
    await expect(writer.append([entry('c'), entry('d')], [])).rejects.toMatchObject({ status: 503, headers: { 'retry-after': '1' } });
    release();
    await accepted;
    expect(writer.pending).toBe(0);
  });

  it('drains what it acknowledged to take before closing', async () => {
    const appender = new RecordingAppender();
    const writer = new LogWriter(appender, { maxPendingEvents: 1000 });
    const pending = writer.append([entry('a')], []);
    await writer.close();
    await pending;
    expect(appender.transactions).toEqual([['a']]);
    await expect(writer.append([entry('b')], [])).rejects.toMatchObject({ status: 503 });
  });
});
