import type { Kysely } from 'kysely';

// Audiences count a workspace's events by type and name in a time window (audiences/compile.ts); this
// index makes that a range scan that never touches the table.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('profile_events_name').on('profile_events').columns(['workspace_id', 'type', 'event', 'timestamp', 'profile_id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('profile_events_name').execute();
}
