import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { extractIdentifiers, type Identifier } from '../identity/index.js';
import { requestsStore as store } from './requests-store.js';

/**
 * A suppressed identifier or profile is kept as SHA-256 of (workspace, `type:value`), so the store can
 * tell an event of a deleted person from any other without holding the person's values. Anyone holding
 * the database can still test a guess (is x@y.com suppressed?): that is what the pipeline needs to do.
 */
export function suppressionKey(workspaceId: string, id: Identifier | { profileId: string }): string {
  const key = 'profileId' in id ? `profile:${id.profileId}` : `${id.type}:${id.value}`;
  return createHash('sha256').update(`${workspaceId}\n${key}`).digest('hex');
}

/** An event as the suppression screen sees it. */
export interface ScreenedEvent {
  offset: number;
  workspaceId: string;
  message: Record<string, unknown>;
}

/** Every key an event could be suppressed by: its identifiers (an alias's previous id as either kind) and the profile it names. */
function keysOf(e: ScreenedEvent): string[] {
  const { user, previousId } = extractIdentifiers(e.message);
  const ids: Identifier[] = [...user];
  if (previousId) ids.push({ type: 'user_id', value: previousId }, { type: 'anonymous_id', value: previousId });
  const keys = ids.map((id) => suppressionKey(e.workspaceId, id));
  const named = (e.message.context as { rapport?: { profileId?: unknown } } | undefined)?.rapport?.profileId;
  if (typeof named === 'string') keys.push(suppressionKey(e.workspaceId, { profileId: named }));
  return keys;
}

export const suppression = {
  /**
   * The pipeline's first step: splits a batch into the events it applies and those of suppressed
   * identifiers or profiles, which it drops. Workspaces without suppressions cost one indexed query.
   */
  async screen<E extends ScreenedEvent>(db: Kysely<any>, events: E[]): Promise<{ kept: E[]; dropped: E[] }> {
    if (events.length === 0) return { kept: events, dropped: [] };
    const workspaces = await store.anySuppressed(db, [...new Set(events.map((e) => e.workspaceId))]);
    if (workspaces.size === 0) return { kept: events, dropped: [] };
    const keyed = new Map<E, string[]>();
    const perWorkspace = new Map<string, string[]>();
    for (const e of events) {
      if (!workspaces.has(e.workspaceId)) continue;
      const keys = keysOf(e);
      keyed.set(e, keys);
      (perWorkspace.get(e.workspaceId) ?? perWorkspace.set(e.workspaceId, []).get(e.workspaceId)!).push(...keys);
    }
    const hits = new Map<string, Set<string>>();
    for (const [workspaceId, keys] of perWorkspace) hits.set(workspaceId, await store.suppressed(db, workspaceId, keys));
    const kept: E[] = [];
    const dropped: E[] = [];
    for (const e of events) {
      const keys = keyed.get(e);
      if (keys && keys.some((k) => hits.get(e.workspaceId)!.has(k))) dropped.push(e);
      else kept.push(e);
    }
    return { kept, dropped };
  },

  async add(db: Kysely<any>, workspaceId: string, request: { id: string; reason: 'suppress' | 'delete' }, ids: (Identifier | { profileId: string })[], now: number): Promise<number> {
    const hashes = [...new Set(ids.map((id) => suppressionKey(workspaceId, id)))];
    await store.suppress(db, hashes.map((key_hash) => ({ workspace_id: workspaceId, key_hash, reason: request.reason, request_id: request.id, created_at: now })));
    return hashes.length;
  },

  /** Whether any of these identifiers (normalised) is suppressed. */
  async holds(db: Kysely<any>, workspaceId: string, ids: Identifier[]): Promise<boolean> {
    return (await store.suppressed(db, workspaceId, ids.map((id) => suppressionKey(workspaceId, id)))).size > 0;
  },

  /** Lifts the suppressions of the requests that suppressed this identifier (the person's other identifiers with it). */
  lift: (db: Kysely<any>, workspaceId: string, id: Identifier) => store.unsuppress(db, workspaceId, [suppressionKey(workspaceId, id)]),
};
