import type { CollectStore } from './store.js';

/** One line of the live debugger: an event as stored in the log, or a call refused with its reason. */
export interface DebuggerEntry {
  status: 'accepted' | 'rejected';
  /** Log offset for accepted events, rejection id for refused ones; a cursor either way. */
  offset?: number;
  rejectionId?: number;
  receivedAt: string;
  type: string | null;
  event: string | null;
  messageId: string | null;
  userId: string | null;
  anonymousId: string | null;
  reason: string | null;
  payload: unknown;
}

export interface DebuggerCursor {
  offset: number;
  rejectionId: number;
}

function parse(payload: unknown): unknown {
  if (typeof payload !== 'string') return payload;
  try {
    return JSON.parse(payload);
  } catch {
    return payload;
  }
}

export function createDebugger(store: CollectStore) {
  /** The newest `limit` entries of a source after `cursor`, newest first, and the cursor to poll from next. */
  async function recent(sourceId: string, limit: number, cursor: DebuggerCursor = { offset: 0, rejectionId: 0 }) {
    const [events, rejections] = await Promise.all([
      store.recentEvents(sourceId, limit, cursor.offset),
      store.recentRejections(sourceId, limit, cursor.rejectionId),
    ]);
    const entries: DebuggerEntry[] = [
      ...events.map((e) => {
        const payload = parse(e.payload);
        return {
          status: 'accepted' as const, offset: Number(e.offset), receivedAt: new Date(Number(e.received_at)).toISOString(), type: e.type,
          event: e.event, messageId: e.message_id, userId: e.user_id, anonymousId: e.anonymous_id, reason: null, payload,
        };
      }),
      ...rejections.map((r) => {
        const payload = parse(r.payload) as Record<string, unknown> | null;
        const field = (k: string) => (payload && typeof payload === 'object' && typeof payload[k] === 'string' ? (payload[k] as string) : null);
        return {
          status: 'rejected' as const, rejectionId: Number(r.id), receivedAt: new Date(Number(r.received_at)).toISOString(), type: field('type'),
          event: field('event'), messageId: r.message_id, userId: field('userId'), anonymousId: field('anonymousId'), reason: r.reason, payload,
        };
      }),
    ];
    entries.sort((a, b) => (a.receivedAt < b.receivedAt ? 1 : a.receivedAt > b.receivedAt ? -1 : 0));
    const next: DebuggerCursor = {
      offset: Math.max(cursor.offset, ...events.map((e) => Number(e.offset))),
      rejectionId: Math.max(cursor.rejectionId, ...rejections.map((r) => Number(r.id))),
    };
    return { entries: entries.slice(0, limit), cursor: next };
  }
  return { recent };
}

export type Debugger = ReturnType<typeof createDebugger>;
