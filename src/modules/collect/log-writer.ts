import { errors } from '../../platform/errors.js';
import type { AppendResult, EventLogAppender, LogEntry, RejectionEntry } from './event-log.js';

interface Pending {
  entries: LogEntry[];
  rejections: RejectionEntry[];
  resolve(): void;
  reject(error: unknown): void;
}

export interface LogWriterOptions {
  /** Events waiting (queued or being written) beyond which new requests are turned away. */
  maxPendingEvents: number;
  /** Most events one transaction takes; the rest wait for the next. */
  maxBatchEvents?: number;
  /**
   * Groups handed to the appender at once (default 2), so that one group commits while the one before
   * waits for its fsync. The appender keeps the commits in order (a lock) and each group still resolves
   * only when its own commit is durable.
   */
  maxGroupsInFlight?: number;
  onCommit?(result: AppendResult, entries: number): void;
}

/**
 * Group commit: requests that arrive while a transaction is being written share the next one, so
 * durability costs one fsync per group of requests, not per event. Two groups may be under way at once:
 * one committing while the one before waits for the disk. A request's promise resolves only after its
 * events are committed and durable; if the commit fails, every request in the group gets the error (and
 * the client retries), so nothing is acknowledged that is not in the log.
 */
export class LogWriter {
  private queue: Pending[] = [];
  private pendingEvents = 0;
  private inFlight = 0;
  private scheduled = false;
  private closed = false;
  private idle: (() => void)[] = [];
  private readonly maxBatchEvents: number;
  private readonly maxGroupsInFlight: number;

  constructor(private readonly appender: EventLogAppender, private readonly options: LogWriterOptions) {
    this.maxBatchEvents = options.maxBatchEvents ?? 10_000;
    this.maxGroupsInFlight = options.maxGroupsInFlight ?? 2;
  }

  get pending(): number {
    return this.pendingEvents;
  }

  append(entries: LogEntry[], rejections: RejectionEntry[]): Promise<void> {
    if (this.closed) return Promise.reject(errors.unavailable('Rapport is shutting down; retry against another node.'));
    const size = entries.length + rejections.length;
    // Bounded memory: past the limit the client is told to come back rather than queued without end.
    if (this.pendingEvents > 0 && this.pendingEvents + size > this.options.maxPendingEvents) {
      return Promise.reject(errors.overloaded(1));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ entries, rejections, resolve, reject });
      this.pendingEvents += size;
      this.schedule();
    });
  }

  /** Stops taking requests and resolves once everything queued is committed. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.inFlight > 0 || this.queue.length > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
    await this.appender.close?.();
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxGroupsInFlight) return;
    this.scheduled = true;
    // setImmediate lets every request parsed in this turn of the event loop join the group.
    setImmediate(() => void this.write());
  }

  private async write(): Promise<void> {
    this.scheduled = false;
    if (this.queue.length === 0) {
      if (this.inFlight === 0) this.settleIdle();
      return;
    }
    this.inFlight++;
    const group: Pending[] = [];
    let taken = 0;
    while (this.queue.length > 0 && (group.length === 0 || taken + this.queue[0].entries.length <= this.maxBatchEvents)) {
      const next = this.queue.shift()!;
      group.push(next);
      taken += next.entries.length + next.rejections.length;
    }
    if (this.queue.length > 0) this.schedule();
    const entries = group.length === 1 ? group[0].entries : group.flatMap((p) => p.entries);
    const rejections = group.length === 1 ? group[0].rejections : group.flatMap((p) => p.rejections);
    try {
      const result = await this.appender.append(entries, rejections);
      this.options.onCommit?.(result, entries.length);
      for (const p of group) p.resolve();
    } catch (error) {
      for (const p of group) p.reject(error);
    } finally {
      this.pendingEvents -= taken;
      this.inFlight--;
    }
    if (this.queue.length > 0) this.schedule();
    else if (this.inFlight === 0) this.settleIdle();
  }

  private settleIdle(): void {
    const waiting = this.idle;
    this.idle = [];
    for (const resolve of waiting) resolve();
  }
}
