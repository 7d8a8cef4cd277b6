import { sql, type Kysely } from 'kysely';
import { isPostgres } from '../../../platform/db/migrate.js';
import { identityRelations } from '../../identity/index.js';
import { profilesRelations } from '../../profiles/index.js';
import { rebuildSearch } from '../indexing.js';
import { createSearch } from '../search.js';

export async function up(db: Kysely<any>): Promise<void> {
  const pg = isPostgres(db);
  // One search document per record (contact, company, deal, ticket): what a result shows and the words it is found by.
  await db.schema
    .createTable('crm_search')
    .addColumn('id', pg ? 'bigint' : 'integer', (c) => (pg ? c.primaryKey().generatedAlwaysAsIdentity() : c.primaryKey().autoIncrement()))
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('object', 'text', (c) => c.notNull())
    .addColumn('record_id', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('subtitle', 'text', (c) => c.notNull())
    .addColumn('head', 'text', (c) => c.notNull())
    .addColumn('rest', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('crm_search_record', ['object', 'record_id'])
    .execute();
  if (pg) {
    // The words, the name weighted A and the rest B, under a GIN index; 'simple': no stemming of names and emails.
    await sql`alter table crm_search add column words tsvector generated always as (setweight(to_tsvector('simple', head), 'A') || setweight(to_tsvector('simple', rest), 'B')) stored`.execute(db);
    await sql`create index crm_search_words on crm_search using gin (words)`.execute(db);
  } else {
    // Contentless FTS5 keyed by crm_search.id (the words are stored once, in crm_search); prefixes of 2 and 3
    // letters indexed, since every search word is a prefix.
    await sql`create virtual table crm_search_fts using fts5(head, rest, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2', prefix='2 3')`.execute(db);
  }
  await rebuildSearch(db, { ...identityRelations, ...profilesRelations }, createSearch(), Date.now());
}

export async function down(db: Kysely<any>): Promise<void> {
  if (!isPostgres(db)) await sql`drop table crm_search_fts`.execute(db);
  await db.schema.dropTable('crm_search').execute();
}
