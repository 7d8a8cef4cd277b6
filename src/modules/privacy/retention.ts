import type { Kysely } from 'kysely';
import type { AuditEntry } from '../audit/index.js';

export interface PrivacySettingsRow {
  workspace_id: string;
  retention_days: number | null;
  updated_at: string;
}

const DAY_MS = 86_400_000;
/** Events deleted per transaction: a sweep never holds the store for long. */
const CHUNK = 5_000;
const SLACK_MS = 5 * 60_000;
/** Dedup by messageId lasts as long as an event is in the log: retention keeps at least a week. */
export const MIN_RETENTION_DAYS = 7;

const t = (db: Kysely<any>) => db as Kysely<{ privacy_settings: PrivacySettingsRow }>;

/**
 * Retention of raw events per workspace: those received more than N days ago are deleted, on a schedule.
 * Only events every log consumer has read go (an event not yet processed is never lost to retention);
 * profiles, traits, timelines (time, type and name of each event), counters and CRM records stay.
 */
export function createRetention(deps: {
  now(): number;
  record(db: Kysely<any>, ...entries: AuditEntry[]): Promise<void>;
  readByAll(db: Kysely<any>): Promise<number>;
  /** The last offset before the first event received at or after a time (a binary search on the log's offsets). */
  offsetBefore(db: Kysely<any>, receivedAt: number): Promise<number>;
  eraseReceivedBefore(db: Kysely<any>, workspaceId: string, before: number, upTo: number, limit: number): Promise<number>;
}) {
  return {
    async settings(db: Kysely<any>, workspaceId: string) {
      const row = await t(db).selectFrom('privacy_settings').selectAll().where('workspace_id', '=', workspaceId).executeTakeFirst();
      return { retentionDays: row?.retention_days === undefined || row.retention_days === null ? null : Number(row.retention_days), updatedAt: row?.updated_at ?? null };
    },
    async setRetention(db: Kysely<any>, workspaceId: string, days: number | null) {
      const updated_at = new Date(deps.now()).toISOString();
      await t(db).insertInto('privacy_settings').values({ workspace_id: workspaceId, retention_days: days, updated_at })
        .onConflict((oc) => oc.column('workspace_id').doUpdateSet({ retention_days: days, updated_at })).execute();
      return { retentionDays: days, updatedAt: updated_at };
    },

    /** One pass over every workspace with a retention period; returns how many events went. */
    async sweep(db: Kysely<any>): Promise<number> {
      const workspaces = await t(db).selectFrom('privacy_settings').select(['workspace_id', 'retention_days']).where('retention_days', 'is not', null).execute();
      let total = 0;
      for (const w of workspaces) {
        const before = deps.now() - Number(w.retention_days) * DAY_MS;
        // Received times follow offsets give or take concurrent group commits: with a few minutes' slack, the
        // offset of the cutoff bounds the scan, so a workspace with nothing old does not read the whole log.
        const upTo = Math.min(await deps.readByAll(db), await deps.offsetBefore(db, before + SLACK_MS));
        let deleted = 0;
        for (let n = -1; n !== 0;) {
          n = await db.transaction().execute((tx) => deps.eraseReceivedBefore(tx, w.workspace_id, before, upTo, CHUNK));
          deleted += n;
        }
        if (deleted > 0) {
          await deps.record(db, {
            workspaceId: w.workspace_id, actor: { type: 'system', id: 'retention' }, action: 'privacy.retention', target: { type: 'privacy_setting', id: 'retention' },
            change: { receivedBefore: new Date(before).toISOString(), retentionDays: Number(w.retention_days), deletedEvents: deleted }, status: 200,
          });
        }
        total += deleted;
      }
      return total;
    },
  };
}

export type Retention = ReturnType<typeof createRetention>;
