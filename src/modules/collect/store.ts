import type { Kysely } from 'kysely';

export interface CollectTables {
  sources: {
    id: string;
    workspace_id: string;
    name: string;
    type: string;
    write_key: string;
    enabled: number;
    rate_limit: number | null;
    created_at: string;
    updated_at: string;
  };
  events: {
    offset: number;
    workspace_id: string;
    source_id: string;
    message_id: string;
    type: string;
    event: string | null;
    user_id: string | null;
    anonymous_id: string | null;
    timestamp: number;
    received_at: number;
    payload: unknown;
  };
  rejected_events: {
    id: number;
    workspace_id: string;
    source_id: string;
    received_at: number;
    reason: string;
    message_id: string | null;
    payload: string;
  };
  log_consumers: { name: string; offset: number; updated_at: string };
}

export type SourceRow = CollectTables['sources'];

export function createCollectStore(db: Kysely<CollectTables>) {
  return {
    insertSource: (row: SourceRow) => db.insertInto('sources').values(row).execute(),
    sourceByWriteKey: (writeKey: string) => db.selectFrom('sources').selectAll().where('write_key', '=', writeKey).executeTakeFirst(),
    source: (workspaceId: string, id: string) =>
      db.selectFrom('sources').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst(),
    sourceByName: (workspaceId: string, name: string) =>
      db.selectFrom('sources').selectAll().where('workspace_id', '=', workspaceId).where('name', '=', name).executeTakeFirst(),
    sources: (workspaceId: string) => db.selectFrom('sources').selectAll().where('workspace_id', '=', workspaceId).orderBy('created_at').execute(),
    updateSource: (workspaceId: string, id: string, patch: Partial<SourceRow>) =>
      db.updateTable('sources').set(patch).where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst(),
    deleteSource: (workspaceId: string, id: string) =>
      db.deleteFrom('sources').where('workspace_id', '=', workspaceId).where('id', '=', id).executeTakeFirst(),

    recentEvents: (sourceId: string, limit: number, afterOffset = 0) =>
      db
        .selectFrom('events')
        .select(['offset', 'message_id', 'type', 'event', 'user_id', 'anonymous_id', 'timestamp', 'received_at', 'payload'])
        .where('source_id', '=', sourceId)
        .where('offset', '>', afterOffset)
        .orderBy('offset', 'desc')
        .limit(limit)
        .execute(),
    recentRejections: (sourceId: string, limit: number, afterId = 0) =>
      db
        .selectFrom('rejected_events')
        .select(['id', 'received_at', 'reason', 'message_id', 'payload'])
        .where('source_id', '=', sourceId)
        .where('id', '>', afterId)
        .orderBy('id', 'desc')
        .limit(limit)
        .execute(),
    async logEnd(): Promise<number> {
      const row = await db.selectFrom('events').select((eb) => eb.fn.max('offset').as('end')).executeTakeFirst();
      return Number(row?.end ?? 0);
    },
    async consumerOffsets(): Promise<{ name: string; offset: number }[]> {
      return db.selectFrom('log_consumers').select(['name', 'offset']).execute();
    },
  };
}

export type CollectStore = ReturnType<typeof createCollectStore>;
