import type BetterSqlite3 from 'better-sqlite3';
import type { Kysely } from 'kysely';
import type { LoggedEvent } from '../collect/index.js';
import { profilesStore as store, type ProfilesTables, type TraitRow } from './store.js';
import { DEFAULT_SET_ONCE, reduceTraitWrites, traitsOf, type TraitWrite } from './traits.js';

export interface Attribution {
  profileId: string | null;
  accountProfileId: string | null;
  identifiers: string[];
}

export interface Merge {
  winner: string;
  loser: string;
}

const SETTINGS_CACHE_MS = 10_000;

export function createProfilesService(deps: { now: () => number }) {
  const settingsCache = new Map<string, { setOnce: Set<string>; at: number }>();

  async function setOnceNames(db: Kysely<ProfilesTables>, workspaceId: string): Promise<Set<string>> {
    const cached = settingsCache.get(workspaceId);
    if (cached && deps.now() - cached.at < SETTINGS_CACHE_MS) return cached.setOnce;
    const row = await store.settings(db, workspaceId);
    const setOnce = new Set<string>(row ? (JSON.parse(row.set_once_traits) as string[]) : DEFAULT_SET_ONCE);
    settingsCache.set(workspaceId, { setOnce, at: deps.now() });
    return setOnce;
  }

  /** Folds the loser's traits into the winner, newest value per trait winning, and moves its timeline. */
  async function applyMerge(db: Kysely<ProfilesTables>, workspaceId: string, merge: Merge, setOnce: Set<string>) {
    const traits = await store.traitsOf(db, merge.loser);
    const moved = traits.map((t) => ({ ...t, profile_id: merge.winner }));
    await store.writeTraits(db, moved.filter((t) => !setOnce.has(t.name)), false);
    await store.writeTraits(db, moved.filter((t) => setOnce.has(t.name)), true);
    await store.deleteTraits(db, merge.loser);
    await store.moveTimeline(db, merge.loser, merge.winner);
    void workspaceId;
  }

  return {
    /**
     * Applies a micro-batch after identity resolution, on the batch's transaction: merges first (as they
     * happened), then each event's timeline entry and trait values. `sqlite`: the raw handle of the
     * connection `db` runs on, when it is SQLite, for the store's prepared fast path.
     */
    async applyBatch(db: Kysely<any>, events: LoggedEvent[], attribution: Map<number, Attribution>, merges: (Merge & { workspaceId: string })[], sqlite?: BetterSqlite3.Database) {
      const t = db as Kysely<ProfilesTables>;
      const setOnceBy = new Map<string, Set<string>>();
      for (const ws of new Set([...events.map((e) => e.workspaceId), ...merges.map((m) => m.workspaceId)])) setOnceBy.set(ws, await setOnceNames(t, ws));
      for (const m of merges) await applyMerge(t, m.workspaceId, m, setOnceBy.get(m.workspaceId) ?? new Set(DEFAULT_SET_ONCE));

      const timeline: ProfilesTables['profile_events'][] = [];
      const writes: TraitWrite[] = [];
      for (const e of events) {
        const a = attribution.get(e.offset);
        if (!a) continue;
        const ids = JSON.stringify(a.identifiers);
        const { user, account } = traitsOf(e.message);
        const base = { workspaceId: e.workspaceId, at: e.timestamp, offset: e.offset, sourceId: e.sourceId, messageId: e.messageId };
        if (a.profileId) {
          timeline.push({ workspace_id: e.workspaceId, profile_id: a.profileId, event_offset: e.offset, timestamp: e.timestamp, type: e.type, event: e.event, identifiers: ids });
          for (const [name, value] of Object.entries(user)) writes.push({ ...base, profileId: a.profileId, name, value });
        }
        if (a.accountProfileId) {
          timeline.push({ workspace_id: e.workspaceId, profile_id: a.accountProfileId, event_offset: e.offset, timestamp: e.timestamp, type: e.type, event: e.event, identifiers: ids });
          for (const [name, value] of Object.entries(account)) writes.push({ ...base, profileId: a.accountProfileId, name, value });
        }
      }
      await store.insertTimeline(t, timeline, sqlite);
      const isOnce = (ws: string, name: string) => setOnceBy.get(ws)?.has(name) ?? false;
      const reduced = reduceTraitWrites(writes, isOnce);
      const rows = (once: boolean): TraitRow[] =>
        reduced.filter((w) => isOnce(w.workspaceId, w.name) === once).map((w) => ({
          workspace_id: w.workspaceId, profile_id: w.profileId, name: w.name, value: JSON.stringify(w.value ?? null),
          updated_at: w.at, event_offset: w.offset, source_id: w.sourceId, message_id: w.messageId,
        }));
      await store.writeTraits(t, rows(false), false, sqlite);
      await store.writeTraits(t, rows(true), true, sqlite);
    },

    /** Moves the timeline entries of `from` that carried identifier `key` to `to`; returns their offsets. */
    async reattribute(db: Kysely<any>, from: string, to: string, key: string): Promise<number[]> {
      const t = db as Kysely<ProfilesTables>;
      const offsets = (await store.timeline(t, from)).filter((r) => (JSON.parse(r.identifiers) as string[]).includes(key)).map((r) => Number(r.event_offset));
      for (let i = 0; i < offsets.length; i += 500) await store.moveTimeline(t, from, to, offsets.slice(i, i + 500));
      return offsets;
    },

    /** Rebuilds a profile's traits from the events on its timeline (after a split changed which events it has). */
    async rebuildTraits(db: Kysely<any>, profileId: string, collection: 'users' | 'accounts', events: LoggedEvent[]) {
      const t = db as Kysely<ProfilesTables>;
      await store.deleteTraits(t, profileId);
      if (events.length === 0) return;
      const setOnce = await setOnceNames(t, events[0].workspaceId);
      const writes: TraitWrite[] = [];
      for (const e of events) {
        const bag = traitsOf(e.message)[collection === 'users' ? 'user' : 'account'];
        for (const [name, value] of Object.entries(bag)) {
          writes.push({ workspaceId: e.workspaceId, profileId, name, value, at: e.timestamp, offset: e.offset, sourceId: e.sourceId, messageId: e.messageId });
        }
      }
      const reduced = reduceTraitWrites(writes, (_ws, name) => setOnce.has(name));
      const toRows = (once: boolean) => reduced.filter((w) => setOnce.has(w.name) === once).map((w) => ({
        workspace_id: w.workspaceId, profile_id: w.profileId, name: w.name, value: JSON.stringify(w.value ?? null),
        updated_at: w.at, event_offset: w.offset, source_id: w.sourceId, message_id: w.messageId,
      }));
      await store.writeTraits(t, toRows(false), false);
      await store.writeTraits(t, toRows(true), true);
    },

    traits: (db: Kysely<any>, profileId: string) => store.traitsOf(db as Kysely<ProfilesTables>, profileId),
    timeline: (db: Kysely<any>, profileId: string) => store.timeline(db as Kysely<ProfilesTables>, profileId),
    timelinePage: (db: Kysely<any>, profileId: string, q: Parameters<typeof store.timelinePage>[2]) => store.timelinePage(db as Kysely<ProfilesTables>, profileId, q),
    async timelineBefore(db: Kysely<any>, profileId: string, before: { at: number; offset: number } | undefined, limit: number) {
      const rows = await store.timelineBefore(db as Kysely<ProfilesTables>, profileId, before, limit);
      return rows.map((r) => ({ offset: Number(r.event_offset), timestamp: Number(r.timestamp), type: r.type, event: r.event }));
    },
    setOnceNames: (db: Kysely<any>, workspaceId: string) => setOnceNames(db as Kysely<ProfilesTables>, workspaceId),
    async saveSetOnce(db: Kysely<any>, workspaceId: string, names: string[]) {
      await store.saveSettings(db as Kysely<ProfilesTables>, workspaceId, names);
      settingsCache.delete(workspaceId);
    },
  };
}

export type ProfilesService = ReturnType<typeof createProfilesService>;
