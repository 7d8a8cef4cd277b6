import { sql, type Generated, type Kysely, type Selectable } from 'kysely';

export interface AuditTables {
  audit_log: {
    id: Generated<number>;
    workspace_id: string;
    seq: number;
    at: string;
    actor_type: string;
    actor_id: string;
    action: string;
    target_type: string | null;
    target_id: string | null;
    change: string | null;
    change_digest: string | null;
    change_erased_at: string | null;
    request_id: string | null;
    ip: string | null;
    user_agent: string | null;
    status: number | null;
    prev_hash: string;
    hash: string;
  };
  audit_heads: { workspace_id: string; seq: number; hash: string };
}

export type AuditRow = Selectable<AuditTables['audit_log']>;
export type NewAuditRow = Omit<AuditRow, 'id' | 'change_erased_at'>;

export interface AuditFilter {
  actorType?: string;
  actorId?: string;
  /** Whole dot-separated segments: `crm.deal` finds `crm.deal.update`, not `crm.dealer.x`. */
  action?: string;
  targetType?: string;
  targetId?: string;
  from?: string;
  to?: string;
}

const likePrefix = (value: string) => `${value.replace(/[\\%_]/g, (c) => `\\${c}`)}.%`;

export function createAuditStore(postgres: boolean) {
  const filtered = (db: Kysely<AuditTables>, workspaceId: string, f: AuditFilter) => {
    let q = db.selectFrom('audit_log').selectAll().where('workspace_id', '=', workspaceId);
    if (f.actorType) q = q.where('actor_type', '=', f.actorType);
    if (f.actorId) q = q.where('actor_id', '=', f.actorId);
    if (f.action) { const action = f.action; q = q.where((eb) => eb.or([eb('action', '=', action), eb('action', 'like', sql<string>`${likePrefix(action)} escape '\\'`)])); }
    if (f.targetType) q = q.where('target_type', '=', f.targetType);
    if (f.targetId) q = q.where('target_id', '=', f.targetId);
    if (f.from) q = q.where('at', '>=', f.from);
    if (f.to) q = q.where('at', '<', f.to);
    return q;
  };

  return {
    /**
     * The head of a workspace's chain, locked until the transaction ends: on PostgreSQL a row lock every
     * node's appends queue on; on SQLite the transaction is the single writer already.
     */
    async lockHead(tx: Kysely<AuditTables>, workspaceId: string): Promise<{ seq: number; hash: string } | undefined> {
      let q = tx.selectFrom('audit_heads').select(['seq', 'hash']).where('workspace_id', '=', workspaceId);
      if (postgres) q = q.forUpdate();
      const head = await q.executeTakeFirst();
      return head && { seq: Number(head.seq), hash: head.hash };
    },
    /** A first append: two writers racing to create the head row both end up queued on it. */
    async createHead(tx: Kysely<AuditTables>, workspaceId: string, genesis: string) {
      await tx.insertInto('audit_heads').values({ workspace_id: workspaceId, seq: 0, hash: genesis }).onConflict((oc) => oc.column('workspace_id').doNothing()).execute();
    },
    async append(tx: Kysely<AuditTables>, rows: NewAuditRow[]) {
      await tx.insertInto('audit_log').values(rows).execute();
      const last = rows[rows.length - 1];
      await tx.updateTable('audit_heads').set({ seq: last.seq, hash: last.hash }).where('workspace_id', '=', last.workspace_id).execute();
    },
    head: async (db: Kysely<AuditTables>, workspaceId: string) => {
      const head = await db.selectFrom('audit_heads').select(['seq', 'hash']).where('workspace_id', '=', workspaceId).executeTakeFirst();
      return head && { seq: Number(head.seq), hash: head.hash };
    },
    /** Newest first, from before `beforeSeq`. */
    newest: (db: Kysely<AuditTables>, workspaceId: string, f: AuditFilter, limit: number, beforeSeq?: number) => {
      let q = filtered(db, workspaceId, f);
      if (beforeSeq !== undefined) q = q.where('seq', '<', beforeSeq);
      return q.orderBy('seq', 'desc').limit(limit).execute();
    },
    /** Chain order, from after `afterSeq`. */
    oldest: (db: Kysely<AuditTables>, workspaceId: string, f: AuditFilter, limit: number, afterSeq = 0) =>
      filtered(db, workspaceId, f).where('seq', '>', afterSeq).orderBy('seq', 'asc').limit(limit).execute(),
    /** Erases the change of matching entries (their digest stays, so the chain still verifies). */
    async eraseChanges(db: Kysely<AuditTables>, workspaceId: string, match: { targetIds?: string[]; mentioning?: string[] }, at: string) {
      const targetIds = match.targetIds ?? [];
      const mentioning = (match.mentioning ?? []).filter((m) => m.length > 0);
      if (targetIds.length === 0 && mentioning.length === 0) return 0;
      const result = await db.updateTable('audit_log').set({ change: null, change_erased_at: at })
        .where('workspace_id', '=', workspaceId).where('change', 'is not', null)
        .where((eb) => eb.or([
          ...(targetIds.length ? [eb('target_id', 'in', targetIds)] : []),
          // Case-insensitive on both engines (SQLite's like already is, for ASCII).
          ...mentioning.map((m) => eb('change', postgres ? 'ilike' : 'like', sql<string>`${`%${m.replace(/[\\%_]/g, (c) => `\\${c}`)}%`} escape '\\'`)),
        ]))
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },
  };
}

export type AuditStore = ReturnType<typeof createAuditStore>;
