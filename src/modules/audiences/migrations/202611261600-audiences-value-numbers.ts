import { sql, type Kysely } from 'kysely';
import { isPostgres } from '../../../platform/db/migrate.js';

// Lists sort and filter profiles by a computed trait or score. Values are JSON text, which orders "10" before
// "9": a value that is a JSON number is also kept as a number, indexed per trait in numeric order (partial:
// numbers only). Other values (text, true/false) are matched exactly through an index on their first
// characters per trait (an index on the whole text would refuse long lists on PostgreSQL).
export async function up(db: Kysely<any>): Promise<void> {
  const pg = isPostgres(db);
  await db.schema.alterTable('computed_values').addColumn('value_number', pg ? 'double precision' : 'real').execute();
  if (pg) await sql`update computed_values set value_number = value::double precision where jsonb_typeof(value::jsonb) = 'number'`.execute(db);
  else await sql`update computed_values set value_number = json_extract(value, '$') where json_type(value) in ('integer', 'real')`.execute(db);
  await sql`create index computed_values_number on computed_values (trait_id, value_number, profile_id) where value_number is not null`.execute(db);
  await sql`create index computed_values_text on computed_values (trait_id, substr(value, 1, 64)) where value_number is null`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('computed_values_text').execute();
  await db.schema.dropIndex('computed_values_number').execute();
  await db.schema.alterTable('computed_values').dropColumn('value_number').execute();
}
