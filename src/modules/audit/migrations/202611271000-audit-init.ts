import { sql, type Kysely } from 'kysely';
import { isPostgres } from '../../../platform/db/migrate.js';

// Every column an entry's hash covers; none of them may change once written.
const SEALED = ['id', 'workspace_id', 'seq', 'at', 'actor_type', 'actor_id', 'action', 'target_type', 'target_id', 'change_digest', 'request_id', 'ip', 'user_agent', 'status', 'prev_hash', 'hash'];

export async function up(db: Kysely<any>): Promise<void> {
  const pg = isPostgres(db);
  // One chain per workspace: seq counts 1, 2, 3… and each entry carries the hash of the one before.
  await db.schema
    .createTable('audit_log')
    .addColumn('id', pg ? 'bigint' : 'integer', (c) => (pg ? c.primaryKey().generatedAlwaysAsIdentity() : c.primaryKey().autoIncrement()))
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('actor_type', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target_type', 'text')
    .addColumn('target_id', 'text')
    .addColumn('change', 'text')
    .addColumn('change_digest', 'text')
    .addColumn('change_erased_at', 'text')
    .addColumn('request_id', 'text')
    .addColumn('ip', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('status', 'integer')
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .execute();
  // Two writers that read the same head would both write seq n+1: the second fails rather than fork the chain.
  await db.schema.createIndex('audit_log_chain').unique().on('audit_log').columns(['workspace_id', 'seq']).execute();
  await db.schema.createIndex('audit_log_target').on('audit_log').columns(['workspace_id', 'target_type', 'target_id', 'seq']).execute();
  await db.schema.createIndex('audit_log_actor').on('audit_log').columns(['workspace_id', 'actor_id', 'seq']).execute();
  await db.schema.createIndex('audit_log_at').on('audit_log').columns(['workspace_id', 'at']).execute();

  // The head of each workspace's chain: the row appends lock (serialising them across nodes), and the
  // anchor that shows entries cut from the end.
  await db.schema
    .createTable('audit_heads')
    .addColumn('workspace_id', 'text', (c) => c.primaryKey())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .execute();

  // Append-only in the store itself, not only in the code: rows cannot be deleted, and the only change
  // allowed is erasing a change (personal data) while its digest stays in the chain.
  if (pg) {
    await sql`create function audit_log_refuse() returns trigger language plpgsql as $$
      begin raise exception 'audit_log is append-only'; end $$`.execute(db);
    await sql.raw(`create trigger audit_log_sealed before update of ${SEALED.join(', ')} on audit_log for each row execute function audit_log_refuse()`).execute(db);
    await sql`create trigger audit_log_change before update of change on audit_log for each row when (new.change is not null) execute function audit_log_refuse()`.execute(db);
    await sql`create trigger audit_log_no_delete before delete on audit_log for each row execute function audit_log_refuse()`.execute(db);
    await sql`create trigger audit_log_no_truncate before truncate on audit_log for each statement execute function audit_log_refuse()`.execute(db);
  } else {
    await sql.raw(`create trigger audit_log_sealed before update of ${SEALED.join(', ')} on audit_log begin select raise(abort, 'audit_log is append-only'); end`).execute(db);
    await sql`create trigger audit_log_change before update of change on audit_log when new.change is not null begin select raise(abort, 'audit_log is append-only'); end`.execute(db);
    await sql`create trigger audit_log_no_delete before delete on audit_log begin select raise(abort, 'audit_log is append-only'); end`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('audit_heads').execute();
  await db.schema.dropTable('audit_log').execute();
  if (isPostgres(db)) await sql`drop function audit_log_refuse()`.execute(db);
}
