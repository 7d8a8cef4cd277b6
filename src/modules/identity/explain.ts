import type { IdentifierRow, MergeLogRow } from './store.js';

export interface IdentifierExplanation {
  type: string;
  value: string;
  /** How it reached this profile: first seen on an event of this profile, or brought by a merge. */
  reason:
    | { kind: 'event'; messageId: string; offset: number; at: string; sourceId: string }
    | { kind: 'merge'; fromProfileId: string; mergedAt: string; messageId: string | null; linkedBy: string; firstSeen: { messageId: string; at: string } };
}

export interface Explanation {
  profileId: string;
  identifiers: IdentifierExplanation[];
  /** Newest first: creations, merges, splits and refused links (warnings), each with its rule. */
  history: { id: number; kind: string; profileId: string; otherProfileId: string | null; identifiers: unknown; rule: string; message: string | null; messageId: string | null; at: string }[];
}

const iso = (ms: number) => new Date(Number(ms)).toISOString();

/**
 * Why each identifier is on the profile: the event that attached it, or the merge that brought the profile
 * it was on (following merges of merges). `log` holds the merge log of the profile and of every profile
 * folded into it.
 */
export function explain(profileId: string, identifiers: IdentifierRow[], log: MergeLogRow[]): Explanation {
  // For each merged-away profile, the merge that folded it, and what it carried at that moment.
  const mergesInto = new Map<string, MergeLogRow[]>();
  for (const row of log) {
    if (row.kind !== 'merged') continue;
    const list = mergesInto.get(row.profile_id) ?? [];
    list.push(row);
    mergesInto.set(row.profile_id, list);
  }
  const origin = (key: string, into: string, depth = 0): MergeLogRow | undefined => {
    if (depth > 50) return undefined;
    // The newest merge into `into` whose moved identifiers include the key.
    const merges = (mergesInto.get(into) ?? []).slice().sort((a, b) => Number(b.id) - Number(a.id));
    return merges.find((m) => (JSON.parse(m.identifiers) as { type: string; value: string }[]).some((id) => `${id.type}:${id.value}` === key));
  };

  return {
    profileId,
    identifiers: identifiers.map((row) => {
      const key = `${row.type}:${row.value}`;
      const merge = origin(key, profileId);
      return {
        type: row.type,
        value: row.value,
        reason: merge
          ? {
              kind: 'merge' as const, fromProfileId: merge.other_profile_id!, mergedAt: iso(merge.at), messageId: merge.message_id, linkedBy: merge.message ?? merge.rule,
              firstSeen: { messageId: row.first_message_id, at: iso(row.first_seen) },
            }
          : { kind: 'event' as const, messageId: row.first_message_id, offset: Number(row.first_offset), at: iso(row.first_seen), sourceId: row.source_id },
      };
    }),
    history: log
      .slice()
      .sort((a, b) => Number(b.id) - Number(a.id))
      .map((r) => ({
        id: Number(r.id), kind: r.kind, profileId: r.profile_id, otherProfileId: r.other_profile_id, identifiers: JSON.parse(r.identifiers),
        rule: r.rule, message: r.message, messageId: r.message_id, at: iso(r.at),
      })),
  };
}
