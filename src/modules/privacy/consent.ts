import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { errors } from '../../platform/errors.js';
import { consentStore as store, type ConsentCategoryRow, type ConsentHistoryRow, type ConsentTables, type ProfileConsentRow } from './consent-store.js';

/** An event as the pipeline's consent step sees it: the profile it was attributed to, and its message. */
export interface ConsentEvent {
  offset: number;
  workspaceId: string;
  messageId: string;
  timestamp: number;
  profileId: string | null;
  message: Record<string, unknown>;
}

export interface ConsentActor {
  type: string;
  id: string;
}

/** A profile's consent for a category has just become a refusal: what is queued for it under that category must go. */
export interface Withdrawal {
  workspaceId: string;
  profileId: string;
  category: string;
}

/** One profile's consent: per category, the current statement; a category never stated is absent. */
export type ConsentMap = Record<string, boolean>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Segment's consent spec: `context.consent.categoryPreferences` maps a category's name to true or false. */
export function preferencesOf(message: Record<string, unknown>): ConsentMap | undefined {
  const context = isObject(message.context) ? message.context : undefined;
  const consent = context && isObject(context.consent) ? context.consent : undefined;
  const prefs = consent && isObject(consent.categoryPreferences) ? consent.categoryPreferences : undefined;
  if (!prefs) return undefined;
  const out: ConsentMap = {};
  for (const [name, value] of Object.entries(prefs)) if (typeof value === 'boolean') out[name] = value;
  return out;
}

interface Statement {
  workspaceId: string;
  profileId: string;
  category: string;
  granted: boolean;
  statedAt: number;
  source: 'event' | 'api';
  actor?: ConsentActor;
  offset?: number;
  messageId?: string;
}

/**
 * Consent categories per workspace, and each profile's consent with its history. Statements come from
 * events (the pipeline's step) and from the API; the newest statement of a category wins whatever the
 * order they arrive in (event time; the API's is the time of the call), and only statements that change
 * a profile's consent are kept in its history.
 */
export function createConsent(deps: { now(): number }) {
  const t = (db: Kysely<any>) => db as Kysely<ConsentTables>;
  const iso = () => new Date(deps.now()).toISOString();

  async function category(db: Kysely<any>, workspaceId: string, id: string): Promise<ConsentCategoryRow> {
    const row = await store.category(t(db), workspaceId, id);
    if (!row) throw errors.notFound('Consent category');
    return row;
  }

  /** Applies statements in order: a category's current value moves only for a statement at least as new. */
  async function apply(db: Kysely<any>, statements: Statement[], recordedAt: number): Promise<Withdrawal[]> {
    if (statements.length === 0) return [];
    const current = new Map<string, ProfileConsentRow>();
    for (const r of await store.current(t(db), statements.map((s) => s.profileId))) current.set(`${r.profile_id}\u0000${r.category}`, r);
    const changed = new Map<string, ProfileConsentRow>();
    const history: Omit<ConsentHistoryRow, 'id'>[] = [];
    for (const s of statements) {
      const key = `${s.profileId}\u0000${s.category}`;
      const now = current.get(key);
      if (now && s.statedAt < Number(now.stated_at)) continue;
      const granted = s.granted ? 1 : 0;
      const row: ProfileConsentRow = { workspace_id: s.workspaceId, profile_id: s.profileId, category: s.category, granted, stated_at: s.statedAt, source: s.source };
      current.set(key, row);
      changed.set(key, row);
      if (now && Number(now.granted) === granted) continue;
      history.push({
        workspace_id: s.workspaceId, profile_id: s.profileId, category: s.category, granted, stated_at: s.statedAt, recorded_at: recordedAt, source: s.source,
        actor_type: s.actor?.type ?? null, actor_id: s.actor?.id ?? null, event_offset: s.offset ?? null, message_id: s.messageId ?? null,
      });
    }
    await store.upsert(t(db), [...changed.values()]);
    await store.appendHistory(t(db), history);
    const withdrawn = history.filter((h) => h.granted === 0 && changed.get(`${h.profile_id}\u0000${h.category}`)?.granted === 0);
    return [...new Map(withdrawn.map((h) => [`${h.profile_id}\u0000${h.category}`, { workspaceId: h.workspace_id, profileId: h.profile_id, category: h.category }])).values()];
  }

  return {
    categories: (db: Kysely<any>, workspaceId: string) => store.categories(t(db), workspaceId),
    category,
    async createCategory(db: Kysely<any>, workspaceId: string, input: { name: string; description?: string | null }): Promise<ConsentCategoryRow> {
      const name = input.name.trim();
      if (!name) throw errors.validation('A consent category needs a name.');
      if (await store.categoryNamed(t(db), workspaceId, name)) throw errors.conflict(`A consent category named "${name}" exists already.`);
      const at = iso();
      const row: ConsentCategoryRow = { id: randomUUID(), workspace_id: workspaceId, name, description: input.description ?? null, created_at: at, updated_at: at };
      await store.insertCategory(t(db), row);
      return row;
    },
    /** The name is what events and destinations refer to, so it does not change; the description does. */
    async updateCategory(db: Kysely<any>, workspaceId: string, id: string, change: { description?: string | null }): Promise<ConsentCategoryRow> {
      const row = await category(db, workspaceId, id);
      await store.updateCategory(t(db), id, { description: change.description ?? null, updated_at: iso() });
      return { ...row, description: change.description ?? null };
    },
    /** Profiles' current consent for it goes too; their history stays. */
    async removeCategory(db: Kysely<any>, workspaceId: string, id: string): Promise<void> {
      const row = await category(db, workspaceId, id);
      await db.transaction().execute((tx) => store.removeCategory(t(tx), row));
    },

    /** The pipeline's step: statements of the workspace's categories carried by the batch's events, in log order. */
    async applyBatch(db: Kysely<any>, events: ConsentEvent[], now = deps.now()): Promise<Withdrawal[]> {
      const stating = events.filter((e) => e.profileId !== null && preferencesOf(e.message));
      if (stating.length === 0) return [];
      const known = new Map<string, Set<string>>();
      for (const workspaceId of new Set(stating.map((e) => e.workspaceId))) {
        known.set(workspaceId, new Set((await store.categories(t(db), workspaceId)).map((c) => c.name)));
      }
      const statements: Statement[] = [];
      for (const e of stating) {
        for (const [category, granted] of Object.entries(preferencesOf(e.message)!)) {
          if (!known.get(e.workspaceId)!.has(category)) continue;
          statements.push({ workspaceId: e.workspaceId, profileId: e.profileId!, category, granted, statedAt: e.timestamp, source: 'event', offset: e.offset, messageId: e.messageId });
        }
      }
      return apply(db, statements, now);
    },

    /** Consent set through the API, for categories the workspace defines (others are refused: 400). */
    async set(db: Kysely<any>, workspaceId: string, profileId: string, preferences: ConsentMap, actor: ConsentActor): Promise<Withdrawal[]> {
      const known = new Set((await store.categories(t(db), workspaceId)).map((c) => c.name));
      const unknown = Object.keys(preferences).filter((c) => !known.has(c));
      if (unknown.length) throw errors.validation(`Unknown consent categories: ${unknown.join(', ')}. Create them first (POST /privacy/consent-categories).`);
      const now = deps.now();
      return apply(db, Object.entries(preferences).map(([category, granted]) => ({ workspaceId, profileId, category, granted, statedAt: now, source: 'api', actor })), now);
    },

    async get(db: Kysely<any>, profileId: string, historyLimit = 500) {
      const [current, history] = await Promise.all([store.current(t(db), [profileId]), store.history(t(db), profileId, historyLimit)]);
      return { current, history };
    },

    /** Current consent of profiles, for the destinations' check. */
    async of(db: Kysely<any>, profileIds: string[]): Promise<Map<string, ConsentMap>> {
      const out = new Map<string, ConsentMap>();
      for (const r of await store.current(t(db), profileIds)) (out.get(r.profile_id) ?? out.set(r.profile_id, {}).get(r.profile_id)!)[r.category] = Number(r.granted) === 1;
      return out;
    },

    /** A merged profile's consent folds into the survivor (per category, the newer statement wins); its history follows it. */
    async fold(db: Kysely<any>, merges: { winner: string; loser: string }[]): Promise<void> {
      for (const m of merges) {
        const rows = await store.current(t(db), [m.winner, m.loser]);
        const winner = new Map(rows.filter((r) => r.profile_id === m.winner).map((r) => [r.category, r]));
        const moved = rows.filter((r) => r.profile_id === m.loser && !(Number(winner.get(r.category)?.stated_at ?? -Infinity) >= Number(r.stated_at)));
        await store.upsert(t(db), moved.map((r) => ({ ...r, profile_id: m.winner })));
        await store.deleteCurrent(t(db), m.loser);
        await store.repointHistory(t(db), m.loser, m.winner);
      }
    },

    /** Erasure: every consent row of these profiles. */
    erase: (db: Kysely<any>, profileIds: string[]) => store.deleteProfiles(t(db), profileIds),
  };
}

export type Consent = ReturnType<typeof createConsent>;
