import type { Kysely } from 'kysely';

/** What the timeline reads from the CDP half, passed in by app.ts. */
export interface TimelineDeps {
  /** A profile's events, newest first, before (timestamp, offset). */
  profileEvents(db: Kysely<any>, profileId: string, before: { at: number; offset: number } | undefined, limit: number): Promise<{ offset: number; timestamp: number; type: string; event: string | null }[]>;
  /** The logged events at these offsets: their source and message. */
  eventsAt(db: Kysely<any>, workspaceId: string, offsets: number[]): Promise<{ offset: number; sourceId: string; messageId: string; message: Record<string, unknown> }[]>;
  /** The merge log of a profile and of the profiles merged into it. */
  merges(db: Kysely<any>, profileId: string): Promise<{ id: number; kind: string; profile_id: string; other_profile_id: string | null; identifiers: string; rule: string; at: number }[]>;
}

export const TIMELINE_KINDS = ['web', 'track', 'identify', 'group', 'crm', 'audience', 'merge'] as const;
export type TimelineKind = (typeof TIMELINE_KINDS)[number];

export interface TimelineItem {
  kind: TimelineKind;
  at: number;
  /** Orders items at the same millisecond: the log offset, or the merge's position in the merge log. */
  seq: number;
  type: string;
  event: string | null;
  messageId?: string;
  properties: Record<string, unknown>;
}

function kindOf(sourceId: string, type: string): TimelineKind {
  if (sourceId === 'rapport:audiences') return 'audience';
  if (sourceId.startsWith('rapport:crm')) return 'crm';
  if (type === 'page' || type === 'screen') return 'web';
  if (type === 'identify' || type === 'group') return type;
  return 'track';
}

const CHUNK = 200;
const MAX_CHUNKS = 20;

/**
 * One timeline per contact or company: the profile's events (web visits, tracks, identifies, the CRM's own
 * changes and activities, audiences entered and left, all in the log) and its identity merges, newest first,
 * filtered by kind. Paged by (time, sequence); filtering reads on in chunks until the page is full.
 */
export interface TimelineQuery {
  limit: number;
  before?: { at: number; seq: number };
  kinds?: TimelineKind[];
  /** Of these records, those the caller may not see (`object:id`): the CRM's events about them are left out. */
  hide?: (records: { object: string; id: string }[]) => Promise<ReadonlySet<string>>;
}

// The record a CRM event is about, by the property that names it.
const RECORD_OF = [['deal_id', 'deal'], ['ticket_id', 'ticket'], ['activity_id', 'activity'], ['task_id', 'task']] as const;
/** The deal, ticket, activity or task one of the CRM's events (from `sourceId`) is about, if any. */
export function crmEventRecord(sourceId: string, properties: Record<string, unknown>): { object: (typeof RECORD_OF)[number][1]; id: string } | undefined {
  if (!sourceId.startsWith('rapport:crm')) return undefined;
  for (const [key, object] of RECORD_OF) if (typeof properties[key] === 'string') return { object, id: properties[key] as string };
  return undefined;
}
const recordOf = (item: TimelineItem) => (item.kind === 'crm' ? crmEventRecord('rapport:crm', item.properties) : undefined);

async function visibleOnly(items: TimelineItem[], hide: NonNullable<TimelineQuery['hide']>) {
  const records = items.map(recordOf);
  const hidden = await hide(records.filter((r): r is { object: (typeof RECORD_OF)[number][1]; id: string } => r !== undefined));
  return items.filter((_, i) => !records[i] || !hidden.has(`${records[i]!.object}:${records[i]!.id}`));
}

export async function timeline(db: Kysely<any>, deps: TimelineDeps, workspaceId: string, profileId: string, q: TimelineQuery) {
  const wanted = new Set(q.kinds?.length ? q.kinds : TIMELINE_KINDS);
  const items: TimelineItem[] = [];
  let cursor = q.before ? { at: q.before.at, offset: q.before.seq } : undefined;
  let exhausted = false;
  for (let chunk = 0; chunk < MAX_CHUNKS && items.length < q.limit + 1; chunk++) {
    const rows = await deps.profileEvents(db, profileId, cursor, CHUNK);
    if (rows.length < CHUNK) exhausted = true;
    if (rows.length === 0) break;
    const byOffset = new Map((await deps.eventsAt(db, workspaceId, rows.map((r) => r.offset))).map((e) => [e.offset, e]));
    const found: TimelineItem[] = [];
    for (const r of rows) {
      const e = byOffset.get(r.offset);
      const kind = kindOf(e?.sourceId ?? '', r.type);
      if (!wanted.has(kind)) continue;
      const m = (e?.message ?? {}) as { properties?: Record<string, unknown>; traits?: Record<string, unknown>; name?: string };
      found.push({ kind, at: r.timestamp, seq: r.offset, type: r.type, event: r.event ?? m.name ?? null, messageId: e?.messageId, properties: (r.type === 'identify' || r.type === 'group' ? m.traits : m.properties) ?? {} });
    }
    items.push(...(q.hide ? await visibleOnly(found, q.hide) : found));
    const last = rows[rows.length - 1];
    cursor = { at: last.timestamp, offset: last.offset };
    if (exhausted) break;
  }
  if (wanted.has('merge')) {
    // Merges are few per profile: all of them, placed by time among the events read.
    const floor = exhausted ? -Infinity : (items[items.length - 1]?.at ?? -Infinity);
    for (const m of await deps.merges(db, profileId)) {
      const at = Number(m.at);
      const seq = -Number(m.id);
      if (at < floor) continue;
      if (q.before && (at > q.before.at || (at === q.before.at && seq >= q.before.seq))) continue;
      items.push({ kind: 'merge', at, seq, type: 'merge', event: m.kind, properties: { profileId: m.profile_id, otherProfileId: m.other_profile_id, identifiers: JSON.parse(m.identifiers) as unknown, rule: m.rule } });
    }
  }
  items.sort((a, b) => b.at - a.at || b.seq - a.seq);
  const page = items.slice(0, q.limit);
  const last = page[page.length - 1];
  return { items: page, next: items.length > q.limit || (!exhausted && page.length === q.limit) ? { at: last.at, seq: last.seq } : null };
}
