import type { Kysely } from 'kysely';

export type RequestType = 'suppress' | 'unsuppress' | 'delete' | 'export';
export type RequestStatus = 'pending' | 'running' | 'completed' | 'failed';

export interface PrivacyRequestRow {
  id: string;
  workspace_id: string;
  type: RequestType;
  identifier_type: string;
  identifier_value: string | null;
  profile_id: string | null;
  status: RequestStatus;
  attempts: number;
  actor_type: string;
  actor_id: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  error: string | null;
  result: string | null;
}

export interface SuppressionRow {
  workspace_id: string;
  key_hash: string;
  reason: string;
  request_id: string;
  created_at: number;
}

export interface ExportRow {
  request_id: string;
  workspace_id: string;
  profile_id: string | null;
  document: string;
  created_at: number;
  expires_at: number;
}

export interface RequestTables {
  privacy_requests: PrivacyRequestRow;
  suppressions: SuppressionRow;
  privacy_exports: ExportRow;
}

const CHUNK = 500;
const chunks = <T>(list: T[]) => Array.from({ length: Math.ceil(list.length / CHUNK) }, (_, i) => list.slice(i * CHUNK, (i + 1) * CHUNK));
const t = (db: Kysely<any>) => db as Kysely<RequestTables>;
const numeric = (r: PrivacyRequestRow): PrivacyRequestRow => ({
  ...r, attempts: Number(r.attempts), created_at: Number(r.created_at), started_at: r.started_at === null ? null : Number(r.started_at), finished_at: r.finished_at === null ? null : Number(r.finished_at),
});

export const requestsStore = {
  insert: (db: Kysely<any>, row: PrivacyRequestRow) => t(db).insertInto('privacy_requests').values(row).execute(),
  async get(db: Kysely<any>, workspaceId: string, id: string) {
    const row = await t(db).selectFrom('privacy_requests').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst();
    return row && numeric(row);
  },
  async byId(db: Kysely<any>, id: string) {
    const row = await t(db).selectFrom('privacy_requests').selectAll().where('id', '=', id).executeTakeFirst();
    return row && numeric(row);
  },
  async list(db: Kysely<any>, workspaceId: string, q: { limit: number; type?: RequestType; status?: RequestStatus; before?: { at: number; id: string } }) {
    let query = t(db).selectFrom('privacy_requests').selectAll().where('workspace_id', '=', workspaceId);
    if (q.type) query = query.where('type', '=', q.type);
    if (q.status) query = query.where('status', '=', q.status);
    const b = q.before;
    if (b) query = query.where((eb) => eb.or([eb('created_at', '<', b.at), eb.and([eb('created_at', '=', b.at), eb('id', '<', b.id)])]));
    return (await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(q.limit).execute()).map(numeric);
  },
  /** The oldest request waiting (or running for longer than `staleBefore` allows: its node died), or undefined. */
  async next(db: Kysely<any>, staleBefore: number) {
    const row = await t(db).selectFrom('privacy_requests').select('id')
      .where((eb) => eb.or([eb('status', '=', 'pending'), eb.and([eb('status', '=', 'running'), eb('started_at', '<', staleBefore)])]))
      .orderBy('created_at').limit(1).executeTakeFirst();
    return row?.id;
  },
  /** Takes the request for this node: one conditional update, so two nodes never both run it. */
  async claim(db: Kysely<any>, id: string, now: number, staleBefore: number): Promise<boolean> {
    const done = await t(db).updateTable('privacy_requests').set((eb) => ({ status: 'running', started_at: now, attempts: eb('attempts', '+', 1) }))
      .where('id', '=', id).where((eb) => eb.or([eb('status', '=', 'pending'), eb.and([eb('status', '=', 'running'), eb('started_at', '<', staleBefore)])]))
      .executeTakeFirst();
    return Number(done.numUpdatedRows) === 1;
  },
  finish: (db: Kysely<any>, id: string, change: Partial<PrivacyRequestRow>) => t(db).updateTable('privacy_requests').set(change).where('id', '=', id).execute(),
  /** Other requests naming one of a deleted person's identifiers lose the value; their exports go. */
  async forget(db: Kysely<any>, workspaceId: string, identifiers: { type: string; value: string }[], profileIds: string[]) {
    for (const id of identifiers) {
      await t(db).updateTable('privacy_requests').set({ identifier_value: null }).where('workspace_id', '=', workspaceId)
        .where('identifier_type', '=', id.type).where('identifier_value', '=', id.value).execute();
    }
    let exports = 0;
    for (const part of chunks(profileIds)) {
      exports += Number((await t(db).deleteFrom('privacy_exports').where('workspace_id', '=', workspaceId).where('profile_id', 'in', part).executeTakeFirst()).numDeletedRows);
    }
    return exports;
  },

  async suppressed(db: Kysely<any>, workspaceId: string, hashes: string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const part of chunks([...new Set(hashes)])) {
      for (const r of await t(db).selectFrom('suppressions').select('key_hash').where('workspace_id', '=', workspaceId).where('key_hash', 'in', part).execute()) out.add(r.key_hash);
    }
    return out;
  },
  async anySuppressed(db: Kysely<any>, workspaceIds: string[]): Promise<Set<string>> {
    const rows = await t(db).selectFrom('suppressions').select('workspace_id').distinct().where('workspace_id', 'in', workspaceIds).execute();
    return new Set(rows.map((r) => r.workspace_id));
  },
  async suppress(db: Kysely<any>, rows: SuppressionRow[]) {
    for (const part of chunks(rows)) await t(db).insertInto('suppressions').values(part).onConflict((oc) => oc.columns(['workspace_id', 'key_hash']).doNothing()).execute();
  },
  /** Lifts every suppression made by the requests that suppressed one of these keys. */
  async unsuppress(db: Kysely<any>, workspaceId: string, hashes: string[]): Promise<number> {
    const requests = new Set<string>();
    for (const part of chunks(hashes)) {
      for (const r of await t(db).selectFrom('suppressions').select('request_id').where('workspace_id', '=', workspaceId).where('key_hash', 'in', part).execute()) requests.add(r.request_id);
    }
    let n = 0;
    for (const part of chunks([...requests])) n += Number((await t(db).deleteFrom('suppressions').where('workspace_id', '=', workspaceId).where('request_id', 'in', part).executeTakeFirst()).numDeletedRows);
    return n;
  },

  /** Requests per status (every workspace), for the metrics. */
  async byStatus(db: Kysely<any>): Promise<{ status: string; n: number }[]> {
    const rows = await t(db).selectFrom('privacy_requests').select((eb) => ['status', eb.fn.countAll<number>().as('n')]).groupBy('status').execute();
    return rows.map((r) => ({ status: r.status, n: Number(r.n) }));
  },
  putExport: (db: Kysely<any>, row: ExportRow) => t(db).insertInto('privacy_exports').values(row).execute(),
  export: (db: Kysely<any>, workspaceId: string, requestId: string) =>
    t(db).selectFrom('privacy_exports').selectAll().where('workspace_id', '=', workspaceId).where('request_id', '=', requestId).executeTakeFirst(),
  expireExports: async (db: Kysely<any>, now: number) => Number((await t(db).deleteFrom('privacy_exports').where('expires_at', '<=', now).executeTakeFirst()).numDeletedRows),
};
